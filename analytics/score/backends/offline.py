"""Offline scoring backend: sentence embeddings + a sentiment lexicon, no network, no LLM.

For each score the topic's question, rubric ends and anchor sentences become prototype
vectors. Each sentence of a document (and of its comments) is embedded with MiniLM; the
sentences most relevant to a score are retrieved, and each gets a polarity from two
pieces of evidence: which rubric end its embedding is closer to, and the VADER compound
of the sentence. The weighted mean of those polarities, mapped to 0-10, is the score;
no relevant sentence means null. The summary is extractive. This is a heuristic, and
the UI labels it as one.

Calibration from the analysts' own coding (``analytics.validate.calibration``): a score can
carry an adopted calibration (``analytics.store.calibrations``), a linear map of the value and
the features the scorer read to a new value, fitted on the gold labels. Features per document
and score: attitude scores, the mean head input (1,536 MiniLM numbers) and the mean
probabilities of the sentences that mention the target; prototype scores, the
relevance-weighted mean of the retrieved sentences' vectors (384). ``use_calibrations``
attaches them (``score.pipeline`` does it from the store); ``scorer_version`` then names them,
so the cache key changes and cached analyses are re-scored.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np

from analytics import __version__
from analytics.core.hashing import stable_hash
from analytics.core.reasons import language_not_supported
from analytics.core.settings import Settings
from analytics.core.topics import ScoreDefinition, Topic
from analytics.llm.embeddings import MINILM_DIMENSIONS, get_embedder
from analytics.score.attitude import (
    ARTEFACT,
    AttitudeModel,
    AttitudeTarget,
    find_mentions,
    get_attitude_model,
    score_sentences,
)
from analytics.score.base import ScoringOutcome
from analytics.score.retrieval import PreparedDocument, split_sentences
from analytics.score.schema import MAX_SUMMARY_WORDS, DocumentScores, ScoreValue


@dataclass(frozen=True)
class OfflineParameters:
    relevance_threshold: float = 0.35  # cosine to the score prototype to count a sentence
    relevance_margin: float = 0.0  # a sentence counts for every score within this of its best
    embedding_weight: float = 4.0  # polarity = tanh(w_e * (cos_high - cos_low) + w_v * vader)
    vader_weight: float = 0.5
    comment_weight: float = 1.0  # weight of a comment sentence relative to a text sentence
    max_sentences: int = 12  # per score and document
    summary_sentences: int = 3


@dataclass
class _Prototypes:
    relevance: np.ndarray  # (n_scores, d)
    high: list[np.ndarray]  # per score: (n_high, d)
    low: list[np.ndarray]
    topic: np.ndarray  # (d,)


@dataclass(frozen=True)
class _Attitude:
    """A topic's ``kind: attitude`` scores resolved once: their targets, in score order, and
    each one's target-specific head (``AttitudeModel.specific_head``; None: general head)."""
    targets: tuple[AttitudeTarget, ...] = ()
    heads: tuple[int | None, ...] = ()


class _Sentence:
    __slots__ = ("chunk", "is_comment", "text")

    def __init__(self, text: str, chunk: int, is_comment: bool):
        self.text, self.chunk, self.is_comment = text, chunk, is_comment


