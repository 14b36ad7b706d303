"""A persistent, append-only store of clip embeddings.

``joblib.Memory`` caches one call per folder: keyed per clip it would cost a
folder lookup, a pickle load and a hash of the call arguments for each of
100k clips. This store keeps many embeddings per file instead:

- one folder per model identity and encoder parameters (``model.json`` says
  which), under ``<location>/skaloe-embeddings/``;
- inside it, *shards*: ``<id>.emb.npy`` (float32 rows) and ``<id>.keys.npy``
  (16-byte content keys, one per row), plain ``.npy`` files read with
  ``allow_pickle=False``. A shard is written under temporary names, then
  renamed into place, embeddings first, keys last, so a reader only ever sees
  complete shards, and two processes writing at once never touch the same
  file;
- a shard's ``<id>`` is ``<32 hex digits>-<16 hex digits>``: a random name and
  a checksum, the first 16 hex digits of the SHA-256 of the keys file's bytes
  followed by the embeddings file's bytes (``cat <id>.keys.npy <id>.emb.npy |
  sha256sum``). Shards of skaloe versions before the checksum have a bare
  32-digit id; they are still read, checked for their structure only, and the
  next merge rewrites their rows into a shard with a checksum;
- a lookup reads every keys file (16 bytes a clip) and then only the needed
  rows of the embedding files, through memory maps. A shard is checked
  (checksum, structure, finite rows) the first time a process reads it, and
  again whenever its files change.

What can go wrong on disk is survived, never fatal and never silent:

- a damaged shard (truncated, overwritten, bad header, wrong checksum) is
  named in a warning, renamed to ``*.damaged`` and ignored: its rows count as
  missing, so they are computed again and saved to a new shard. Rows with NaN
  or infinite values are never saved, and are ignored if an older version
  saved some;
- a cache that cannot be written (read-only, full, no permission) is still
  read; the rows it misses are computed and returned, with one warning that
  names the folder and the error;
- files of killed writers are removed by later writers: a temporary file
  (``.tmp-*``) as soon as the process that wrote it is gone (its name holds the
  writer's process id and a tag of its machine and PID namespace) or, when that
  cannot be told, once untouched for :data:`STALE_SECONDS`; an embeddings file
  whose keys file never arrived once untouched for :data:`STALE_SECONDS`;
- when shards pile up they are merged into one, written completely before any
  old shard is removed; a lookup that loses a shard to a concurrent merge
  lists the folder again (a bounded number of times) and, failing that, counts
  the rows it could not read as missing.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import json
import os
import re
import shutil
import time
import uuid
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

FORMAT_VERSION = 1
MAX_SHARDS = 32
STALE_SECONDS = 3600.0  # a writer never leaves its files untouched this long
_KEY_BYTES = 16
_DIGEST_HEX = 16
_CHECKSUMMED = re.compile(r"^[0-9a-f]{32}-(?P<digest>[0-9a-f]{16})$")
_TMP_OWNER = re.compile(r"^\.tmp-(?P<machine>[0-9a-f]{12})-(?P<pid>\d+)-")
_LISTING_PASSES = 20  # lookups list the folder again while merges remove shards
_SETTLED_SECONDS = 2.0  # a check is remembered only for files older than this
_READ_BYTES = 1 << 22
_ROW_BLOCK = 4096  # rows checked for finite values at a time
_VERIFIED = {}  # (keys path, file states) -> usable-row mask (None: all rows usable)


def memory_location(memory):
    """The folder of a ``memory`` parameter (path, ``joblib.Memory`` or None)."""
    if memory is None:
        return None
    if isinstance(memory, (str, os.PathLike)):
        return os.fspath(memory)
    if hasattr(memory, "location"):
        location = memory.location
        return None if location is None else os.fspath(location)
    raise TypeError(
        f"memory must be None, a folder path or a joblib.Memory, got {type(memory).__name__}."
    )


@functools.lru_cache(maxsize=1)
def _machine_tag():
    """A tag of this kernel boot and PID namespace, or None where it cannot be read.

    Two processes with the same tag see the same process ids, so one can tell
    whether the other is still running.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return hashlib.sha1(f"{boot}\0{namespace}".encode()).hexdigest()[:12]


