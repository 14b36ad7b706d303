"""EncoderTransformer with TF-Hub models, offline.

Tiny stand-ins of the real models (``tests/savedmodels.py``) are placed in a
temporary ``TFHUB_CACHE_DIR`` under the real handles, so every model goes
through ``tensorflow_hub.load`` exactly as it would after a download. No test
downloads anything: tensorflow_hub's HTTP client is replaced by one that
fails the test, and tests of unreachable servers use local sockets or a
simulated DNS failure.
"""

import copy
import hashlib
import os
import pickle
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import tensorflow  # noqa: F401
# tensorflow_hub as skaloe imports it (without pkg_resources where setuptools has none)
from skaloe.encoders._tfhub import import_tensorflow  # noqa: E402

_, hub = import_tensorflow()

from sklearn.base import clone  # noqa: E402

from savedmodels import HANDLES, build_trillsson_like, place_in_tfhub_cache  # noqa: E402
from skaloe.encoders import EncoderTransformer, ModelUnavailableError  # noqa: E402
from skaloe.encoders import _tfhub  # noqa: E402
from skaloe.encoders._registry import MODEL_SPECS  # noqa: E402

LEGACY_TRILLSSON5 = "https://tfhub.dev/google/trillsson5/1"
CURRENT_TRILLSSON5 = "https://tfhub.dev/google/nonsemantic-speech-benchmark/trillsson5/1"

#: alias -> tiny model family
FAMILY = {
    "trillsson5": "trillsson",
    "trill": "trill",
    "trill-distilled": "trill-distilled",
    "frill": "frill",
    "yamnet": "yamnet",
    "vggish": "vggish",
}

#: Mixed lengths: 100 and 8000 samples are below FRILL's and VGGish's minimum,
#: two clips share a length (a TRILLsson batch).
LENGTHS = (100, 8000, 16000, 16000, 24000)

TOL = dict(rtol=1e-5, atol=1e-6)


def _audio(n_samples, seed=0):
    """A noisy tone in [-1, 1], float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / 16000.0
    x = 0.4 * np.sin(2 * np.pi * (200.0 + 50.0 * seed) * t)
    x = x + 0.1 * rng.standard_normal(n_samples)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def _clips(lengths=LENGTHS, seed=0):
    return [_audio(n, seed + i) for i, n in enumerate(lengths)]


def _sha1(handle):
    return hashlib.sha1(handle.encode("utf8")).hexdigest()


def _no_download(*args, **kwargs):
    raise AssertionError("tensorflow_hub tried to download a model")


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_loaded_models(monkeypatch):
    """Each test starts without models loaded by an earlier one."""
    monkeypatch.setattr(_tfhub, "_LOADED", {})


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty TF-Hub cache folder set as ``TFHUB_CACHE_DIR``; downloads fail the test."""
    cache_dir = tmp_path / "tfhub_cache"
    cache_dir.mkdir()
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache_dir))
    monkeypatch.delenv("TFHUB_MODEL_LOAD_FORMAT", raising=False)
    monkeypatch.setattr(hub.resolver.HttpResolverBase, "_call_urlopen", _no_download)
    return cache_dir


@pytest.fixture
def place(tiny_savedmodels, hub_cache):
    """``place(family, handle)`` puts the tiny model in the TF-Hub cache under ``handle``."""

    def place(family, handle=None):
        return place_in_tfhub_cache(
            tiny_savedmodels[family], hub_cache, handle or HANDLES[family]
        )

    return place


