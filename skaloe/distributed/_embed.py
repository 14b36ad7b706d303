"""Embedding a large file list on a Dask cluster, shard by shard, into an on-disk store."""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from collections import OrderedDict
from numbers import Integral
from pathlib import Path

import numpy as np

from ..encoders import EncoderTransformer
from . import _store

_WRITE_ON = ("workers", "client")

# The per-process encoder cache of a worker: token -> (transformer, runner).
# A task brings its own (unpickled) copy of the transformer; the first copy a
# process sees is kept with its runner, so a model is loaded once per worker
# process however many shards it embeds (TF-Hub models are in addition cached
# by handle in skaloe.encoders._tfhub).
_WORKER_ENCODERS = OrderedDict()
_WORKER_LOCK = threading.Lock()
_WORKER_CACHE_SIZE = 4


class ShardError(RuntimeError):
    """A shard of :func:`embed_distributed` failed; the message says which and why."""


def _worker_encoder(encoder, token):
    with _WORKER_LOCK:
        entry = _WORKER_ENCODERS.get(token)
        if entry is None:
            entry = (encoder, encoder._runner())
            _WORKER_ENCODERS[token] = entry
            while len(_WORKER_ENCODERS) > _WORKER_CACHE_SIZE:
                _WORKER_ENCODERS.popitem(last=False)
        else:
            _WORKER_ENCODERS.move_to_end(token)
        return entry


class _Rows:
    """The items of one shard, indexed by their positions in the full list."""

    def __init__(self, items, start):
        self.items, self.start = items, start

    def __getitem__(self, i):
        return self.items[i - self.start]


def _embed_rows(encoder, token, items, start):
    from ..encoders._audio import load_clips

    encoder, runner = _worker_encoder(encoder, token)
    indices = np.arange(start, start + len(items))
    # Positions in the error messages are positions in the full list; the
    # segments of one file are read in one pass.
    waves = load_clips(_Rows(items, start), indices, encoder.sample_rate, encoder.n_jobs)
    return runner.embed(waves, indices)


def _worker_name():
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:  # not inside a dask worker (e.g. a synchronous scheduler)
        return f"pid {os.getpid()}"


def _probe_dim(encoder, token, path):
    """Run the encoder on the first clip to learn the embedding dimension."""
    return int(_embed_rows(encoder, token, [path], 0).shape[1])


def _embed_shard(encoder, token, shard, paths, start, target):
    """Embed one shard; write it into the store (target) or return its rows."""
    if target is not None:
        _store.check_writable(target)
    rows = _embed_rows(encoder, token, paths, start)
    if target is None:
        return rows
    _store.write_shard(target, shard, start, rows, worker=_worker_name())
    return len(rows)


def _check_paths(paths):
    """The rows to embed: file paths (str) and segments (Segment), checked."""
    from ..encoders._segments import check_segment, is_segment_item, segment_table

    if isinstance(paths, (str, os.PathLike)):
        raise ValueError(
            f"paths must be a list of audio file paths, got a single path {os.fspath(paths)!r}; "
            "wrap it in a list."
        )
    segments = segment_table(paths)  # a DataFrame or Bunch with path, start and end
    if segments is not None:
        return segments
    if hasattr(paths, "tolist"):  # numpy array, pandas Series
        paths = paths.tolist()
    try:
        paths = list(paths)
    except TypeError:
        raise TypeError(
            f"paths must be a list of audio file paths, got {type(paths).__name__}."
        ) from None
    if not paths:
        raise ValueError("paths is empty; pass at least one audio file path.")
    out = []
    for i, path in enumerate(paths):
        if isinstance(path, (str, os.PathLike)):
            out.append(os.fspath(path))
        elif is_segment_item(path):
            out.append(check_segment(*path, i))
        else:
            raise TypeError(
                f"paths[{i}] is a {type(path).__name__}, not a file path or a segment (path, "
                "start, end): embed_distributed embeds audio files (workers read them); for "
                "waveforms in memory use EncoderTransformer."
            )
    return out


