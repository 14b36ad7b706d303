"""The SQLite file behind a durable labeling session.

One file holds everything a session needs to resume without the audio or the
encoder: the pool (its paths, for windows of long recordings their bounds, and
the embeddings), the learner settings, the
validation set, and an append-only log of label and undo events. Every event
is its own transaction, committed (``synchronous=FULL``, WAL journal) before
the caller is told it is saved, so a process killed at any moment loses at
most the event being written.

One process at a time writes: opening a session for writing takes an
exclusive lock on ``<file>-writer`` (released when the session closes or the
process ends), and a second writer is refused with a message naming the
first. The log itself refuses a second live label for a clip. Closing a
session checkpoints the WAL journal into the main file, so the ``.sqlite``
file alone then holds every label. Reading (listing or exporting the labels)
takes no lock.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
from datetime import datetime, timezone

try:  # POSIX; elsewhere the writer lock is not taken (see WriterLock)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

import numpy as np

# Format 2: pool items may be segments of long recordings (their bounds in
# pool.segment_start and pool.segment_end). A session of whole clips is still
# written as format 1, which older skaloe versions read; they refuse format 2,
# whose windows they would play as whole recordings.
FORMAT_VERSION = 1
SEGMENTS_FORMAT_VERSION = 2
_READABLE_FORMATS = (FORMAT_VERSION, SEGMENTS_FORMAT_VERSION)
_CHUNK_ROWS = 4096  # embedding rows per BLOB

_SCHEMA = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE pool (
    position INTEGER PRIMARY KEY,
    path TEXT,
    segment_start REAL,
    segment_end REAL
);
CREATE TABLE validation (
    position INTEGER PRIMARY KEY,
    path TEXT,
    label TEXT NOT NULL
);
CREATE TABLE embeddings (
    part TEXT NOT NULL CHECK (part IN ('pool', 'validation')),
    start INTEGER NOT NULL,
    n_rows INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (part, start)
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('label', 'undo')),
    position INTEGER,
    label TEXT,
    undoes INTEGER REFERENCES events (id),
    annotator TEXT NOT NULL,
    time TEXT NOT NULL
);
"""

# Learner checkpoints (skaloe.active.save_state) for the labels in force:
# reopening and undoing load one instead of replaying the log. Added after
# format 1 was released; a session of that format gets the table when opened
# for writing, and older skaloe versions ignore it.
_CHECKPOINT_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    covers TEXT NOT NULL,
    state BLOB NOT NULL
)
"""


# The bounds of pool items that are segments, added after format 1 was
# released: a file without them gets them (NULL: whole clips) when opened for
# writing. Adding columns rewrites no row, so no label can be lost.
_POOL_BOUNDS = ("segment_start", "segment_end")


def utc_now():
    """The current time as an ISO 8601 UTC string with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def array_sha256(array):
    """SHA-256 of a float32 C-ordered array's bytes and shape."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    h = hashlib.sha256(f"float32{array.shape}".encode())
    h.update(memoryview(array).cast("B") if array.size else b"")
    return h.hexdigest()


def paths_fingerprint(paths):
    """SHA-256 of an ordered list of files: each absolute path and size.

    Cheap (one ``stat`` per file) and stable when the files are untouched;
    a file that is missing counts with size -1.
    """
    h = hashlib.sha256()
    for path in paths:
        try:
            size = os.stat(path).st_size
        except OSError:
            size = -1
        h.update(os.path.abspath(path).encode("utf8", "surrogateescape"))
        h.update(f"\0{size}\n".encode())
    return h.hexdigest()


def _bound(value):
    """A segment bound as SQLite stores it: a float, or NULL for a whole clip (None, NaN)."""
    if value is None:
        return None
    value = float(value)
    return None if value != value else value


class DamagedSessionError(ValueError):
    """The session file is damaged: SQLite cannot read part of it, or its embeddings
    fail their checksum. The message says how to get the labels out."""


def _damage_message(path, exc):
    return (
        f"The session file {path!r} is damaged ({exc}): SQLite cannot read part of it. "
        f"Restore it from a backup; if the label log is intact, 'skaloe label --db {path} "
        "--export-csv labels.csv' (or skaloe.labeling.export_labels) still exports the labels."
    )


def _reports_damage(method):
    """Turn SQLite's errors about a damaged file into a DamagedSessionError that names it."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if _is_busy(exc):  # another process holds the file: not damage
                raise
            raise DamagedSessionError(_damage_message(self.path, exc)) from exc

    return wrapper


