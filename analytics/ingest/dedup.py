"""Near-duplicate (syndicated) news: MinHash over word shingles, banded LSH lookup.

Syndicated copies of one wire story differ by a byline, a headline tweak or a footer, so
their exact content hashes differ. Their 5-word shingle sets still overlap heavily; the
estimated Jaccard similarity (share of equal MinHash values) above a threshold links the
copy to the earliest stored original through ``documents.duplicate_of``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import defaultdict

import numpy as np

SHINGLE_WORDS = 5
PERMUTATIONS = 64
BANDS = 16  # 16 bands x 4 rows: a pair at J = 0.8 is a candidate with p > 0.999
_WORD = re.compile(r"\w+", re.UNICODE)
_RNG = np.random.default_rng(20250101)
# Multiply-shift hashing of 64-bit shingle hashes: ((a*h + b) mod 2**64) >> 32 with odd a.
_A = _RNG.integers(0, 2**64, size=PERMUTATIONS, dtype=np.uint64, endpoint=False) | np.uint64(1)
_B = _RNG.integers(0, 2**64, size=PERMUTATIONS, dtype=np.uint64, endpoint=False)


def signature(text: str) -> np.ndarray | None:
    """MinHash signature (uint32 x 64) of the text's word shingles; None if too short."""
    words = _WORD.findall(text.lower())
    if len(words) < SHINGLE_WORDS * 4:
        return None
    shingles = {" ".join(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}
    hashes = np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")
         for s in shingles), dtype=np.uint64, count=len(shingles))
    with np.errstate(over="ignore"):  # the wrap-around modulo 2**64 is the point
        mixed = (hashes[None, :] * _A[:, None] + _B[:, None]) >> np.uint64(32)
    return mixed.min(axis=1).astype(np.uint32)


def encode(sig: np.ndarray) -> str:
    return base64.b64encode(sig.astype("<u4").tobytes()).decode("ascii")


def decode(text: str) -> np.ndarray | None:
    try:
        sig = np.frombuffer(base64.b64decode(text), dtype="<u4")
    except (ValueError, TypeError):
        return None
    return sig if sig.size == PERMUTATIONS else None


class NearDuplicateIndex:
    """Originals by LSH band; ``match`` returns the key of a close enough original."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.rows = PERMUTATIONS // BANDS
        self.buckets: dict[tuple[int, bytes], list[str]] = defaultdict(list)
        self.signatures: dict[str, np.ndarray] = {}

    def _bands(self, sig: np.ndarray):
        for band in range(BANDS):
            yield band, sig[band * self.rows:(band + 1) * self.rows].tobytes()

    def add(self, key: str, sig: np.ndarray) -> None:
        if key in self.signatures:
            return
        self.signatures[key] = sig
        for bucket in self._bands(sig):
            self.buckets[bucket].append(key)

    def match(self, key: str, sig: np.ndarray) -> str | None:
        best, best_similarity = None, self.threshold
        seen: set[str] = set()
        for bucket in self._bands(sig):
            for other in self.buckets.get(bucket, ()):
                if other == key or other in seen:
                    continue
                seen.add(other)
                similarity = float(np.mean(self.signatures[other] == sig))
                if similarity >= best_similarity:
                    best, best_similarity = other, similarity
        return best

    def __len__(self) -> int:
        return len(self.signatures)
