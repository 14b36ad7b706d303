"""Embedding on a Dask cluster into an on-disk store, and active learning on that store."""

import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections import Counter

import numpy as np
import pytest

from ci_support import require

distributed = require("distributed")

import soundfile as sf  # noqa: E402

from skaloe import ActiveLearner, EncoderTransformer  # noqa: E402
from skaloe.distributed import (  # noqa: E402
    ShardError,
    embed_distributed,
    open_store,
    store_info,
)
from skaloe.distributed import _store  # noqa: E402


class LazyProjection:
    """A callable encoder that loads its "weights" on first use, like a real model.

    Each load leaves a file named after the process in ``log_dir``. The weights
    are never pickled, so every copy a worker unpickles would load them again
    if the worker did not keep the first one.
    """

    def __init__(self, log_dir, dim=6):
        self.log_dir = log_dir
        self.dim = dim
        self._weights = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_weights"] = None
        return state

    def __call__(self, x):
        if self._weights is None:
            name = f"{os.getpid()}-{uuid.uuid4().hex}.load"
            with open(os.path.join(self.log_dir, name), "w"):
                pass
            rng = np.random.default_rng(0)
            self._weights = rng.standard_normal((400, self.dim)).astype(np.float32)
        n_frames = len(x) // 400
        return x[: n_frames * 400].reshape(n_frames, 400) @ self._weights


def _loads_per_process(log_dir):
    return Counter(int(name.split("-")[0]) for name in os.listdir(log_dir))


def _write_clip(path, i):
    rate = (16000, 22050, 8000)[i % 3]
    n = rate // 10 + 173 * i  # 0.1 s and up, every clip of another length
    t = np.arange(n) / rate
    wave = 0.3 * np.sin(2 * np.pi * (150 + 37 * i) * t) + 0.01 * np.cos(t * 9000.0)
    sf.write(path, wave.astype(np.float32), rate)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    paths = []
    for i in range(30):
        path = os.fspath(folder / f"clip{i:02d}.wav")
        _write_clip(path, i)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def mfcc_reference(clips):
    return EncoderTransformer("mfcc").fit_transform(clips)


def test_default_encoder_is_the_embedded_network(client, clips, tmp_path):
    X = embed_distributed(clips[:12], tmp_path / "store", client=client, shard_size=5)
    info = store_info(tmp_path / "store")
    assert info["model"] == "ge2e" and info["dim"] == 1536
    # Shards batch other clips together than one call does: the same embeddings.
    np.testing.assert_array_equal(X, EncoderTransformer().fit_transform(clips[:12]))


@pytest.mark.parametrize("write_on", ["workers", "client"])
def test_embeddings_equal_encoder_transformer(client, clips, mfcc_reference, tmp_path, write_on):
    store = tmp_path / "store"
    X = embed_distributed(clips, store, model="mfcc", client=client, shard_size=7, write_on=write_on)
    assert isinstance(X, np.memmap) and not X.flags.writeable
    assert X.dtype == np.float32 and X.shape == mfcc_reference.shape
    np.testing.assert_array_equal(X, mfcc_reference)
    np.testing.assert_array_equal(open_store(store), mfcc_reference)
    info = store_info(store)
    assert info["complete"] and info["shards_done"] == info["n_shards"] == 5
    assert info["paths"] == clips and info["model"] == "mfcc" and info["dim"] == 80
    # The shards were spread over the workers (or written by the client).
    writers = {
        json.loads(p.read_text())["worker"] for p in (store / "shards").glob("*.json")
    }
    if write_on == "client":
        assert writers == {"client"}
    else:
        assert writers <= set(client.scheduler_info()["workers"])


def test_default_client_and_options(client, clips, tmp_path):
    # client=None takes the running default client; encoder options pass through.
    X = embed_distributed(clips, tmp_path / "s", model="logmel", pooling="mean", shard_size=64)
    reference = EncoderTransformer("logmel", pooling="mean").fit_transform(clips)
    np.testing.assert_array_equal(X, reference)
    assert store_info(tmp_path / "s")["n_shards"] == 1


