"""The learned offline "attitude toward a target" scorer (score kind ``attitude``).

A topic declares such a score with ``kind: attitude``, the ``target`` it is about and a few
``aliases`` (other names of the target: a leader, a capital, an abbreviation). No anchors.

How a document is scored
------------------------
1. Mentions. In every sentence the target's mentions are found by a generic rule: the
   target and each alias as whole words (case-insensitive; also inside camel-cased hashtags
   such as #StandWithUkraine), with plural/possessive endings and one derived adjective form
   of a single-word, non-acronym name (Russia -> Russian, Ukraine -> Ukrainian, Iran ->
   Iranian). Acronyms (NATO) get none; other forms are listed as aliases.
2. Features. The sentences that mention the target go through MiniLM once
   (``MiniLMEmbedder.encode_with_spans``): the same sentence vector the product stores and
   retrieves with, plus the normalised mean of the layer-4 and layer-6 token states of the
   mention tokens and of the layer-6 states of the tokens within 6 of them. These four 384-d
   vectors (1,536 numbers) describe what is said around the target.
3. Head. A small network (1,536 -> 256 -> 3, tanh-GELU) trained on human labels (NewsMTSC
   sentiment toward a marked person; RUW stance toward Russia and Ukraine in tweets: see
   ``analytics.score.attitude_train``) gives P(negative/against), P(neutral/no stance),
   P(positive/favour). Sentence value = 5 + 5 * (P(pos) - P(neg)).
4. Document value = the same of the mean probabilities of its sentences that mention the
   target; none mentions it -> null ("not addressed").
5. Target-specific heads. Steps 3-4 are the general head, for any target. A target with
   human labels of its own (Russia and Ukraine: RUW tweets) has a specific head, matched by
   the score's target or an alias (``AttitudeModel.specific_head``): the mean of the general
   network and two more seeds, mixed geometrically with the target's logistic regression on
   hashed word/character n-grams of the document's own text (``analytics.score.lexical``),
   sharpened (``specific_probabilities``). The record's ``specific_heads`` says which.

The weights are a float16 ``.npz`` inside the package (``models/attitude.npz``, under 5
MB) with a JSON record of how it was trained; nothing is downloaded at run time. Rebuild it
with ``python -m analytics train-attitude`` (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from analytics.core.errors import BadInput

MODELS = Path(__file__).resolve().parent / "models"
ARTEFACT = MODELS / "attitude.npz"
LAYERS = (4, 6)  # hidden states pooled over the mention (6 = the last layer)
WINDOW = 6  # tokens either side of a mention for the context vector
FEATURES = ("sentence", "mention_l4", "mention_l6", "context_l6")


class AttitudeModelMissing(BadInput):
    """The packaged attitude model is not there (it is rebuilt by train-attitude)."""


# --- target mentions ------------------------------------------------------------------------

def name_forms(name: str) -> list[str]:
    """A name and the one adjective form a small English rule derives from it.

    Only for a single-word, non-acronym name: ...a -> ...an (Russia -> Russian), ...e ->
    ...ian (Ukraine -> Ukrainian), a final consonant -> +ian (Iran -> Iranian). Plurals and
    possessives are matched by the pattern itself."""
    name = name.strip()
    forms = {name} if name else set()
    if name and not name.isupper() and " " not in name and name[-1:].isalpha():
        last = name[-1].lower()
        if last == "a":
            forms.add(name + "n")
        elif last == "e":
            forms.add(name[:-1] + "ian")
        elif last not in "iouy":
            forms.add(name + "ian")
    return sorted(forms, key=len, reverse=True)


@lru_cache(maxsize=64)
def mention_pattern(target: str, aliases: tuple[str, ...] = ()) -> re.Pattern:
    forms = {form for term in (target, *aliases) for form in name_forms(term)}
    if not forms:
        return re.compile(r"(?!)")  # matches nothing
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    # a word start, or a lower->upper change inside a camel-cased hashtag; the name itself
    # case-insensitive; then an optional plural/possessive and no further letter
    return re.compile(rf"(?:(?<!\w)|(?<=[a-z])(?=[A-Z]))"
                      rf"(?i:{alternatives})(?i:s|'s|’s|s'|es)?(?![a-z])")


def find_mentions(text: str, target: str, aliases: tuple[str, ...] | list[str] = ()
                  ) -> list[tuple[int, int]]:
    """Character spans of the target's mentions in the text."""
    return [m.span() for m in mention_pattern(target, tuple(aliases)).finditer(text)]


