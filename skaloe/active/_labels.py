"""The labeled pool: the ``-1`` marker, label and position checks, class order, row counts."""

from __future__ import annotations

import numbers

import numpy as np

#: Marks an unlabeled sample in ``y``, as in scikit-learn's semi-supervised models.
UNLABELED = -1


def is_marker(value):
    return (
        isinstance(value, numbers.Number)
        and not isinstance(value, bool)
        and value == UNLABELED
    )


def num_rows(X):
    """Number of samples in an array, sparse matrix, DataFrame or list."""
    return X.shape[0] if hasattr(X, "shape") else len(X)


def is_nan(value):
    """Whether a label is NaN, which is not equal to itself and so cannot name a class."""
    return isinstance(value, (float, np.floating)) and value != value


def check_no_nan_labels(y, name="y"):
    """Refuse NaN among labels, naming the first position."""
    if y.dtype.kind == "f":
        bad = np.flatnonzero(np.isnan(y))
    elif y.dtype.kind == "O":
        bad = np.flatnonzero(np.fromiter((is_nan(v) for v in y), dtype=bool, count=len(y)))
    else:
        return
    if bad.size:
        raise ValueError(
            f"{name}[{int(bad[0])}] is nan, which cannot be a class label (nan is not equal "
            "to itself, so each would be a class of its own); give a name or a number, or "
            "-1 for an unlabeled sample."
        )


def unlabeled_mask(y):
    if y.dtype.kind in "iuf":
        return y == UNLABELED
    if y.dtype.kind == "O":
        return np.fromiter((is_marker(v) for v in y), dtype=bool, count=len(y))
    return np.zeros(len(y), dtype=bool)  # str/bytes arrays cannot hold the -1 marker


def as_label_array(labels):
    if isinstance(labels, np.ndarray) and labels.ndim == 1:
        return labels
    out = np.empty(len(labels), dtype=object)
    try:
        out[:] = list(labels)
    except ValueError:  # sequences among the labels: numpy tries to broadcast them
        for i, label in enumerate(labels):
            out[i] = label
    return out


def check_positions(indices, n_pool, *, unique=True):
    """Pool positions as an intp array; refuse fractions, out-of-range and (if unique) repeats."""
    raw = np.asarray(indices)
    if raw.ndim == 0:
        raw = raw.reshape(1)
    if raw.ndim != 1:
        raise ValueError(f"indices must be 1-D positions, got shape {raw.shape}.")
    if raw.size and raw.dtype.kind not in "iu":
        whole = (
            np.isfinite(raw) & (raw == np.round(raw))
            if raw.dtype.kind == "f"
            else np.zeros(raw.shape, dtype=bool)
        )
        if not whole.all():
            bad = raw[~whole][0]
            bad = bad.item() if isinstance(bad, np.generic) else bad
            if raw.dtype.kind == "f":  # positions, or one sample given as a 1-D row?
                raise ValueError(
                    f"teach() got a 1-D float array holding {bad!r}: pool positions must "
                    "be whole numbers (as query() returns them), and samples must be "
                    "given as rows: X_new.reshape(1, -1) for one sample of features, "
                    "[waveform] for one clip."
                )
            raise ValueError(
                f"indices must be integer positions into the pool; got {bad!r} "
                f"(dtype {raw.dtype})."
            )
    raw = raw.astype(np.intp)
    bad = raw[(raw < 0) | (raw >= n_pool)]
    if bad.size:
        raise IndexError(
            f"Position {int(bad[0])} is out of range for a pool of {n_pool} "
            f"samples (valid: 0 to {n_pool - 1}); pass positions returned by query()."
        )
    uniq, counts = np.unique(raw, return_counts=True)
    if unique and (counts > 1).any():
        raise ValueError(
            f"Position {int(uniq[counts > 1][0])} appears more than once in indices; "
            "give each position one label."
        )
    return raw



def check_labels(labels, n):
    """One hashable label per position or sample, never the -1 marker."""
    if isinstance(labels, (str, bytes)) or (
        not isinstance(labels, (list, tuple)) and np.ndim(labels) == 0
    ):
        labels = [labels]
    labels = as_label_array(labels)
    if len(labels) != n:
        raise ValueError(
            f"Got {n} positions (or samples) but {len(labels)} labels; give exactly one "
            "label each."
        )
    check_no_nan_labels(labels, "labels")
    for i, label in enumerate(labels.tolist()):
        if isinstance(label, np.generic):  # e.g. np.int64 in an object array
            label = label.item()
        if is_marker(label):
            raise ValueError(
                f"labels[{i}] is {label!r}, the marker of unlabeled samples; it cannot be "
                "used as a class label."
            )
        try:
            hash(label)
        except TypeError:
            raise TypeError(
                f"labels[{i}] = {label!r} is not hashable; labels must be hashable "
                "(str, int, tuple, ...)."
            ) from None
    return labels



def classes_in_order(values):
    """The distinct labels (sorted when they compare) as an array of their common type."""
    distinct = list(dict.fromkeys(values))
    try:
        distinct = sorted(distinct)
    except TypeError:  # labels of types that do not compare: keep first-seen order
        pass
    classes = np.empty(len(distinct), dtype=object)
    classes[:] = distinct
    # Plain ints only: bool and IntEnum labels are Integral too, but must come
    # back from predict as themselves, not as int64.
    if distinct and all(type(v) is int or isinstance(v, np.integer) for v in distinct):
        classes = classes.astype(np.int64)
    elif distinct and all(isinstance(v, (bool, np.bool_)) for v in distinct):
        classes = classes.astype(bool)
    elif distinct and all(isinstance(v, str) for v in distinct):
        classes = classes.astype(str)
    return classes
