"""Row fingerprints: one 64-bit number per row of an array, the same in every process.

Shared by ``ActiveLearner.teach`` (finding given samples in the pool) and
``GraphClassifier`` (recognising pool rows at predict time). Equal rows have
equal fingerprints; different rows collide rarely, so a match is always
confirmed by comparing bytes.
"""

from __future__ import annotations

import numpy as np

_CHUNK_ROWS = 4096


def _byte_words(rows):
    """The rows' bytes as unsigned words of the widest size that divides a row."""
    rows = np.ascontiguousarray(rows)
    n_bytes = rows.shape[1] * rows.dtype.itemsize if rows.ndim == 2 else 0
    for word in (np.uint64, np.uint32, np.uint16, np.uint8):
        if n_bytes % np.dtype(word).itemsize == 0:
            return rows.view(np.uint8).reshape(len(rows), -1).view(word)
    raise AssertionError("unreachable")


def _weights(n_words):
    # Fixed odd multipliers: the fingerprint is the same in every process.
    rng = np.random.default_rng(0x5CA10E)
    return rng.integers(1, 2**63, size=n_words, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def fingerprints(rows):
    """One uint64 per row: ``sum_k w_k * word_k`` modulo 2**64, with fixed odd weights."""
    words = _byte_words(rows)
    weights = _weights(words.shape[1])
    out = np.empty(len(words), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(words), _CHUNK_ROWS):
            part = words[start:start + _CHUNK_ROWS].astype(np.uint64)
            part *= weights
            out[start:start + _CHUNK_ROWS] = part.sum(axis=1, dtype=np.uint64)
    return out
