"""The "turning points and shocks" trend form: a trend plus dated events, with an exact
(conjugate) Bayesian posterior — no sampler, no compiling, about a second per score.

For one score, documents j of source s published at time t (days since the window start):

    y_j = a_s + b_s·(t − t_mid) + Σ_k c_{k,s}·g_k(t) + e_j,   e_j ~ Student-t(ν, 0, σ_s)

An event k has an onset day d_k on the DAILY grid and a type:
    shock: exp(−(t − d)/τ)·1[t ≥ d]   (τ from a grid of decays; τ = ∞ is a permanent step)
    kink:  (t − d)₊ in years           (a slow turning point: the slope changes at d)

Priors on the 0–10 scale, partially pooled across sources (sources may diverge after an
event): a_s = A + δa_s, A ~ N(5, 2.5), δa_s ~ N(0, 0.5); b_s = B + δb_s, B ~ N(0, 5 points per
window), δb_s ~ N(0, ½ of that); shock sizes C_k ~ N(0, 3) with δc_{k,s} ~ N(0, ¼·3); kinks
~ N(0, 2 × slope sd); onset days uniform over the window (a week's margin at each end); τ
uniform on its grid; each extra event has prior odds 0.2 against not having it.

Given the events' days and decays the model is linear-Gaussian in the coefficients, so they
integrate out exactly and the evidence of every candidate (type, day, τ) — about 4,000 — is
one rank-S update of the current fit. Events are added while the posterior odds of one more
event exceed 20:1, re-dated against each other, and pruned; each event then gets a posterior
over its day (conditional on the others). The straight line is the case of no event.
Student-t noise is handled by reweighting documents (two EM rounds); a day-level extra noise
(news-cycle overdispersion) is estimated by maximising the evidence. The documents are
compressed to day × source cells (weighted means) — exact for the Gaussian part.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.trends.config import DAYS_PER_YEAR, HDI_PROB, EventsConfig


@dataclass
class Component:
    kind: str  # "shock" | "kink"
    day: int
    tau: float  # decay in days (shock); nan for a kink
    log_gain: float = 0.0
    day_posterior: np.ndarray | None = None


# --- the linear-Gaussian core -----------------------------------------------------------------


def pooled_cov(sd_shared: float, sd_dev: float, n: int) -> np.ndarray:
    return sd_shared**2 * np.ones((n, n)) + sd_dev**2 * np.eye(n)


class Posterior:
    """Posterior of y ~ N(X β, diag(1/w)), β ~ N(m0, V0): mean, covariance, evidence."""

    def __init__(self, X: np.ndarray, m0: np.ndarray, V0: np.ndarray, y: np.ndarray,
                 w: np.ndarray):
        self.X, self.m0, self.V0, self.y, self.w = X, m0, V0, y, w
        e = y - X @ m0
        precision = np.linalg.inv(V0) + X.T @ (w[:, None] * X)
        self.cov = np.linalg.inv(precision)
        b1 = X.T @ (w * e)
        self.mean = m0 + self.cov @ b1
        self.resid = e - X @ (self.cov @ b1)
        _, logdet_v0 = np.linalg.slogdet(V0)
        _, logdet_a = np.linalg.slogdet(precision)
        self.log_evidence = float(-0.5 * (e @ (w * e)) + 0.5 * b1 @ self.cov @ b1
                                  - 0.5 * logdet_v0 - 0.5 * logdet_a + 0.5 * np.log(w).sum()
                                  - 0.5 * len(y) * np.log(2 * np.pi))

    def scan(self, blocks: list, prior: np.ndarray) -> np.ndarray:
        """Log evidence gain of adding each candidate: one column per block (source), the
        candidate's basis values on that block's rows; a rank-S Schur update each."""
        w, r = self.w, self.resid
        wx = w[:, None] * self.X
        diag = np.stack([g2 @ w[idx] for _, g2, idx in blocks], axis=1)
        cross = np.stack([g @ wx[idx] for g, _, idx in blocks], axis=1)
        u = np.stack([g @ (w * r)[idx] for g, _, idx in blocks], axis=1)
        n = len(blocks)
        m = (np.linalg.inv(prior)[None] + diag[:, :, None] * np.eye(n)[None]
             - cross @ self.cov @ cross.transpose(0, 2, 1))
        sign, logdet_m = np.linalg.slogdet(m)
        solved = np.linalg.solve(m, u[..., None])[..., 0]
        _, logdet_prior = np.linalg.slogdet(prior)
        gain = 0.5 * np.einsum("cs,cs->c", u, solved) - 0.5 * logdet_prior - 0.5 * logdet_m
        return np.where(sign > 0, gain, -np.inf)


# --- the model ----------------------------------------------------------------------------------


class EventModel:
    """The event model of one score's documents in one window (``TrendData``)."""

    def __init__(self, data, config: EventsConfig):
        self.config, self.data = config, data
        self.S = len(data.sources)
        self.t_docs = data.t * DAYS_PER_YEAR
        self.src_docs, self.y_docs = data.source, data.y
        self.days = (data.end - data.start).days + 1
        self.slope_sd = config.slope_sd_per_window / (self.days / DAYS_PER_YEAR)
        self.lam = np.ones_like(self.y_docs)
        margin = min(config.margin_days, max(self.days // 4, 0))
        self.onsets = np.arange(margin, self.days - margin)
        prior = np.zeros(self.days)
        prior[self.onsets] = 1.0 / max(len(self.onsets), 1)
        with np.errstate(divide="ignore"):
            self.log_onset_prior = np.log(prior)
        self._cells()
        self._noise_start()
        self._basis()

    def _cells(self) -> None:
        day = np.clip(np.floor(self.t_docs).astype(np.int64), 0, self.days - 1)
        key = day * self.S + self.src_docs
        unique, self.cell_of_doc = np.unique(key, return_inverse=True)
        self.cell_day, self.cell_src = unique // self.S, unique % self.S
        self.cell_t = (np.bincount(self.cell_of_doc, weights=self.t_docs)
                       / np.bincount(self.cell_of_doc))
        self.masks = np.stack([(self.cell_src == s).astype(float) for s in range(self.S)])
        self.eta = 0.0
        self._cell_means()

    def _cell_means(self) -> None:
        self.cell_n = np.bincount(self.cell_of_doc, weights=self.lam)
        self.cell_y = np.bincount(self.cell_of_doc, weights=self.lam * self.y_docs) / self.cell_n

    def _noise_start(self) -> None:
        """Per-source noise from the spread within day × source cells."""
        resid = self.y_docs - self.cell_y[self.cell_of_doc]
        ss = np.bincount(self.src_docs, weights=resid**2, minlength=self.S)
        dof = (np.bincount(self.src_docs, minlength=self.S)
               - np.bincount(self.cell_src, minlength=self.S))
        self.sigma = np.sqrt(ss / np.maximum(dof, 1))
        self.sigma = np.where(self.sigma > 0, self.sigma, max(float(self.y_docs.std()), 0.5))
        self._weights()

    def _weights(self) -> None:
        self.w = 1.0 / (self.sigma[self.cell_src] ** 2 / self.cell_n + self.eta**2)

    def _basis(self) -> None:
        t, c = self.cell_t, self.config
        since = t[None, :] - self.onsets[:, None]
        blocks, kinds, days, taus = [], [], [], []
        for tau in c.decays:
            blocks.append(np.where(since >= 0, 1.0 if math.isinf(tau) else
                                   np.exp(-np.clip(since, 0, None) / tau), 0.0))
            kinds += ["shock"] * len(self.onsets)
            days.append(self.onsets)
            taus += [tau] * len(self.onsets)
        if c.kinks:
            blocks.append(np.clip(since, 0, None) / DAYS_PER_YEAR)
            kinds += ["kink"] * len(self.onsets)
            days.append(self.onsets)
            taus += [math.nan] * len(self.onsets)
        basis = np.concatenate(blocks)
        self.kind, self.day, self.tau = np.array(kinds), np.concatenate(days), np.array(taus)
        parts = ([np.flatnonzero(self.cell_src == s) for s in range(self.S)] if c.per_source
                 else [np.arange(len(t))])
        self.blocks = {}
        for kind in ("shock", "kink"):
            rows = np.flatnonzero(self.kind == kind)
            if rows.size:
                part = basis[rows]
                self.blocks[kind] = [(np.ascontiguousarray(part[:, idx]),
                                      np.ascontiguousarray(part[:, idx] ** 2), idx)
                                     for idx in parts]

    # the design of a set of events ------------------------------------------------------------
    def _component_prior(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        c = self.config
        sd = c.size_sd if kind == "shock" else c.kink_share * self.slope_sd
        if c.per_source:
            return pooled_cov(sd, c.source_size_share * sd, self.S), self.masks
        return np.array([[sd**2]]), np.ones((1, len(self.cell_t)))

    def column(self, comp: Component, t: np.ndarray) -> np.ndarray:
        since = t - comp.day
        if comp.kind == "kink":
            return np.clip(since, 0, None) / DAYS_PER_YEAR
        if math.isinf(comp.tau):
            return (since >= 0).astype(float)
        return np.where(since >= 0, np.exp(-np.clip(since, 0, None) / comp.tau), 0.0)

    def design(self, comps: list[Component], t: np.ndarray | None = None,
               masks: np.ndarray | None = None) -> tuple:
        """X (rows: cells, or the given times × source masks), prior mean and covariance,
        and the name (part, source) of each column."""
        c, n = self.config, self.S
        t = self.cell_t if t is None else t
        masks = self.masks if masks is None else masks
        centred = (t - self.days / 2) / DAYS_PER_YEAR
        cols, names, m0, priors = [], [], [], []
        for s in range(n):
            cols.append(masks[s])
            names.append(("level", s))
            m0.append(c.level_mu)
        priors.append(pooled_cov(c.level_sd, c.source_sd, n))
        if c.per_source:
            for s in range(n):
                cols.append(masks[s] * centred)
                names.append(("slope", s))
                m0.append(0.0)
            priors.append(pooled_cov(self.slope_sd, c.source_slope_share * self.slope_sd, n))
        else:
            cols.append(centred)
            names.append(("slope", -1))
            m0.append(0.0)
            priors.append(np.array([[self.slope_sd**2]]))
        for k, comp in enumerate(comps):
            g = self.column(comp, t)
            prior, comp_masks = self._component_prior(comp.kind)
            per_source = len(comp_masks) > 1
            for s in range(len(comp_masks)):
                cols.append(g * (masks[s] if per_source else 1.0))
                names.append((k, s if per_source else -1))
                m0.append(0.0)
            priors.append(prior)
        X = np.stack(cols, axis=1)
        V0 = np.zeros((X.shape[1], X.shape[1]))
        i = 0
        for block in priors:
            V0[i:i + len(block), i:i + len(block)] = block
            i += len(block)
        return X, np.array(m0), V0, names

    def posterior(self, comps: list[Component]) -> Posterior:
        X, m0, V0, names = self.design(comps)
        post = Posterior(X, m0, V0, self.cell_y, self.w)
        post.names = names
        return post

    # search --------------------------------------------------------------------------------------
    def candidate_log_post(self, post: Posterior) -> np.ndarray:
        """Log evidence gain + log prior of every candidate (type, onset, decay)."""
        out = np.full(len(self.kind), -np.inf)
        n_tau = len(self.config.decays)
        for kind, blocks in self.blocks.items():
            rows = np.flatnonzero(self.kind == kind)
            prior, _ = self._component_prior(kind)
            gain = post.scan(blocks, prior)
            log_type = (math.log(0.5 / n_tau) if kind == "shock" else math.log(0.5)) \
                if self.config.kinks else math.log(1.0 / n_tau)
            out[rows] = gain + self.log_onset_prior[self.day[rows]] + log_type
        return out

    def _best(self, lp: np.ndarray) -> Component:
        best = int(np.argmax(lp))
        return Component(str(self.kind[best]), int(self.day[best]), float(self.tau[best]))

    @staticmethod
    def _log_gain(lp: np.ndarray) -> float:
        finite = lp[np.isfinite(lp)]
        return float(np.logaddexp.reduce(finite)) if finite.size else -math.inf

    def select(self, comps: list[Component]) -> list[Component]:
        """Forward selection with refinement, then backward elimination."""
        c = self.config
        log_k, log_accept = math.log(c.prior_k), math.log(c.accept_odds)
        comps = self._refine(list(comps))
        while len(comps) < c.max_components:
            lp = self.candidate_log_post(self.posterior(comps))
            if self._log_gain(lp) + log_k < log_accept:
                break
            comps = self._refine([*comps, self._best(lp)])
        changed = True
        while changed and comps:
            changed = False
            for k in range(len(comps)):
                others = comps[:k] + comps[k + 1:]
                comps[k].log_gain = self._log_gain(self.candidate_log_post(
                    self.posterior(others)))
                if comps[k].log_gain + log_k < log_accept:
                    comps, changed = self._refine(others), True
                    break
        return comps

    def _refine(self, comps: list[Component]) -> list[Component]:
        for _ in range(self.config.refine_passes):
            moved = False
            for k in range(len(comps)):
                others = comps[:k] + comps[k + 1:]
                new = self._best(self.candidate_log_post(self.posterior(others)))
                same = (new.kind, new.day) == (comps[k].kind, comps[k].day) and (
                    new.tau == comps[k].tau or (math.isnan(new.tau) and math.isnan(comps[k].tau)))
                if not same:
                    comps[k], moved = new, True
            if not moved:
                break
        return sorted(comps, key=lambda comp: comp.day)

    def reweight(self, comps: list[Component]) -> None:
        """One EM step of the Student-t noise: document weights and per-source scales."""
        post = self.posterior(comps)
        r = self.y_docs - (post.X @ post.mean)[self.cell_of_doc]
        nu = self.config.nu
        self.lam = (nu + 1) / (nu + r**2 / self.sigma[self.src_docs] ** 2)
        counts = np.bincount(self.src_docs, minlength=self.S)
        self.sigma = np.sqrt(np.bincount(self.src_docs, weights=self.lam * r**2,
                                         minlength=self.S) / np.maximum(counts, 1))
        self.sigma = np.where(self.sigma > 0, self.sigma, 0.5)
        self._cell_means()
        self._weights()

    def estimate_overdispersion(self, comps: list[Component]) -> None:
        best = (self.posterior(comps).log_evidence, self.eta)
        for eta in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6):
            self.eta = eta
            self._weights()
            evidence = self.posterior(comps).log_evidence
            if evidence > best[0]:
                best = (evidence, eta)
        self.eta = best[1]
        self._weights()

    def date_posteriors(self, comps: list[Component]) -> None:
        for k, comp in enumerate(comps):
            lp = self.candidate_log_post(self.posterior(comps[:k] + comps[k + 1:]))
            lp = np.where(self.kind == comp.kind, lp, -np.inf)
            p = np.exp(lp - lp.max())
            p /= p.sum()
            comp.day_posterior = np.bincount(self.day, weights=p, minlength=self.days)

    def fit(self) -> tuple[list[Component], Posterior, dict]:
        c = self.config
        started = time.perf_counter()
        comps: list[Component] = []
        for round_ in range(2 if c.robust else 1):
            comps = self.select(comps)
            if c.overdispersion:
                self.estimate_overdispersion(comps)
            if c.robust and round_ == 0:
                self.reweight(comps)
        self.date_posteriors(comps)
        post = self.posterior(comps)
        line = self.posterior([])
        evidence = {"log_evidence": post.log_evidence, "log_evidence_line": line.log_evidence,
                    "log_bayes_factor_vs_line": post.log_evidence - line.log_evidence
                    + len(comps) * math.log(c.prior_k), "select_s": time.perf_counter() - started}
        return comps, post, evidence


# --- summaries for TrendFit ----------------------------------------------------------------------


def draws(model: EventModel, post: Posterior) -> np.ndarray:
    rng = np.random.default_rng(model.config.seed)
    return rng.multivariate_normal(post.mean, post.cov, model.config.draws, method="cholesky")


def source_lines(model: EventModel, comps: list[Component], beta: np.ndarray,
                 days: np.ndarray) -> np.ndarray:
    """Mean score of each source on each day: (draws, sources, days)."""
    out = np.empty((beta.shape[0], model.S, len(days)))
    t = days + 0.5
    for s in range(model.S):
        masks = np.zeros((model.S, len(days)))
        masks[s] = 1.0
        X, *_ = model.design(comps, t=t, masks=masks)
        out[:, s] = beta @ X.T
    return out


def events_table(model: EventModel, comps: list[Component], post: Posterior,
                 beta: np.ndarray, share: np.ndarray) -> pd.DataFrame:
    """One row per event: date with its posterior, type, decay, pooled and per-source size."""
    start = model.data.start
    rows = []
    for k, comp in enumerate(comps):
        columns = [j for j, name in enumerate(post.names) if name[0] == k]
        size = beta[:, columns]
        pooled = size @ share if size.shape[1] == len(share) else size[:, 0]
        low, high = hdi(pooled)
        cdf = np.cumsum(comp.day_posterior)
        first = int(np.searchsorted(cdf, 0.05))
        last = int(np.searchsorted(cdf, 0.95))
        direction = -1.0 if pooled.mean() < 0 else 1.0
        rows.append({
            "date": pd.Timestamp(start + dt.timedelta(days=comp.day)),
            "date_probability": float(comp.day_posterior[comp.day]),
            "first": pd.Timestamp(start + dt.timedelta(days=first)),
            "last": pd.Timestamp(start + dt.timedelta(days=last)),
            "kind": comp.kind, "decay_days": comp.tau if comp.kind == "shock" else math.nan,
            "direction": "down" if direction < 0 else "up",
            "size": float(pooled.mean()), "size_low": float(low), "size_high": float(high),
            "p_direction": float((direction * pooled > 0).mean()),
            "size_by_source": {model.data.sources[s]: round(float(size[:, s].mean()), 3)
                               for s in range(size.shape[1])} if size.shape[1] > 1 else {},
            "detected": True, "log_gain": round(comp.log_gain, 2),
        })
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


EVENT_COLUMNS = ["date", "date_probability", "first", "last", "kind", "decay_days",
                 "direction", "size", "size_low", "size_high", "p_direction", "size_by_source",
                 "detected", "log_gain"]


def hdi(values: np.ndarray, prob: float = HDI_PROB) -> tuple[float, float]:
    ordered = np.sort(values)
    keep = max(1, math.floor(prob * len(ordered)))
    widths = ordered[keep:] - ordered[:len(ordered) - keep]
    first = int(np.argmin(widths))
    return float(ordered[first]), float(ordered[first + keep])


@dataclass
class EventsResult:
    """What ``fit_events`` hands the service: the model, the events and posterior draws."""

    model: EventModel
    components: list[Component]
    posterior: Posterior
    beta: np.ndarray
    evidence: dict
    timings: dict = field(default_factory=dict)


def fit_events(data, config: EventsConfig) -> EventsResult:
    started = time.perf_counter()
    model = EventModel(data, config)
    comps, post, evidence = model.fit()
    beta = draws(model, post)
    return EventsResult(model, comps, post, beta, evidence,
                        {"fit_s": round(time.perf_counter() - started, 3)})