def test_model_loaded_once_per_worker(client, clips, tmp_path):
    log_dir = tmp_path / "loads"
    log_dir.mkdir()
    model = LazyProjection(os.fspath(log_dir))
    store = tmp_path / "store"
    # The dimension of a callable is unknown up front: a worker probes it.
    X = embed_distributed(clips, store, model=model, client=client, shard_size=3)
    # A second run (new task payloads, new unpickled copies) reuses the loaded model.
    X = embed_distributed(clips, store, model=model, client=client, shard_size=3, overwrite=True)
    loads = _loads_per_process(log_dir)
    worker_pids = set(client.run(os.getpid).values())
    assert set(loads) <= worker_pids and os.getpid() not in loads
    assert all(count == 1 for count in loads.values()), loads
    assert store_info(store)["n_shards"] == 10  # so both workers had several shards

    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    reference = EncoderTransformer(LazyProjection(os.fspath(reference_dir))).fit_transform(clips)
    assert X.shape == (len(clips), 6)
    np.testing.assert_array_equal(X, reference)


def test_bad_file_is_named_and_the_run_resumes(client, clips, mfcc_reference, tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    paths = []
    for i in range(len(clips)):
        path = os.fspath(folder / f"c{i:02d}.wav")
        _write_clip(path, i)
        paths.append(path)
    bad = paths[17]
    with open(bad, "wb") as f:
        f.write(b"this is no audio")
    store = tmp_path / "store"
    with pytest.raises(ShardError, match=re.escape(bad)) as excinfo:
        embed_distributed(paths, store, model="mfcc", client=client, shard_size=5)
    assert "Shard 3 (paths[15:20])" in str(excinfo.value)
    info = store_info(store)
    assert not info["complete"] and info["shards_done"] < 6
    with pytest.raises(ValueError, match="incomplete.*shards 3"):
        open_store(store)
    partial = open_store(store, allow_incomplete=True)
    assert partial.shape == (30, 80)

    _write_clip(bad, 17)  # the file is repaired: run again, same arguments
    X = embed_distributed(paths, store, model="mfcc", client=client, shard_size=5)
    np.testing.assert_array_equal(X, mfcc_reference)


def test_stored_shards_are_skipped(client, clips, mfcc_reference, tmp_path):
    store = tmp_path / "store"
    embed_distributed(clips, store, model="mfcc", client=client, shard_size=8)
    data = np.load(store / "embeddings.npy", mmap_mode="r+")
    data[:8] = 7.0  # shard 0: marked as stored, so a re-run must leave it alone
    data[8:16] = 0.0  # shard 1: its marker is removed, as if a worker died mid-shard
    data.flush()
    del data
    os.remove(store / "shards" / "00001.json")
    X = embed_distributed(clips, store, model="mfcc", client=client, shard_size=8)
    assert (X[:8] == 7.0).all()
    np.testing.assert_array_equal(X[8:], mfcc_reference[8:])
    X = embed_distributed(clips, store, model="mfcc", client=client, shard_size=8, overwrite=True)
    np.testing.assert_array_equal(X, mfcc_reference)


def test_resume_refuses_another_run(client, clips, tmp_path):
    store = tmp_path / "store"
    embed_distributed(clips, store, model="mfcc", client=client, shard_size=10)
    with pytest.raises(ValueError, match="model 'mfcc'.*not of 'logmel'.*overwrite=True"):
        embed_distributed(clips, store, model="logmel", client=client, shard_size=10)
    with pytest.raises(ValueError, match=r"other files \(paths\[0\]"):
        embed_distributed(clips[::-1], store, model="mfcc", client=client, shard_size=10)
    with pytest.raises(ValueError, match="other files .*30 files, not 31"):
        embed_distributed(clips + [clips[0]], store, model="mfcc", client=client, shard_size=10)
    with pytest.raises(ValueError, match="shard_size=10, not 4"):
        embed_distributed(clips, store, model="mfcc", client=client, shard_size=4)
    X = embed_distributed(clips[:5], store, model="logmel", client=client, overwrite=True)
    assert X.shape == (5, 128)


def test_input_errors(client, clips, tmp_path):
    with pytest.raises(ValueError, match="single path"):
        embed_distributed(clips[0], tmp_path / "s", client=client)
    with pytest.raises(TypeError, match=r"paths\[1\] is a ndarray"):
        embed_distributed([clips[0], np.zeros(100)], tmp_path / "s", client=client)
    with pytest.raises(ValueError, match="paths is empty"):
        embed_distributed([], tmp_path / "s", client=client)
    with pytest.raises(ValueError, match="shard_size must be a positive integer, got 0"):
        embed_distributed(clips, tmp_path / "s", client=client, shard_size=0)
    with pytest.raises(ValueError, match="write_on must be one of"):
        embed_distributed(clips, tmp_path / "s", client=client, write_on="scheduler")
    with pytest.raises(ValueError, match="Unknown model 'nope'"):
        embed_distributed(clips, tmp_path / "s", model="nope", client=client)
    with pytest.raises(TypeError, match="client must be a dask.distributed.Client"):
        embed_distributed(clips, tmp_path / "s", client="tcp://127.0.0.1:8786")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds other files"):
        embed_distributed(clips, foreign, client=client)
    with pytest.raises(FileNotFoundError, match="No embedding store"):
        open_store(tmp_path / "missing")
    # What a worker says when the store is not on a filesystem it shares.
    target = {"folder": os.fspath(tmp_path / "elsewhere"), "dim": 4, "data_offset": 128,
              "n_rows": 1}
    with pytest.raises(FileNotFoundError, match="does not exist on this worker.*write_on='client'"):
        _store.check_writable(target)
    missing = clips[:3] + [os.fspath(tmp_path / "gone.wav")]
    with pytest.raises(ShardError, match=re.escape(repr(missing[3])) + r".*X\[3\]"):
        embed_distributed(missing, tmp_path / "s2", client=client)


def _blob_store(folder, n, dim, n_classes, seed=0, shard_size=20_000):
    """A finished store of Gaussian blobs, written shard by shard (never whole in memory)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(n_classes, dim))
    labels = rng.integers(n_classes, size=n)
    manifest = _store.create_store(
        folder, [f"clip{i}.wav" for i in range(n)], dim, shard_size, "blobs", None, {}
    )
    target = {"folder": os.fspath(folder)}
    target.update({k: manifest[k] for k in ("dim", "data_offset", "n_rows")})
    for shard, (start, stop) in enumerate(_store.shard_bounds(n, shard_size)):
        rows = centers[labels[start:stop]] + rng.normal(size=(stop - start, dim))
        _store.write_shard(target, shard, start, rows.astype(np.float32))
    return labels


def _seed_labels(labels, per_class=3):
    y = np.full(len(labels), -1)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)[:per_class]
        y[where] = labels[where]
    return y


def test_learner_on_store_queries_like_in_memory(tmp_path):
    labels = _blob_store(tmp_path / "store", 3000, 16, 5, shard_size=700)
    X = open_store(tmp_path / "store")
    X_mem = np.array(X)
    y = _seed_labels(labels)
    for pool in (X, X_mem):
        assert isinstance(pool, np.ndarray)
    # Cold start (k-means), then labeled rounds scored in chunks of 256 rows.
    cold = [ActiveLearner(chunk_size=256, random_state=0).fit(p).query(5) for p in (X, X_mem)]
    np.testing.assert_array_equal(*cold)
    runs = []
    for pool in (X, X_mem):
        learner = ActiveLearner(chunk_size=256, random_state=0).fit(pool, y)
        picked = [learner.query(5)]
        learner.teach(picked[-1], labels[picked[-1]])
        picked.append(learner.query(5))
        runs.append((np.concatenate(picked), learner.predict_proba(pool[:50])))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_allclose(runs[0][1], runs[1][1])


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, os, resource, sys, threading, time
    import numpy as np
    from skaloe import ActiveLearner
    from skaloe.distributed import open_store

    store, labels_file = sys.argv[1], sys.argv[2]
    rounds_mb, cold_mb = float(sys.argv[3]), float(sys.argv[4])
    labels = np.load(labels_file)

    def status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(key)

    peak = [0]
    def sample():
        while True:
            peak[0] = max(peak[0], status("RssAnon"))
            time.sleep(0.002)
    threading.Thread(target=sample, daemon=True).start()

    # Warm up: the first fit and query allocate sklearn's and BLAS's buffers.
    rng = np.random.default_rng(0)
    small = rng.normal(size=(500, 8)).astype(np.float32)
    warm = ActiveLearner(random_state=0).fit(small)
    warm.query(3)
    warm.teach(np.arange(6), np.arange(6) % 3)
    warm.query(3)
    y = np.full(len(labels), -1)
    for c in np.unique(labels):
        y[np.flatnonzero(labels == c)[:3]] = c
    time.sleep(0.05)

    base_data = status("VmData")
    report = {}

    def limited(phase, budget_mb, run):
        # Private memory beyond the budget raises MemoryError; a read-only memory
        # map of the pool does not count against this limit (RLIMIT_DATA).
        limit = base_data + int(budget_mb * 2**20)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.RLIM_INFINITY))
        time.sleep(0.02)
        base_anon = status("RssAnon")
        peak[0] = 0
        result = run()
        time.sleep(0.02)
        report[phase] = {"picks": result.tolist(), "peak_anon_mb": (peak[0] - base_anon) / 2**20}
        resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY,) * 2)

    X = open_store(store)

    def rounds():
        learner = ActiveLearner(chunk_size=4096, random_state=0).fit(X, y)
        first = learner.query(10)
        learner.teach(first, labels[first])
        return np.concatenate([first, learner.query(10)])

    limited("rounds", rounds_mb, rounds)
    # The k-means cold start copies at most 20k candidate rows (as float64).
    limited("cold", cold_mb, lambda: ActiveLearner(random_state=0).fit(X).query(10))
    report["vmhwm_mb"] = status("VmHWM") / 2**20
    print(json.dumps(report))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and RLIMIT_DATA")
def test_learner_reads_a_larger_than_allowed_store_chunk_by_chunk(tmp_path):
    # A 92 MB pool; the learner may use 24 MB of private memory for labeled rounds
    # and 56 MB for the k-means cold start (whose copy is capped at 20k rows).
    n, dim, n_classes = 250_000, 96, 12
    labels = _blob_store(tmp_path / "store", n, dim, n_classes)
    np.save(tmp_path / "labels.npy", labels)
    script = tmp_path / "learn.py"
    script.write_text(_MEMORY_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, os.fspath(script), os.fspath(tmp_path / "store"),
         os.fspath(tmp_path / "labels.npy"), "24", "56"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    pool_mb = n * dim * 4 / 2**20
    assert report["rounds"]["peak_anon_mb"] < pool_mb / 4, report

    # Same picks as learners on the pool in memory.
    X = np.array(open_store(tmp_path / "store"))
    y = np.full(n, -1)
    for c in np.unique(labels):
        y[np.flatnonzero(labels == c)[:3]] = c
    learner = ActiveLearner(chunk_size=4096, random_state=0).fit(X, y)
    first = learner.query(10)
    learner.teach(first, labels[first])
    assert report["rounds"]["picks"] == np.concatenate([first, learner.query(10)]).tolist()
    cold = ActiveLearner(random_state=0).fit(X).query(10)
    assert report["cold"]["picks"] == cold.tolist()


def test_import_skaloe_does_not_import_dask():
    code = (
        "import sys, skaloe, skaloe.distributed; "
        "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
