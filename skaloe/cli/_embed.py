"""``skaloe embed``: audio in, an embeddings file (or, with --dask, a store folder) out."""

from __future__ import annotations

import logging
import os
import sys
import time

from ..datasets._embeddings import _STORE_LABELS
from ._inputs import (
    _add_segment_options,
    _check_segment_options,
    _embed_paths,
    _read_audio_input,
    _segment_input,
)
from ._parser import (
    CLIError,
    _add_encoder_options,
    _one_line,
    _plural,
    _positive_int,
)

_DEFAULT_SHARD_SIZE = 256
_MAX_LOCAL_WORKERS = 8


def add_parser(sub):
    """Add the ``embed`` command to the subparsers ``sub``."""
    embed = sub.add_parser(
        "embed",
        help="embed audio files with a frozen encoder into an .npz file (or, with --dask, "
             "into a store folder on a Dask cluster)",
        description=(
            "Embed audio clips once with a frozen encoder and write the embeddings to an "
            ".npz file: 'embeddings' (float32, n x dim), 'paths' and, when the classes are "
            "known, 'labels' (int) and 'label_names'. INPUT is a folder with one subfolder "
            "per class (the subfolder names are the classes), a folder of audio files "
            "without class subfolders (no labels), or a text file with one audio path per "
            "line, optionally followed by a TAB and its label (relative paths are read "
            "from the list file's folder; empty lines and lines starting with '#' are "
            "skipped). With --dask, the clips are embedded on a Dask cluster, shard by "
            "shard, into an embedding store: OUTPUT is then a folder (see "
            "skaloe.distributed.open_store) and the labels, if any, go to "
            f"OUTPUT/{_STORE_LABELS}; running the same command again resumes an "
            "unfinished store. With --window, each audio file is a long recording cut "
            "into windows, and each window is a row, with its start and end in seconds "
            "('starts', 'ends'; in a store, segments.json): the pool that 'skaloe label' "
            "plays window by window and 'skaloe timeline' turns into events."
        ),
        epilog="examples: skaloe embed data/ -o embeddings.npz --model mfcc --cache "
               "~/.cache/skaloe -v ; skaloe embed data/ -o store/ --dask local "
               "--dask-workers 4 ; skaloe embed data/ -o /shared/store --dask "
               "tcp://10.0.0.5:8786 --shard-size 512 --model trillsson5 ; skaloe embed "
               "recordings/ -o windows.npz --window 3 --hop 1.5 --skip-silence",
    )
    embed.add_argument("input", metavar="INPUT",
                       help="audio folder (with or without class subfolders) or file list")
    embed.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                       help="the .npz file to write (the suffix .npz is added if missing); "
                            "with --dask, the store folder")
    _add_encoder_options(
        embed, cache_help="embedding cache folder, reused across runs (default: no cache; "
                          "not with --dask)")
    embed.add_argument("--batch-size", type=_positive_int, default=32, metavar="N",
                       help="clips per model call for batched TF-Hub models (default: 32)")
    embed.add_argument("-v", "--verbose", action="count", default=0,
                       help="show a progress bar")
    _add_segment_options(
        embed, title="long recordings: embed windows instead of whole files",
        window_help="cut each audio file of INPUT into windows of S seconds and embed each "
                    "window: one row per window, with its start and end in seconds "
                    "('starts', 'ends' in the .npz). Recordings of any length are accepted")
    dask = embed.add_argument_group(
        "embedding on a Dask cluster (pip install 'skaloe[dask]')")
    dask.add_argument(
        "--dask", default=None, metavar="ADDRESS",
        help="embed on Dask: the address of a running scheduler, e.g. tcp://10.0.0.5:8786 "
             "(waiting at most --timeout seconds for it), or 'local' for a cluster of "
             "worker processes on this machine; OUTPUT is then a store folder")
    dask.add_argument(
        "--dask-workers", type=_positive_int, default=None, metavar="N",
        help="worker processes of --dask local, one thread each (default: the number of "
             f"CPU cores, at most {_MAX_LOCAL_WORKERS}); each loads its own copy of the model")
    dask.add_argument(
        "--shard-size", type=_positive_int, default=None, metavar="N",
        help=f"clips per Dask task (default: {_DEFAULT_SHARD_SIZE}, or the shard size of "
             "the store being resumed)")
    dask.add_argument(
        "--write-on", choices=("workers", "client"), default=None,
        help="who writes the rows into the store: the workers (default; the store must be "
             "on a filesystem every worker mounts at the same path) or this client (the "
             "workers send their rows back)")
    dask.add_argument(
        "--overwrite", action="store_true",
        help="discard the store in OUTPUT and embed everything again (default: resume it)")
    embed.set_defaults(func=run_embed)


