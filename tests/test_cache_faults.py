"""The embedding cache under faults: killed writers, a read-only or full disk,
damaged shards, merges racing lookups, NaN rows.

What users rely on: the cache never costs them the embeddings a call computed,
never returns a wrong row, and names the file or folder when something on disk
is wrong. Clips are tiny and embedded with the built-in ``"mfcc"`` encoder.
"""

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import skaloe.encoders._cache as cache_module
import skaloe.encoders._transformer as transformer_module
from skaloe import EncoderTransformer
from skaloe.encoders._audio import clip_key
from test_encoder import subprocess_env

SR = 16000
HOUR = 3600
RUNS_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# -- helpers ---------------------------------------------------------------


def make_clips(n, seed=0, n_samples=600):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-0.5, 0.5, n_samples + 10 * i).astype(np.float32) for i in range(n)]


def embed(clips, memory=None, model="mfcc"):
    return EncoderTransformer(model, memory=memory).fit_transform(clips)


def embed_warnings(clips, memory, model="mfcc"):
    """Embed and return the embeddings with the messages of the UserWarnings raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = embed(clips, memory, model)
    return got, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def store_folder(cache):
    (folder,) = (Path(cache) / "skaloe-embeddings").iterdir()
    return folder


def shard_ids(folder):
    return sorted(p.name[: -len(".keys.npy")] for p in Path(folder).glob("[!.]*.keys.npy"))


def temporaries(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith(".tmp"))


def python_process(code, *args, **popen):
    """Start a fresh interpreter running ``code`` with skaloe imported from this checkout."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            env=subprocess_env(), text=True, **popen)


def _mount_tmpfs(folder):
    """Mount a 1 MiB tmpfs on ``folder``; return why that cannot be done, or None."""
    if not RUNS_AS_ROOT:
        return "mounting a small tmpfs needs root and the tests do not run as root"
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                              check=False, capture_output=True, text=True)
    except OSError as error:
        return f"cannot run mount: {error}"
    return None if done.returncode == 0 else f"mount refused a tmpfs: {done.stderr.strip()}"


