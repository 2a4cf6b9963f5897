"""Hashed word and character n-gram features for the target-specific attitude heads.

A text becomes two L2-normalised TF-IDF blocks, as scikit-learn's ``TfidfVectorizer`` would
build them (lower-cased; word unigrams and bigrams of ``\\b\\w\\w+\\b`` tokens; character
2- to 5-grams inside word boundaries, ``char_wb``; sublinear tf = 1 + log(count); smooth idf
= log((1 + n) / (1 + df)) + 1; a feature seen in fewer than ``min_df`` training texts is
dropped), except that each n-gram is hashed (CRC-32 of ``"w:" + gram`` or ``"c:" + gram``)
into ``2 ** bits`` buckets, so no vocabulary is stored: only the idf of the used buckets and
the heads' coefficients. Pure numpy and the standard library; deterministic.
"""

from __future__ import annotations

import itertools
import re
import zlib

import numpy as np

TOKEN = re.compile(r"(?u)\b\w\w+\b")
SPACE = re.compile(r"\s\s+")
BITS = 20
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)


def word_grams(text: str) -> list[str]:
    tokens = TOKEN.findall(text.lower())
    grams = list(tokens)
    grams += [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
    return grams


def char_grams(text: str, low: int = CHAR_NGRAMS[0], high: int = CHAR_NGRAMS[1]) -> list[str]:
    """scikit-learn's ``char_wb``: n-grams of each whitespace-separated word padded with one
    space either side; a padded word shorter than n gives itself once."""
    grams = []
    for word in SPACE.sub(" ", text.lower()).split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            if size <= n:
                grams.append(padded)
                break
            grams.extend(padded[i:i + n] for i in range(size - n + 1))
    return grams


def bucket_counts(text: str, bits: int = BITS) -> tuple[dict[int, int], dict[int, int]]:
    """Word and character n-gram counts per hashed bucket."""
    mask = (1 << bits) - 1
    out = []
    for prefix, grams in (("w:", word_grams(text)), ("c:", char_grams(text))):
        counts: dict[int, int] = {}
        for gram in grams:
            key = zlib.crc32((prefix + gram).encode("utf-8")) & mask
            counts[key] = counts.get(key, 0) + 1
        out.append(counts)
    return out[0], out[1]


def count_matrix(texts: list[str], bits: int = BITS):
    """Two scipy CSR count matrices (word, char) of shape (n, 2 ** bits) (training only)."""
    from scipy.sparse import csr_matrix

    blocks = []
    per_text = [bucket_counts(t, bits) for t in texts]
    for b in range(2):
        rows, cols, vals = [], [], []
        for i, pair in enumerate(per_text):
            for k, v in pair[b].items():
                rows.append(i)
                cols.append(k)
                vals.append(v)
        blocks.append(csr_matrix((np.array(vals, np.float64), (rows, cols)),
                                 shape=(len(texts), 1 << bits)))
    return blocks


def idf_from_counts(counts, min_df: int) -> np.ndarray:
    """Smooth idf per bucket; 0 for a bucket seen in fewer than ``min_df`` texts."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    idf[df < min_df] = 0.0
    return idf


def tfidf(counts, idf: np.ndarray):
    """Sublinear tf times idf, each row L2-normalised (scipy CSR in, CSR out)."""
    x = counts.tocsr(copy=True).astype(np.float64)
    x.data = 1.0 + np.log(x.data)
    x = x.multiply(idf[None, :]).tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(1)).ravel())
    norms[norms == 0] = 1.0
    x = x.multiply(1.0 / norms[:, None]).tocsr()
    x.eliminate_zeros()
    return x


def text_features(text: str, word_buckets: np.ndarray, word_idf: np.ndarray,
                  char_buckets: np.ndarray, char_idf: np.ndarray, bits: int = BITS
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One text at inference: (columns, values) of its TF-IDF vector over the stored buckets
    (each block's ``buckets`` sorted, with its idf; char columns follow the word columns)."""
    cols, vals = [], []
    offset = 0
    for counts, buckets, idf in zip(bucket_counts(text, bits), (word_buckets, char_buckets),
                                    (word_idf, char_idf), strict=True):
        if counts and len(buckets):
            keys = np.fromiter(counts.keys(), np.int64, len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), np.float64, len(counts)))
            pos = np.minimum(np.searchsorted(buckets, keys), len(buckets) - 1)
            weight = np.where(buckets[pos] == keys, tf * idf[pos], 0.0)
            norm = np.sqrt(np.sum(weight ** 2))
            if norm > 0:
                keep = weight != 0
                cols.append(pos[keep] + offset)
                vals.append(weight[keep] / norm)
        offset += len(buckets)
    if not cols:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(cols), np.concatenate(vals)