@pytest.fixture
def no_dns(monkeypatch):
    """Every host name fails to resolve, as on a machine without network."""

    def getaddrinfo(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def silent_server():
    """A server on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    stop = threading.Event()
    accepted = []

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (socket.timeout, OSError):
                continue
            accepted.append(conn)  # hold it open, never send a byte

    thread = threading.Thread(target=serve, name="silent-server", daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(5)
        server.close()
        for conn in accepted:
            conn.close()
        assert not thread.is_alive()


# --------------------------------------------------------------------------
# 1. Every alias resolves offline through tensorflow_hub
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alias, params, dim",
    [
        ("trillsson5", {}, 1024),
        ("trill", {}, 12288),
        ("trill", {"output_key": "embedding"}, 512),
        ("trill", {"output_key": "layer19"}, 12288),
        ("trill-distilled", {}, 2048),
        ("frill", {}, 2048),
        ("yamnet", {}, 1024),
        ("vggish", {}, 128),
    ],
)
def test_alias_loads_from_tfhub_cache(place, alias, params, dim):
    handle = MODEL_SPECS[alias].handles[0]
    place(FAMILY[alias], handle)
    clips = _clips()
    est = EncoderTransformer(alias, **params)
    X = est.fit_transform(clips)

    assert X.dtype == np.float32
    assert X.shape == (len(clips), dim)
    assert np.isfinite(X).all()
    assert not np.allclose(X[2], X[4])  # embeddings depend on the audio
    assert est.encoder_.name == alias
    assert est.encoder_.dim == dim
    assert est.get_feature_names_out().shape == (dim,)
    # Loaded once, through tensorflow_hub, under the alias's current handle.
    assert list(_tfhub._LOADED) == [handle]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_trillsson_aliases_use_their_own_handle(place, n):
    handle = f"https://tfhub.dev/google/nonsemantic-speech-benchmark/trillsson{n}/1"
    assert MODEL_SPECS[f"trillsson{n}"].handles[0] == handle
    place("trillsson", handle)
    X = EncoderTransformer(f"trillsson{n}").fit_transform(_clips((16000, 24000)))
    assert X.shape == (2, 1024) and X.dtype == np.float32
    assert list(_tfhub._LOADED) == [handle]


def test_alias_embeddings_are_the_models_own(place, tiny_savedmodels):
    """The alias calls each model as documented and mean-pools its frames."""
    import tensorflow as tf

    clips = _clips()
    for alias, family in FAMILY.items():
        place(family, MODEL_SPECS[alias].handles[0])
    models = {f: tf.saved_model.load(tiny_savedmodels[f]) for f in set(FAMILY.values())}

    X = EncoderTransformer("trillsson5").fit_transform(clips)
    for x, row in zip(clips, X):
        assert_allclose(row, models["trillsson"](x[None])["embedding"][0], **TOL)

    X = EncoderTransformer("trill").fit_transform(clips)
    for x, row in zip(clips, X):
        frames = models["trill"](samples=x, sample_rate=16000)["layer19"].numpy()
        assert_allclose(row, frames.mean(axis=0), **TOL)

    X = EncoderTransformer("yamnet").fit_transform(clips)
    for x, row in zip(clips, X):
        assert_allclose(row, models["yamnet"](x)[1].numpy().mean(axis=0), **TOL)

    # VGGish gives no frame below 15600 samples: clips are mirror-padded to it.
    X = EncoderTransformer("vggish").fit_transform(clips)
    for x, row in zip(clips, X):
        padded = np.pad(x, (0, max(0, 15600 - len(x))), mode="symmetric")
        assert_allclose(row, models["vggish"](padded).numpy().mean(axis=0), **TOL)


# --------------------------------------------------------------------------
# 2. Legacy and Kaggle handle forms
# --------------------------------------------------------------------------


def test_legacy_trillsson_handle(place):
    place("trillsson", LEGACY_TRILLSSON5)  # only the legacy form is cached
    clips = _clips()

    legacy = EncoderTransformer(LEGACY_TRILLSSON5).fit(clips)
    assert legacy.encoder_.name == "trillsson5"
    assert legacy.encoder_.call == "batch"
    assert legacy.encoder_.dim == 1024
    X_legacy = legacy.transform(clips)

    # The alias finds the model cached under the legacy handle.
    X_alias = EncoderTransformer("trillsson5").fit_transform(clips)
    assert_array_equal(X_alias, X_legacy)
    assert list(_tfhub._LOADED) == [LEGACY_TRILLSSON5]
    assert X_alias.shape == (len(clips), 1024)


@pytest.mark.parametrize(
    "handle, alias",
    [
        (LEGACY_TRILLSSON5, "trillsson5"),
        ("https://tfhub.dev/google/trillsson2/1/", "trillsson2"),
        ("HTTPS://TFHub.dev/google/nonsemantic-speech-benchmark/trillsson4/1", "trillsson4"),
        ("https://www.kaggle.com/models/google/trillsson/TensorFlow2/5/1", "trillsson5"),
        ("https://kaggle.com/models/google/trillsson/TensorFlow2/3/1", "trillsson3"),
        ("https://www.kaggle.com/models/google/yamnet/TensorFlow2/yamnet/1", "yamnet"),
        ("https://www.kaggle.com/models/google/vggish/TensorFlow2/vggish/1", "vggish"),
        (
            "https://kaggle.com/models/google/nonsemantic-speech-benchmark/frameworks/"
            "TensorFlow2/variations/frill/versions/1",
            "frill",
        ),
        ("https://tfhub.dev/google/yamnet/1?tf-hub-format=compressed", "yamnet"),
        ("google/trillsson/tensorFlow2/5", "trillsson5"),
        ("google/nonsemantic-speech-benchmark/tensorFlow2/trill", "trill"),
    ],
)
def test_handle_forms_are_recognised(hub_cache, handle, alias):
    info = EncoderTransformer(handle).fit(_clips((16000,))).encoder_
    expected = EncoderTransformer(alias).fit(_clips((16000,))).encoder_
    assert info.name == alias
    for attr in ("kind", "call", "output_key", "pooling", "min_length", "dim"):
        assert getattr(info, attr) == getattr(expected, attr), attr
    assert info.identity == expected.identity  # hence the same embedding cache
    assert _tfhub._LOADED == {}  # fit loads nothing


def test_alias_loads_model_cached_under_kaggle_url(place):
    kaggle = "https://www.kaggle.com/models/google/yamnet/TensorFlow2/yamnet/1"
    place("yamnet", kaggle)
    X = EncoderTransformer("yamnet").fit_transform(_clips())
    assert X.shape == (len(LENGTHS), 1024)
    assert list(_tfhub._LOADED) == [kaggle]


# --------------------------------------------------------------------------
# 3. Local SavedModel folders
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "family, alias, call, params",
    [
        ("trillsson", "trillsson5", "batch", {}),
        ("trill", "trill", "keywords", {"output_key": "layer19"}),
        ("trill-distilled", "trill-distilled", "keywords", {}),
        ("frill", "frill", "batch-of-one", {"min_length": 15360}),
        ("yamnet", "yamnet", "waveform", {"output_key": 1}),
        ("vggish", "vggish", "waveform", {"min_length": 15600}),
    ],
)
def test_local_savedmodel_folder(tiny_savedmodels, place, family, alias, call, params):
    path = tiny_savedmodels[family]
    clips = _clips()

    est = EncoderTransformer(path, **params).fit(clips)
    assert est.encoder_.kind == "savedmodel"
    assert est.encoder_.call == "auto"  # read from the signature at load
    assert est.encoder_.dim is None
    X = est.transform(clips)
    assert X.dtype == np.float32 and X.shape[0] == len(clips)
    assert _tfhub.infer_call_convention(_tfhub.load_model(path)) == call

    # Same embeddings as the alias, which knows the model's facts.
    place(family, MODEL_SPECS[alias].handles[0])
    X_alias = EncoderTransformer(alias).fit_transform(clips)
    assert_allclose(X, X_alias, **TOL)

    # An explicit call convention gives the same result.
    est = EncoderTransformer(path, call_convention=call, **params).fit(clips)
    assert est.encoder_.call == call
    assert_allclose(est.transform(clips), X, **TOL)


def test_local_trill_output_keys(tiny_savedmodels):
    path = tiny_savedmodels["trill"]
    clips = _clips((16000, 24000))
    # Without output_key a dict output's "embedding" is used.
    X_default = EncoderTransformer(path).fit_transform(clips)
    X_embedding = EncoderTransformer(path, output_key="embedding").fit_transform(clips)
    X_layer19 = EncoderTransformer(path, output_key="layer19").fit_transform(clips)
    assert X_default.shape == (2, 512)
    assert_array_equal(X_default, X_embedding)
    assert X_layer19.shape == (2, 12288)


def test_local_yamnet_without_output_key_says_which_position(tiny_savedmodels):
    est = EncoderTransformer(tiny_savedmodels["yamnet"]).fit(_clips())
    with pytest.raises(ValueError, match=r"tuple of 3 outputs.*output_key=1"):
        est.transform(_clips())


def test_local_vggish_short_clip_needs_min_length(tiny_savedmodels):
    path = tiny_savedmodels["vggish"]
    short = [_audio(8000)]  # 0.5 s: VGGish returns (0, 128)
    est = EncoderTransformer(path).fit(short)
    no_frames = r"returned no frames for X\[0\].*0.500 s.*[Ss]et min_length"
    with pytest.raises(ValueError, match=no_frames):
        est.transform(short)
    X = EncoderTransformer(path, min_length=15600).fit_transform(short)
    assert X.shape == (1, 128) and np.isfinite(X).all()


def test_local_frill_short_clip_names_the_clip(tiny_savedmodels, place):
    clips = [_audio(16000), _audio(100, 1), _audio(24000, 2)]
    est = EncoderTransformer(tiny_savedmodels["frill"]).fit(clips)
    with pytest.raises(ValueError, match=r"X\[1\]") as excinfo:
        est.transform(clips)
    message = str(excinfo.value)
    assert "100 samples" in message and "min_length" in message
    # The model's own reason is kept, not only TensorFlow's header line.
    assert "0.96 s" in message

    # The alias knows FRILL's minimum and pads.
    place("frill")
    X = EncoderTransformer("frill").fit_transform(clips)
    assert X.shape == (3, 2048) and np.isfinite(X).all()


def test_local_folder_wrong_call_convention(tiny_savedmodels):
    est = EncoderTransformer(tiny_savedmodels["trill"], call_convention="waveform")
    with pytest.raises(ValueError, match=r"X\[0\].*call_convention='waveform'"):
        est.fit_transform(_clips((16000,)))


# --------------------------------------------------------------------------
# 4. Batching never changes results
# --------------------------------------------------------------------------


@pytest.mark.parametrize("alias", sorted(FAMILY))
def test_batching_never_changes_results(place, alias):
    place(FAMILY[alias], MODEL_SPECS[alias].handles[0])
    clips = _clips()
    est = EncoderTransformer(alias).fit(clips)
    X = est.transform(clips)

    alone = np.vstack([est.transform([clip]) for clip in clips])
    assert_allclose(X, alone, **TOL)

    X_one = EncoderTransformer(alias, batch_size=1).fit_transform(clips)
    X_many = EncoderTransformer(alias, batch_size=32).fit_transform(clips)
    assert_allclose(X_one, X, **TOL)
    assert_array_equal(X_many, X)

    # Order of the clips does not matter either.
    assert_allclose(est.transform(clips[::-1])[::-1], X, **TOL)


def test_trillsson_clip_among_equal_length_clips(place):
    place("trillsson")
    clips = [_audio(24000, seed) for seed in range(6)]
    X = EncoderTransformer("trillsson5").fit_transform(clips)
    X_small_batches = EncoderTransformer("trillsson5", batch_size=4).fit_transform(clips)
    assert_allclose(X_small_batches, X, **TOL)
    for i in (0, 3, 5):
        alone = EncoderTransformer("trillsson5").fit_transform([clips[i]])
        assert_allclose(alone[0], X[i], **TOL)
    # The same clip among clips of other lengths.
    mixed = [_audio(8000, 9), clips[3], _audio(40000, 8)]
    assert_allclose(EncoderTransformer("trillsson5").fit_transform(mixed)[1], X[3], **TOL)


# --------------------------------------------------------------------------
# 5. Outputs that do not match the declared model
# --------------------------------------------------------------------------


def test_wrong_model_under_trillsson_handle(place):
    place("yamnet", CURRENT_TRILLSSON5)
    est = EncoderTransformer("trillsson5").fit(_clips())
    with pytest.raises(ValueError, match=r"call_convention='batch'.*set call_convention"):
        est.transform(_clips())


def test_wrong_dimension_under_trillsson_handle(hub_cache, tmp_path):
    path = build_trillsson_like(tmp_path / "trillsson256", dim=256)
    place_in_tfhub_cache(path, hub_cache, CURRENT_TRILLSSON5)
    est = EncoderTransformer("trillsson5").fit(_clips())
    with pytest.raises(ValueError, match=r"256-d embeddings, but 1024 were expected"):
        est.transform(_clips())


def test_wrong_model_under_yamnet_handle(place):
    place("trill", HANDLES["yamnet"])  # needs sample_rate=, gets a bare waveform
    with pytest.raises(ValueError, match=r"X\[0\].*call_convention='waveform'"):
        EncoderTransformer("yamnet").fit_transform(_clips())


def test_output_key_missing_from_dict_lists_the_outputs(tiny_savedmodels):
    est = EncoderTransformer(tiny_savedmodels["trill"], output_key="foo").fit(_clips())
    with pytest.raises(ValueError, match=r"outputs \[.*'layer19'.*\], without 'foo'") as excinfo:
        est.transform(_clips())
    assert "'embedding'" in str(excinfo.value)


def test_unknown_output_key_of_alias_fails_at_fit(hub_cache):
    outputs = r"'foo' is not an output of trill.*'layer19', 'embedding'"
    with pytest.raises(ValueError, match=outputs):
        EncoderTransformer("trill", output_key="foo").fit(_clips())
    assert _tfhub._LOADED == {}


def test_pooling_of_trillsson_fails_at_fit(hub_cache):
    with pytest.raises(ValueError, match=r"pooling='max' does not apply"):
        EncoderTransformer("trillsson5", pooling="max").fit(_clips())
    # "mean" is accepted (the model averages over time itself).
    assert EncoderTransformer("trillsson5", pooling="mean").fit(_clips()).encoder_.pooling is None


# --------------------------------------------------------------------------
# 6. Unreachable handles fail fast
# --------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["https://tfhub.dev/google/yamnet/1", "yamnet"])
def test_unresolvable_host_fails_fast(hub_cache, no_dns, model):
    handle = "https://tfhub.dev/google/yamnet/1"
    est = EncoderTransformer(model).fit(_clips())
    start = time.monotonic()
    with pytest.raises(ModelUnavailableError) as excinfo:
        est.transform(_clips())
    assert time.monotonic() - start < 5
    message = str(excinfo.value)
    assert "TFHUB_CACHE_DIR" in message
    assert _sha1(handle) in message
    assert "tfhub.dev" in message and "model=" in message
    assert isinstance(excinfo.value, OSError)
    assert _tfhub._LOADED == {}


def test_unresolvable_host_real_dns(hub_cache):
    # ".invalid" never resolves (RFC 2606), with or without network.
    handle = "https://tfhub.invalid/google/yamnet/1"
    start = time.monotonic()
    with pytest.raises(ModelUnavailableError, match=_sha1(handle)):
        EncoderTransformer(handle, timeout=2).fit_transform(_clips())
    assert time.monotonic() - start < 20


def test_hanging_dns_respects_timeout(hub_cache, monkeypatch):
    release = threading.Event()

    def getaddrinfo(host, *args, **kwargs):  # a DNS server that never answers
        release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        start = time.monotonic()
        with pytest.raises(ModelUnavailableError, match="TFHUB_CACHE_DIR"):
            EncoderTransformer("https://tfhub.dev/google/yamnet/1", timeout=1).fit_transform(
                _clips()
            )
        assert time.monotonic() - start < 10
    finally:
        release.set()


def test_silent_server_times_out(tmp_path, monkeypatch, silent_server):
    # tensorflow_hub's real HTTP client talks to the local server (no hub_cache
    # fixture, which replaces that client).
    hub_cache = tmp_path / "tfhub_cache"
    hub_cache.mkdir()
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(hub_cache))
    monkeypatch.delenv("TFHUB_MODEL_LOAD_FORMAT", raising=False)
    port, accepted = silent_server
    handle = f"http://127.0.0.1:{port}/models/x/1"
    default_timeout = socket.getdefaulttimeout()

    start = time.monotonic()
    with pytest.raises(ModelUnavailableError) as excinfo:
        EncoderTransformer(handle, timeout=1).fit_transform(_clips())
    elapsed = time.monotonic() - start

    assert elapsed < 20, f"took {elapsed:.1f} s"
    assert accepted  # the request did reach the server
    assert _sha1(handle) in str(excinfo.value)
    assert socket.getdefaulttimeout() == default_timeout  # restored
    # tensorflow_hub left no model folder behind that would look like a stale cache.
    assert not (hub_cache / _sha1(handle)).exists()


def test_refused_connection_fails_fast(hub_cache):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    start = time.monotonic()
    with pytest.raises(ModelUnavailableError, match="not reachable"):
        EncoderTransformer(f"http://127.0.0.1:{port}/models/x/1", timeout=2).fit_transform(
            _clips()
        )
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("model", ["yamnet", "https://tfhub.dev/google/yamnet/1"])
def test_stale_cache_folder(hub_cache, no_dns, model):
    folder = hub_cache / _sha1("https://tfhub.dev/google/yamnet/1")
    (folder / "variables").mkdir(parents=True)  # saved_model.pb cleaned away
    with pytest.raises(ModelUnavailableError, match="Delete that folder") as excinfo:
        EncoderTransformer(model).fit_transform(_clips())
    assert str(folder) in str(excinfo.value)


# --------------------------------------------------------------------------
# 7. Kaggle model ids
# --------------------------------------------------------------------------


def test_kaggle_id_without_kagglehub(hub_cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # as if not installed
    est = EncoderTransformer("google/trillsson/tensorFlow2/5").fit(_clips())
    assert est.encoder_.name == "trillsson5" and est.encoder_.dim == 1024
    with pytest.raises(ImportError, match=r"skaloe\[kaggle\]"):
        est.transform(_clips())


# --------------------------------------------------------------------------
# 8. Clones and pickles carry no TensorFlow object
# --------------------------------------------------------------------------


_TF_MODULES = ("tensorflow", "tensorflow_hub", "keras", "tf_keras")


def _assert_no_tf(obj, seen=None):
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    module = type(obj).__module__ or ""
    assert module.split(".")[0] not in _TF_MODULES, f"{type(obj)} found"
    if isinstance(obj, dict):
        for key, value in obj.items():
            _assert_no_tf(key, seen)
            _assert_no_tf(value, seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for value in obj:
            _assert_no_tf(value, seen)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        _assert_no_tf(vars(obj), seen)


def test_pickle_and_clone_carry_no_model(place, hub_cache, tmp_path):
    place("trillsson")
    clips = _clips()
    est = EncoderTransformer("trillsson5").fit(clips)
    X = est.transform(clips)
    _assert_no_tf(est)

    data = pickle.dumps(est)
    assert len(data) < 10_000
    assert b"tensorflow" not in data

    cloned = clone(est)
    _assert_no_tf(cloned)
    assert cloned.get_params() == est.get_params()
    assert_array_equal(cloned.fit_transform(clips), X)
    assert_array_equal(copy.deepcopy(est).transform(clips), X)

    # A fresh process reads the model from the TF-Hub cache again.
    (tmp_path / "est.pkl").write_bytes(data)
    with open(tmp_path / "clips.pkl", "wb") as f:
        pickle.dump(clips, f)
    code = (
        "import pickle, sys, numpy as np\n"
        "est = pickle.load(open(sys.argv[1], 'rb'))\n"
        "assert 'tensorflow' not in sys.modules\n"
        "clips = pickle.load(open(sys.argv[2], 'rb'))\n"
        "np.save(sys.argv[3], est.transform(clips))\n"
    )
    env = {**os.environ, "TFHUB_CACHE_DIR": str(hub_cache), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TFHUB_MODEL_LOAD_FORMAT", None)
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "est.pkl"), str(tmp_path / "clips.pkl"),
         str(tmp_path / "X.npy")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert_allclose(np.load(tmp_path / "X.npy"), X, **TOL)


def test_pickle_local_folder_transformer(tiny_savedmodels):
    clips = _clips()
    est = EncoderTransformer(tiny_savedmodels["trill"], output_key="layer19").fit(clips)
    X = est.transform(clips)
    data = pickle.dumps(est)
    assert len(data) < 10_000
    _tfhub._LOADED.clear()
    again = pickle.loads(data)
    _assert_no_tf(again)
    assert_array_equal(again.transform(clips), X)


# --------------------------------------------------------------------------
# 9. TensorFlow is imported only when a model runs
# --------------------------------------------------------------------------


def _run_python(code, *args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_tensorflow_is_not_imported_by_import_or_fit(tiny_savedmodels):
    # One fresh interpreter checks both steps (a Python start costs seconds here).
    out = _run_python(
        "import sys\n"
        "import skaloe\n"
        "heavy = [m for m in ('tensorflow', 'tensorflow_hub', 'librosa') if m in sys.modules]\n"
        "assert not heavy, f'import skaloe imported {heavy}'\n"
        "import numpy as np\n"
        "from skaloe import EncoderTransformer\n"
        "X = np.zeros((2, 16000), np.float32)\n"
        "for model in ('trillsson5', 'trill', 'yamnet', sys.argv[1],\n"
        "              'https://tfhub.dev/google/trillsson5/1'):\n"
        "    est = EncoderTransformer(model).fit(X)\n"
        "    assert 'tensorflow' not in sys.modules, f'fit of {model} imported tensorflow'\n"
        "print(EncoderTransformer('trillsson5').fit(X).get_feature_names_out().shape)\n"
        "assert 'tensorflow' not in sys.modules\n",
        tiny_savedmodels["vggish"],
    )
    assert "(1024,)" in out


# --------------------------------------------------------------------------
# 10. Embedding cache with SavedModels
# --------------------------------------------------------------------------


def test_warm_cache_does_not_load_the_model(place, no_dns, tmp_path, monkeypatch):
    folder = place("trillsson", CURRENT_TRILLSSON5)
    memory = tmp_path / "embeddings"
    calls = []
    call_model = _tfhub.call_model

    def counting_call_model(model, call, batch):
        calls.append(np.shape(batch))
        return call_model(model, call, batch)

    monkeypatch.setattr(_tfhub, "call_model", counting_call_model)
    clips = _clips()

    X_cold = EncoderTransformer("trillsson5", memory=memory).fit_transform(clips)
    assert len(calls) == 4  # one batch per distinct length
    X_plain = EncoderTransformer("trillsson5").fit_transform(clips)
    assert_array_equal(X_cold, X_plain)

    # Partly warm: only the new clip runs through the model.
    calls.clear()
    new = _audio(12345, 7)
    X_part = EncoderTransformer("trillsson5", memory=memory).fit_transform(clips + [new])
    assert calls == [(1, 12345)]
    assert_array_equal(X_part[:-1], X_cold)
    assert_allclose(X_part[-1], EncoderTransformer("trillsson5").fit_transform([new])[0], **TOL)

    # Warm: the model is neither loaded nor called (it is even gone).
    shutil.rmtree(folder)
    monkeypatch.setattr(_tfhub, "_LOADED", {})
    calls.clear()
    X_warm = EncoderTransformer("trillsson5", memory=memory).fit_transform(clips)
    assert_array_equal(X_warm, X_cold)
    assert calls == [] and _tfhub._LOADED == {}

    # The legacy handle form of TRILLsson5 reads the same entries.
    X_legacy = EncoderTransformer(LEGACY_TRILLSSON5, memory=memory).fit_transform(clips)
    assert_array_equal(X_legacy, X_cold)
    assert calls == [] and _tfhub._LOADED == {}
    assert len(list((memory / "skaloe-embeddings").iterdir())) == 1

    # Other parameters are other entries: the model would have to run.
    with pytest.raises((ModelUnavailableError, AssertionError)):
        EncoderTransformer("trill", memory=memory).fit_transform(clips)


def test_cache_keyed_by_output_key(place, tmp_path):
    place("trill")
    memory = tmp_path / "embeddings"
    clips = _clips((16000, 24000))
    X19 = EncoderTransformer("trill", memory=memory).fit_transform(clips)
    X512 = EncoderTransformer("trill", output_key="embedding", memory=memory).fit_transform(clips)
    assert X19.shape == (2, 12288) and X512.shape == (2, 512)
    assert_array_equal(EncoderTransformer("trill", memory=memory).fit_transform(clips), X19)


def test_tensorflow_hub_imports_without_pkg_resources(tmp_path):
    """setuptools 82+ has no pkg_resources: skaloe lends tensorflow_hub a stand-in for
    its one use (parse_version) instead of pinning the user's setuptools, and removes it
    again so that nothing else sees a partial pkg_resources."""
    code = r"""
import importlib.abc, sys

class NoPkgResources(importlib.abc.MetaPathFinder):  # as with setuptools >= 82
    def find_spec(self, name, path=None, target=None):
        if name == "pkg_resources" or name.startswith("pkg_resources."):
            raise ModuleNotFoundError("No module named 'pkg_resources'", name=name)
        return None

sys.meta_path.insert(0, NoPkgResources())
from skaloe.encoders import _tfhub

tf, hub = _tfhub.import_tensorflow()
assert hasattr(hub, "KerasLayer"), hub
assert "pkg_resources" not in sys.modules
try:
    import pkg_resources
except ModuleNotFoundError:
    print("ok")
"""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")
