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
