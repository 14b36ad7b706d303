"""Read and write embeddings on disk: the ``.npz`` file and the labels of a store.

Two formats, each with one reader and one writer here, used by every part of
skaloe that touches them (``skaloe embed``, ``skaloe simulate``,
``skaloe label`` and :class:`~skaloe.labeling.DurableSession`):

* the embeddings file, an ``.npz`` holding ``embeddings`` (float32,
  ``n_clips x dim``) and optionally ``labels`` (int, indices into
  ``label_names``), ``label_names``, ``paths`` (the clip of each row),
  ``starts`` and ``ends`` (when the rows are segments of long recordings:
  each row's bounds in seconds in its file) and ``model`` (the encoder's
  name);
* the labels of an embedding store (the folder that
  :func:`skaloe.distributed.embed_distributed` fills), a JSON file
  ``labels.json`` next to the store's own files, which the store's readers
  never open.

Nothing is ever unpickled: an array of Python objects is refused.
"""

import json
import os
import zipfile
import zlib

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_embeddings", "save_embeddings", "save_store_labels"]

# The keys of an embeddings file; other members of the archive are ignored.
_NPZ_KEYS = ("embeddings", "labels", "label_names", "paths", "starts", "ends", "model")
_NPZ_HINT = "; write it again with skaloe.datasets.save_embeddings or 'skaloe embed'"

# The labels of a store, next to manifest.json, paths.json, embeddings.npy, shards/.
_STORE_LABELS = "labels.json"
_STORE_LABELS_FORMAT = "skaloe-store-labels"
_STORE_LABELS_VERSION = 1
_STORE_LABELS_HINT = (
    "; write it again with skaloe.datasets.save_store_labels (or run 'skaloe embed "
    "--dask' on the labeled input again)"
)

# Rows checked for NaN at a time, so that a memory-mapped store is never read whole.
_FINITE_CHUNK = 65536


def _one_line(text):
    return " ".join(str(text).split())


def _describe(array):
    return f"shape {array.shape} and dtype {array.dtype}"


def _check_embeddings(X, where, hint):
    """Refuse anything but a non-empty, finite, numeric (n_clips, dim) array."""
    if X.ndim != 2 or X.dtype.kind not in "iuf":
        raise ValueError(
            f"{where}: 'embeddings' must be a 2-D numeric array (n_clips, dim), got "
            f"{_describe(X)}{hint}."
        )
    if not X.size:
        raise ValueError(
            f"{where}: 'embeddings' is empty (shape {X.shape}); expected at least one "
            f"clip of at least one value{hint}."
        )
    for start in range(0, len(X), _FINITE_CHUNK):
        finite = np.isfinite(X[start:start + _FINITE_CHUNK]).all(axis=1)
        if not finite.all():
            row = start + int(np.argmin(finite))
            raise ValueError(
                f"{where}: 'embeddings' contains NaN or infinite values (first in row "
                f"{row}){hint}."
            )


def _check_length(key, values, n_rows, rows, where, hint):
    if len(values) != n_rows:
        raise ValueError(
            f"{where}: {key!r} holds {len(values)} {key.rstrip('s')}s but {rows}; "
            f"expected one per row{hint}."
        )


