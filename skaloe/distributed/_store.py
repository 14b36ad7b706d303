"""A chunked on-disk embedding store that many processes fill and a learner reads lazily.

Layout of a store folder::

    manifest.json      what the store holds: rows, dim, shard size, encoder identity
    paths.json         the file of each row, in order
    segments.json      for rows that are segments of files: their start and end
    embeddings.npy     float32 (n_rows, dim), preallocated; one slice of rows per shard
    shards/00012.json  completion marker of shard 12, written after its rows

A shard's rows are written in place with ``pwrite``-style file writes (no
memory map, so writers on different hosts of a shared filesystem only send
their own byte ranges) and flushed to disk before its marker is renamed into
place. A shard counts as stored only when its marker exists, so a writer
killed half-way leaves a shard that the next run embeds again.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import numpy as np

STORE_FORMAT = "skaloe-embedding-store"
STORE_VERSION = 2  # 2: rows may be segments (segments.json); stores of files stay at 1
_MANIFEST = "manifest.json"
_PATHS = "paths.json"
_SEGMENTS = "segments.json"
_DATA = "embeddings.npy"
_SHARDS = "shards"


def _atomic_write(path, write):
    """Call ``write`` on a new binary file, flush it to disk, then rename it to ``path``."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def _atomic_write_text(path, text):
    _atomic_write(path, lambda f: f.write(text.encode("utf8")))


def shard_bounds(n_rows, shard_size):
    """``[(start, stop), ...]`` of consecutive shards covering ``n_rows`` rows."""
    return [(start, min(start + shard_size, n_rows)) for start in range(0, n_rows, shard_size)]


def _marker(folder, shard):
    return Path(folder) / _SHARDS / f"{shard:05d}.json"


def read_manifest(folder):
    """The manifest of the store in ``folder``, or None when there is no store there."""
    path = Path(folder) / _MANIFEST
    try:
        text = path.read_text(encoding="utf8")
    except FileNotFoundError:
        return None
    manifest = json.loads(text)
    if manifest.get("format") != STORE_FORMAT:
        raise ValueError(
            f"{os.fspath(path)!r} is not the manifest of a skaloe embedding store "
            f"(format {manifest.get('format')!r}); use another folder."
        )
    if manifest.get("version", 0) > STORE_VERSION:
        raise ValueError(
            f"The store {os.fspath(folder)!r} was written by a newer skaloe (store version "
            f"{manifest['version']}, this one reads up to {STORE_VERSION}); upgrade skaloe."
        )
    return manifest


def done_shards(folder, n_shards):
    """Indices of the shards whose completion marker exists."""
    names = {p.name for p in (Path(folder) / _SHARDS).glob("[0-9]*.json")}
    return [i for i in range(n_shards) if f"{i:05d}.json" in names]


def create_store(folder, paths, dim, shard_size, model_name, identity, params,
                 bounds=(None, None)):
    """Lay out an empty store for ``len(paths)`` rows of ``dim`` float32 values.

    ``bounds`` is ``(starts, ends)`` in seconds when rows are segments of
    ``paths`` (None in both for a row that is a whole file), or ``(None, None)``.
    """
    from numpy.lib.format import open_memmap

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _SHARDS).mkdir(exist_ok=True)
    _atomic_write_text(folder / _PATHS, json.dumps(list(paths)))
    starts, ends = bounds
    if starts is not None:
        _atomic_write_text(folder / _SEGMENTS, json.dumps({"start": starts, "end": ends}))
    # A sparse file on most filesystems: creating it costs nothing per row.
    data = open_memmap(folder / _DATA, mode="w+", dtype=np.float32, shape=(len(paths), dim))
    offset = int(data.offset)
    del data
    manifest = {
        "format": STORE_FORMAT,
        "version": 1 if starts is None else 2,  # an older skaloe reads a store of files
        "n_rows": len(paths),
        "dim": int(dim),
        "dtype": "float32",
        "data_offset": offset,
        "shard_size": int(shard_size),
        "n_shards": len(shard_bounds(len(paths), shard_size)),
        "model": model_name,
        "identity": identity,
        "params": params,
    }
    # The manifest comes last: a folder with a manifest is a complete layout.
    _atomic_write_text(folder / _MANIFEST, json.dumps(manifest, indent=1, default=str))
    return json.loads(json.dumps(manifest, default=str))


def remove_store(folder):
    """Delete the files of a store (only those; the folder itself stays)."""
    folder = Path(folder)
    for name in (_MANIFEST, _PATHS, _SEGMENTS, _DATA):
        try:
            os.remove(folder / name)
        except FileNotFoundError:
            pass
    shards = folder / _SHARDS
    if shards.is_dir():
        for marker in shards.iterdir():
            os.remove(marker)
        shards.rmdir()


def write_shard(target, shard, start, rows, worker=None):
    """Write the rows of one shard into the store, then its completion marker.

    ``target`` is ``{"folder", "dim", "data_offset", "n_rows"}`` (from the
    manifest), so a worker never reads the manifest itself.
    """
    folder = Path(target["folder"])
    data = folder / _DATA
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    dim = target["dim"]
    if rows.ndim != 2 or rows.shape[1] != dim:
        raise ValueError(
            f"Shard {shard} has embeddings of shape {rows.shape}, but the store "
            f"{os.fspath(folder)!r} holds {dim}-d rows: the encoder changed between runs; "
            "embed again with overwrite=True."
        )
    if start + len(rows) > target["n_rows"]:
        raise ValueError(
            f"Shard {shard} ends at row {start + len(rows)}, past the {target['n_rows']} rows "
            f"of the store {os.fspath(folder)!r}."
        )
    with open(data, "r+b") as f:
        f.seek(target["data_offset"] + start * dim * 4)
        f.write(memoryview(rows).cast("B"))
        f.flush()
        os.fsync(f.fileno())
    marker = {"shard": shard, "start": start, "stop": start + len(rows), "worker": worker}
    _atomic_write_text(_marker(folder, shard), json.dumps(marker))


