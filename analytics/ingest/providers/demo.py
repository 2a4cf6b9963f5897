"""Synthetic, reproducible demo corpus whose latent opinion follows a known path.

The latent daily value of each score is a slow linear trend plus dated shocks that decay
exponentially; each source has its own offset. Every document draws its own opinion
around the latent value of its day, and its wording (templates with negations, partial
coverage of scores, off-topic noise) reflects those values. The truth is stored in the
``demo_truth`` table and in the run's parameters so tests and charts can compare.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.core.topics import Topic
from analytics.ingest.providers import demo_text as T
from analytics.store.records import CommentRecord, DocumentRecord

DEMO_START = dt.date(2025, 11, 1)
DEMO_DAYS = 365
SOURCE_SHARE = {"news": 0.5, "youtube": 0.2, "reddit": 0.3}
SOURCE_OFFSET = {"news": 0.0, "youtube": -0.4, "reddit": -0.8}
DOC_NOISE_SD = 0.9  # spread of one document's opinion around its day's latent value


@dataclass(frozen=True)
class Outlet:
    """Where a demo document appears: its share of its source's documents, its own level,
    and how strongly it reacts to the shocks (1 = like the latent path, 0 = not at all)."""

    name: str
    share: float
    level: float
    response: float


OUTLETS: dict[str, tuple[Outlet, ...]] = {
    "news": (Outlet("atlantic-herald.example", 0.25, 0.2, 1.3),
             Outlet("continental-times.example", 0.20, 0.0, 1.0),
             Outlet("baltic-observer.example", 0.15, -0.1, 1.4),
             Outlet("eurowire.example", 0.20, 0.1, 0.9),
             Outlet("frontier-news.example", 0.20, -0.6, 0.25)),
    "youtube": (Outlet("Defence Explained", 0.40, 0.0, 1.2),
                Outlet("Global Affairs Today", 0.35, 0.1, 1.0),
                Outlet("The Contrarian Desk", 0.25, -0.8, 0.3)),
    "reddit": (Outlet("r/worldnews", 0.45, 0.0, 1.3),
               Outlet("r/europe", 0.30, 0.2, 1.0),
               Outlet("r/geopolitics", 0.25, -0.2, 0.4)),
}


@dataclass(frozen=True)
class Shock:
    date: dt.date
    size: float
    decay_days: float


@dataclass(frozen=True)
class LatentPath:
    start: float
    end: float
    shocks: tuple[Shock, ...] = field(default_factory=tuple)

    def trend(self, days: np.ndarray) -> np.ndarray:
        return self.start + (self.end - self.start) * days / (DEMO_DAYS - 1)

    def shock_effect(self, days: np.ndarray) -> np.ndarray:
        effect = np.zeros(len(days))
        for shock in self.shocks:
            since = days - (shock.date - DEMO_START).days
            effect = effect + np.where(
                since >= 0, shock.size * np.exp(-np.clip(since, 0, None) / shock.decay_days), 0.0
            )
        return effect

    def values(self, days: np.ndarray) -> np.ndarray:
        return self.trend(days) + self.shock_effect(days)


NATO_PATHS: dict[str, LatentPath] = {
    "sentiment": LatentPath(6.4, 5.2, (
        Shock(dt.date(2026, 2, 14), -1.6, 45), Shock(dt.date(2026, 7, 7), 1.3, 35))),
    "unity": LatentPath(7.0, 5.4, (
        Shock(dt.date(2026, 2, 14), -2.6, 50), Shock(dt.date(2026, 7, 7), 2.0, 40))),
    "article5_trust": LatentPath(6.2, 4.8, (
        Shock(dt.date(2026, 4, 20), -2.4, 55), Shock(dt.date(2026, 7, 7), 1.2, 35))),
}


def latent_paths(topic: Topic) -> dict[str, LatentPath]:
    """The NATO paths for the NATO scores; a generic declining path for other keys."""
    generic = LatentPath(6.0, 5.0, (Shock(dt.date(2026, 3, 1), -1.5, 40),))
    return {key: NATO_PATHS.get(key, generic) for key in topic.score_keys}


def truth_frame(topic: Topic) -> pd.DataFrame:
    """Latent daily value per score (source offset 0, i.e. the news level)."""
    days = np.arange(DEMO_DAYS)
    dates = [DEMO_START + dt.timedelta(days=int(d)) for d in days]
    frames = [
        pd.DataFrame({"day": dates, "score": key, "value": path.values(days)})
        for key, path in latent_paths(topic).items()
    ]
    return pd.concat(frames, ignore_index=True)


def truth_parameters(topic: Topic) -> dict:
    return {
        "start": DEMO_START.isoformat(),
        "days": DEMO_DAYS,
        "source_offset": SOURCE_OFFSET,
        "doc_noise_sd": DOC_NOISE_SD,
        "outlets": {source: [dataclasses.asdict(o) for o in outlets]
                    for source, outlets in OUTLETS.items()},
        "paths": {
            key: {
                "start": p.start, "end": p.end,
                "slope_per_year": (p.end - p.start) * 365 / (DEMO_DAYS - 1),
                "shocks": [
                    {"date": s.date.isoformat(), "size": s.size, "decay_days": s.decay_days}
                    for s in p.shocks
                ],
            }
            for key, p in latent_paths(topic).items()
        },
    }


class DemoCorpus:
    """Generates the documents of the demo corpus for one topic, deterministically."""

    def __init__(self, topic: Topic, n_documents: int = 2400, seed: int = 42):
        self.topic = topic
        self.n_documents = n_documents
        self.rng = np.random.default_rng(seed)
        self.paths = latent_paths(topic)
        self.days = np.arange(DEMO_DAYS)
        self.trend = {k: p.trend(self.days) for k, p in self.paths.items()}
        self.shocks = {k: p.shock_effect(self.days) for k, p in self.paths.items()}
        # outlets from a stream of their own, so the documents' other draws stay as they were
        self.outlet_rng = np.random.default_rng([seed, 7])

    # --- small helpers ------------------------------------------------------------------
    def _pick(self, items: list[str]) -> str:
        return items[int(self.rng.integers(len(items)))]

    def _fill(self, template: str) -> str:
        text = template.format(
            s=self._pick(T.ALLIANCE_NAMES), c=self._pick(T.COUNTRIES), w=self._pick(T.WEEKDAYS)
        )
        return text[0].upper() + text[1:]

    @staticmethod
    def _level(value: float) -> int:
        return int(np.clip(np.floor(value / 2.0), 0, 4))

    def _opinion_sentence(self, key: str, value: float) -> str:
        level = self._level(value)
        negated = T.NEGATED.get(key, {})
        if level != 2 and negated and self.rng.random() < 0.18:
            return self._fill(self._pick(negated["high" if level > 2 else "low"]))
        templates = T.OPINION.get(key) or T.OPINION["sentiment"]
        return self._fill(self._pick(templates[level]))

    def _day_weights(self) -> np.ndarray:
        """More coverage right after shocks, as real news volume behaves."""
        weights = np.ones(DEMO_DAYS)
        for path in self.paths.values():
            for shock in path.shocks:
                since = self.days - (shock.date - DEMO_START).days
                weights += np.where(since >= 0, 1.5 * np.exp(-np.clip(since, 0, None) / 7), 0)
        return weights / weights.sum()

    # --- documents ----------------------------------------------------------------------
    def _opinions(self, day: int, source: str, outlet: Outlet) -> dict[str, float]:
        keys = self.topic.score_keys
        addressed = [k for k in keys if self.rng.random() < 0.6] or [self._pick(keys)]
        return {
            k: float(np.clip(
                self.trend[k][day] + outlet.response * self.shocks[k][day]
                + SOURCE_OFFSET[source] + outlet.level + self.rng.normal(0, DOC_NOISE_SD),
                0.2, 9.8,
            ))
            for k in addressed
        }

    def _outlet(self, source: str) -> Outlet:
        outlets = OUTLETS[source]
        return outlets[int(self.outlet_rng.choice(len(outlets), p=[o.share for o in outlets]))]

    def _body(self, opinions: dict[str, float]) -> str:
        sentences = [self._fill(self._pick(T.FILLER))]
        for key, value in opinions.items():
            for _ in range(int(self.rng.integers(1, 4))):
                sentences.append(self._opinion_sentence(key, value))
        for _ in range(int(self.rng.integers(0, 3))):
            sentences.insert(int(self.rng.integers(len(sentences) + 1)),
                             self._fill(self._pick(T.FILLER)))
        return " ".join(sentences)

    def _comments(self, source: str, opinions: dict[str, float], when: dt.datetime,
                  prefix: str) -> list[CommentRecord]:
        count = int(self.rng.integers(3, 13) if source == "youtube" else self.rng.integers(4, 21))
        comments: list[CommentRecord] = []
        for i in range(count):
            if not opinions or self.rng.random() < 0.2:
                text = self._pick(T.OFF_TOPIC_COMMENTS)
            else:
                key = self._pick(list(opinions))
                value = np.clip(opinions[key] + self.rng.normal(0, 1.0), 0, 9.99)
                text = self._pick(T.COMMENT_OPINION.get(key, T.COMMENT_OPINION["sentiment"])[
                    self._level(value)])
            parent = None
            if source == "reddit" and comments and self.rng.random() < 0.5:
                parent = comments[int(self.rng.integers(len(comments)))].external_id
            comments.append(CommentRecord(
                external_id=f"{prefix}-c{i:03d}",
                parent_external_id=parent,
                author=f"user{int(self.rng.integers(1, 5000))}",
                published_at=when + dt.timedelta(minutes=int(self.rng.integers(5, 2880))),
                text=text,
                likes=int(self.rng.poisson(4)),
            ))
        return comments

    def _document(self, i: int, day: int, source: str) -> DocumentRecord:
        outlet = self._outlet(source)
        when = dt.datetime.combine(DEMO_START + dt.timedelta(days=day), dt.time(6), dt.UTC)
        when += dt.timedelta(minutes=int(self.rng.integers(0, 16 * 60)))
        external_id = f"demo-{source}-{i:05d}"
        off_topic = self.rng.random() < 0.06
        if off_topic:
            opinions: dict[str, float] = {}
            title = self._pick(T.OFF_TOPIC_TITLES)
            body = " ".join(self._fill(self._pick(T.OFF_TOPIC_TEXT)) for _ in range(3))
        else:
            opinions = self._opinions(day, source, outlet)
            lead = self._pick(list(opinions))
            titles = T.TITLES.get(lead, T.TITLES["sentiment"])
            title = self._fill(titles[self._level(opinions[lead])])
            body = self._body(opinions)
        comments = [] if source == "news" else self._comments(source, opinions, when, external_id)
        author = f"demo {source} author {int(self.rng.integers(1, 60))}"
        return DocumentRecord(
            source=source,
            provider="demo",
            external_id=external_id,
            topic=self.topic.name,
            published_at=when,
            title=title,
            text=body,
            url=_demo_url(source, outlet, i),
            author=outlet.name if source == "youtube" else author,
            outlet=outlet.name,
            lang="en",
            meta={"demo_opinion": opinions, "off_topic": off_topic, "outlet": outlet.name},
            comments=comments,
        )

    def documents(self) -> Iterator[DocumentRecord]:
        day_of = np.sort(self.rng.choice(DEMO_DAYS, size=self.n_documents, p=self._day_weights()))
        sources = self.rng.choice(list(SOURCE_SHARE), size=self.n_documents,
                                  p=list(SOURCE_SHARE.values()))
        for i, (day, source) in enumerate(zip(day_of, sources, strict=True)):
            yield self._document(i, int(day), str(source))


def _demo_url(source: str, outlet: Outlet, i: int) -> str:
    if source == "news":
        return f"https://{outlet.name}/nato/{i}"
    if source == "reddit":
        return f"https://demo.invalid/{outlet.name}/comments/{i}"
    return f"https://demo.invalid/watch/{i}"


class DemoProvider:
    """The embedded default source: the synthetic corpus, no network."""

    name = "demo"
    source = "demo"
    options = ()

    def __init__(self, settings, **options):
        self.settings = settings

    def fetch(self, topic: Topic, query: str | None = None, since: dt.datetime | None = None,
              until: dt.datetime | None = None) -> Iterator[DocumentRecord]:
        corpus = DemoCorpus(topic, self.settings.demo_documents, self.settings.demo_seed)
        for record in corpus.documents():
            if (since is None or record.published_at >= since) and (
                until is None or record.published_at < until
            ):
                yield record


def store_truth(topic: Topic, database_url: str | None = None) -> None:
    """Write the latent paths to demo_truth (replacing any earlier truth for the topic)."""
    from sqlalchemy import delete

    from analytics.store import DemoTruth, session_scope

    frame = truth_frame(topic)
    with session_scope(database_url) as session:
        session.execute(delete(DemoTruth).where(DemoTruth.topic == topic.name))
        session.add_all(
            DemoTruth(topic=topic.name, day=row.day, score=row.score, value=float(row.value))
            for row in frame.itertuples()
        )