def _segment_bounds(starts, ends, paths, n_rows, rows, where, hint, *, whole_files=False):
    """``(starts, ends)`` as float64 arrays, checked: one pair per row, ``0 <= start < end``.

    Segment bounds only mean something with the file of each row, so they
    need ``paths``. With ``whole_files`` (a store may mix rows), a row whose
    start and end are both NaN is a whole file.
    """
    if (starts is None) != (ends is None):
        given, missing = ("starts", "ends") if ends is None else ("ends", "starts")
        raise ValueError(
            f"{where}: {given!r} given without {missing!r}; segment bounds need both, one "
            f"start and one end per row{hint}."
        )
    if starts is None:
        return None, None
    if paths is None:
        raise ValueError(
            f"{where}: segment bounds ('starts' and 'ends') without 'paths'; a bound is "
            f"seconds into the row's recording, so give the recording of each row too{hint}."
        )
    out = []
    for key, values in (("starts", starts), ("ends", ends)):
        try:
            array = np.asarray(values)
            if array.dtype == object and whole_files:
                array = np.array([np.nan if v is None else v for v in array.tolist()])
        except ValueError:  # ragged nested lists
            raise ValueError(f"{where}: {key!r} must be a 1-D array of seconds, one number "
                             f"per row{hint}.") from None
        if array.ndim != 1 or array.dtype.kind not in "iuf":
            raise ValueError(
                f"{where}: {key!r} must be a 1-D array of seconds, got {_describe(array)}"
                f"{hint}."
            )
        if len(array) != n_rows:
            raise ValueError(
                f"{where}: {key!r} holds {len(array)} bounds but {rows}; expected one per "
                f"row{hint}."
            )
        out.append(array.astype(np.float64))
    starts, ends = out
    whole = np.isnan(starts) & np.isnan(ends) if whole_files else np.zeros(n_rows, bool)
    bad = ~whole & ~(np.isfinite(starts) & np.isfinite(ends) & (starts >= 0) & (starts < ends))
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"{where}: row {row} has the bounds start={float(starts[row])!r}, "
            f"end={float(ends[row])!r} "
            f"(of {paths[row]!r}); segment bounds must be finite seconds with "
            f"0 <= start < end{hint}."
        )
    return starts, ends