def _row_bounds(items):
    """``(paths, starts, ends)`` of the rows; starts and ends are None for whole files."""
    paths = [item if isinstance(item, str) else item.path for item in items]
    if all(isinstance(item, str) for item in items):
        return paths, None, None
    starts = [None if isinstance(item, str) else item.start for item in items]
    ends = [None if isinstance(item, str) else item.end for item in items]
    return paths, starts, ends


def _get_client(client):
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "embed_distributed runs on Dask: pip install 'skaloe[dask]' "
            f"(dask[distributed]) ({exc})."
        ) from exc
    if client is not None:
        if not isinstance(client, distributed.Client):
            raise TypeError(
                f"client must be a dask.distributed.Client, got {type(client).__name__}."
            )
        return client
    try:
        return distributed.default_client()
    except ValueError:
        raise ValueError(
            "embed_distributed needs a dask.distributed Client and none is running: create "
            "one first, e.g. Client(LocalCluster(n_workers=4)) on this machine or "
            "Client('tcp://scheduler-host:8786') for a cluster, or pass client=."
        ) from None


def _encoder_token(encoder):
    identity = encoder.encoder_.identity
    if identity is None:  # a callable that cannot be fingerprinted: one token per run
        return f"skaloe-encoder-{uuid.uuid4().hex}"
    import joblib

    params = {k: v for k, v in encoder.get_params().items() if k not in ("model", "verbose")}
    return "skaloe-encoder-" + joblib.hash((identity, params))


def _check_resume(store, manifest, items, encoder, shard_size):
    where = os.fspath(store)
    hint = "pass overwrite=True to embed everything again, or use another folder."
    if manifest["shard_size"] != shard_size:
        raise ValueError(
            f"The store {where!r} was written with shard_size={manifest['shard_size']}, not "
            f"{shard_size}; resume with shard_size={manifest['shard_size']}, or {hint}"
        )
    stored = _store.read_rows(store)
    given = _row_bounds(items)
    if stored != given:
        kind = "files" if stored[1] is None and given[1] is None else "segments"
        if len(stored[0]) != len(given[0]):
            what = f"{len(stored[0])} {kind}, not {len(given[0])}"
        else:
            def row(bounds, i):
                path, starts, ends = bounds
                return path[i] if starts is None or starts[i] is None else (
                    path[i], starts[i], ends[i])

            i = next(i for i in range(len(given[0])) if row(stored, i) != row(given, i))
            what = f"paths[{i}] = {row(stored, i)!r}, not {row(given, i)!r}"
        raise ValueError(f"The store {where!r} holds embeddings of other {kind} ({what}); {hint}")
    info = encoder.encoder_
    identity = json.loads(json.dumps(info.identity, default=str))
    same_identity = identity is None or manifest["identity"] == identity
    if not same_identity or manifest["model"] != info.name:
        raise ValueError(
            f"The store {where!r} holds embeddings of model {manifest['model']!r} with "
            f"settings {manifest['identity']}, not of {info.name!r} with {identity}; {hint}"
        )
    if info.dim is not None and manifest["dim"] != info.dim:
        raise ValueError(
            f"The store {where!r} holds {manifest['dim']}-d embeddings, but {info.name!r} "
            f"gives {info.dim}-d ones; {hint}"
        )


