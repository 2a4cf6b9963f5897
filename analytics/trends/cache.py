"""The on-disk cache of trend fits: netcdf posterior + JSON sidecar per fit, keyed by a
hash of the input data and the configuration, with an index of the views they serve."""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from analytics.core.settings import Settings, get_settings
from analytics.trends.config import MODEL_REVISION, EventsConfig, ModelConfig, SamplerConfig
from analytics.trends.data import TrendData
from analytics.trends.result import TrendFit


def fit_key(data: TrendData, config: ModelConfig | EventsConfig,
            sampler: SamplerConfig | None) -> str:
    model = config.as_dict() if isinstance(config, EventsConfig) else asdict(config)
    payload = json.dumps({"data": data.digest(), "model": model,
                          "sampler": asdict(sampler) if sampler else None,
                          "revision": MODEL_REVISION}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def cache_dir(settings: Settings | None = None) -> Path:
    return Path((settings or get_settings()).data_dir) / "trends"


def fit_paths(key: str, settings: Settings | None) -> tuple[Path, Path]:
    folder = cache_dir(settings)
    return folder / f"{key}.nc", folder / f"{key}.json"


def loo_path(key: str, settings: Settings | None) -> Path:
    """Pointwise leave-one-out predictive densities of a fit (for choosing the form)."""
    return cache_dir(settings) / f"{key}.loo.npz"


def load_fit(key: str, settings: Settings | None = None) -> TrendFit | None:
    _, sidecar = fit_paths(key, settings)
    if not sidecar.is_file():
        return None
    fit = TrendFit.from_json(json.loads(sidecar.read_text(encoding="utf-8")))
    fit.from_cache = True
    return fit


def load_inference_data(key: str, settings: Settings | None = None):
    """The full posterior of a cached fit (ArviZ InferenceData), for deeper analysis."""
    import arviz as az

    netcdf, _ = fit_paths(key, settings)
    return az.from_netcdf(netcdf)


# --- the index: which fit serves which view -------------------------------------------------

INDEX = "index.json"
KEEP_VIEWS = 2  # per topic, score, form, sources and window: the newest views' fits are kept


def _head(payload: dict) -> dict:
    view = payload.get("view") or {}
    return {"topic": payload.get("topic"), "score": payload.get("score"),
            "form": payload.get("form"), "sources": sorted(payload.get("requested_sources", [])),
            "created_at": payload.get("created_at"), "window": view.get("window"),
            "view_start": view.get("view_start"), "view_end": view.get("view_end")}


@contextmanager
def _locked_index(settings: Settings | None) -> Iterator[dict[str, dict]]:
    """The index (key -> view head) under an exclusive lock; rebuilt from the sidecars
    when missing or unreadable; written back when the block ends."""
    folder = cache_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".index.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        index = _read_index(folder)
        before = json.dumps(index, sort_keys=True)
        yield index
        if json.dumps(index, sort_keys=True) != before:
            temporary = folder / f"{INDEX}.tmp"
            temporary.write_text(json.dumps(index), encoding="utf-8")
            temporary.replace(folder / INDEX)


def _read_index(folder: Path) -> dict[str, dict]:
    try:
        return json.loads((folder / INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
        for sidecar in folder.glob("*.json"):
            if sidecar.name == INDEX:
                continue
            try:
                index[sidecar.stem] = _head(json.loads(sidecar.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        return index


def read_index(settings: Settings | None = None) -> dict[str, dict]:
    folder = cache_dir(settings)
    return _read_index(folder) if folder.is_dir() else {}


def prune(index: dict[str, dict], settings: Settings | None) -> list[str]:
    """Delete fits no view can reach: older fits of the same view dates, and views older
    than the newest ``KEEP_VIEWS`` of their (topic, score, form, sources, window)."""
    groups: dict[tuple, dict[tuple, list[str]]] = {}
    for key, head in index.items():
        group = (head["topic"], head["score"], head["form"], tuple(head["sources"]),
                 head.get("window"))
        groups.setdefault(group, {}).setdefault(
            (head["view_start"] or "", head["view_end"] or ""), []).append(key)
    removed = []
    for views in groups.values():
        newest_views = sorted(views, key=lambda v: v[1], reverse=True)[:KEEP_VIEWS]
        for view, keys in views.items():
            keys.sort(key=lambda k: index[k]["created_at"] or "", reverse=True)
            removed += keys if view not in newest_views else keys[1:]
    for key in removed:
        index.pop(key, None)
        for path in (*fit_paths(key, settings), loo_path(key, settings)):
            path.unlink(missing_ok=True)
    return removed


def find_fit(topic: str, score: str, form: str, start: dt.date | None, end: dt.date | None,
             sources: Sequence[str], key: str | None = None,
             settings: Settings | None = None) -> TrendFit | None:
    """The fit for this exact data (key), else the newest fit of the same view (stale=True).

    Reads the index, never every sidecar."""
    if key:
        exact = load_fit(key, settings)
        if exact is not None:
            return exact
    wanted = (topic, score, form, sorted(sources),
              str(start) if start else None, str(end) if start else None)
    candidates = [(head["created_at"] or "", k) for k, head in read_index(settings).items()
                  if (head["topic"], head["score"], head["form"], head["sources"],
                      head["view_start"], head["view_end"] if head["view_start"] else None)
                  == wanted]
    if not candidates:
        return None
    fit = load_fit(max(candidates)[1], settings)
    if fit is not None:
        fit.stale = key is not None
    return fit


def save_fit(fit: TrendFit, idata, rows: pd.DataFrame, view: dict,
             settings: Settings | None) -> None:
    """The netcdf posterior (sampled fits only), then the sidecar, then the index entry."""
    netcdf, sidecar = fit_paths(fit.key, settings)
    netcdf.parent.mkdir(parents=True, exist_ok=True)
    if idata is not None:
        _save_posterior(fit, idata, rows, netcdf)
    payload = fit.to_json() | {"view": view}
    temporary = sidecar.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, default=str), encoding="utf-8")
    temporary.replace(sidecar)  # the sidecar last: its presence means the fit is complete
    with _locked_index(settings) as index:
        index[fit.key] = _head(payload)
        prune(index, settings)


def _save_posterior(fit: TrendFit, idata, rows: pd.DataFrame, netcdf: Path) -> None:
    import xarray as xr

    idata.posterior.attrs.update({
        "model_config": json.dumps(fit.model_config), "sampler_config": json.dumps(
            fit.sampler_config), "versions": json.dumps(fit.versions), "key": fit.key,
        "topic": fit.topic, "score": fit.score, "window": f"{fit.start}/{fit.end}",
        "sources": json.dumps(list(fit.sources)), "created_at": fit.created_at})
    if "fit_data" not in idata.groups():
        idata.add_groups(fit_data=xr.Dataset.from_dataframe(rows.reset_index(drop=True)))
    temporary = netcdf.with_suffix(".nc.tmp")
    idata.to_netcdf(str(temporary))
    temporary.replace(netcdf)