def run_embed(args, out=None):
    """The ``embed`` command: audio clips in, an .npz file of embeddings out.

    With ``--dask``, a store folder filled on a Dask cluster instead (see
    :func:`_run_embed_dask`).
    """
    out = sys.stdout if out is None else out
    _check_segment_options(args)
    if getattr(args, "dask", None) is not None:
        return _run_embed_dask(args, out)
    for option, value in (
        ("--dask-workers", getattr(args, "dask_workers", None)),
        ("--shard-size", getattr(args, "shard_size", None)),
        ("--write-on", getattr(args, "write_on", None)),
        ("--overwrite", getattr(args, "overwrite", False) or None),
    ):
        if value is not None:
            raise CLIError(f"{option} applies to embedding on a Dask cluster; add --dask "
                           "ADDRESS (or --dask local)")
    t0 = time.perf_counter()
    output = os.fspath(args.output)
    if not output.lower().endswith(".npz"):
        output += ".npz"
    if os.path.isdir(output):
        raise CLIError(f"OUTPUT {output!r} is a folder; give the name of an .npz file")
    paths, labels, names, _ = _read_audio_input(args.input, "embed")
    table, what = None, f"{len(paths)} clips"
    if args.window is not None:
        table, labels, what = _segment_input(paths, labels, args, "embed")
    args.batch_size_encoder = args.batch_size
    embeddings = _embed_paths(paths if table is None else table, args, verbose=args.verbose)
    from ..datasets import save_embeddings

    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    if table is None:
        save_embeddings(output, embeddings, labels=labels, label_names=names, paths=paths,
                        model=str(args.model))
    else:
        save_embeddings(output, embeddings, labels=labels, label_names=names,
                        paths=table.path.tolist(), starts=table.start, ends=table.end,
                        model=str(args.model))
    classes = "no labels" if labels is None else f"{len(names)} classes"
    print(f"skaloe embed: {what}, {embeddings.shape[1]}-d embeddings "
          f"({args.model}, {classes}) in {time.perf_counter() - t0:.1f} s, written to "
          f"{output}", file=out, flush=True)
    return 0


# -- embed --dask: a store folder filled on a Dask cluster ---------------------


def _check_store_output(store, overwrite):
    """Fail early when OUTPUT cannot be a store; return the manifest of one already there."""
    from ..datasets import save_store_labels
    from ..distributed import _store

    if os.path.exists(store) and not os.path.isdir(store):
        raise CLIError(f"OUTPUT {store!r} is a file; with --dask, OUTPUT is a store folder "
                       "(new, empty, or a store to resume)")
    if not os.path.isdir(store):
        return None
    manifest = _store.read_manifest(store)  # a foreign manifest.json: ValueError
    if manifest is None:
        others = sorted(e for e in os.listdir(store) if not e.startswith("."))
        if others:
            raise CLIError(
                f"OUTPUT {store!r} is a folder that holds other files (e.g. {others[0]!r}) "
                "and no embedding store; give a new or empty folder for the store")
    elif overwrite:
        # embed_distributed removes the store's own files; the labels go with them.
        save_store_labels(store, None)
        return None
    return manifest


def _dask_client(address, args):
    """``(client, cluster or None)`` for ``--dask ADDRESS``; the caller closes both."""
    import asyncio

    try:
        import distributed
    except ImportError as exc:
        raise CLIError(f"--dask needs dask.distributed: pip install 'skaloe[dask]' "
                       f"({_one_line(exc)})") from None
    if address == "local":
        n_workers = args.dask_workers or max(1, min(os.cpu_count() or 1, _MAX_LOCAL_WORKERS))
        try:
            cluster = distributed.LocalCluster(
                n_workers=n_workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None,
                # A failed shard is reported once, as the command's error line; the
                # workers' own log (tracebacks included) only with -v.
                silence_logs=logging.WARNING if args.verbose else logging.CRITICAL,
            )
        except (OSError, RuntimeError, ValueError, asyncio.TimeoutError) as exc:
            # What a cluster that cannot start raises (no free port, workers that
            # die or time out); anything else is a bug and keeps its traceback.
            raise CLIError(f"cannot start a local Dask cluster of {n_workers} workers: "
                           f"{_one_line(exc)}") from None
        try:
            return distributed.Client(cluster), cluster
        except BaseException:
            cluster.close()
            raise
    try:
        return distributed.Client(address, timeout=args.timeout), None
    except ValueError as exc:
        raise CLIError(f"--dask {address!r} is not a scheduler address ({_one_line(exc)}); "
                       "give one such as tcp://10.0.0.5:8786, or 'local'") from None
    except (OSError, TimeoutError) as exc:
        raise CLIError(
            f"cannot reach the Dask scheduler at {address!r} within {args.timeout:g} s "
            f"({_one_line(exc)}); check the address and that 'dask scheduler' runs there "
            "(--timeout waits longer), or use --dask local") from None