def _is_busy(exc):
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc))


class SessionLockedError(RuntimeError):
    """The session file is open for writing in another process (or object)."""


class WriterLock:
    """An exclusive advisory lock on ``<database>-writer``, held while a session is open.

    The lock belongs to the open file: it is released by :meth:`release`,
    and by the operating system when the process ends, even when it is
    killed, so a crash never leaves a session locked.
    """

    def __init__(self, database):
        self.path = f"{database}-writer"
        self._fd = None
        if fcntl is None:  # pragma: no cover - no advisory locks on this system
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as f:
                holder = f.read().strip() or "another process"
            raise SessionLockedError(
                f"The labeling session {database!r} is open in another process or program "
                f"({holder}); only one may label at a time. Close it there first (labels "
                f"it gave are saved). To read the labels meanwhile, export them: skaloe "
                f"label --db {database} --export-csv labels.csv"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, since {utc_now()}".encode())
        self._fd = fd

    def release(self):
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the lock
            self._fd = None


class LabelDatabase:
    """An open session database: schema, settings, embeddings and events.

    Not thread-safe by itself; :class:`~skaloe.labeling.DurableSession`
    holds a lock around every use.

    Parameters
    ----------
    path : str or path-like
        The SQLite file.
    create : bool, default=False
        Create the schema (the file must not hold a session yet).
    """

    def __init__(self, path, *, create=False, write=True):
        self.path = os.fspath(path)
        self._writer = None
        exists = os.path.exists(self.path)
        if not create and not exists:
            raise FileNotFoundError(
                f"No labeling database at {self.path!r}; start a session with "
                "DurableSession.create(...) (or 'skaloe label POOL --db ... --classes ...')."
            )
        if os.path.isdir(self.path):
            raise IsADirectoryError(
                f"The database path {self.path!r} is a folder; give the name of a file, "
                "e.g. labels.sqlite."
            )
        if write:
            self._writer = WriterLock(self.path)
        # isolation_level=None: no implicit transactions; every write below
        # opens and commits its own with BEGIN IMMEDIATE ... COMMIT.
        self._conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        try:
            self._configure()
            tables = self._tables()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise ValueError(
                f"{self.path!r} is not an SQLite database ({exc}); give a new file name "
                "for a new session, or the database of an existing one."
            ) from None
        try:
            self._check_content(create, write, tables)
        except BaseException as exc:
            self.close()
            if isinstance(exc, sqlite3.DatabaseError) and not _is_busy(exc):
                raise DamagedSessionError(_damage_message(self.path, exc)) from exc
            raise

    def _check_content(self, create, write, tables):
        if create:
            if tables:
                self.close()
                raise FileExistsError(
                    f"{self.path!r} already holds a database; resume it with "
                    "DurableSession.open(...), or give a new file name for a new session."
                )
        elif "meta" not in tables or self._meta_raw("complete") is None:
            self.close()
            raise ValueError(
                f"{self.path!r} holds no complete skaloe labeling session (it may have been "
                "interrupted while being created); delete it and start the session again."
            )
        else:
            version = self.meta("format_version")
            if version not in _READABLE_FORMATS:
                self.close()
                raise ValueError(
                    f"{self.path!r} is a labeling database of format {version}, but this "
                    f"skaloe reads formats {FORMAT_VERSION} and {SEGMENTS_FORMAT_VERSION}; "
                    "open it with the skaloe version that wrote it."
                )
            if write:
                self._conn.execute(_CHECKPOINT_SCHEMA)
                self._add_pool_bounds()

    def _pool_columns(self):
        return {row[1] for row in self._conn.execute("PRAGMA table_info(pool)")}

    def _add_pool_bounds(self):
        """Give a session file written before segments the pool's bound columns."""
        missing = [c for c in _POOL_BOUNDS if c not in self._pool_columns()]
        if not missing:
            return
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for column in missing:
                conn.execute(f"ALTER TABLE pool ADD COLUMN {column} REAL")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _configure(self):
        conn = self._conn
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a file system without shared memory
            raise sqlite3.DatabaseError(f"WAL journal mode unavailable (got {mode!r})")
        # FULL: a commit is on disk before execute() returns (power-loss safe, too).
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")

    def _tables(self):
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        return {name for (name,) in rows}

    def __del__(self):  # a session dropped without close() releases its lock
        try:
            self.close()
        except Exception:
            pass

    def close(self):
        """Checkpoint the journal into the main file, close, and release the writer lock."""
        try:
            if self._writer is not None:
                try:  # the .sqlite file alone then holds every event
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error:
                    pass  # e.g. a reader elsewhere: the WAL stays beside the file, complete
            self._conn.close()
        finally:
            if self._writer is not None:
                self._writer.release()
                self._writer = None

    # -- one-off content, written in one transaction -------------------------

    @_reports_damage
    def write_session(self, meta, pool_paths, pool_embeddings, validation=None,
                      pool_bounds=None):
        """Write a new session's settings, pool and validation set at once.

        Parameters
        ----------
        meta : dict
            JSON-serialisable settings.
        pool_paths : list of str or None
            One path per pool clip (None: the clips cannot be played).
        pool_embeddings : ndarray of shape (n_pool, dim)
        validation : tuple (paths or None, labels, embeddings) or None
        pool_bounds : tuple (starts, ends) or None
            When pool items are segments of recordings: their bounds in
            seconds, None (or NaN) for an item that is a whole clip. The
            file is then of format 2.
        """
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            # The schema and the content in one transaction: a creation cut
            # short leaves an empty file, never half a session.
            for statement in _SCHEMA.split(";") + [_CHECKPOINT_SCHEMA]:
                if statement.strip():
                    conn.execute(statement)
            for key, value in meta.items():
                conn.execute("INSERT INTO meta VALUES (?, ?)", (key, json.dumps(value)))
            n = len(pool_embeddings)
            paths = pool_paths if pool_paths is not None else [None] * n
            starts, ends = pool_bounds if pool_bounds is not None else ([None] * n,) * 2
            conn.executemany(
                "INSERT INTO pool VALUES (?, ?, ?, ?)",
                ((i, p, _bound(s), _bound(e))
                 for i, (p, s, e) in enumerate(zip(paths, starts, ends))))
            self._write_array("pool", pool_embeddings)
            if validation is not None:
                val_paths, val_labels, val_embeddings = validation
                val_paths = val_paths if val_paths is not None else [None] * len(val_labels)
                conn.executemany(
                    "INSERT INTO validation VALUES (?, ?, ?)",
                    ((i, p, str(y)) for i, (p, y) in enumerate(zip(val_paths, val_labels))),
                )
                self._write_array("validation", val_embeddings)
            version = FORMAT_VERSION if pool_bounds is None else SEGMENTS_FORMAT_VERSION
            conn.execute("INSERT INTO meta VALUES ('format_version', ?)", (json.dumps(version),))
            conn.execute("INSERT INTO meta VALUES ('complete', 'true')")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _write_array(self, part, array):
        array = np.ascontiguousarray(array, dtype=np.float32)
        for start in range(0, len(array), _CHUNK_ROWS):
            block = array[start:start + _CHUNK_ROWS]
            self._conn.execute(
                "INSERT INTO embeddings VALUES (?, ?, ?, ?)",
                (part, start, len(block), block.tobytes()),
            )

    @_reports_damage
    def read_array(self, part, dim):
        """The stored embeddings of ``part`` ("pool" or "validation")."""
        rows = self._conn.execute(
            "SELECT start, n_rows, data FROM embeddings WHERE part = ? ORDER BY start", (part,)
        ).fetchall()
        if not rows:
            return np.empty((0, dim), dtype=np.float32)
        blocks = [np.frombuffer(data, dtype=np.float32).reshape(n, dim) for _, n, data in rows]
        return np.concatenate(blocks)

    def _meta_raw(self, key):
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    @_reports_damage
    def meta(self, key, default=None):
        """A stored setting (JSON-decoded)."""
        raw = self._meta_raw(key)
        return default if raw is None else json.loads(raw)

    @_reports_damage
    def pool_paths(self):
        """The pool's paths in position order (None entries when unknown)."""
        return [p for (p,) in self._conn.execute("SELECT path FROM pool ORDER BY position")]

    @_reports_damage
    def pool_bounds(self):
        """``(starts, ends)`` of the pool's segments in position order (None entries for
        whole clips), or None when no pool item is a segment."""
        if not set(_POOL_BOUNDS) <= self._pool_columns():  # written before segments
            return None
        rows = self._conn.execute(
            "SELECT segment_start, segment_end FROM pool ORDER BY position").fetchall()
        if all(s is None and e is None for s, e in rows):
            return None
        return [s for s, _ in rows], [e for _, e in rows]

    @_reports_damage
    def validation_rows(self):
        """``(paths, labels)`` of the stored validation set."""
        rows = self._conn.execute(
            "SELECT path, label FROM validation ORDER BY position"
        ).fetchall()
        return [p for p, _ in rows], [y for _, y in rows]

    # -- the event log ------------------------------------------------------

    @_reports_damage
    def append(self, kind, *, position=None, label=None, undoes=None, annotator, time=None):
        """Append one event in its own committed transaction; return its id."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if kind == "label":  # one live label per clip, whoever writes
                live = conn.execute(
                    "SELECT label, annotator, time FROM events e WHERE kind = 'label' AND "
                    "position = ? AND NOT EXISTS (SELECT 1 FROM events u WHERE "
                    "u.kind = 'undo' AND u.undoes = e.id)", (position,),
                ).fetchone()
                if live is not None:
                    raise ValueError(
                        f"Clip {position} already has the label {live[0]!r} in {self.path!r} "
                        f"(by {live[1]} at {live[2]}); undo it first to change it."
                    )
            cursor = conn.execute(
                "INSERT INTO events (kind, position, label, undoes, annotator, time) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (kind, position, label, undoes, annotator, time or utc_now()),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return cursor.lastrowid

    @_reports_damage
    def events(self):
        """Every event, oldest first, as dicts."""
        cursor = self._conn.execute(
            "SELECT id, kind, position, label, undoes, annotator, time FROM events ORDER BY id"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor]

    # -- learner checkpoints --------------------------------------------------

    @_reports_damage
    def write_checkpoint(self, covers, state, *, keep):
        """Store a learner state for the label events ``covers``; keep the newest ``keep``."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO checkpoints (covers, state) VALUES (?, ?)",
                (json.dumps([int(i) for i in covers]), state),
            )
            conn.execute(
                "DELETE FROM checkpoints WHERE id NOT IN "
                "(SELECT id FROM checkpoints ORDER BY id DESC LIMIT ?)", (int(keep),)
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @_reports_damage
    def checkpoints(self):
        """``(id, covers)`` of the stored learner checkpoints, newest first."""
        if "checkpoints" not in self._tables():  # format 1, opened read-only
            return []
        rows = self._conn.execute("SELECT id, covers FROM checkpoints ORDER BY id DESC")
        out = []
        for checkpoint_id, covers in rows:
            try:
                covers = json.loads(covers)
            except ValueError:
                continue  # a damaged row: never used
            if isinstance(covers, list) and all(type(i) is int for i in covers):
                out.append((checkpoint_id, covers))
        return out

    @_reports_damage
    def checkpoint_state(self, checkpoint_id):
        """The stored bytes of one checkpoint."""
        row = self._conn.execute(
            "SELECT state FROM checkpoints WHERE id = ?", (checkpoint_id,)
        ).fetchone()
        return bytes(row[0])

    @_reports_damage
    def active_labels(self):
        """The label events not undone, oldest first."""
        events = self.events()
        undone = {e["undoes"] for e in events if e["kind"] == "undo"}
        return [e for e in events if e["kind"] == "label" and e["id"] not in undone]
