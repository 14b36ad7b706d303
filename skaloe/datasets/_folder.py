"""Read and write audio datasets stored as one subfolder per class."""

import numbers
import os
import warnings

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["AUDIO_EXTENSIONS", "load_audio_folder", "save_audio_folder"]

#: File extensions that :func:`load_audio_folder` looks for by default.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aiff", ".aif", ".au")


_SHOWN_SKIPPED = 5  # skipped entries a warning names


def _is_hidden(name):
    return name.startswith(".")


def _normalize_extensions(extensions):
    if isinstance(extensions, (str, bytes)):
        extensions = (extensions,)
    normalized = []
    for ext in extensions:
        ext = str(ext).strip().lower()
        if not ext:
            raise ValueError(
                f"extensions contains an empty string ({extensions!r}); "
                "pass suffixes such as '.wav'."
            )
        normalized.append(ext if ext.startswith(".") else "." + ext)
    if not normalized:
        raise ValueError("extensions is empty; pass at least one suffix such as '.wav'.")
    return tuple(dict.fromkeys(normalized))


def _identity(path):
    """What makes a folder or file one real thing: its device and inode (links followed)."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def walk_audio_files(path, extensions):
    """Audio files anywhere under the folder ``path``, walked as class folders are.

    Returns ``(files, skipped)``: the paths, sorted by their path relative to
    ``path``, and what was skipped and why (see :func:`_walk_class_folders`).
    """
    walked, skipped = _walk_class_folders(path, None, extensions)
    top = os.path.join(path, os.curdir)
    return [os.path.join(path, os.path.relpath(f, top)) for f in walked[os.curdir]], skipped


def warn_skipped(folder, skipped, stacklevel):
    """One warning naming the entries a folder walk skipped (the first few), if any."""
    if not skipped:
        return
    shown = "; ".join(skipped[:_SHOWN_SKIPPED])
    more = len(skipped) - _SHOWN_SKIPPED
    warnings.warn(
        f"Skipped {len(skipped)} entries of {folder!r} (each real folder is walked once and "
        f"each real file listed once; only regular files are listed): {shown}"
        + (f"; and {more} more." if more > 0 else "."),
        UserWarning,
        stacklevel=stacklevel,
    )


def _walk_class_folders(path, folders, extensions):
    """Audio files of each class folder, each real folder walked once, each file listed once.

    Symbolic links are followed, but only after every real folder has been
    walked, and never into a folder already walked: a link to a parent, to
    the folder itself or to another class folder is skipped, so cycles end. A
    file reached twice (a link, or a hard link, to a file already listed) is
    listed once, preferably where it really is rather than where a link to it
    is. Entries that are no regular file (dangling links, named pipes) are
    skipped.

    ``folders=None`` walks ``path`` itself as the one class folder, named
    ``os.curdir``.

    Returns
    -------
    files_per_class : dict
        Class name -> sorted paths, for the class folders walked (a class
        folder that leads to another one is left out).
    skipped : list of str
        What was skipped and why, one phrase per entry, paths relative to
        ``path``.
    """
    from ..encoders._audio import regular_file_stat

    def rel(p):
        r = os.path.relpath(p, path)
        return "the top folder" if r == "." else repr(r)

    # real folder -> the path it was walked as
    owner = {} if folders is None else {_identity(path): path}
    if folders is None:
        folders = [os.curdir]
    skipped, pending_links = [], []
    files = []  # (is a link, class position, path, identity)

    def claim(folder):
        try:
            ident = _identity(folder)
        except OSError as exc:
            skipped.append(f"{rel(folder)} cannot be read ({exc.strerror})")
            return False
        if ident in owner:
            skipped.append(f"{rel(folder)} leads to {rel(owner[ident])}, already listed")
            return False
        owner[ident] = folder
        return True

    def on_error(exc):
        skipped.append(f"{rel(exc.filename)} cannot be read ({exc.strerror})")

    def walk(position, top):
        for root, dirs, names in os.walk(top, onerror=on_error):  # links not entered here
            kept = []
            for d in sorted(d for d in dirs if not _is_hidden(d)):
                full = os.path.join(root, d)
                if os.path.islink(full):
                    pending_links.append((position, full))
                elif claim(full):
                    kept.append(d)
            dirs[:] = kept
            for name in sorted(names):
                if _is_hidden(name) or not name.lower().endswith(extensions):
                    continue
                full = os.path.join(root, name)
                st, problem = regular_file_stat(full)
                if problem is not None:
                    skipped.append(f"{rel(full)} {problem}")
                else:
                    files.append((os.path.islink(full), position, full, (st.st_dev, st.st_ino)))

    # Real folders first, then links (class folders that are links, then links
    # inside class folders), so that a link cannot take a folder that is really
    # somewhere in the dataset.
    walked, positions = {}, {name: i for i, name in enumerate(folders)}
    real = [name for name in folders if not os.path.islink(os.path.join(path, name))]
    for name in real:
        if claim(os.path.join(path, name)):
            walked[name] = []
    for name in real:
        if name in walked:
            walk(positions[name], os.path.join(path, name))
    for name in folders:
        if name not in real and claim(os.path.join(path, name)):
            walked[name] = []
            walk(positions[name], os.path.join(path, name))
    while pending_links:
        position, link = pending_links.pop(0)
        if claim(link):
            walk(position, link)

    first = {}  # real file -> (is a link, class position, path) of the entry that lists it
    for is_link, position, full, ident in sorted(files, key=lambda f: f[:2]):
        if ident not in first:
            first[ident] = full
            walked[folders[position]].append(full)
        elif is_link:
            skipped.append(f"{rel(full)} is a link to {rel(first[ident])}, already listed")
        else:
            skipped.append(f"{rel(full)} is the same file as {rel(first[ident])} (a hard link)")
    for name, found in walked.items():
        # Sort on the path relative to the class folder so that the order does
        # not depend on the file system's listing order.
        class_dir = os.path.join(path, name)
        found.sort(key=lambda p: os.path.relpath(p, class_dir).split(os.sep))
    return walked, skipped


def load_audio_folder(
    container_path,
    *,
    extensions=AUDIO_EXTENSIONS,
    categories=None,
    shuffle=False,
    random_state=None,
    return_X_y=False,
):
    """List audio files stored in one subfolder per class.

    The layout is the one of :func:`sklearn.datasets.load_files`::

        container_path/
            dog/
                0001.wav
                0002.wav
            cat/
                a.flac
                ...

    Each subfolder is a class; classes are numbered in the sorted order of the
    subfolder names. Audio files are searched recursively inside each class
    folder and matched by extension, ignoring case. Files and folders whose
    name starts with ``"."`` are ignored. Symbolic links are followed, but
    each real folder is walked once and each real file listed once, under the
    class folder that really holds it. No audio is read: only the paths are
    returned, ready to be passed to a feature extractor.

    Parameters
    ----------
    container_path : str or path-like
        Folder holding one subfolder per class.
    extensions : sequence of str, default=(".wav", ".flac", ".ogg", ".mp3", \
".m4a", ".aiff", ".aif", ".au")
        File suffixes to keep (case-insensitive, the leading dot is optional).
    categories : sequence of str, default=None
        If given, only these subfolders are loaded. Unknown names raise a
        ``ValueError``.
    shuffle : bool, default=False
        Whether to shuffle the files. Without shuffling, files are grouped by
        class and sorted by path within a class.
    random_state : int, RandomState instance or None, default=None
        Seed or generator used when ``shuffle=True``.
    return_X_y : bool, default=False
        If True, return ``(filenames, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        filenames : ndarray of str, shape (n_files,)
            Paths of the audio files.
        target : ndarray of int64, shape (n_files,)
            Class index of each file.
        target_names : list of str
            Class names (subfolder names); ``target_names[target[i]]`` is the
            class of ``filenames[i]``.
        DESCR : str
            Short description of the dataset.

    (filenames, target) : tuple
        Returned instead when ``return_X_y=True``.

    Warns
    -----
    UserWarning
        When a class folder holds no file with one of the ``extensions``; that
        class is skipped and the remaining classes are numbered contiguously.
    UserWarning
        When entries are skipped, naming them: links (or hard links) to a
        folder already walked or a file already listed, which ends link
        cycles; a class folder that leads to another one; and entries with an
        audio extension that are no regular file (a dangling link, a named
        pipe).

    See Also
    --------
    save_audio_folder : Write clips in this layout.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skaloe.datasets import load_audio_folder, save_audio_folder
    >>> tmp = tempfile.TemporaryDirectory()
    >>> X = np.zeros((4, 800), dtype=np.float32)
    >>> _ = save_audio_folder(tmp.name, X, [0, 1, 0, 1], target_names=["no", "yes"])
    >>> bunch = load_audio_folder(tmp.name)
    >>> bunch.target_names
    ['no', 'yes']
    >>> bunch.target.tolist()
    [0, 0, 1, 1]
    >>> tmp.cleanup()
    """
    path = os.fspath(container_path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Audio folder {path!r} does not exist; pass the folder that holds "
            "one subfolder per class."
        )
    if not os.path.isdir(path):
        raise NotADirectoryError(
            f"{path!r} is not a directory; pass the folder that holds one "
            "subfolder per class, not a file."
        )
    exts = _normalize_extensions(extensions)

    available = sorted(
        name
        for name in os.listdir(path)
        if not _is_hidden(name) and os.path.isdir(os.path.join(path, name))
    )
    if not available:
        raise ValueError(
            f"No class subfolders found in {path!r}; put the audio files of "
            "each class in their own subfolder (e.g. "
            f"{os.path.join(path, 'dog', 'clip.wav')!r})."
        )

    if categories is None:
        folders = available
    else:
        if isinstance(categories, str):
            categories = [categories]
        requested = [str(c) for c in categories]
        unknown = [c for c in requested if c not in available]
        if unknown:
            raise ValueError(
                f"Unknown categories {unknown} in {path!r}; available class "
                f"subfolders are {available}."
            )
        folders = [name for name in available if name in set(requested)]

    files_per_class, skipped = _walk_class_folders(path, folders, exts)
    warn_skipped(path, skipped, stacklevel=3)
    if not any(files_per_class.values()):
        raise ValueError(
            f"No audio files with extensions {list(exts)} found in the class "
            f"subfolders of {path!r}; check the folder or pass the right "
            "`extensions`."
        )

    filenames, target, target_names = [], [], []
    for name in folders:
        if name not in files_per_class:  # it leads to another class folder: said above
            continue
        files = files_per_class[name]
        if not files:
            warnings.warn(
                f"Class folder {os.path.join(path, name)!r} holds no audio "
                f"files with extensions {list(exts)}; skipping class {name!r}.",
                UserWarning,
                stacklevel=2,
            )
            continue
        filenames.extend(files)
        target.extend([len(target_names)] * len(files))
        target_names.append(name)

    filenames = np.array(filenames, dtype=str)
    target = np.array(target, dtype=np.int64)
    if shuffle:
        order = check_random_state(random_state).permutation(len(filenames))
        filenames, target = filenames[order], target[order]

    if return_X_y:
        return filenames, target

    descr = (
        f"Audio files listed from {path!r}: {len(filenames)} files in "
        f"{len(target_names)} classes ({', '.join(target_names)}), matched by "
        f"extensions {', '.join(exts)}."
    )
    return Bunch(
        filenames=filenames, target=target, target_names=target_names, DESCR=descr
    )


def _check_folder_name(name, label):
    if (
        not name
        or name in (".", "..")
        or _is_hidden(name)
        or "/" in name
        or (os.sep != "/" and os.sep in name)
        or (os.altsep is not None and os.altsep in name)
    ):
        raise ValueError(
            f"Class name {name!r} (label {label!r}) cannot be used as a folder "
            "name; use names that are non-empty, do not start with '.', and "
            "contain no path separator."
        )
    return name


def save_audio_folder(directory, X, y, *, sample_rate=16000, target_names=None):
    """Write clips as 16-bit WAV files in one subfolder per class.

    Clip ``i`` is written to
    ``directory/<class name>/<class name>_<i:05d>.wav``, which is the layout
    read by :func:`load_audio_folder`. Folders are created as needed and
    existing files with the same name are overwritten.

    Parameters
    ----------
    directory : str or path-like
        Root folder of the dataset.
    X : ndarray of shape (n_clips, n_samples) or list of 1-D arrays
        Clips. Floating-point clips are expected in [-1, 1] and are clipped to
        that range; ``int16`` clips are written unchanged.
    y : array-like of shape (n_clips,)
        Labels. With ``target_names``, integer indices into it; otherwise the
        class name of clip ``i`` is ``str(y[i])``.
    sample_rate : int, default=16000
        Sample rate written in the file headers, in Hz.
    target_names : sequence of str, default=None
        Names of the classes indexed by ``y``.

    Returns
    -------
    filenames : ndarray of str, shape (n_clips,)
        Paths of the written files, in the order of ``X``.

    See Also
    --------
    load_audio_folder : List the files written by this function.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> import numpy as np
    >>> from skaloe.datasets import save_audio_folder
    >>> tmp = tempfile.TemporaryDirectory()
    >>> X = np.zeros((3, 1600), dtype=np.float32)
    >>> paths = save_audio_folder(tmp.name, X, ["up", "down", "up"])
    >>> [os.path.relpath(p, tmp.name).replace(os.sep, "/") for p in paths]
    ['up/up_00000.wav', 'down/down_00001.wav', 'up/up_00002.wav']
    >>> tmp.cleanup()
    """
    import soundfile as sf

    if (
        not isinstance(sample_rate, numbers.Integral)
        or isinstance(sample_rate, bool)
        or sample_rate <= 0
    ):
        raise ValueError(
            f"sample_rate must be a positive integer number of Hz, got {sample_rate!r}."
        )
    if isinstance(X, np.ndarray) and X.ndim != 2:
        raise ValueError(
            f"X must be a 2-D array (n_clips, n_samples) or a list of 1-D "
            f"arrays, got an array with shape {X.shape}."
        )
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one label per clip), got shape {y.shape}.")
    y = y.tolist()
    if len(X) != len(y):
        raise ValueError(
            f"X holds {len(X)} clips but y holds {len(y)} labels; pass one "
            "label per clip."
        )

    names = []
    for i, label in enumerate(y):
        if target_names is not None:
            if not isinstance(label, numbers.Integral) or isinstance(label, bool):
                raise ValueError(
                    f"y[{i}] = {label!r} is not an integer index into "
                    "target_names; pass integer labels with target_names."
                )
            if not 0 <= label < len(target_names):
                raise ValueError(
                    f"y[{i}] = {label} is out of range for {len(target_names)} "
                    "target_names."
                )
            name = str(target_names[label])
        else:
            name = str(label)
        names.append(_check_folder_name(name, label))

    from ..encoders._audio import _check_array_clip

    clips = []
    for i, clip in enumerate(X):
        clip = _check_array_clip(np.asarray(clip), i)
        if np.issubdtype(clip.dtype, np.floating):
            clip = np.clip(clip, -1.0, 1.0)
        elif clip.dtype not in (np.int16, np.int32):
            raise ValueError(
                f"Clip {i} has dtype {clip.dtype}; pass floating-point samples "
                "in [-1, 1] or int16 PCM samples."
            )
        clips.append(clip)

    root = os.fspath(directory)
    filenames = []
    for i, (name, clip) in enumerate(zip(names, clips)):
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{name}_{i:05d}.wav")
        sf.write(path, clip, sample_rate, subtype="PCM_16", format="WAV")
        filenames.append(path)
    if not filenames:
        os.makedirs(root, exist_ok=True)
    return np.array(filenames, dtype=str)