# --- the model ------------------------------------------------------------------------------

@dataclass(frozen=True)
class AttitudeTarget:
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpecificHead:
    """A head for one target that has human labels (recorded in the artefact's JSON)."""
    key: str  # e.g. "russia"
    target: str  # the name it serves (matched with a topic score's target and aliases)
    aliases: list
    data: str  # what it was trained on
    mix: float  # weight of the n-gram model in the geometric mix (the networks get 1 - mix)
    sharpen: float  # power applied to the mixed probabilities before the 0-10 value


def features(sentence: np.ndarray, mention: np.ndarray, context: np.ndarray) -> np.ndarray:
    """The head's input from ``encode_with_spans`` output for one group: (n, 1536)."""
    return np.concatenate([sentence, mention[:, 0], mention[:, 1], context[:, 1]], axis=1)


class AttitudeModel:
    """The trained head (numpy; float16 weights, computed in float32)."""

    def __init__(self, path: Path | str = ARTEFACT):
        path = Path(path)
        if not path.is_file():
            raise AttitudeModelMissing(
                f"The attitude model {path} is missing. Rebuild it with "
                "`python -m analytics train-attitude` (needs ../shared/data).")
        raw = path.read_bytes()
        self.sha256 = hashlib.sha256(raw).hexdigest()
        with np.load(path) as data:
            self.mean = data["mean"].astype(np.float32)  # standardisation of the features
            self.scale = data["scale"].astype(np.float32)
            self.w1 = data["w1"].astype(np.float32)  # (hidden, 1536)
            self.b1 = data["b1"].astype(np.float32)
            self.w2 = data["w2"].astype(np.float32)  # (3, hidden)
            self.b2 = data["b2"].astype(np.float32)
            # target-specific heads (optional): more seeds of the same network, stored
            # stacked (seed first) and kept as one (w1, b1, w2, b2) per seed, and per
            # target a logistic regression on hashed word/character n-grams of the text
            self.extra = (list(zip(*(data[f"extra_{k}"].astype(np.float32)
                                     for k in ("w1", "b1", "w2", "b2")), strict=True))
                          if "extra_w1" in data.files else [])
            self.lexical = ({k: data[f"lex_{k}"].astype(np.int64 if "buckets" in k
                                                         else np.float64)
                             for k in ("word_buckets", "word_idf", "char_buckets", "char_idf",
                                       "coef", "intercept")}
                            if "lex_coef" in data.files else None)
        record = path.with_suffix(".json")
        self.record = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
        self.version = f"attitude-{self.record.get('version', 'unrecorded')}-{self.sha256[:8]}"
        self.heads: list[SpecificHead] = []
        if self.lexical is not None:
            self.heads = [SpecificHead(**h) for h in self.record.get("specific_heads", [])]

    def specific_head(self, target: AttitudeTarget) -> int | None:
        """The index of the target-specific head for this target, or None (general head).

        A head serves a target when the target's name or one of its aliases is the head's
        name (case-insensitive): ``target: Russia`` or ``target: Russian Federation,
        aliases: [Russia]`` get the Russia head; NATO gets the general head."""
        names = {n.strip().casefold() for n in (target.name, *target.aliases)}
        for index, head in enumerate(self.heads):
            if head.target.casefold() in names:
                return index
        return None

    def ensemble_probabilities(self, x: np.ndarray) -> np.ndarray:
        """Mean probabilities of the general network and the extra seeds (specific heads)."""
        total = self.probabilities(x)
        for weights in self.extra:
            total = total + self._forward(x, *weights)
        return total / (1 + len(self.extra))

    def lexical_probabilities(self, text: str, head: int) -> np.ndarray:
        """(3,) P(neg/neu/pos) of head ``head``'s n-gram logistic regression for a text."""
        from analytics.score.lexical import text_features

        lex = self.lexical
        cols, vals = text_features(text, lex["word_buckets"], lex["word_idf"],
                                   lex["char_buckets"], lex["char_idf"])
        logits = lex["coef"][head][:, cols] @ vals + lex["intercept"][head]
        e = np.exp(logits - logits.max())
        return e / e.sum()

    def specific_probabilities(self, network: np.ndarray, text: str, head: int) -> np.ndarray:
        """The specific head's probabilities: a geometric mix of the n-gram model's and the
        networks' (mean over the sentences that mention the target), sharpened so that the
        0-10 value's 4/6 bands follow the most probable class."""
        spec = self.heads[head]
        lexical = self.lexical_probabilities(text, head)
        log = spec.mix * np.log(lexical + 1e-9) + (1 - spec.mix) * np.log(network + 1e-9)
        # the largest log is 0 after the shift and stays 0 when sharpened (sharpen > 0)
        e = np.exp(spec.sharpen * (log - log.max()))
        return e / e.sum()

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(n, 1536) features -> (n, 3) P(negative), P(neutral), P(positive)."""
        return self._forward(x, self.w1, self.b1, self.w2, self.b2)

    def _forward(self, x, w1, b1, w2, b2) -> np.ndarray:
        h = ((x.astype(np.float32) - self.mean) / self.scale) @ w1.T + b1
        h = 0.5 * h * (1.0 + np.tanh(0.7978845608028654 * (h + 0.044715 * h ** 3)))
        logits = h @ w2.T + b2
        logits -= logits.max(1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(1, keepdims=True)

    @staticmethod
    def value(p: np.ndarray) -> np.ndarray:
        """0-10 from probabilities: 5 + 5 * (P(positive) - P(negative))."""
        return 5.0 + 5.0 * (p[..., 2] - p[..., 0])


_model_lock = threading.Lock()


@lru_cache(maxsize=2)
def _load(path: str) -> AttitudeModel:
    return AttitudeModel(path)


def get_attitude_model(path: Path | str = ARTEFACT) -> AttitudeModel:
    with _model_lock:
        return _load(str(path))


def score_sentences(embedder, texts: list[str], targets: list[AttitudeTarget],
                    model: AttitudeModel | None = None,
                    spans: list[list[list[tuple[int, int]]]] | None = None,
                    return_features: bool = False,
                    heads: list[int | None] | None = None):
    """Sentence vectors (n, 384) and per sentence and target the probabilities (n, G, 3),
    NaN where the sentence does not mention the target, from ONE MiniLM pass.

    ``spans`` (optional) gives the mentions (``spans[i][g]``) instead of finding them.
    ``return_features`` adds the head's inputs (n, G, 1536), NaN where no mention (what a
    calibration from the analysts' coding reads: ``analytics.validate.calibration``).
    ``heads`` (optional) gives each target's ``AttitudeModel.specific_head`` when the caller
    has resolved them already (the offline backend does, once per topic)."""
    model = model or get_attitude_model()
    if heads is None:
        heads = [model.specific_head(target) for target in targets]
    if spans is None:
        spans = [[find_mentions(t, target.name, target.aliases) for target in targets]
                 for t in texts]
    sentence, mention, context, has = embedder.encode_with_spans(texts, spans, LAYERS, WINDOW)
    probs = np.full((len(texts), len(targets), 3), np.nan, np.float32)
    feats = (np.full((len(texts), len(targets), 4 * sentence.shape[1]), np.nan, np.float32)
             if return_features else None)
    for g in range(len(targets)):
        rows = np.flatnonzero(has[:, g])
        if len(rows):
            x = features(sentence[rows], mention[rows, g], context[rows, g])
            probs[rows, g] = (model.probabilities(x) if heads[g] is None
                              else model.ensemble_probabilities(x))
            if feats is not None:
                feats[rows, g] = x
    return (sentence, probs, feats) if return_features else (sentence, probs)