def _label_codes(labels, label_names, n_rows, rows, where, hint):
    """``(codes, names)``: labels as int64 indices into a list of class names.

    ``labels`` are indices into ``label_names`` or, with ``label_names``, class
    names found in it; without ``label_names`` they are values whose sorted
    distinct strings become the names.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "biufU":
        raise ValueError(
            f"{where}: 'labels' must be a 1-D array of class indices or class names, got "
            f"{_describe(labels)}{hint}."
        )
    _check_length("labels", labels, n_rows, rows, where, hint)
    if label_names is None:
        values, codes = np.unique(labels, return_inverse=True)
        return codes.reshape(-1).astype(np.int64), [str(v) for v in values]
    names_array = np.asarray(label_names)
    if names_array.ndim != 1 or names_array.dtype.kind != "U":
        raise ValueError(
            f"{where}: 'label_names' must be a 1-D array of strings, got "
            f"{_describe(names_array)}{hint}."
        )
    names = [str(n) for n in names_array]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise ValueError(
            f"{where}: 'label_names' lists the class {twice!r} twice; list each class "
            f"once{hint}."
        )
    if labels.dtype.kind == "U":
        index = {name: i for i, name in enumerate(names)}
        unknown = next((str(v) for v in labels if str(v) not in index), None)
        if unknown is not None:
            raise ValueError(
                f"{where}: 'labels' holds the class {unknown!r}, which is not in "
                f"'label_names'{hint}."
            )
        return np.array([index[str(v)] for v in labels], dtype=np.int64), names
    if labels.dtype.kind not in "iu" or (
        len(labels) and (labels.min() < 0 or labels.max() >= len(names))
    ):
        bad = labels if labels.dtype.kind not in "iu" else labels[
            (labels < 0) | (labels >= len(names))]
        raise ValueError(
            f"{where}: 'labels' must be indices into the {len(names)} 'label_names' "
            f"(0 to {len(names) - 1}), got {bad[0].item()!r}{hint}."
        )
    return labels.astype(np.int64), names


def _damaged(where, exc):
    return ValueError(f"{where} is damaged ({_one_line(exc)}){_NPZ_HINT}.")


# What numpy and zipfile raise on a file that is not a well-formed .npz.
_READ_ERRORS = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def _read_member(data, key, where):
    try:
        value = data[key]
    except _READ_ERRORS as exc:
        if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
            raise ValueError(
                f"{where}: {key!r} is an array of Python objects, which skaloe never loads "
                "(unpickling a file can run any code); store numbers and strings only"
                f"{_NPZ_HINT}."
            ) from None
        raise _damaged(where, exc) from None
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{where}: {key!r} is not a NumPy array{_NPZ_HINT}.")
    return value


def _load_npz(path):
    where = f"The embeddings file {path!r}"
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{where} does not exist; write one with skaloe.datasets.save_embeddings or "
            "'skaloe embed'.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{where} is not an .npz file (not a zip archive){_NPZ_HINT}.")
    try:
        data = np.load(path, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise _damaged(where, exc) from None
    if not hasattr(data, "files"):  # an .npy file with a zip archive appended
        raise ValueError(f"{where} is not an .npz file (it is a single array){_NPZ_HINT}.")
    with data:
        found = list(data.files)
        arrays = {key: _read_member(data, key, where) for key in _NPZ_KEYS if key in found}
    if "embeddings" not in arrays:
        raise ValueError(
            f"{where} holds no 'embeddings' array (it holds "
            f"{', '.join(repr(k) for k in found) or 'no array'}){_NPZ_HINT}.")
    X = arrays["embeddings"]
    _check_embeddings(X, where, _NPZ_HINT)
    rows = f"'embeddings' holds {len(X)} rows"
    labels = label_names = paths = model = None
    if "labels" in arrays:
        labels, label_names = _label_codes(
            arrays["labels"], arrays.get("label_names"), len(X), rows, where, _NPZ_HINT)
    if "paths" in arrays:
        stored = arrays["paths"]
        if stored.ndim != 1 or stored.dtype.kind != "U":
            raise ValueError(f"{where}: 'paths' must be a 1-D array of strings, got "
                             f"{_describe(stored)}{_NPZ_HINT}.")
        _check_length("paths", stored, len(X), rows, where, _NPZ_HINT)
        paths = [str(p) for p in stored]
    starts, ends = _segment_bounds(arrays.get("starts"), arrays.get("ends"), paths, len(X),
                                   rows, where, _NPZ_HINT)
    if "model" in arrays:
        stored = arrays["model"]
        if stored.ndim != 0 or stored.dtype.kind != "U":
            raise ValueError(f"{where}: 'model' must be a single string, got "
                             f"{_describe(stored)}{_NPZ_HINT}.")
        model = str(stored)
    return Bunch(embeddings=X.astype(np.float32, copy=False), labels=labels,
                 label_names=label_names, paths=paths, starts=starts, ends=ends, model=model)


def _read_store_labels(store, n_rows):
    """``(labels, label_names)`` from the labels file of a store, or ``(None, None)``."""
    file = os.path.join(store, _STORE_LABELS)
    if not os.path.isfile(file):
        return None, None
    where = f"The labels file {file!r}"
    try:
        with open(file, encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{where} cannot be read ({_one_line(exc)}){_STORE_LABELS_HINT}."
                         ) from None
    if not isinstance(document, dict) or document.get("format") != _STORE_LABELS_FORMAT:
        raise ValueError(f"{where} is not the labels file of a skaloe embedding store (its "
                         f"'format' is not {_STORE_LABELS_FORMAT!r}){_STORE_LABELS_HINT}.")
    version = document.get("version")
    if not isinstance(version, int) or version > _STORE_LABELS_VERSION:
        raise ValueError(f"{where} has 'version' {version!r}; this skaloe reads version "
                         f"{_STORE_LABELS_VERSION}: upgrade skaloe.")
    names, labels = document.get("label_names"), document.get("labels")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{where}: 'label_names' must be a list of class names"
                         f"{_STORE_LABELS_HINT}.")
    if not isinstance(labels, list) or not all(
            isinstance(k, int) and not isinstance(k, bool) and 0 <= k < len(names)
            for k in labels):
        raise ValueError(f"{where}: 'labels' must be a list of indices into the "
                         f"{len(names)} 'label_names'{_STORE_LABELS_HINT}.")
    return _label_codes(np.array(labels, dtype=np.int64), np.array(names, dtype=str),
                        n_rows, f"the store holds {n_rows} embeddings", where,
                        _STORE_LABELS_HINT)


def _load_store(store):
    from ..distributed import open_store, store_info

    info = store_info(store)  # no store there: FileNotFoundError; another kind: ValueError
    if not info["complete"]:
        raise ValueError(
            f"{store!r} is an incomplete embedding store: {info['shards_done']} of "
            f"{info['n_shards']} shards are embedded; run the embed_distributed call (or "
            "the 'skaloe embed --dask' command) that writes it again to finish it.")
    X = open_store(store)  # read-only memory map: rows are read when used
    _check_embeddings(X, f"The embedding store {store!r}",
                      "; embed it again with overwrite=True (or 'skaloe embed --dask "
                      "--overwrite')")
    labels, label_names = _read_store_labels(store, len(X))
    params = info.get("params")
    model = params.get("model") if isinstance(params, dict) else None
    paths = [str(p) for p in info["paths"]]
    starts, ends = _segment_bounds(
        info["start"], info["end"], paths, len(X), f"the store holds {len(X)} embeddings",
        f"The embedding store {store!r}", "; embed it again with overwrite=True (or 'skaloe "
        "embed --dask --overwrite')", whole_files=True)
    return Bunch(embeddings=X, labels=labels, label_names=label_names, paths=paths,
                 starts=starts, ends=ends,
                 model=model if isinstance(model, str) else info["model"])


def load_embeddings(path):
    """Read embeddings written by skaloe: an ``.npz`` file or an embedding store.

    ``path`` is either an embeddings file, the ``.npz`` written by
    :func:`save_embeddings` and ``skaloe embed``, or an embedding store, the
    folder filled by :func:`skaloe.distributed.embed_distributed` and
    ``skaloe embed --dask``, with the labels that :func:`save_store_labels`
    wrote next to it, if any.

    The file is read with ``allow_pickle=False``: an array of Python objects is
    refused, never unpickled. A file that is not what skaloe writes (a missing
    ``embeddings`` array, arrays of the wrong shape or type, a number of
    labels, paths or bounds that differs from the number of rows, labels that
    do not index ``label_names``, NaN or infinite embeddings, segment bounds
    that are not finite with ``0 <= start < end`` or that come without
    ``paths``, an unfinished store)
    raises an error that names the file and the array.

    Parameters
    ----------
    path : str or path-like
        An ``.npz`` file, or a store folder.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        embeddings : ndarray of shape (n_clips, dim), float32
            One row per clip. For a store, a read-only memory map: rows are
            read from disk when used (they are read through once here, to
            check that they are finite).
        labels : ndarray of shape (n_clips,), int64, or None
            The class of each row, as an index into ``label_names``; None when
            the file holds no labels. Labels stored as values without
            ``label_names`` are numbered in the sorted order of their strings.
        label_names : list of str or None
            The class names.
        paths : list of str or None
            The clip of each row, when recorded.
        starts, ends : ndarray of shape (n_clips,), float64, or None
            When the rows are segments of long recordings (``skaloe embed
            --window``, :func:`segment_recordings`), the bounds of each row
            in seconds from the start of its file ``paths[i]``; None for
            rows that are whole clips. A store may mix both kinds of rows:
            a row that is a whole file then has NaN for both.
        model : str or None
            The name of the encoder that computed the embeddings, when
            recorded.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist, or is a folder that holds no store.
    ValueError
        When the file or store is not in the format skaloe writes; the
        message names the file and the offending array.

    See Also
    --------
    save_embeddings : Write an embeddings file.
    save_store_labels : Write the labels of an embedding store.
    skaloe.distributed.open_store : Open a store's embeddings alone.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from skaloe.datasets import load_embeddings, save_embeddings
    >>> tmp = tempfile.TemporaryDirectory()
    >>> file = os.path.join(tmp.name, "embeddings.npz")
    >>> X = np.arange(12, dtype=np.float32).reshape(4, 3)
    >>> save_embeddings(file, X, labels=["dog", "cat", "dog", "bird"], model="mfcc")
    >>> data = load_embeddings(file)
    >>> data.embeddings.shape, data.labels, data.label_names, data.model
    ((4, 3), array([2, 1, 2, 0]), ['bird', 'cat', 'dog'], 'mfcc')
    >>> np.savez(file, embeddings=X, labels=[0, 1, 0])  # one label short
    >>> load_embeddings(file)
    Traceback (most recent call last):
    ...
    ValueError: The embeddings file '...': 'labels' holds 3 labels but 'embeddings' holds 4 rows; ...
    >>> tmp.cleanup()
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return _load_store(path)
    return _load_npz(path)