def check_writable(target):
    """Fail before any work when a worker cannot see the store's data file."""
    data = Path(target["folder"]) / _DATA
    if not data.is_file():
        raise FileNotFoundError(
            f"The embedding store file {os.fspath(data)!r} does not exist on this worker. "
            "Workers write their rows into the store themselves, so the store must live on a "
            "filesystem that the client and every worker mount at the same path; otherwise "
            "use write_on='client'."
        )


def open_store(store, *, allow_incomplete=False):
    """Open an embedding store as a read-only memory-mapped array.

    Nothing is read until rows are used: an
    :class:`~skaloe.active.ActiveLearner` fitted on the returned array scores
    it ``chunk_size`` rows at a time, so a pool larger than memory works.

    Parameters
    ----------
    store : str or path-like
        The folder given to :func:`embed_distributed`.
    allow_incomplete : bool, default=False
        Open a store whose embedding run has not finished; rows of missing
        shards are zeros. By default such a store raises an error that lists
        the missing shards.

    Returns
    -------
    embeddings : numpy.memmap of shape (n_clips, dim), float32
        Row ``i`` is the embedding of ``store_info(store)["paths"][i]``.

    See Also
    --------
    embed_distributed : Fill a store on a Dask cluster.
    store_info : What a store holds and how far its embedding run got.
    """
    manifest = _require_manifest(store)
    if not allow_incomplete:
        missing = _missing(store, manifest)
        if missing:
            shown = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise ValueError(
                f"The embedding store {os.fspath(store)!r} is incomplete: {len(missing)} of "
                f"{manifest['n_shards']} shards are missing (shards {shown}). Run "
                "embed_distributed with the same paths and store again to finish it (stored "
                "shards are kept), or pass allow_incomplete=True to read it as it is."
            )
    data = np.load(Path(store) / _DATA, mmap_mode="r")
    expected = (manifest["n_rows"], manifest["dim"])
    if data.shape != expected or data.dtype != np.float32:
        raise ValueError(
            f"The embedding store {os.fspath(store)!r} is damaged: {_DATA} holds "
            f"{data.dtype} {data.shape} but its manifest says float32 {expected}; embed again "
            "with overwrite=True."
        )
    return data


def store_info(store):
    """What an embedding store holds and how far its embedding run got.

    Parameters
    ----------
    store : str or path-like
        The folder given to :func:`embed_distributed`.

    Returns
    -------
    info : dict
        ``n_rows``, ``dim``, ``shard_size``, ``n_shards``, ``model`` (the
        encoder's name), ``identity`` and ``params`` (what the embeddings
        depend on), ``paths`` (the file of each row), ``start`` and ``end``
        (for rows that are segments, their bounds in seconds: lists with None
        for a row that is a whole file; None when no row is a segment),
        ``shards_done`` (how many shards are stored) and ``complete``.

    Examples
    --------
    The rows of a store of segments, as a table again::

        info = store_info("stores/night")
        table = pd.DataFrame({"path": info["paths"], "start": info["start"],
                              "end": info["end"]})
    """
    manifest = _require_manifest(store)
    info = {key: manifest[key] for key in (
        "n_rows", "dim", "shard_size", "n_shards", "model", "identity", "params"
    )}
    info["paths"], info["start"], info["end"] = read_rows(store)
    n_done = len(done_shards(store, manifest["n_shards"]))
    info["shards_done"] = n_done
    info["complete"] = n_done == manifest["n_shards"]
    return info


def read_rows(store):
    """``(paths, starts, ends)`` of a store's rows; starts and ends None without segments."""
    folder = Path(store)
    paths = json.loads((folder / _PATHS).read_text(encoding="utf8"))
    try:
        text = (folder / _SEGMENTS).read_text(encoding="utf8")
    except FileNotFoundError:
        return paths, None, None
    try:
        bounds = json.loads(text)
    except ValueError:
        bounds = None
    if not isinstance(bounds, dict):
        bounds = {}
    starts, ends = bounds.get("start"), bounds.get("end")
    if not (isinstance(starts, list) and isinstance(ends, list)
            and len(starts) == len(ends) == len(paths)):
        raise ValueError(
            f"The embedding store {os.fspath(store)!r} is damaged: {_SEGMENTS} does not hold "
            f"one start and one end for each of the {len(paths)} rows; embed again with "
            "overwrite=True."
        )
    return paths, starts, ends


def _require_manifest(store):
    if not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"store must be a folder path, got {type(store).__name__}.")
    manifest = read_manifest(store)
    if manifest is None:
        what = "does not exist" if not os.path.exists(store) else "holds no manifest.json"
        raise FileNotFoundError(
            f"No embedding store at {os.fspath(store)!r}: the folder {what}. Create one with "
            "skaloe.distributed.embed_distributed(paths, store)."
        )
    return manifest


def _missing(store, manifest):
    done = set(done_shards(store, manifest["n_shards"]))
    return [i for i in range(manifest["n_shards"]) if i not in done]
