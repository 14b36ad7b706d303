"""The audio forms of INPUT: a class folder, a folder of clips, a file list."""

from __future__ import annotations

import os
import sys

import numpy as np

from ..encoders._audio import regular_file_stat
from ._parser import CLIError, _one_line


def _has_audio_suffix(name):
    from ..datasets import AUDIO_EXTENSIONS

    return not name.startswith(".") and name.lower().endswith(AUDIO_EXTENSIONS)


def _read_file_list(path):
    """Paths (and labels, if every line has one) from a text file, one clip per line."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise CLIError(
            f"{path!r} is neither a folder nor a text file listing audio paths "
            "(it is not UTF-8 text)") from None
    base = os.path.dirname(os.path.abspath(path))
    paths, labels = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        file, sep, label = line.partition("\t")
        file, label = file.strip(), label.strip()
        if sep and not label:
            raise CLIError(f"{path}, line {number}: a TAB but no label after it")
        if not os.path.isabs(file):
            local = os.path.join(base, file)
            file = local if os.path.exists(local) or not os.path.exists(file) else file
        _, problem = regular_file_stat(file)
        if problem is not None:
            raise CLIError(f"{path}, line {number}: audio file {file!r} {problem}")
        paths.append(file)
        labels.append(label if sep else None)
    if not paths:
        raise CLIError(f"the file list {path!r} lists no audio file")
    labeled = [label is not None for label in labels]
    if any(labeled) and not all(labeled):
        number = labeled.index(False) if labeled[0] else labeled.index(True)
        raise CLIError(
            f"{path}: some lines have a label (path<TAB>label) and some do not "
            f"(e.g. the clip {paths[number]!r}); label every line or none")
    if not any(labeled):
        return paths, None, None
    names = sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    return paths, np.array([index[x] for x in labels], dtype=np.int64), names


def _read_audio_input(path, command):
    """``(paths, labels or None, label_names or None, description)`` for an audio INPUT."""
    import warnings

    from ..datasets import load_audio_folder

    if not os.path.exists(path):
        raise CLIError(f"INPUT {path!r} does not exist")
    if _is_store(path):
        raise CLIError(f"{path!r} is an embedding store (written by 'skaloe embed --dask'); "
                       "pass an audio folder or a file list")
    if os.path.isdir(path):
        entries = sorted(os.listdir(path))
        subfolders = [e for e in entries
                      if not e.startswith(".") and os.path.isdir(os.path.join(path, e))]
        loose = [e for e in entries
                 if _has_audio_suffix(e) and os.path.isfile(os.path.join(path, e))]
        if subfolders:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                folder = load_audio_folder(path)
            for w in caught:
                print(f"skaloe {command}: note: {_one_line(w.message)}", file=sys.stderr)
            if loose:
                print(f"skaloe {command}: note: {len(loose)} audio files directly in {path} "
                      "(outside the class subfolders) are ignored", file=sys.stderr)
            names = list(folder.target_names)
            return (list(folder.filenames), folder.target.astype(np.int64), names,
                    f"{len(folder.filenames)} clips in {len(names)} classes")
        if not loose:
            from ..datasets import AUDIO_EXTENSIONS

            raise CLIError(
                f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) and no class subfolders "
                f"in {path!r}")
        return [os.path.join(path, e) for e in loose], None, None, f"{len(loose)} clips"
    if path.lower().endswith(".npz"):
        raise CLIError(f"{path!r} is an .npz file; pass an audio folder or a file list")
    paths, labels, names = _read_file_list(path)
    what = f"{len(paths)} clips" + ("" if names is None else f" in {len(names)} classes")
    return paths, labels, names, what


def _add_segment_options(parser, *, title, window_help):
    """--window, --hop, --skip-silence, --silence-threshold: cut recordings into windows."""
    from ..datasets._segments import SILENCE_THRESHOLD
    from ._parser import _finite_float, _positive_float

    group = parser.add_argument_group(title)
    group.add_argument("--window", type=_positive_float, default=None, metavar="S",
                       help=window_help)
    group.add_argument(
        "--hop", type=_positive_float, default=None, metavar="S",
        help="seconds from one window's start to the next, at most --window (default: "
             "--window, windows side by side); e.g. --window 3 --hop 1.5 overlaps them by "
             "half")
    group.add_argument(
        "--skip-silence", action="store_true",
        help="drop the windows quieter than --silence-threshold (each file is then decoded "
             "once); how many were dropped is printed")
    group.add_argument(
        "--silence-threshold", type=_finite_float, default=None, metavar="DB",
        help=f"with --skip-silence, the level in dBFS (RMS) under which a window is silent "
             f"(default: {SILENCE_THRESHOLD:g}; a recorder's hiss is often -70 to -50)")


def _check_segment_options(args):
    """Refuse segment options that do not go together; whether INPUT is cut into windows."""
    for name, default in (("window", None), ("hop", None), ("skip_silence", False),
                          ("silence_threshold", None)):
        if not hasattr(args, name):
            setattr(args, name, default)
    window = args.window
    if window is None:
        for option, value in (("--hop", args.hop),
                              ("--skip-silence", args.skip_silence or None),
                              ("--silence-threshold", args.silence_threshold)):
            if value is not None:
                raise CLIError(f"{option} applies to windows of long recordings; add "
                               "--window S (the window length in seconds)")
        return False
    if args.hop is not None and args.hop > window:
        raise CLIError(
            f"--hop {args.hop:g} is longer than --window {window:g}: the audio between "
            "windows would never be embedded; give a hop of at most the window")
    if args.silence_threshold is not None and not args.skip_silence:
        raise CLIError("--silence-threshold sets the level of --skip-silence; add "
                       "--skip-silence, or drop the threshold")
    return True


def _segment_input(paths, labels, args, command):
    """The windows of INPUT's recordings: ``(table, labels per window or None, summary)``.

    ``table`` is a Bunch of ``path``, ``start`` and ``end`` arrays; a
    recording's class (a class folder, a labeled file list) goes to each of
    its windows. ``summary`` says how many windows of how many recordings,
    and the silence dropped.
    """
    import warnings

    from ..datasets import segment_recordings
    from ..datasets._segments import SILENCE_THRESHOLD

    threshold = SILENCE_THRESHOLD if args.silence_threshold is None else args.silence_threshold
    with warnings.catch_warnings():
        # The silence dropped is said in the summary, in the command's words.
        warnings.filterwarnings("ignore", message="skip_silence dropped", category=UserWarning)
        table = segment_recordings(paths, window=args.window, hop=args.hop,
                                   skip_silence=args.skip_silence,
                                   silence_threshold=threshold, as_frame=False)
    hop = table.attrs["hop"]
    n, n_files = len(table.start), len(paths)
    summary = (f"{n} windows of {args.window:g} s (hop {hop:g} s) of "
               f"{n_files} recording{'' if n_files == 1 else 's'}")
    if args.skip_silence:
        dropped = table.attrs["n_silent"]
        n_dropped = sum(dropped.values())
        kept = set(table.path.tolist())
        emptied = [p for p in paths if p not in kept]
        summary += (f", {n_dropped} silent window{'' if n_dropped == 1 else 's'} dropped "
                    f"(below {threshold:g} dBFS"
                    + (f", in {len(dropped)} recording{'' if len(dropped) == 1 else 's'}"
                       if dropped else "") + ")")
        if not n:
            raise CLIError(
                f"every window of the {n_files} recording{'' if n_files == 1 else 's'} in "
                f"{args.input!r} is quieter than {threshold:g} dBFS, so --skip-silence left "
                "nothing to embed; lower --silence-threshold (e.g. -80) or drop --skip-silence")
        if emptied:
            print(f"skaloe {command}: note: {len(emptied)} recording"
                  f"{'' if len(emptied) == 1 else 's'} kept no window, all silent (e.g. "
                  f"{emptied[0]!r})", file=sys.stderr)
    if labels is not None:
        index = {path: k for path, k in zip(paths, labels)}
        labels = np.array([index[p] for p in table.path.tolist()], dtype=np.int64)
    return table, labels, summary


def _embed_paths(paths, args, *, verbose):
    from ..encoders import EncoderTransformer

    encoder = EncoderTransformer(
        args.model, memory=args.cache, n_jobs=args.n_jobs,
        batch_size=getattr(args, "batch_size_encoder", None) or 32,
        timeout=args.timeout, verbose=verbose,
    )
    return encoder.fit_transform(paths).astype(np.float32, copy=False)


def _is_store(path):
    """Whether ``path`` is a folder holding an embedding store (it has a manifest)."""
    from ..distributed import _store

    return os.path.isdir(path) and os.path.isfile(os.path.join(path, _store._MANIFEST))