def _run_embed_dask(args, out):
    """``skaloe embed --dask``: fill (or resume) a store folder with embed_distributed."""
    from ..datasets import save_store_labels
    from ..distributed import ShardError, _store, embed_distributed

    t0 = time.perf_counter()
    address = args.dask.strip()
    if not address:
        raise CLIError("--dask needs a scheduler address such as tcp://10.0.0.5:8786, or "
                       "'local'")
    local = address.lower() == "local"
    address = "local" if local else address
    if args.dask_workers is not None and not local:
        raise CLIError("--dask-workers sets the size of --dask local; a running cluster "
                       "has the workers its scheduler has")
    if args.cache is not None:
        raise CLIError("--cache does not apply with --dask: the store in OUTPUT keeps "
                       "every finished shard, and running the command again resumes it")
    store = os.path.abspath(os.fspath(args.output))
    if store.lower().endswith(".npz"):
        raise CLIError(f"with --dask, OUTPUT is a store folder, not an .npz file; give a "
                       f"folder name such as {store[:-4]!r}")
    manifest = _check_store_output(store, args.overwrite)
    paths, labels, names, _ = _read_audio_input(args.input, "embed")
    # Workers open the files (and the store) themselves: give them absolute paths.
    paths = [os.path.abspath(p) for p in paths]
    rows, what, unit = paths, f"{len(paths)} clips", "clips"
    if args.window is not None:
        rows, labels, what = _segment_input(paths, labels, args, "embed")
        unit = "windows"
    shard_size = args.shard_size
    n_before = 0
    if manifest is not None:
        if shard_size is None:  # resuming: keep the shards the store was cut into
            shard_size = manifest["shard_size"]
        elif shard_size != manifest["shard_size"]:
            raise CLIError(
                f"the store {store!r} was written with --shard-size "
                f"{manifest['shard_size']}, not {shard_size}; drop --shard-size to resume it, "
                "or pass --overwrite to embed everything again")
        n_before = len(_store.done_shards(store, manifest["n_shards"]))
    shard_size = _DEFAULT_SHARD_SIZE if shard_size is None else shard_size
    write_on = args.write_on or "workers"

    client, cluster = _dask_client(address, args)
    try:
        where = (f"a local cluster of {len(cluster.workers)} workers" if local
                 else client.scheduler.address)
        embeddings = embed_distributed(
            rows, store, model=args.model, client=client, shard_size=shard_size,
            batch_size=args.batch_size, n_jobs=args.n_jobs, timeout=args.timeout,
            write_on=write_on, overwrite=args.overwrite, verbose=args.verbose,
        )
    except ShardError as exc:
        message = _one_line(exc).replace(
            "call embed_distributed again with the same arguments", "run the same command again")
        raise CLIError(message) from None
    except (ValueError, FileExistsError) as exc:  # a store of other files, model, settings
        message = _one_line(exc).replace("pass overwrite=True", "pass --overwrite")
        raise CLIError(message) from None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    # Without labels, a stale labels file of an earlier run is removed.
    save_store_labels(store, labels, label_names=names)
    n_shards = len(_store.shard_bounds(len(embeddings), shard_size))
    n_new = n_shards - n_before
    classes = "no labels" if labels is None else (
        f"{len(names)} classes, labels in {_STORE_LABELS}")
    done = (f"{n_new} of {_plural(n_shards, 'shard')} embedded"
            + (f", {n_before} already stored" if n_before else ""))
    print(f"skaloe embed: {what}, {embeddings.shape[1]}-d embeddings "
          f"({args.model}, {classes}) on Dask ({where}): {done}, {shard_size} {unit} a shard, "
          f"in {time.perf_counter() - t0:.1f} s; store in {store}", file=out, flush=True)
    return 0