def _temporary_path(folder, suffix):
    """A fresh temporary name in ``folder`` that says which process writes it."""
    machine = _machine_tag()
    owner = f"{machine}-{os.getpid()}" if machine else "anon"
    return Path(folder) / f".tmp-{owner}-{uuid.uuid4().hex[:16]}{suffix}"


def _writer_is_gone(name):
    """True when the temporary file ``name`` was written by a process that no longer runs."""
    match = _TMP_OWNER.match(name)
    if match is None or match["machine"] != _machine_tag():
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it runs, under another user
        return False
    try:  # a killed child its parent has not reaped yet is a zombie: gone too
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in (b"Z", b"X")


def _untouched_for(path, seconds, now):
    try:
        return now - os.stat(path).st_mtime > seconds
    except OSError:
        return False


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _write_npy(path, array, digest):
    """Write ``array`` as a new ``.npy`` file, feeding its bytes to ``digest``."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
    with open(path, "xb") as f:
        for part in (header.getbuffer(), memoryview(array).cast("B")):
            digest.update(part)
            f.write(part)
        f.flush()
        os.fsync(f.fileno())


def _write_shard(folder, keys, embeddings, uid=None):
    """Write a complete shard into ``folder`` and return its id.

    Both files are written under temporary names, then the embeddings file and
    last the keys file are renamed into place; on any error nothing is left
    behind.
    """
    digest = hashlib.sha256()
    keys_tmp = _temporary_path(folder, ".keys.npy")
    emb_tmp = _temporary_path(folder, ".emb.npy")
    try:
        _write_npy(keys_tmp, keys, digest)
        _write_npy(emb_tmp, embeddings, digest)
        shard = f"{uid or uuid.uuid4().hex}-{digest.hexdigest()[:_DIGEST_HEX]}"
        emb_path = Path(folder) / f"{shard}.emb.npy"
        os.replace(emb_tmp, emb_path)
        try:
            os.replace(keys_tmp, Path(folder) / f"{shard}.keys.npy")
        except BaseException:  # no embeddings file without its keys is left behind
            _remove_quietly(emb_path)
            raise
    except BaseException:
        _remove_quietly(keys_tmp)
        _remove_quietly(emb_tmp)
        raise
    return shard


class _Damaged(Exception):
    """A shard whose files are not what was written."""


class _Shard(NamedTuple):
    name: str
    keys: np.ndarray  # (n, 16) uint8
    embeddings: np.ndarray  # (n, d) float32, memory-mapped
    usable: np.ndarray | None  # rows with finite values; None when all are


def _checksum(paths):
    digest = hashlib.sha256()
    buffer = bytearray(_READ_BYTES)
    for path in paths:
        with open(path, "rb") as f:
            while n := f.readinto(buffer):
                digest.update(memoryview(buffer)[:n])
    return digest.hexdigest()[:_DIGEST_HEX]


def _load(path, mmap_mode=None):
    """``np.load`` without pickles; a file numpy cannot parse raises ``_Damaged``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # headers are parsed as literals
            return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except OSError:
        raise
    except Exception as error:  # ValueError, SyntaxError, TypeError, tokenize's TokenError...
        raise _Damaged(f"numpy cannot read {Path(path).name}: {error}") from error


def _check_shard(name, keys_path, emb_path):
    """Check one shard's files; return its arrays and the mask of usable rows.

    Raises ``_Damaged`` when the files are not a shard, and
    ``FileNotFoundError`` when they vanished (a concurrent merge).
    """
    match = _CHECKSUMMED.match(name)
    if match and _checksum((keys_path, emb_path)) != match["digest"]:
        raise _Damaged("its content does not match the checksum in its name")
    keys = _load(keys_path)
    embeddings = _load(emb_path, mmap_mode="r")
    if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != _KEY_BYTES:
        raise _Damaged(f"its keys file holds {keys.dtype} values of shape {keys.shape}, "
                       f"not {_KEY_BYTES}-byte keys")
    if embeddings.dtype != np.float32 or embeddings.ndim != 2:
        raise _Damaged(f"its embeddings file holds {embeddings.dtype} values of shape "
                       f"{embeddings.shape}, not float32 rows")
    if len(keys) != len(embeddings):
        raise _Damaged(f"it holds {len(keys)} keys but {len(embeddings)} rows")
    finite = np.ones(len(embeddings), dtype=bool)
    for start in range(0, len(embeddings), _ROW_BLOCK):
        block = embeddings[start : start + _ROW_BLOCK]
        finite[start : start + _ROW_BLOCK] = np.isfinite(block).all(axis=1)
    return keys, embeddings, None if finite.all() else finite