def embed_distributed(
    paths,
    store,
    *,
    model="ge2e",
    client=None,
    shard_size=256,
    output_key=None,
    call_convention="auto",
    pooling="auto",
    min_length="auto",
    batch_size=32,
    n_jobs=None,
    timeout=10.0,
    write_on="workers",
    overwrite=False,
    verbose=0,
):
    """Embed audio files, or segments of them, on a Dask cluster into a chunked on-disk store.

    The file list is cut into shards of ``shard_size`` consecutive rows, one
    Dask task each. A worker process loads the encoder once and keeps it for
    every shard it gets; each shard's rows go to their place in one
    preallocated float32 array on disk, then a completion marker is written.
    Calling again with the same arguments resumes: stored shards are skipped,
    so a crash or a failed file loses at most the shards in flight.

    Read more in the :ref:`User Guide <distributed>`.

    Parameters
    ----------
    paths : list of str or path-like, or a table of segments
        Audio files, as the workers see them (any format soundfile or librosa
        reads; resampled to 16 kHz mono), or segments of them: a table with
        columns ``path``, ``start`` and ``end`` in seconds (what
        :func:`~skaloe.datasets.segment_recordings` returns) or
        ``(path, start, end)`` tuples in the list, read as
        :class:`~skaloe.encoders.EncoderTransformer` reads them. Row ``i`` of
        the store embeds ``paths[i]``; :func:`store_info` gives back each
        row's file and, for segments, bounds.
    store : str or path-like
        Folder of the store (created if needed). With ``write_on="workers"``
        the client and all workers must see it at this same path (a shared
        filesystem).
    model : str, path-like or callable, default="ge2e"
        The encoder, as for :class:`~skaloe.encoders.EncoderTransformer`: the
        built-in pretrained ``"ge2e"`` (offline), an alias such as
        ``"trillsson5"``, a TF-Hub or Kaggle handle, a SavedModel folder
        (visible to the workers) or a Python callable.
    client : dask.distributed.Client or None, default=None
        Where to run; None uses the current default client.
    shard_size : int, default=256
        Files (or segments) per task. Larger shards cost less scheduling;
        smaller ones lose less work when a worker dies and balance better. A
        task reads the segments of one file in one pass.
    output_key, call_convention, pooling, min_length, batch_size, timeout
        As for :class:`~skaloe.encoders.EncoderTransformer`.
    n_jobs : int or None, default=None
        Threads each task uses to decode files (and run the spectral
        encoders). None means 1.
    write_on : {"workers", "client"}, default="workers"
        Who writes rows into the store: each worker (needs a shared
        filesystem; nothing flows back to the client) or the client (workers
        send their shard's rows back; the store may live on the client's
        local disk).
    overwrite : bool, default=False
        Start over, discarding a store in ``store``. Without it, a store of
        other files, another model or another ``shard_size`` is an error.
    verbose : int, default=0
        Show a progress bar (in files) on stderr when more than 0.

    Returns
    -------
    embeddings : numpy.memmap of shape (n_files, dim), float32
        The store, opened read-only as by :func:`open_store`.

    Raises
    ------
    ShardError
        When a shard fails. The message names the shard, the worker and the
        cause, e.g. the file that could not be read. Shards stored before the
        failure are kept, and shards not yet started are cancelled.

    See Also
    --------
    open_store : Open a finished store again, e.g. in another process.
    store_info : The file list and encoder settings of a store.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> from distributed import Client, LocalCluster
    >>> from skaloe.distributed import embed_distributed
    >>> folder = tempfile.mkdtemp()
    >>> paths = []
    >>> for i in range(6):
    ...     path = os.path.join(folder, f"clip{i}.wav")
    ...     sf.write(path, np.sin(np.arange(8000) * (0.01 + 0.01 * i)), 16000)
    ...     paths.append(path)
    >>> with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, \\
    ...         Client(cluster) as client:
    ...     X = embed_distributed(paths, os.path.join(folder, "store"), shard_size=4)
    >>> X.shape, X.dtype
    ((6, 1536), dtype('float32'))
    """
    paths = _check_paths(paths)
    if not isinstance(shard_size, Integral) or isinstance(shard_size, bool) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive integer, got {shard_size!r}.")
    if write_on not in _WRITE_ON:
        raise ValueError(f"write_on must be one of {_WRITE_ON}, got {write_on!r}.")
    if not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"store must be a folder path, got {type(store).__name__}.")
    shard_size = int(shard_size)
    encoder = EncoderTransformer(
        model,
        output_key=output_key,
        call_convention=call_convention,
        pooling=pooling,
        min_length=min_length,
        batch_size=batch_size,
        n_jobs=n_jobs,
        timeout=timeout,
    ).fit(paths[:1])
    client = _get_client(client)
    token = _encoder_token(encoder)
    store = Path(store).absolute()
    if store.exists() and not store.is_dir():
        raise NotADirectoryError(f"store={os.fspath(store)!r} is a file; pass a folder path.")

    manifest = _store.read_manifest(store)
    if manifest is not None and overwrite:
        _store.remove_store(store)
        manifest = None
    if manifest is None:
        if store.is_dir() and any(p for p in store.iterdir() if not p.name.startswith(".")):
            raise FileExistsError(
                f"store={os.fspath(store)!r} is a folder that holds other files and no "
                "embedding store; pass an empty or new folder."
            )
        dim = encoder.encoder_.dim
        if dim is None:  # undeclared size: one clip on a worker tells it
            future = client.submit(_probe_dim, encoder, token, paths[0], pure=False)
            try:
                dim = future.result()
            except Exception as exc:
                raise ShardError(
                    f"Embedding the first file {paths[0]!r} to learn the dimension of model "
                    f"{encoder.encoder_.name!r} failed: {type(exc).__name__}: {exc}"
                ) from exc
        identity = encoder.encoder_.identity
        params = {
            k: (v if isinstance(v, (str, int, float, type(None))) else repr(v))
            for k, v in encoder.get_params().items()
            if k in ("model", "output_key", "call_convention", "pooling", "min_length")
        }
        files, starts, ends = _row_bounds(paths)
        manifest = _store.create_store(
            store, files, dim, shard_size, encoder.encoder_.name, identity, params,
            bounds=(starts, ends),
        )
    else:
        _check_resume(store, manifest, paths, encoder, shard_size)

    bounds = _store.shard_bounds(len(paths), shard_size)
    done = set(_store.done_shards(store, len(bounds)))
    todo = [i for i in range(len(bounds)) if i not in done]
    if verbose:
        print(
            f"[skaloe] {encoder.encoder_.name}: {len(done)} of {len(bounds)} shards already in "
            f"{os.fspath(store)}; embedding {len(todo)} shards on {client.scheduler.address}",
            file=sys.stderr,
        )
    if todo:
        _run_shards(client, encoder, token, paths, bounds, todo, store, manifest, write_on, verbose)
    return _store.open_store(store)