def save_embeddings(file, embeddings, *, labels=None, label_names=None, paths=None,
                    starts=None, ends=None, model=None):
    """Write embeddings, and what is known about them, to an ``.npz`` file.

    The file is the one ``skaloe embed`` writes and :func:`load_embeddings`,
    ``skaloe simulate``, ``skaloe label`` and
    :class:`~skaloe.labeling.DurableSession` read. It holds the arrays
    ``embeddings`` (float32), and, when given, ``labels`` (int64 indices into
    ``label_names``) with ``label_names``, ``paths``, ``starts`` and ``ends``
    (float64) and ``model``. Plain arrays only: :func:`numpy.load` reads it
    with ``allow_pickle=False``.

    The file is written whole under a temporary name in the same folder, then
    renamed: a reader never sees half a file, and an interrupted write leaves
    the previous file in place.

    Parameters
    ----------
    file : str or path-like
        The file to write, exactly as named (no suffix is added). Its folder
        must exist.
    embeddings : array-like of shape (n_clips, dim)
        Finite numbers; stored as float32.
    labels : array-like of shape (n_clips,), default=None
        The class of each row: indices into ``label_names``, class names
        found in ``label_names``, or, without ``label_names``, any values,
        whose sorted distinct strings become the class names.
    label_names : sequence of str, default=None
        The class names, each once.
    paths : sequence of str or path-like, default=None
        The clip of each row.
    starts, ends : array-like of shape (n_clips,), default=None
        When the rows are segments of long recordings: the bounds of each
        row in seconds from the start of its file in ``paths`` (finite,
        ``0 <= start < end``), as :func:`segment_recordings` gives them. Both
        or neither, and only with ``paths``.
    model : str, default=None
        The name of the encoder that computed the embeddings.

    Raises
    ------
    ValueError
        When an argument does not fit the format (the message names it).

    See Also
    --------
    load_embeddings : Read the file back.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from skaloe.datasets import save_embeddings
    >>> tmp = tempfile.TemporaryDirectory()
    >>> file = os.path.join(tmp.name, "embeddings.npz")
    >>> save_embeddings(file, np.ones((3, 2)), labels=[1, 0, 1],
    ...                 label_names=["no", "yes"], paths=["a.wav", "b.wav", "c.wav"])
    >>> with np.load(file, allow_pickle=False) as data:
    ...     sorted(data.files), data["embeddings"].dtype, data["labels"].tolist()
    (['embeddings', 'label_names', 'labels', 'paths'], dtype('float32'), [1, 0, 1])

    Rows that are windows of a long recording carry their bounds:

    >>> from skaloe.datasets import load_embeddings
    >>> save_embeddings(file, np.ones((3, 2)), paths=["night.wav"] * 3,
    ...                 starts=[0.0, 1.5, 3.0], ends=[3.0, 4.5, 6.0])
    >>> data = load_embeddings(file)
    >>> data.starts.tolist(), data.ends.tolist()
    ([0.0, 1.5, 3.0], [3.0, 4.5, 6.0])
    >>> tmp.cleanup()
    """
    from ..distributed import _store

    file = os.fspath(file)
    where = f"save_embeddings({file!r})"
    X = np.asarray(embeddings)
    _check_embeddings(X, where, "")
    rows = f"'embeddings' holds {len(X)} rows"
    arrays = {"embeddings": X.astype(np.float32)}
    if labels is not None:
        codes, names = _label_codes(labels, label_names, len(X), rows, where, "")
        arrays["labels"] = codes
        arrays["label_names"] = np.array(names, dtype=str)
    elif label_names is not None:
        raise ValueError(f"{where}: 'label_names' given without 'labels'; pass the labels "
                         "too, or neither.")
    if paths is not None:
        paths = [os.fspath(p) for p in paths]
        _check_length("paths", paths, len(X), rows, where, "")
        arrays["paths"] = np.array(paths, dtype=str).reshape(len(paths))
    starts, ends = _segment_bounds(starts, ends, paths, len(X), rows, where, "")
    if starts is not None:
        arrays["starts"], arrays["ends"] = starts, ends
    if model is not None:
        if not isinstance(model, str):
            raise ValueError(f"{where}: 'model' must be the encoder's name (a string), got "
                             f"{type(model).__name__}.")
        arrays["model"] = np.array(model)
    _store._atomic_write(file, lambda f: np.savez(f, **arrays))