class EmbeddingStore:
    """Embeddings of one encoder configuration, keyed by clip content.

    A store never raises because of its folder: what it cannot read counts as
    missing, what it cannot write is returned unsaved, each with a
    ``UserWarning`` that names the file or folder (see the module docstring).

    Parameters
    ----------
    location : str or path-like
        The cache folder; embeddings go to ``<location>/skaloe-embeddings/``.
    identity : dict
        What defines the embeddings (model and encoder parameters); one
        subfolder per identity.
    """

    def __init__(self, location, identity):
        text = json.dumps({"format": FORMAT_VERSION, **identity}, sort_keys=True, default=str)
        digest = hashlib.sha1(text.encode("utf8")).hexdigest()[:20]
        name = f"{identity.get('name', 'model')}-{digest}"
        self.folder = Path(location) / "skaloe-embeddings" / name
        self._write_error = None
        self._rows_saved = 0
        self._warned = set()
        self._leftovers_checked = False
        meta = self.folder / "model.json"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not meta.exists():
                tmp = _temporary_path(self.folder, "-model.json")
                try:
                    tmp.write_text(
                        json.dumps({"format": FORMAT_VERSION, **identity}, indent=2,
                                   sort_keys=True, default=str)
                    )
                    os.replace(tmp, meta)
                except BaseException:
                    _remove_quietly(tmp)
                    raise
        except OSError as error:
            self._cannot_write(error)

    # -- warnings --------------------------------------------------------

    def _warn(self, key, message):
        """Warn about ``key`` once per store (one ``transform`` call); None: always."""
        if key is None or key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, UserWarning, stacklevel=4)

    def _cannot_write(self, error):
        self._write_error = error
        space = ""
        if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT, None):
            try:
                space = f" ({shutil.disk_usage(self.folder).free} bytes free on its disk)"
            except OSError:
                pass
        done = (
            "none of the embeddings computed now is saved" if not self._rows_saved
            else f"the embeddings computed from now on are not saved ({self._rows_saved} were)"
        )
        self._warn("write", (
            f"Cannot write to the embedding cache {self.folder}{space}: {error}. The "
            f"embeddings are returned all the same, but {done}, so they will be "
            "computed again next time; rows already in the cache are still read. Make "
            "the folder writable or free disk space, or set memory to another folder."
        ))

    # -- reading ---------------------------------------------------------

    def _shards(self):
        """Ids of the complete shards (those whose keys file is in place), sorted."""
        try:
            names = [entry.name for entry in os.scandir(self.folder)]
        except FileNotFoundError:
            return []
        except OSError as error:
            self._warn("list", (
                f"Cannot read the embedding cache folder {self.folder}: {error}. Nothing "
                "is read from it; check its permissions."
            ))
            return []
        # ".tmp-*" files are writes in progress (or of a killed writer), no shards.
        return sorted(
            name[: -len(".keys.npy")]
            for name in names
            if name.endswith(".keys.npy") and not name.startswith(".")
        )

    def _open_shard(self, name):
        """The checked arrays of shard ``name``, or None when it cannot be used (warned).

        Raises ``FileNotFoundError`` when the shard vanished (a concurrent merge).
        """
        keys_path = self.folder / f"{name}.keys.npy"
        emb_path = self.folder / f"{name}.emb.npy"
        try:
            stats = [os.stat(keys_path)]
            try:
                stats.append(os.stat(emb_path))
            except FileNotFoundError:  # a merge removes keys first: this is no merge
                if os.path.exists(keys_path):
                    raise _Damaged("its embeddings file is missing") from None
                raise
            state = (os.fspath(keys_path), tuple(
                (s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for s in stats))
            usable = _VERIFIED.get(state, False)
            if usable is False:
                keys, embeddings, usable = _check_shard(name, keys_path, emb_path)
                # Shards are never rewritten in place, so a check holds until the files
                # change; a file changed within the clock's resolution of its last
                # change could keep its times, hence only settled files are remembered.
                if max(s.st_ctime for s in stats) < time.time() - _SETTLED_SECONDS:
                    if len(_VERIFIED) > 10_000:
                        _VERIFIED.clear()
                    _VERIFIED[state] = usable
            else:
                keys = _load(keys_path)
                embeddings = _load(emb_path, mmap_mode="r")
        except FileNotFoundError:
            raise
        except _Damaged as damage:
            self._set_aside(name, damage)
            return None
        except OSError as error:
            self._warn(("unreadable", name), (
                f"Cannot read the embedding cache shard {self.folder / name}.*.npy: {error}. "
                "Its rows are computed again; check the file's permissions or delete it."
            ))
            return None
        if usable is not None:
            self._warn(("non-finite", name), (
                f"The embedding cache shard {self.folder / name}.*.npy holds "
                f"{int((~usable).sum())} rows with NaN or infinite values (saved by an older "
                "skaloe); they are ignored and computed again, and the next merge drops them."
            ))
        return _Shard(name, keys, embeddings, usable)

    def _set_aside(self, name, damage):
        """Rename a damaged shard to ``*.damaged`` (keys first: it vanishes at once)."""
        paths = [self.folder / f"{name}{suffix}" for suffix in (".keys.npy", ".emb.npy")]
        outcome = "It was renamed to *.npy.damaged; delete those files."
        for path in paths:
            try:
                os.replace(path, path.with_name(path.name + ".damaged"))
            except FileNotFoundError:
                pass
            except OSError as error:
                outcome = f"It could not be set aside ({error}); delete {paths[0]} and {paths[1]}."
                break
        self._warn(("damaged", name), (
            f"The embedding cache shard {self.folder / name}.*.npy is damaged ({damage}); it "
            f"is ignored and its rows are computed again and saved to a new shard. {outcome}"
        ))

    def _open_shards(self):
        """Open every usable shard, listing the folder again while merges remove some."""
        opened, gone = {}, set()
        for attempt in range(_LISTING_PASSES):
            vanished = False
            for name in self._shards():
                if name in opened or name in gone:
                    continue
                try:
                    opened[name] = self._open_shard(name)
                except FileNotFoundError:  # merged away: its rows are in a newer shard
                    gone.add(name)
                    vanished = True
            if not vanished:
                break
            time.sleep(0.001 * min(2**attempt, 32))
        # After the last pass, rows of shards still merged away count as missing.
        return [shard for shard in opened.values() if shard is not None]

    def lookup(self, keys):
        """Find stored embeddings.

        Parameters
        ----------
        keys : list of bytes

        Returns
        -------
        found : ndarray of bool, shape (n,)
        embeddings : ndarray of shape (n_found, d) or None
            Rows for the ``found`` keys, in order.
        """
        n = len(keys)
        found = np.zeros(n, dtype=bool)
        shards = self._open_shards()
        if not shards:
            return found, None
        dim = shards[0].embeddings.shape[1]
        index = {}
        for s, shard in enumerate(shards):
            if shard.embeddings.shape[1] != dim:
                self._warn(("dim", shard.name), (
                    f"The embedding cache shard {self.folder / shard.name}.*.npy holds "
                    f"{shard.embeddings.shape[1]}-d rows where another holds {dim}-d ones; "
                    f"it is ignored. Clear {self.folder} if the model changed."
                ))
                continue
            stored = shard.keys.view(f"V{_KEY_BYTES}").ravel().tolist()
            rows = (range(len(stored)) if shard.usable is None
                    else np.flatnonzero(shard.usable).tolist())
            for row in rows:
                index[stored[row]] = (s, row)
        where = [index.get(k) for k in keys]
        found = np.fromiter((w is not None for w in where), dtype=bool, count=n)
        if not found.any():
            return found, None
        hits = [w for w in where if w is not None]
        shard_of = np.fromiter((w[0] for w in hits), dtype=np.intp, count=len(hits))
        row_of = np.fromiter((w[1] for w in hits), dtype=np.intp, count=len(hits))
        out = np.empty((len(hits), dim), dtype=np.float32)
        for s in np.unique(shard_of):
            sel = np.flatnonzero(shard_of == s)
            rows = row_of[sel]
            order = np.argsort(rows, kind="stable")
            out[sel[order]] = shards[s].embeddings[rows[order]]
        return found, out

    # -- writing ---------------------------------------------------------

    def add(self, keys, embeddings, names=None):
        """Store rows in a shard of their own, then merge if shards pile up.

        Rows with NaN or infinite values are not stored (a warning names
        them). When the folder cannot be written, nothing is stored and one
        warning names the folder and the error; later calls of this store
        then store nothing.

        Parameters
        ----------
        keys : list of bytes
            The content key of each row.
        embeddings : array-like of shape (n, d)
        names : list of str, optional
            How to name each row's clip in a warning (default: its position).
        """
        if len(keys) != len(embeddings):
            raise ValueError(f"{len(keys)} keys for {len(embeddings)} embeddings.")
        if not len(keys) or self._write_error is not None:
            return
        with np.errstate(over="ignore"):  # float64 beyond float32's range: refused below
            embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        finite = np.isfinite(embeddings).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            shown = ", ".join(names[i] if names is not None else f"row {i}" for i in bad[:10])
            more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
            self._warn(None, (
                f"{len(bad)} embeddings with NaN or infinite values were not saved to the "
                f"cache {self.folder}: {shown}{more}. Check those clips and the encoder."
            ))
            keys = [k for k, ok in zip(keys, finite.tolist()) if ok]
            embeddings = embeddings[finite]
            if not keys:
                return
        self._remove_leftovers()
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), _KEY_BYTES)
        try:
            _write_shard(self.folder, key_array, embeddings)
        except OSError as error:
            self._cannot_write(error)
            return
        self._rows_saved += len(keys)
        try:
            if len(self._shards()) > MAX_SHARDS:
                self.merge()
        except OSError as error:
            self._warn("merge", (
                f"Cannot merge the shards of the embedding cache {self.folder}: {error}. "
                "Every row is kept and read as before; merging is tried again later. Free "
                "disk space if the disk is full."
            ))

    def _remove_leftovers(self):
        """Remove what killed writers left: their temporary files and orphaned embeddings.

        A temporary file goes as soon as its writer is known to be gone, or once
        untouched for ``STALE_SECONDS``; an embeddings file without its keys file
        (a writer killed between the two renames) once untouched for
        ``STALE_SECONDS``. A live writer touches its files within seconds.
        """
        if self._leftovers_checked:
            return
        self._leftovers_checked = True
        try:
            names = {entry.name for entry in os.scandir(self.folder)}
        except OSError:
            return
        now = time.time()
        for name in names:
            path = self.folder / name
            if name.startswith(".tmp-"):
                if _writer_is_gone(name) or _untouched_for(path, STALE_SECONDS, now):
                    _remove_quietly(path)
            elif name.endswith(".emb.npy") and not name.startswith("."):
                keys_name = name[: -len(".emb.npy")] + ".keys.npy"
                if keys_name not in names and _untouched_for(path, STALE_SECONDS, now) \
                        and not os.path.exists(self.folder / keys_name):
                    _remove_quietly(path)

    def _distinct_rows(self, shards):
        """The checked rows of ``shards``, each key once, copied into memory.

        Returns ``(keys, embeddings)``, or None when no shard is usable. Raises
        ``FileNotFoundError`` when a shard vanished (another merge took it).
        """
        keys, embs = [], []
        for shard in shards:
            opened = self._open_shard(shard)
            if opened is None:  # damaged, set aside
                continue
            usable = slice(None) if opened.usable is None else opened.usable
            keys.append(opened.keys[usable])
            embs.append(opened.embeddings[usable])
        if not keys:
            return None
        key_array = np.concatenate(keys)
        _, first = np.unique(key_array.view(f"V{_KEY_BYTES}").ravel(), return_index=True)
        first.sort()
        return key_array[first], np.ascontiguousarray(np.concatenate(embs)[first])

    def merge(self):
        """Merge all shards into one (safe with concurrent readers and writers).

        Damaged shards are set aside and rows with NaN or infinite values
        dropped, so the merged shard holds only checked rows.
        """
        shards = self._shards()
        if len(shards) < 2:
            return
        try:
            rows = self._distinct_rows(shards)  # no memory map stays open on the old files
        except FileNotFoundError:  # another process merged some already
            return
        if rows is None:
            return
        merged = f"{uuid.uuid4().hex}"
        # The merged shard is complete (its keys file in place) before any old
        # shard is removed: a merge that dies part way loses no row.
        _write_shard(self.folder, *rows, uid=merged)
        for shard in shards:
            for suffix in (".keys.npy", ".emb.npy"):
                try:
                    os.remove(self.folder / f"{shard}{suffix}")
                except FileNotFoundError:
                    pass
