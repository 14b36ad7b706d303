"""A learner's state as arrays and plain data: saved without its pool, restored without replay.

``save_state`` writes everything an :class:`ActiveLearner` has learned since
``fit`` (labels, history, the fitted classifier's arrays, the random
generator, the cold-start order, this round's scores and stopping rules) as
one ``.npz`` archive: a JSON document plus numeric arrays. Nothing in it is
pickled and no class is named by the file: ``load_state`` puts the values
into a learner the caller has fitted on the same pool with the same
parameters, into the classifier and rule objects that learner built itself.
What ``fit`` computes from the pool (the frozen prefix's output, the
scorers, the validation features) is not stored; it is already there.
"""

from __future__ import annotations

import io
import json

import numpy as np
from sklearn.base import clone

__all__ = ["load_state", "save_state"]

FORMAT = "skaloe-learner-state/1"

# Recomputed by fit() from the pool and the parameters, never stored.
_FROM_FIT = frozenset({
    "_pool", "_X_fit", "_lookup", "_prefix", "_trainable",
    "_semi_supervised", "_allow_nan", "_scorer", "_val", "_val_scorer", "stopping_", "_final",
    "estimator_",
})
_PLAIN_ARRAY_KINDS = "biufcUS"
_JSON_SCALARS = {str, int, float, bool, type(None)}


def _params_of(obj):
    return set(obj.get_params(deep=False)) if hasattr(obj, "get_params") else set()


def _steps(model):
    """The estimators whose fitted state makes up a model: a Pipeline's steps, or itself."""
    steps = getattr(model, "steps", None)
    if steps is None:
        return [model]
    return [step for _, step in steps if step is not None and step != "passthrough"]


def _fitted_vars(obj):
    """An estimator's or rule's state: its attributes other than its parameters."""
    params = _params_of(obj)
    return {k: v for k, v in vars(obj).items() if k not in params}


def _narrowed(array):
    """Integer arrays (positions, class codes) in the smallest type that holds them."""
    if array.dtype.kind != "i" or array.size == 0 or array.dtype.itemsize <= 1:
        return array
    low, high = int(array.min()), int(array.max())
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max and np.dtype(dtype).itemsize < array.dtype.itemsize:
            return array.astype(dtype)
    return array


class _Codec:
    """Plain data <-> JSON + arrays; anything else is refused by name."""

    def __init__(self, arrays=None):
        self.arrays = {} if arrays is None else arrays

    def encode(self, value, where):
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, np.generic):
            return self.encode(value.item(), where)
        if isinstance(value, np.random.RandomState):
            return {"__random_state__": self.encode(list(value.get_state()), where)}
        if isinstance(value, np.ndarray):
            if value.dtype.kind in _PLAIN_ARRAY_KINDS and value.dtype.fields is None:
                name = f"a{len(self.arrays)}"
                self.arrays[name] = _narrowed(value)
                return {"__array__": name, "dtype": value.dtype.str}
            if value.dtype == object:
                items = value.ravel().tolist()
                if not set(map(type, items)) <= _JSON_SCALARS:  # e.g. numpy scalars, tuples
                    items = [self.encode(v, where) for v in items]
                return {"__object_array__": items, "shape": list(value.shape)}
        if isinstance(value, (list, tuple)):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return items if isinstance(value, list) else {"__tuple__": items}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            items = {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}
            # Tags start with "__": a dict whose keys might be read as one is wrapped.
            return {"__dict__": items} if any(k.startswith("__") for k in value) else items
        raise TypeError(
            f"{where} holds a {type(value).__name__}, which is not plain data (numbers, "
            "strings, arrays, lists, dicts); this learner's state cannot be saved without "
            "pickling."
        )

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if not value or not next(iter(value)).startswith("__"):  # a plain dict
            return {k: self.decode(v) for k, v in value.items()}
        (tag, body), *rest = value.items()
        if tag == "__array__":
            array = self.arrays[body]
            dtype = np.dtype(value.get("dtype", array.dtype))
            if dtype.kind != array.dtype.kind or dtype.itemsize < array.dtype.itemsize:
                raise ValueError(f"array {body!r} is stored as {array.dtype}, not {dtype}")
            return array.astype(dtype, copy=False)
        if tag == "__object_array__":
            out = np.empty(len(body), dtype=object)
            if not set(map(type, body)) <= _JSON_SCALARS:
                body = [self.decode(v) for v in body]
            out[:] = body
            return out.reshape(value["shape"])
        if tag == "__tuple__":
            return tuple(self.decode(v) for v in body)
        if tag == "__dict__":
            return {k: self.decode(v) for k, v in body.items()}
        if tag == "__random_state__":
            rng = np.random.RandomState()
            rng.set_state(tuple(self.decode(body)))
            return rng
        raise ValueError(f"Unknown entry {tag!r} in a saved learner state.")