def save_store_labels(store, labels, *, label_names=None):
    """Write the labels of an embedding store, or remove them.

    The labels go to ``labels.json`` in the store folder, a file that
    :func:`load_embeddings` reads with the store and that the store's own
    readers (:func:`~skaloe.distributed.open_store`,
    :func:`~skaloe.distributed.store_info`) ignore::

        {"format": "skaloe-store-labels", "version": 1, "n_rows": 3,
         "label_names": ["bird", "cat"], "labels": [1, 0, 1]}

    ``labels[i]`` is the class of row ``i`` of the store, as an index into
    ``label_names``. The file is written whole, then renamed into place.

    Parameters
    ----------
    store : str or path-like
        A store folder, written by :func:`skaloe.distributed.embed_distributed`.
    labels : array-like of shape (n_rows,) or None
        The class of each row of the store, as for :func:`save_embeddings`;
        None removes the labels file, so that the labels of an earlier run
        cannot outlive the rows they were written for.
    label_names : sequence of str, default=None
        The class names, each once.

    Raises
    ------
    FileNotFoundError
        When ``store`` holds no embedding store.
    ValueError
        When the labels do not fit the store (one per row).

    See Also
    --------
    load_embeddings : Read a store with its labels.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> import soundfile as sf
    >>> from distributed import Client, LocalCluster
    >>> from skaloe.datasets import load_embeddings, save_store_labels
    >>> from skaloe.distributed import embed_distributed
    >>> tmp = tempfile.TemporaryDirectory()
    >>> paths = []
    >>> for i in range(3):
    ...     paths.append(os.path.join(tmp.name, f"clip{i}.wav"))
    ...     sf.write(paths[-1], np.sin(np.arange(8000) * 0.01 * (i + 1)), 16000)
    >>> store = os.path.join(tmp.name, "store")
    >>> with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, \\
    ...         Client(cluster) as client:
    ...     X = embed_distributed(paths, store, model="mfcc")
    >>> save_store_labels(store, ["cat", "bird", "cat"])
    >>> data = load_embeddings(store)
    >>> data.labels, data.label_names, data.model
    (array([1, 0, 1]), ['bird', 'cat'], 'mfcc')
    >>> tmp.cleanup()
    """
    from ..distributed import _store

    store = os.fspath(store)
    manifest = _store._require_manifest(store)
    file = os.path.join(store, _STORE_LABELS)
    if labels is None:
        if label_names is not None:
            raise ValueError(f"save_store_labels({store!r}): 'label_names' given without "
                             "'labels'; pass the labels too, or neither.")
        try:
            os.remove(file)
        except FileNotFoundError:
            pass
        return
    n_rows = manifest["n_rows"]
    codes, names = _label_codes(labels, label_names, n_rows,
                                f"the store holds {n_rows} embeddings",
                                f"save_store_labels({store!r})", "")
    document = {
        "format": _STORE_LABELS_FORMAT,
        "version": _STORE_LABELS_VERSION,
        "n_rows": n_rows,
        "label_names": names,
        "labels": codes.tolist(),
    }
    _store._atomic_write_text(file, json.dumps(document))
