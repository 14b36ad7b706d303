"""A persistent, append-only store of clip embeddings.

``joblib.Memory`` caches one call per folder: keyed per clip it would cost a
folder lookup, a pickle load and a hash of the call arguments for each of
100k clips. This store keeps many embeddings per file instead:

- one folder per model identity and encoder parameters (``model.json`` says
  which), under ``<location>/skaloe-embeddings/``;
- inside it, *shards*: ``<id>.emb.npy`` (float32 rows) and ``<id>.keys.npy``
  (16-byte content keys, one per row). A shard is written to a temporary name
  and renamed into place, embeddings first, keys last, so a reader only ever
  sees complete shards, and two processes writing at once never touch the same
  file;
- a lookup reads every keys file (16 bytes a clip) and then only the needed
  rows of the embedding files, through memory maps.

When shards pile up they are merged into one; a shard deleted by a merge
while another process reads is simply looked up again.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
MAX_SHARDS = 32
_KEY_BYTES = 16


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


def _atomic_save(path, array):
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # e.g. a full disk: leave no half-written temporary file
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


class EmbeddingStore:
    """Embeddings of one encoder configuration, keyed by clip content."""

    def __init__(self, location, identity):
        text = json.dumps({"format": FORMAT_VERSION, **identity}, sort_keys=True, default=str)
        import hashlib

        digest = hashlib.sha1(text.encode("utf8")).hexdigest()[:20]
        self.folder = Path(location) / "skaloe-embeddings" / f"{identity.get('name', 'model')}-{digest}"
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "model.json"
        if not meta.exists():
            tmp = meta.with_name(f".tmp-{uuid.uuid4().hex}-model.json")
            tmp.write_text(json.dumps({"format": FORMAT_VERSION, **identity}, indent=2, sort_keys=True, default=str))
            os.replace(tmp, meta)

    def _shards(self):
        # pathlib's "*" also matches dot files: skip the ".tmp-*" files of writes in
        # progress (or of a killed writer), which are no shards.
        return sorted(
            p.name[: -len(".keys.npy")]
            for p in self.folder.glob("*.keys.npy")
            if not p.name.startswith(".")
        )

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
        for attempt in range(5):
            try:
                return self._lookup(keys)
            except FileNotFoundError:  # a concurrent merge removed a shard
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _lookup(self, keys):
        shards = self._shards()
        n = len(keys)
        found = np.zeros(n, dtype=bool)
        if not shards:
            return found, None
        index = {}
        for s, shard in enumerate(shards):
            stored = np.load(self.folder / f"{shard}.keys.npy")
            for row, key in enumerate(stored.view(f"V{_KEY_BYTES}").ravel().tolist()):
                index[key] = (s, row)
        where = [index.get(k) for k in keys]
        found = np.fromiter((w is not None for w in where), dtype=bool, count=n)
        if not found.any():
            return found, None
        hits = [w for w in where if w is not None]
        shard_of = np.fromiter((w[0] for w in hits), dtype=np.intp, count=len(hits))
        row_of = np.fromiter((w[1] for w in hits), dtype=np.intp, count=len(hits))
        out = None
        for s in np.unique(shard_of):
            emb = np.load(self.folder / f"{shards[s]}.emb.npy", mmap_mode="r")
            if out is None:
                out = np.empty((len(hits), emb.shape[1]), dtype=np.float32)
            sel = np.flatnonzero(shard_of == s)
            rows = row_of[sel]
            order = np.argsort(rows, kind="stable")
            out[sel[order]] = emb[rows[order]]
            del emb
        return found, out

    def add(self, keys, embeddings):
        """Store rows (each process writes shards of its own)."""
        if not len(keys):
            return
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), _KEY_BYTES)
        shard = f"{uuid.uuid4().hex}"
        _atomic_save(self.folder / f"{shard}.emb.npy", embeddings)
        _atomic_save(self.folder / f"{shard}.keys.npy", key_array)
        if len(self._shards()) > MAX_SHARDS:
            self.merge()

    def merge(self):
        """Merge all shards into one (safe with concurrent readers and writers)."""
        shards = self._shards()
        if len(shards) < 2:
            return
        keys, embs = [], []
        for shard in shards:
            try:
                embs.append(np.load(self.folder / f"{shard}.emb.npy"))
                keys.append(np.load(self.folder / f"{shard}.keys.npy"))
            except FileNotFoundError:  # another process merged it already
                return
        key_array = np.concatenate(keys)
        _, first = np.unique(key_array.view(f"V{_KEY_BYTES}").ravel(), return_index=True)
        first.sort()
        merged = f"{uuid.uuid4().hex}"
        # The merged shard is complete (its keys file in place) before any old
        # shard is removed: a merge that dies part way loses no row.
        _atomic_save(self.folder / f"{merged}.emb.npy", np.concatenate(embs)[first])
        try:
            _atomic_save(self.folder / f"{merged}.keys.npy", key_array[first])
        except BaseException:  # no embeddings file without its keys is left behind
            try:
                os.remove(self.folder / f"{merged}.emb.npy")
            except OSError:
                pass
            raise
        for shard in shards:
            for suffix in (".keys.npy", ".emb.npy"):
                try:
                    os.remove(self.folder / f"{shard}{suffix}")
                except FileNotFoundError:
                    pass