def save_state(learner):
    """Everything a fitted learner has learned, as bytes, without its pool.

    Parameters
    ----------
    learner : ActiveLearner
        A fitted learner whose classifier and stopping rules hold only
        arrays and plain data once fitted (scikit-learn's linear models do).

    Returns
    -------
    data : bytes
        An ``.npz`` archive: a JSON document and numeric arrays, nothing
        pickled. Give it to :func:`load_state` with a learner fitted on the
        same pool.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from skaloe.active import ActiveLearner, load_state, save_state
    >>> X, y = make_classification(200, n_classes=3, n_informative=4, random_state=0)
    >>> learner = ActiveLearner(random_state=0).fit(X)
    >>> for _ in range(3):
    ...     batch = learner.query(3)
    ...     learner = learner.teach(batch, y[batch])
    >>> data = save_state(learner)                  # e.g. written to a file
    >>> reopened = load_state(ActiveLearner(random_state=0).fit(X), data)
    >>> reopened.query(3).tolist() == learner.query(3).tolist()
    True
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(learner)
    codec = _Codec()
    state = {k: codec.encode(v, k) for k, v in vars(learner).items()
             if k not in _FROM_FIT and k not in _params_of(learner)}
    model = learner._final
    document = {
        "format": FORMAT,
        "n_pool": learner.n_pool_,
        "classifier": type(learner._trainable).__name__,
        "state": state,
        "classifier_state": (
            None if model is None else [
                codec.encode(_fitted_vars(step), "classifier")
                for step in _steps(model)
            ]
        ),
        "stopping_state": [
            codec.encode(_fitted_vars(rule), f"stopping_[{i}]")
            for i, rule in enumerate(learner.stopping_)
        ],
    }
    text = json.dumps(document).encode("utf-8")
    buffer = io.BytesIO()
    np.savez(buffer, __document__=np.frombuffer(text, dtype=np.uint8), **codec.arrays)
    return buffer.getvalue()


def load_state(learner, data):
    """Put a saved state into a learner fitted on the same pool; no replay.

    Parameters
    ----------
    learner : ActiveLearner
        Fitted (``fit(X_pool, ...)``) on the pool the state was saved from,
        with the same parameters, and nothing taught since.
    data : bytes
        From :func:`save_state`. It is read as arrays and JSON only (never
        unpickled), so data from someone else cannot run code.

    Returns
    -------
    learner : ActiveLearner
        The same object, now as the saved learner was: the same labels,
        model, random generator and next query.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(learner)
    try:
        _load_into(learner, data)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise ValueError(f"This is not a usable saved learner state: {exc}") from None
    return learner


def _read(data):
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    document = json.loads(arrays.pop("__document__").tobytes().decode("utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(
            f"it is not of format {FORMAT!r}; save it again with skaloe.active.save_state."
        )
    return document, arrays


def _load_into(learner, data):
    document, arrays = _read(data)
    classifier = type(learner._trainable).__name__
    if document["n_pool"] != learner.n_pool_ or document["classifier"] != classifier:
        raise ValueError(
            f"it was saved from a learner with a pool of {document['n_pool']} samples and a "
            f"{document['classifier']}; this learner has {learner.n_pool_} samples and a "
            f"{classifier}. Fit it on the same pool with the same parameters first."
        )
    if len(document["stopping_state"]) != len(learner.stopping_):
        raise ValueError(
            f"it holds {len(document['stopping_state'])} stopping rules, the learner "
            f"{len(learner.stopping_)}; give the learner the same stopping parameter."
        )
    codec = _Codec(arrays)
    own = set(vars(learner)) - _FROM_FIT - _params_of(learner)
    state = {k: codec.decode(v) for k, v in document["state"].items()}
    _check_pool_arrays(learner, state)
    _set_state(learner, state, own | _LAZY, "learner")
    for rule, saved in zip(learner.stopping_, document["stopping_state"]):
        _set_state(rule, codec.decode(saved), set(_fitted_vars(rule)), type(rule).__name__)
    model = None
    if document["classifier_state"] is not None:
        model = clone(learner._trainable)
        steps = _steps(model)
        if len(steps) != len(document["classifier_state"]):
            raise ValueError(f"it holds another number of steps than the {classifier}")
        for step, saved in zip(steps, document["classifier_state"]):
            state = codec.decode(saved)
            fitted = {k for k in state if k.endswith("_") and not k.startswith("__")}
            _set_state(step, state, fitted, type(step).__name__)
    learner._adopt_model(model)


def _check_pool_arrays(learner, state):
    """Arrays with one entry per pool sample must have that length (and positions be in it)."""
    n = learner.n_pool_

    def per_sample(value, what):
        if not isinstance(value, np.ndarray) or value.shape[:1] != (n,):
            raise ValueError(f"{what} does not have one entry per pool sample")

    def positions(value, what):
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "iu" or (
                value.size and (value.min() < 0 or value.max() >= n)):
            raise ValueError(f"{what} holds no positions of this pool")

    for key in ("labeled_mask_", "y_pool_"):
        per_sample(state.get(key), key)
    if state["labeled_mask_"].dtype != bool:
        raise ValueError("labeled_mask_ is not boolean")
    cache = state.get("_query_cache")
    if cache is not None:
        for value in cache[1]:
            per_sample(value, "_query_cache")
        positions(cache[1][2], "_query_cache")
    for key in ("_cold_order", "_clusters"):
        if state.get(key) is not None:
            (positions if key == "_cold_order" else per_sample)(state[key], key)
    for key in ("_cold_cache", "_diverse_cache"):
        if state.get(key) is not None:
            positions(state[key][1], key)


# Attributes a learner creates after fit, at its first query or teach.
_LAZY = frozenset({
    "taught_positions_", "_diverse_cache", "_query_cache", "_cold_cache", "n_features_in_",
})


def _set_state(obj, state, allowed, what):
    if not isinstance(state, dict):
        raise ValueError(f"The saved state of the {what} is not a mapping.")
    unknown = sorted(set(state) - set(allowed))
    if unknown:
        raise ValueError(
            f"The saved state sets {unknown[0]!r} on the {what}, which is not part of its "
            "state; the data is damaged or from another version."
        )
    for key, value in state.items():
        setattr(obj, key, value)
