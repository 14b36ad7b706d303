"""Reproducible initial labeled sets for simulations."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state


def seed_per_class(y, n_per_class=5, *, random_state=None, method="sequential"):
    """Draw ``n_per_class`` positions of each class, for a simulated start.

    ALOE seeds every run with 5 labeled examples per class (Lee et al., 2023,
    section 3). Classes are visited in sorted order and positions drawn
    without replacement from ``random_state``, so a seed gives the same
    initial set every time (and every strategy compared in a run can share
    it).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The true labels of the pool (known in a simulation).
    n_per_class : int, default=5
        Positions drawn per class; a class with fewer samples gives all of
        them, with a warning.
    random_state : int, RandomState instance or None, default=None
        Seed of the draw. With ``method="aloe"``, a non-negative int.
    method : {"sequential", "aloe"}, default="sequential"
        ``"sequential"``: one :class:`numpy.random.RandomState` from
        ``random_state`` draws for every class in turn. ``"aloe"``: as ALOE's
        ``al.py`` (HarlinLee/ALOE) draws its initial set, a new
        ``np.random.default_rng(random_state)`` for every class, which draws
        ``choice(positions_of_the_class, n_per_class, replace=False)`` from
        that class's positions in increasing order. The generator starts
        afresh for each class, so classes of equal size get their samples at
        the same places in their position lists; the same seed gives ALOE's
        own seed set.

    Returns
    -------
    indices : ndarray of int
        Positions into ``y``, grouped by class in sorted class order.

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe.active import seed_per_class
    >>> y = np.array(["a", "b", "a", "b", "a", "b"])
    >>> idx = seed_per_class(y, 2, random_state=0)
    >>> sorted(y[idx].tolist())
    ['a', 'a', 'b', 'b']

    ALOE's draw (``al.py --seed=1``) takes the same places in both classes' lists:

    >>> seed_per_class(y, 2, random_state=1, method="aloe").tolist()
    [0, 2, 1, 3]
    """
    if not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer, got {n_per_class!r}.")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}.")
    if method == "aloe":
        if not isinstance(random_state, Integral) or isinstance(random_state, bool) or (
                random_state < 0):
            raise ValueError(
                "method='aloe' seeds a new np.random.default_rng(random_state) for every "
                "class, as ALOE's al.py does, so random_state must be a non-negative int "
                f"(ALOE's --seed); got {random_state!r}."
            )

        def draw(positions):
            return np.random.default_rng(int(random_state)).choice(
                positions, n_per_class, replace=False)
    elif method == "sequential":
        rng = check_random_state(random_state)

        def draw(positions):
            return rng.choice(positions, n_per_class, replace=False)
    else:
        raise ValueError(f"method must be 'sequential' or 'aloe', got {method!r}.")
    picked = []
    try:
        classes, codes = np.unique(y, return_inverse=True)
    except TypeError:  # labels of types that do not compare: first-seen order
        first_seen = {}
        codes = np.fromiter((first_seen.setdefault(v, len(first_seen)) for v in y.tolist()),
                            dtype=np.intp, count=len(y))
        classes = list(first_seen)
    for code, label in enumerate(classes):
        positions = np.flatnonzero(codes == code)
        if len(positions) < n_per_class:
            shown = label.item() if isinstance(label, np.generic) else label
            warnings.warn(
                f"Class {shown!r} has only {len(positions)} samples; all are used instead "
                f"of {n_per_class}.",
                UserWarning,
                stacklevel=2,
            )
            picked.append(positions)
        else:
            picked.append(draw(positions))
    return np.concatenate(picked).astype(np.intp)