class Disk:
    """A folder for a cache that a test makes read-only or fills up.

    As root it is a 1 MiB tmpfs of its own, made read-only by remounting it
    (root writes through file permissions). Otherwise it is a plain folder
    whose write permission is taken away; it cannot be filled.
    """

    def __init__(self, folder):
        folder.mkdir()
        self.folder = folder
        self.why_no_tmpfs = _mount_tmpfs(folder)

    def read_only(self):
        if self.why_no_tmpfs is None:
            subprocess.run(["mount", "-o", "remount,ro", str(self.folder)], check=True)
        elif RUNS_AS_ROOT:
            pytest.skip(f"root writes through permissions, so a read-only cache needs a "
                        f"read-only mount, but {self.why_no_tmpfs}")
        else:
            for path in [self.folder, *self.folder.rglob("*")]:
                path.chmod(0o555 if path.is_dir() else 0o444)

    def fill(self):
        if self.why_no_tmpfs is not None:
            pytest.skip(f"a full disk is a small tmpfs filled up, but {self.why_no_tmpfs}")
        with open(self.folder / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError as error:
                assert error.errno == errno.ENOSPC

    def make_room(self):
        (self.folder / "filler").unlink()

    def release(self):
        if self.why_no_tmpfs is None:
            subprocess.run(["umount", "-l", str(self.folder)], check=False)
        else:
            for path in [self.folder, *self.folder.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture
def disk(tmp_path):
    disk = Disk(tmp_path / "disk")
    yield disk
    disk.release()


# -- a cache that cannot be written -----------------------------------------------


def test_read_only_cache_is_read_and_the_rest_returned_with_one_warning(disk, count_spectral):
    clips = make_clips(20)
    fresh = embed(clips)
    embed(clips[:10], disk.folder)  # the cache holds 10 of the 20
    folder = store_folder(disk.folder)
    disk.read_only()

    count_spectral.clear()
    got, messages = embed_warnings(clips, disk.folder)
    assert_array_equal(got, fresh)
    assert sum(count_spectral) == 10  # the cached half is read, the rest computed
    assert len(messages) == 1, messages
    assert str(folder) in messages[0]
    assert "none of the embeddings computed now is saved" in messages[0]
    assert "Read-only file system" in messages[0] or "Permission denied" in messages[0]
    assert shard_ids(folder) and not temporaries(folder)

    # a configuration whose folder does not exist yet cannot even create it
    got, messages = embed_warnings(clips[:3], disk.folder, model="logmel")
    assert_array_equal(got, embed(clips[:3], model="logmel"))
    assert len(messages) == 1 and "skaloe-embeddings/logmel-" in messages[0]


def test_full_disk_returns_the_embeddings_and_names_the_folder(disk, count_spectral):
    clips = make_clips(20)
    fresh = embed(clips)
    embed(clips[:5], disk.folder)
    folder = store_folder(disk.folder)
    disk.fill()

    got, messages = embed_warnings(clips, disk.folder)
    assert_array_equal(got, fresh)
    assert len(messages) == 1, messages
    assert str(folder) in messages[0] and "No space left on device" in messages[0]
    assert not temporaries(folder)  # the failed write left nothing behind

    disk.make_room()  # with room again, the missing rows are saved...
    count_spectral.clear()
    assert_array_equal(embed(clips, disk.folder), fresh)
    assert sum(count_spectral) == 15
    count_spectral.clear()  # ...and read back
    assert_array_equal(embed(clips, disk.folder), fresh)
    assert count_spectral == []


def test_any_write_error_returns_the_embeddings_with_one_warning(
        tmp_path, monkeypatch, count_spectral):
    """Runs everywhere: a full disk as the kernel may report it, at the flush to disk."""
    monkeypatch.setattr(transformer_module, "_CHUNK", 4)  # five shards to write
    clips = make_clips(20)
    fresh = embed(clips)
    cache = tmp_path / "cache"
    embed(clips[:2], cache)
    folder = store_folder(cache)

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real_fsync = os.fsync
    monkeypatch.setattr(cache_module.os, "fsync", no_space)
    got, messages = embed_warnings(clips, cache)
    monkeypatch.setattr(cache_module.os, "fsync", real_fsync)
    assert_array_equal(got, fresh)
    assert len(messages) == 1, messages
    assert str(folder) in messages[0] and "No space left on device" in messages[0]
    assert not temporaries(folder)
    count_spectral.clear()
    assert_array_equal(embed(clips, cache), fresh)
    assert sum(count_spectral) == 18  # nothing of the failed call was saved, and the cache works


# -- damaged shards ----------------------------------------------------------------


def damage(path, how):
    if how == "deleted":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "bad-header":
        data[10:40] = b"x" * 30
    else:  # 400 random bytes in the data, after the 128-byte header
        noise = np.random.default_rng(0).bytes(min(400, len(data) - 128))
        data[128 : 128 + len(noise)] = noise
    path.write_bytes(bytes(data))


DAMAGES = ("truncated", "random-bytes", "bad-header")


@pytest.mark.parametrize("part, how", [
    *((part, how) for part in ("emb", "keys") for how in DAMAGES), ("emb", "deleted"),
])
def test_damaged_shard_is_named_ignored_and_recomputed(tmp_path, count_spectral, part, how):
    clips = make_clips(12)
    fresh = embed(clips)
    cache = tmp_path / "cache"
    embed(clips, cache)
    folder = store_folder(cache)
    (shard,) = shard_ids(folder)
    damage(folder / f"{shard}.{part}.npy", how)

    count_spectral.clear()
    got, messages = embed_warnings(clips, cache)
    assert_array_equal(got, fresh)  # never a wrong row
    assert sum(count_spectral) == 12
    assert len(messages) == 1, messages
    assert str(folder / shard) in messages[0] and "damaged" in messages[0]

    # set aside, its rows saved to a new shard: the next call is quiet and computes nothing
    count_spectral.clear()
    got, messages = embed_warnings(clips, cache)
    assert_array_equal(got, fresh)
    assert count_spectral == [] and messages == []
    assert shard not in shard_ids(folder)
    assert (folder / f"{shard}.keys.npy.damaged").exists()


def test_shard_checksum_is_the_sha256_of_its_two_files(tmp_path):
    """The documented format: ``cat <id>.keys.npy <id>.emb.npy | sha256sum``."""
    embed(make_clips(3), tmp_path)
    folder = store_folder(tmp_path)
    (shard,) = shard_ids(folder)
    random_part, checksum = shard.split("-")
    assert len(random_part) == 32 and len(checksum) == 16
    data = (folder / f"{shard}.keys.npy").read_bytes() + (folder / f"{shard}.emb.npy").read_bytes()
    assert hashlib.sha256(data).hexdigest()[:16] == checksum
    assert np.load(folder / f"{shard}.emb.npy", allow_pickle=False).shape == (3, 80)


def write_old_shard(folder, keys, rows):
    """A shard as skaloe wrote it before checksums: a bare 32-digit id, np.save'd."""
    shard = uuid.uuid4().hex
    np.save(folder / f"{shard}.emb.npy", np.asarray(rows, dtype=np.float32))
    np.save(folder / f"{shard}.keys.npy",
            np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 16))
    return shard


def test_old_shards_are_read_checked_for_structure_and_rewritten_by_a_merge(
        tmp_path, count_spectral):
    clips = make_clips(9)
    fresh = embed(clips)
    cache = tmp_path / "cache"
    embed(clips[:1], cache)
    folder = store_folder(cache)
    for shard in shard_ids(folder):
        for suffix in (".keys.npy", ".emb.npy"):
            (folder / f"{shard}{suffix}").unlink()
    keys = [clip_key(clip, i, SR) for i, clip in enumerate(clips)]
    write_old_shard(folder, keys[:3], fresh[:3])
    with_nan = fresh[3:6].copy()
    with_nan[1, 5] = np.nan  # a row an older skaloe saved
    nan_shard = write_old_shard(folder, keys[3:6], with_nan)
    truncated = write_old_shard(folder, keys[6:8], fresh[6:8])
    damage(folder / f"{truncated}.emb.npy", "truncated")
    bad_header = write_old_shard(folder, keys[8:], fresh[8:])
    damage(folder / f"{bad_header}.keys.npy", "bad-header")

    count_spectral.clear()
    got, messages = embed_warnings(clips, cache)
    assert_array_equal(got, fresh)
    assert sum(count_spectral) == 4  # the NaN row and the damaged shards' three rows
    assert len(messages) == 3, messages
    assert any(nan_shard in m and "NaN" in m for m in messages)
    assert any(truncated in m and "damaged" in m for m in messages)
    assert any(bad_header in m and "damaged" in m for m in messages)

    identity = EncoderTransformer("mfcc").fit(clips).encoder_.identity
    store = cache_module.EmbeddingStore(cache, identity)
    with pytest.warns(UserWarning, match=f"{nan_shard}.*NaN"):
        store.merge()  # which drops the NaN row
    (merged,) = shard_ids(folder)
    assert "-" in merged  # with a checksum now
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found, rows = store.lookup(keys)
    assert found.all()
    assert_array_equal(rows, fresh)


# -- NaN rows ------------------------------------------------------------------


def test_store_never_saves_rows_with_nan_or_infinite_values(tmp_path):
    store = cache_module.EmbeddingStore(tmp_path, {"name": "probe"})
    keys = [bytes([i]) * 16 for i in range(5)]
    rows = np.random.default_rng(0).standard_normal((5, 3))
    rows[1, 2] = np.nan
    rows[3, 0] = 1e300  # finite in float64, infinite as float32
    names = ["X[0]", "'b.wav' (X[1])", "X[2]", "X[3]", "X[4]"]
    with pytest.warns(UserWarning, match=r"2 embeddings with NaN or infinite values were not "
                      r"saved to the cache .*probe-.*: 'b\.wav' \(X\[1\]\), X\[3\]"):
        store.add(keys, rows, names)
    found, got = store.lookup(keys)
    assert found.tolist() == [True, False, True, False, True]
    assert_array_equal(got, rows[[0, 2, 4]].astype(np.float32))

    with pytest.warns(UserWarning, match=r"1 embeddings .* not saved .*: row 0"):
        store.add([b"\xff" * 16], [[np.inf, 0.0, 0.0]])
    assert len(store._shards()) == 1


# -- leftovers of killed writers ----------------------------------------------------

HANGING_WRITER = """
import os, sys, time
import numpy as np
from skaloe import EncoderTransformer


def hang_before_renaming(src, dst):
    print("written", flush=True)
    time.sleep(600)


os.replace = hang_before_renaming
EncoderTransformer("mfcc", memory=sys.argv[1]).fit_transform(np.full((1, 900), 0.25, np.float32))
"""


def test_temporary_files_of_a_killed_writer_are_removed_and_a_live_ones_kept(tmp_path):
    cache = tmp_path / "cache"
    embed(make_clips(1), cache)
    folder = store_folder(cache)
    writer = python_process(HANGING_WRITER, cache, stdout=subprocess.PIPE)
    try:
        assert writer.stdout.readline() == "written\n"  # its temporary files are in place
        left = temporaries(folder)
        assert left
        embed(make_clips(3, seed=1), cache)  # another writer keeps the live writer's files
        assert set(left) <= set(temporaries(folder))
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    embed(make_clips(3, seed=2), cache)  # the next writer removes the dead writer's files
    assert temporaries(folder) == []


def test_stale_leftovers_go_after_an_hour_and_recent_ones_stay(tmp_path):
    """Files whose writer cannot be checked (another machine, an older skaloe)."""
    clips = make_clips(4)
    fresh = embed(clips)
    cache = tmp_path / "cache"
    embed(clips[:1], cache)
    folder = store_folder(cache)
    now = time.time()
    ages = {
        f".tmp-{uuid.uuid4().hex}-a.emb.npy": 2 * HOUR,  # an older skaloe's name
        f".tmp-{uuid.uuid4().hex}-b.emb.npy": 300,
        ".tmp-ffffffffffff-123-0123456789abcdef.keys.npy": 2 * HOUR,  # another machine
        ".tmp-ffffffffffff-123-fedcba9876543210.keys.npy": 300,
        f"{uuid.uuid4().hex}-0123456789abcdef.emb.npy": 2 * HOUR,  # keys never renamed
        f"{uuid.uuid4().hex}-fedcba9876543210.emb.npy": 300,
    }
    for name, age in ages.items():
        (folder / name).write_bytes(b"\x93NUMPY leftover")
        os.utime(folder / name, (now - age, now - age))
    assert_array_equal(embed(clips, cache), fresh)  # a write, which cleans up
    assert {p.name for p in folder.iterdir()} >= {n for n, age in ages.items() if age < HOUR}
    assert not {p.name for p in folder.iterdir()} & {n for n, age in ages.items() if age > HOUR}


KILLED_WRITER = """
import sys, time
import numpy as np
import skaloe.encoders._cache as cache_module
import skaloe.encoders._transformer as transformer_module
from skaloe import EncoderTransformer

cache, pool_file, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
transformer_module._CHUNK = 2  # a shard every two clips...
cache_module.MAX_SHARDS = 3  # ...and a merge every few shards
with np.load(pool_file) as data:
    pool = [data[f"arr_{i}"] for i in range(len(data.files))]
rng = np.random.default_rng(seed)
encoder = EncoderTransformer("mfcc", memory=cache)
EncoderTransformer("mfcc").fit_transform(pool[:1])  # warm up outside the cache
print("ready", flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:  # bounded; killed long before
    encoder.fit_transform([pool[i] for i in rng.choice(len(pool), 6, replace=False)])
"""


def test_writers_killed_at_random_points_leave_only_correct_rows(tmp_path, count_spectral):
    rng = np.random.default_rng(12)
    pool = make_clips(1500, seed=3, n_samples=480)
    np.savez(tmp_path / "pool.npz", *pool)
    cache = tmp_path / "cache"

    def start(seed):
        with open(tmp_path / f"writer-{seed}.err", "w") as err:
            return python_process(KILLED_WRITER, cache, tmp_path / "pool.npz", seed,
                                  stdout=subprocess.PIPE, stderr=err)

    def errors_of(writer):
        return (tmp_path / f"writer-{writer.args[-1]}.err").read_text()

    writers = [start(seed) for seed in range(3)]
    try:
        for kill in range(6):  # each writer in turn, once it works, after a random time
            writer = writers[kill % 3]
            assert writer.stdout.readline() == "ready\n", errors_of(writer)
            time.sleep(rng.uniform(0.1, 0.8))
            assert writer.poll() is None, errors_of(writer)  # it was still working
            writer.kill()  # SIGKILL, wherever it is
            writer.wait()
            writer.stdout.close()
            if kill < 3:  # its successor is killed in the second round
                writers[kill % 3] = start(3 + kill)
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
            writer.stdout.close()

    folder = store_folder(cache)
    assert not list(folder.glob("*.damaged"))
    where = {clip_key(clip, i, SR): i for i, clip in enumerate(pool)}
    stored_keys, stored_rows = [], []
    for shard in shard_ids(folder):  # every row on disk, read directly
        stored_keys += [k.tobytes() for k in np.load(folder / f"{shard}.keys.npy")]
        stored_rows.append(np.load(folder / f"{shard}.emb.npy"))
    positions = [where[k] for k in stored_keys]
    assert len(set(positions)) > 50  # the writers did get some work done
    assert_array_equal(np.concatenate(stored_rows), embed([pool[i] for i in positions]))

    fresh = embed(pool)
    count_spectral.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no damaged shard, no failed write
        assert_array_equal(embed([*pool, *make_clips(1, seed=99)], cache)[:-1], fresh)
    assert sum(count_spectral) == len(pool) + 1 - len(set(positions))
    assert temporaries(folder) == []  # removed by the write: their writers are gone
    now = time.time()
    for path in folder.glob("[!.]*.emb.npy"):  # any orphan is removed once an hour old
        os.utime(path, (now - 2 * HOUR, now - 2 * HOUR))
    embed(make_clips(1, seed=98), cache)
    assert {p.name[: -len(".emb.npy")] for p in folder.glob("*.emb.npy")} == set(shard_ids(folder))


# -- lookups racing merges -----------------------------------------------------------


def race_merges(monkeypatch, location, identity, times, dim):
    """After each of the next ``times`` listings of the shards, another store
    (another process) adds a shard and merges every shard away."""
    listing = cache_module.EmbeddingStore._shards
    other = cache_module.EmbeddingStore(location, identity)
    rng = np.random.default_rng(7)
    left = [times]

    def list_then_merge(store):
        names = listing(store)
        if store is not other and left[0] > 0:
            left[0] -= 1
            other.add([rng.bytes(16)], rng.standard_normal((1, dim)))
            other.merge()
        return names

    monkeypatch.setattr(cache_module.EmbeddingStore, "_shards", list_then_merge)
    return left


def test_lookup_survives_merges_between_listing_and_reading(tmp_path, monkeypatch):
    identity = {"name": "probe"}
    store = cache_module.EmbeddingStore(tmp_path, identity)
    rng = np.random.default_rng(0)
    keys = [rng.bytes(16) for _ in range(30)]
    rows = rng.standard_normal((30, 4)).astype(np.float32)
    for start in range(0, 30, 10):
        store.add(keys[start : start + 10], rows[start : start + 10])
    left = race_merges(monkeypatch, tmp_path, identity, times=8, dim=4)
    found, got = store.lookup(keys)
    assert left == [0]  # eight merges did remove the shards just listed
    assert found.all()
    assert_array_equal(got, rows)


def test_transform_survives_merges_racing_every_lookup(tmp_path, monkeypatch):
    clips = make_clips(10)
    fresh = embed(clips)
    cache = tmp_path / "cache"
    embed(clips[:5], cache)
    identity = EncoderTransformer("mfcc").fit(clips).encoder_.identity
    race_merges(monkeypatch, cache, identity, times=10**6, dim=fresh.shape[1])
    assert_array_equal(embed(clips, cache), fresh)  # rows it could not read are computed
