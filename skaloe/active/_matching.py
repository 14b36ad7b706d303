"""Finding taught samples in the pool: by content for feature rows, by name for file paths.

``ActiveLearner.teach(X, y)`` accepts the samples a person labeled, as
modAL-style code passes them (``X_pool[idx]``). Each sample that is a row of
the pool must be labeled at its position, not added a second time. A per-row
scan of a large pool for every call would cost a pass over the pool per
sample; instead every pool row gets a 64-bit fingerprint once (integer
arithmetic on the row's bytes, computed chunk by chunk, exact and independent
of how rows are grouped), the fingerprints are sorted, and a taught sample is
looked up by binary search and confirmed by comparing its bytes with the
candidate rows.
"""

# Authors: The skaloe developers
# SPDX-License-Identifier: BSD-3-Clause

from __future__ import annotations

import numbers
import os

import numpy as np

from .._fingerprints import _CHUNK_ROWS, fingerprints
from ._labels import num_rows


def _dense(rows):
    return rows.toarray() if hasattr(rows, "toarray") else np.asarray(rows)


class RowIndex:
    """Positions of the pool's rows, found by content.

    Parameters
    ----------
    pool : ndarray or sparse matrix of shape (n_pool, n_features)
        The pool as the learner keeps it (its features). Only fingerprints
        are kept: :meth:`find` is given the pool again.
    """

    def __init__(self, pool):
        self.dtype, self.n_features = pool.dtype, pool.shape[1]
        n = pool.shape[0]
        prints = np.empty(n, dtype=np.uint64)
        for start in range(0, n, _CHUNK_ROWS):
            prints[start:start + _CHUNK_ROWS] = fingerprints(_dense(pool[start:start + _CHUNK_ROWS]))
        self.order = np.argsort(prints, kind="stable")
        self.sorted = prints[self.order]

    def as_pool_dtype(self, rows):
        """The rows in the pool's dtype when that changes no value, else None."""
        rows = _dense(rows)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            return None
        if rows.dtype == self.dtype:
            return rows
        try:
            cast = rows.astype(self.dtype)
            same = np.array_equal(cast.astype(rows.dtype), rows, equal_nan=rows.dtype.kind == "f")
        except (TypeError, ValueError):
            return None
        return cast if same else None

    def find(self, pool, rows):
        """For each row, the sorted positions of ``pool`` holding exactly its content."""
        rows = self.as_pool_dtype(rows)
        if rows is None:
            return None
        prints = fingerprints(rows)
        lo = np.searchsorted(self.sorted, prints, side="left")
        hi = np.searchsorted(self.sorted, prints, side="right")
        found = []
        for row, a, b in zip(rows, lo.tolist(), hi.tolist()):
            candidates = np.sort(self.order[a:b])
            same = [int(c) for c in candidates
                    if _dense(pool[int(c):int(c) + 1])[0].tobytes() == row.tobytes()]
            found.append(same)
        return found


def path_keys(X):
    """``{path: [positions]}`` when the pool was given as file paths, else None."""
    if hasattr(X, "toarray") or isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
        return None  # a sparse matrix of features, or no sequence at all
    if hasattr(X, "to_numpy"):  # a pandas Series or one-column DataFrame
        X = X.to_numpy()
    if len(X) == 0 or (hasattr(X, "dtype") and X.dtype.kind not in "USO"):
        return None  # numeric features: no conversion of a large pool to a list
    if isinstance(X, (list, tuple)) and not isinstance(X[0], (str, os.PathLike, list)):
        return None
    values = X.tolist() if hasattr(X, "tolist") else list(X)
    if values and isinstance(values[0], list):  # a one-column 2-D container
        values = [v[0] if len(v) == 1 else None for v in values]
    if not all(isinstance(v, (str, os.PathLike)) for v in values):
        return None
    keys = {}
    for position, value in enumerate(values):
        keys.setdefault(os.fspath(value), []).append(position)
    return keys


class PoolLookup:
    """Finds samples in the pool: by path for a pool of files, by content for features.

    Parameters
    ----------
    X_fit : array-like
        The pool in the form given to ``fit`` (file paths for an encoder
        Pipeline).
    pool : array-like
        The pool's features (the frozen prefix's output, or ``X_fit``).
    """

    def __init__(self, X_fit, pool):
        self.X_fit = X_fit
        self.pool = pool
        self._paths = None  # {path: [positions]}, built at the first lookup
        self._rows = None  # RowIndex of the features, built at the first lookup

    def takes_paths(self):
        """Whether the pool was given as file paths."""
        if self._paths is None:
            self._paths = path_keys(self.X_fit) or {}
        return bool(self._paths)

    def as_positions(self, indices):
        """Positions as an array, or None when ``indices`` holds samples."""
        if hasattr(indices, "iloc") or hasattr(indices, "toarray"):  # DataFrame, sparse
            return None
        try:
            raw = np.asarray(indices)
        except ValueError:  # ragged: a list of waveforms of different lengths
            return None
        if raw.ndim == 0:
            raw = raw.reshape(1)
        if raw.ndim >= 2 or (raw.dtype == object and raw.size and not all(
                isinstance(v, (numbers.Integral, np.integer)) for v in raw.tolist())):
            return None
        if raw.dtype.kind in "USO" and raw.size and self.takes_paths():
            return None  # file paths (or documents) of a pool given as strings
        return raw  # positions, checked by check_positions

    def find(self, X, as_features):
        """For each sample, the pool positions holding it (possibly none).

        Returns ``(found, features)``: ``features`` are the samples in the
        pool's form when they had to be computed with ``as_features`` (to
        compare contents), else None.
        """
        if self.takes_paths():
            values = X.to_numpy() if hasattr(X, "to_numpy") else X
            values = values.tolist() if hasattr(values, "tolist") else list(values)
            values = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in values]
            return [list(self._paths.get(os.fspath(v), []))
                    if isinstance(v, (str, os.PathLike)) else [] for v in values], None
        features = as_features(X)
        pool = self.pool
        numeric = (hasattr(pool, "dtype") and getattr(pool, "ndim", 2) == 2
                   and pool.dtype.kind in "iufb")
        if numeric:
            if self._rows is None:
                self._rows = RowIndex(pool)
            found = self._rows.find(pool, features)
            if found is not None:
                return found, features
        n = num_rows(features)
        return [[] for _ in range(n)], features


def assign_positions(found, labeled_mask):
    """One pool position per sample (-1: not in the pool), each position used once.

    A sample the pool holds several times takes its first unlabeled copy.
    """
    taken, positions = set(), np.full(len(found), -1, dtype=np.intp)
    for k, candidates in enumerate(found):
        free = [c for c in candidates if c not in taken]
        if candidates and not free:
            raise ValueError(
                f"Sample {k} is pool position {candidates[0]}, which another sample of "
                "this call also is; give each sample one label."
            )
        if free:  # prefer a copy of the sample that is not labeled yet
            unlabeled = [c for c in free if not labeled_mask[c]]
            positions[k] = (unlabeled or free)[0]
            taken.add(int(positions[k]))
    return positions