class OfflineBackend:
    name = "offline"
    label = "offline scorer (MiniLM embeddings + VADER lexicon, no LLM)"
    # documents per batch (and transaction): the sentences of a batch are embedded in one
    # call, sorted by length, so bigger batches pad less and keep every core busy longer
    documents_per_batch = 256

    def __init__(self, settings: Settings, parameters: OfflineParameters | None = None):
        self.settings = settings
        self.parameters = parameters or OfflineParameters()
        self.model = f"offline-{settings.score.embedding_model}-vader"
        self._prototypes: dict[str, _Prototypes] = {}
        self._attitudes: dict[tuple[AttitudeTarget, ...], _Attitude] = {}
        self._vader = None
        self._calibrations: dict[str, dict] = {}  # topic -> score key -> Calibration
        self._features: list[dict[str, np.ndarray | None]] | None = None  # being collected

    # --- calibration ------------------------------------------------------------------
    def use_calibrations(self, topic: Topic, calibrations: dict) -> None:
        """Apply these adopted calibrations (score key -> ``store.Calibration``) to the
        topic's scores; one fitted on another base scorer is ignored."""
        base = self.base_version(topic)
        self._calibrations[topic.name] = {k: c for k, c in calibrations.items()
                                          if c.base_scorer == base and k in topic.score_keys}

    def calibrations(self, topic: Topic) -> dict:
        return self._calibrations.get(topic.name, {})

    @staticmethod
    def feature_set(definition: ScoreDefinition) -> str:
        """The name of the features a calibration of this score reads."""
        return ("attitude-mean-head-input-1536+probabilities-3" if definition.kind == "attitude"
                else f"prototype-weighted-sentence-vector-{MINILM_DIMENSIONS}")

    def score_with_features(self, documents: list[PreparedDocument], topic: Topic
                            ) -> tuple[list[ScoringOutcome], list[dict[str, np.ndarray | None]]]:
        """The uncalibrated scores and, per document and score, the features a calibration
        reads (None where the score is null)."""
        saved = self._calibrations.pop(topic.name, None)
        self._features = []
        try:
            outcomes = self.score_batch(documents, topic)
            return outcomes, self._features
        finally:
            self._features = None
            if saved is not None:
                self._calibrations[topic.name] = saved

    # --- configuration ----------------------------------------------------------------
    def config_hash(self, topic: Topic) -> str:
        return stable_hash({
            "backend": self.name, "version": __version__, "params": self.parameters.__dict__,
            "scorer": self.scorer_version(topic),
            "scores": [s.model_dump() for s in topic.scores], "target": topic.target,
            "chunk": [self.settings.score.chunk_size, self.settings.score.chunk_overlap],
        })

    def _vader_analyzer(self):
        if self._vader is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._vader = SentimentIntensityAnalyzer()
        return self._vader

    @staticmethod
    def _anchor_texts(score: ScoreDefinition, high: bool) -> list[str]:
        rubric = score.high if high else score.low
        anchors = score.anchors_high if high else score.anchors_low
        return [rubric.split("=", 1)[-1].strip(), *anchors]

    def prototypes(self, topic: Topic) -> _Prototypes:
        if topic.name not in self._prototypes:
            groups = [self._anchor_texts(s, True) for s in topic.scores]
            groups += [self._anchor_texts(s, False) for s in topic.scores]
            groups += [[s.question for s in topic.scores], [", ".join(topic.keywords), topic.title]]
            vectors = get_embedder().encode([t for group in groups for t in group])  # one call
            sliced, offset = [], 0
            for group in groups:
                sliced.append(vectors[offset:offset + len(group)])
                offset += len(group)
            n = len(topic.scores)
            high, low, (questions, topic_texts) = sliced[:n], sliced[n:2 * n], sliced[2 * n:]
            relevance = np.stack([
                _normalise(q + h.mean(0) + lo.mean(0))
                for q, h, lo in zip(questions, high, low, strict=True)
            ])
            topic_vector = _normalise(topic_texts.mean(0))
            self._prototypes[topic.name] = _Prototypes(relevance, high, low, topic_vector)
        return self._prototypes[topic.name]

    def attitude(self, topic: Topic) -> _Attitude:
        """The topic's attitude targets and their heads, looked up once per set of targets."""
        targets = tuple(attitude_targets(topic))
        if targets not in self._attitudes:
            heads = tuple(map(self._attitude_model().specific_head, targets)) if targets else ()
            self._attitudes[targets] = _Attitude(targets, heads)
        return self._attitudes[targets]

    # --- scoring ----------------------------------------------------------------------
    def score_batch(self, documents: list[PreparedDocument], topic: Topic) -> list[ScoringOutcome]:
        started = time.perf_counter()
        prototypes = self.prototypes(topic)
        attitude = self.attitude(topic)
        # English-only models: a document detected as another language gets null scores
        # with the reason, not an English-model guess (it is not embedded either)
        foreign = [not _english(doc) for doc in documents]
        per_doc = [[] if skip else self._sentences(doc)
                   for doc, skip in zip(documents, foreign, strict=True)]
        flat = [s.text for sentences in per_doc for s in sentences]
        vectors, probs, head = self._encode(flat, topic, attitude)
        outcomes, offset = [], 0
        for doc, sentences, skip in zip(documents, per_doc, foreign, strict=True):
            if skip:
                outcomes.append(_not_supported(doc, topic))
                if self._features is not None:
                    self._features.append({k: None for k in topic.score_keys})
                continue
            end = offset + len(sentences)
            doc_vectors = vectors[offset:end]
            doc.embeddings = _chunk_vectors(doc, sentences, doc_vectors)
            outcomes.append(self._score_one(
                sentences, doc_vectors, probs[offset:end],
                None if head is None else head[offset:end], topic, prototypes, attitude))
            offset = end
        elapsed = (time.perf_counter() - started) / max(len(documents), 1)
        for outcome in outcomes:
            outcome.latency_s = elapsed
        return outcomes

    def _encode(self, texts: list[str], topic: Topic, attitude: _Attitude
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Sentence vectors and, for the topic's attitude scores, per sentence and score the
        learned model's probabilities (NaN: the sentence does not mention the target) and,
        when a calibration reads them, the head's inputs. A sentence is read by MiniLM once:
        those that mention a target through the span encoder (which also gives their
        sentence vector), the others through ``encode``."""
        targets = list(attitude.targets)
        embedder = get_embedder()
        probs = np.full((len(texts), len(targets), 3), np.nan, np.float32)
        want = self._features is not None or any(
            d.kind == "attitude" for d in topic.scores if d.key in self.calibrations(topic))
        head = np.full((len(texts), len(targets), 4 * MINILM_DIMENSIONS), np.nan,
                       np.float32) if want and targets else None
        if not texts:
            return np.zeros((0, MINILM_DIMENSIONS), np.float32), probs, head
        if not targets:
            return embedder.encode(texts), probs, head
        spans = [[find_mentions(text, t.name, t.aliases) for t in targets] for text in texts]
        hit = [i for i, groups in enumerate(spans) if any(groups)]
        miss = [i for i, groups in enumerate(spans) if not any(groups)]
        vectors = np.zeros((len(texts), MINILM_DIMENSIONS), np.float32)
        if hit:
            out = score_sentences(embedder, [texts[i] for i in hit], targets,
                                  self._attitude_model(), spans=[spans[i] for i in hit],
                                  return_features=head is not None,
                                  heads=list(attitude.heads))
            vectors[hit], probs[hit] = out[0], out[1]
            if head is not None:
                head[hit] = out[2]
        if miss:
            vectors[miss] = embedder.encode([texts[i] for i in miss])
        return vectors, probs, head

    def _attitude_model(self) -> AttitudeModel:
        return get_attitude_model(self.settings.score.attitude_model or ARTEFACT)

    def scorer_version(self, topic: Topic) -> str:
        """Which scorers produce this topic's scores: recorded on every analysis. With
        adopted calibrations, ``+cal-`` and a hash of their keys (so the cache key changes)."""
        base = self.base_version(topic)
        active = self.calibrations(topic)
        if not active:
            return base
        keys = ",".join(f"{k}={active[k].key}" for k in sorted(active))
        return f"{base}+cal-{stable_hash(keys)[:10]}"

    def base_version(self, topic: Topic) -> str:
        parts = []
        if any(s.kind == "prototype" for s in topic.scores):
            parts.append(f"zero-shot-{__version__}")
        if self.attitude(topic).targets:
            parts.append(self._attitude_model().version)
        return "+".join(parts)

    @staticmethod
    def _sentences(doc: PreparedDocument) -> list[_Sentence]:
        return [
            _Sentence(sentence, passage.idx, passage.kind == "comment")
            for passage in doc.passages
            for sentence in split_sentences(passage.text)
        ]

    def sentence_polarity(self, vectors: np.ndarray, texts: list[str], high: np.ndarray,
                          low: np.ndarray) -> np.ndarray:
        """Polarity in (-1, 1): embedding closeness to the high vs low end, plus VADER."""
        p = self.parameters
        embedding_side = (vectors @ high.T).mean(1) - (vectors @ low.T).mean(1)
        analyzer = self._vader_analyzer()
        vader = np.array([analyzer.polarity_scores(_DOMAIN_WORDS.sub(" ", t))["compound"]
                          for t in texts])
        return np.tanh(p.embedding_weight * embedding_side + p.vader_weight * vader)

    def _score_one(self, sentences: list[_Sentence], vectors: np.ndarray, probs: np.ndarray,
                   head: np.ndarray | None, topic: Topic,
                   prototypes: _Prototypes, attitude: _Attitude) -> ScoringOutcome:
        p = self.parameters
        if not sentences:
            result = DocumentScores(on_topic=False, summary="(empty document)",
                                    scores={k: ScoreValue() for k in topic.score_keys})
            if self._features is not None:
                self._features.append({k: None for k in topic.score_keys})
            return ScoringOutcome(result=result)
        calibrations = self.calibrations(topic)
        features: dict[str, np.ndarray | None] = {}
        relevance = vectors @ prototypes.relevance.T  # (n_sentences, n_scores)
        best = relevance.max(1, keepdims=True)
        thresholds = np.array([p.relevance_threshold if s.relevance_threshold is None
                               else s.relevance_threshold for s in topic.scores])
        counts = (relevance >= thresholds) & (relevance >= best - p.relevance_margin)
        scores: dict[str, ScoreValue] = {}
        attitude_index = 0
        for j, definition in enumerate(topic.scores):
            if definition.kind == "attitude":
                scores[definition.key], features[definition.key] = self._attitude_value(
                    sentences, probs[:, attitude_index], attitude.targets[attitude_index].name,
                    None if head is None else head[:, attitude_index],
                    specific=attitude.heads[attitude_index])
                attitude_index += 1
            else:
                rows = np.flatnonzero(counts[:, j])
                rows = rows[np.argsort(-relevance[rows, j])][: p.max_sentences]
                scores[definition.key], features[definition.key] = self._aggregate(
                    rows, sentences, vectors, relevance[:, j], prototypes.high[j],
                    prototypes.low[j])
            calibration = calibrations.get(definition.key)
            if calibration is not None and features[definition.key] is not None:
                scores[definition.key] = _calibrated(scores[definition.key], calibration,
                                                     features[definition.key])
        if self._features is not None:
            self._features.append(features)
        on_topic = any(s.value is not None for s in scores.values())
        summary = self._summary(sentences, vectors, prototypes.topic) if on_topic else \
            "Not about the topic (no passage matched any score question)."
        return ScoringOutcome(result=DocumentScores(on_topic=on_topic, summary=summary,
                                                    scores=scores))

    def _aggregate(self, rows: np.ndarray, sentences: list[_Sentence], vectors: np.ndarray,
                   relevance: np.ndarray, high: np.ndarray, low: np.ndarray
                   ) -> tuple[ScoreValue, np.ndarray | None]:
        """The value (and the features a calibration reads: the relevance-weighted mean of
        the retrieved sentences' vectors)."""
        if len(rows) == 0:
            return ScoreValue(rationale="No passage addresses this question."), None
        texts = [sentences[i].text for i in rows]
        polarity = self.sentence_polarity(vectors[rows], texts, high, low)
        weights = relevance[rows] * np.array(
            [self.parameters.comment_weight if sentences[i].is_comment else 1.0 for i in rows])
        mean = float(np.average(polarity, weights=weights))
        value = round(5.0 + 5.0 * mean, 2)
        strongest = int(np.argmax(np.abs(polarity)))
        rationale = (f"{len(rows)} relevant passage(s), mean polarity {mean:+.2f}; "
                     f"strongest: \"{_clip(texts[strongest], 160)}\"")
        evidence = sorted({sentences[i].chunk for i in rows})
        features = np.average(vectors[rows], axis=0, weights=weights)
        return (ScoreValue(value=value, rationale=_clip(rationale, 400), evidence=evidence),
                features)

    def _attitude_value(self, sentences: list[_Sentence], probs: np.ndarray,
                        target: str, head: np.ndarray | None = None,
                        specific: int | None = None) -> tuple[ScoreValue, np.ndarray | None]:
        """Mean probabilities of the sentences that mention the target -> 0-10 (and, when
        ``head`` is given, the features a calibration reads: the mean head input and the
        mean probabilities). A target with a specific head (``specific``, see
        ``AttitudeModel.specific_head``) mixes that mean with the head's n-gram model of the
        document's own text (not its comments)."""
        rows = np.flatnonzero(~np.isnan(probs).any(1))
        if len(rows) == 0:
            return ScoreValue(rationale=f"No sentence mentions {_clip(target, 60)}."), None
        weights = np.array([self.parameters.comment_weight if sentences[i].is_comment else 1.0
                            for i in rows])
        mean = np.average(probs[rows], axis=0, weights=weights)
        shown = mean
        if specific is not None:
            text = " ".join(s.text for s in sentences if not s.is_comment) or " ".join(
                s.text for s in sentences)
            shown = self._attitude_model().specific_probabilities(mean, text, specific)
        value = round(float(AttitudeModel.value(shown)), 2)
        sentence_values = AttitudeModel.value(probs[rows])
        strongest = rows[int(np.argmax(np.abs(sentence_values - 5.0)))]
        rationale = (f"{len(rows)} sentence(s) mention {_clip(target, 60)}; P(negative, "
                     f"neutral, positive) = {shown[0]:.2f}, {shown[1]:.2f}, {shown[2]:.2f}"
                     f"{' (target-specific head)' if specific is not None else ''}; "
                     f"strongest: \"{_clip(sentences[strongest].text, 160)}\"")
        evidence = sorted({sentences[i].chunk for i in rows})
        features = (None if head is None else
                    np.concatenate([np.average(head[rows], axis=0, weights=weights), mean]))
        return (ScoreValue(value=value, rationale=_clip(rationale, 400), evidence=evidence),
                features)

    def _summary(self, sentences: list[_Sentence], vectors: np.ndarray, topic: np.ndarray) -> str:
        text_rows = ([i for i, s in enumerate(sentences) if not s.is_comment]
                     or list(range(len(sentences))))
        ranked = sorted(text_rows, key=lambda i: -float(vectors[i] @ topic))
        chosen = sorted(ranked[: self.parameters.summary_sentences])
        words = " ".join(sentences[i].text for i in chosen).split()
        return " ".join(words[:MAX_SUMMARY_WORDS])


# Words that are subject matter in security news, not opinion: the lexicon must not read
# "an attack on one ally would be answered" as negative.
_DOMAIN_WORDS = re.compile(
    r"\b(attack(ed|s|ing)?|defen[cs]es?|defend(ed|s|ing)?|war|wars|military|army|troops|"
    r"weapons?|conflict|invasion|invaded|fight(ing|s)?|security|collective|forces?)\b",
    re.IGNORECASE,
)


def _calibrated(score: ScoreValue, calibration, features: np.ndarray) -> ScoreValue:
    """The score after its adopted calibration; the rationale says so."""
    value = float(calibration.predict(np.array([score.value]), features[None, :])[0])
    rationale = (f"calibrated from {score.value:.2f} (calibration {calibration.key[:8]} fitted "
                 f"on {calibration.record.get('labels', '?')} gold labels); {score.rationale}")
    return ScoreValue(value=round(value, 2), rationale=_clip(rationale, 400),
                      evidence=score.evidence)


ENGLISH = {"en"}


def _english(doc: PreparedDocument) -> bool:
    """Unknown language (not detected: too short, or stored before detection) counts as
    English."""
    lang = (doc.meta.get("lang") or "en").lower()
    return lang.split("-")[0] in ENGLISH


def _not_supported(doc: PreparedDocument, topic: Topic) -> ScoringOutcome:
    reason = language_not_supported(doc.meta.get("lang"), "the offline scorer reads English only")
    result = DocumentScores(
        on_topic=False, summary=f"Not scored: {reason}. The LLM backend scores any language.",
        scores={k: ScoreValue(rationale=reason) for k in topic.score_keys})
    return ScoringOutcome(result=result)


def attitude_targets(topic: Topic) -> list[AttitudeTarget]:
    """The targets of the topic's ``kind: attitude`` scores, in score order."""
    return [AttitudeTarget(s.attitude_target(topic.target), tuple(s.aliases))
            for s in topic.scores if s.kind == "attitude"]


def _normalise(vector: np.ndarray) -> np.ndarray:
    return vector / (np.linalg.norm(vector) or 1.0)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chunk_vectors(doc: PreparedDocument, sentences: list[_Sentence],
                   vectors: np.ndarray) -> np.ndarray:
    """A chunk's embedding = normalised mean of its sentences' (saves a second encode)."""
    width = vectors.shape[1] if len(vectors) else MINILM_DIMENSIONS
    out = np.zeros((len(doc.passages), width), np.float32)
    for row, sentence in enumerate(sentences):
        out[sentence.chunk] += vectors[row]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)