def _run_shards(client, encoder, token, paths, bounds, todo, store, manifest, write_on, verbose):
    from distributed import as_completed
    from tqdm.auto import tqdm

    target = {
        "folder": os.fspath(store),
        "dim": manifest["dim"],
        "data_offset": manifest["data_offset"],
        "n_rows": manifest["n_rows"],
    }
    run = uuid.uuid4().hex[:8]
    futures = {}
    for shard in todo:
        start, stop = bounds[shard]
        future = client.submit(
            _embed_shard, encoder, token, shard, paths[start:stop], start,
            target if write_on == "workers" else None,
            key=f"skaloe-embed-{run}-shard-{shard:05d}",
        )
        futures[future] = shard
    n_todo_rows = sum(bounds[s][1] - bounds[s][0] for s in todo)
    with tqdm(
        total=n_todo_rows, disable=not verbose, unit="file", file=sys.stderr,
        desc=f"Embedding with {encoder.encoder_.name} on Dask",
    ) as bar:
        for future in as_completed(list(futures)):
            shard = futures.pop(future)
            start, stop = bounds[shard]
            if future.status != "finished":
                client.cancel(list(futures))
                try:
                    exc = future.exception()
                except Exception as cancelled:  # cancelled from elsewhere, or a lost worker
                    exc = cancelled
                n_done = len(_store.done_shards(store, len(bounds)))
                raise ShardError(
                    f"Shard {shard} (paths[{start}:{stop}]) failed: {type(exc).__name__}: "
                    f"{exc}\n{n_done} of {len(bounds)} shards are stored in "
                    f"{os.fspath(store)!r}; fix the cause and call embed_distributed again "
                    "with the same arguments to embed the rest."
                ) from exc
            if write_on == "client":
                _store.write_shard(target, shard, start, future.result(), worker="client")
            future.release()
            bar.update(stop - start)
