"""Checks of the tiny TF-Hub-like SavedModels in ``tests/savedmodels.py``.

Models are loaded through ``tensorflow_hub.load(<real handle>)`` from a
prepared cache folder and called exactly as the real models are called.
"""

import hashlib
import os

import numpy as np
import pytest

import tensorflow as tf
# tensorflow_hub as skaloe imports it (without pkg_resources where setuptools has none)
from skaloe.encoders._tfhub import import_tensorflow  # noqa: E402

_, hub = import_tensorflow()

from savedmodels import (  # noqa: E402
    BUILDERS,
    HANDLES,
    build_vggish_like,
    place_in_tfhub_cache,
)


def _audio(n_samples, seed=0):
    """A noisy tone in [-1, 1], float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / 16000.0
    freq = 200.0 + 100.0 * seed
    x = 0.4 * np.sin(2 * np.pi * freq * t) + 0.1 * rng.standard_normal(n_samples)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def _no_network(*args, **kwargs):
    raise AssertionError("tensorflow_hub tried to download a model")


@pytest.fixture
def hub_load(tiny_savedmodels, tmp_path, monkeypatch):
    """``hub_load(family)`` loads that tiny model via its real TF-Hub handle."""
    cache_dir = tmp_path / "tfhub_cache"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache_dir))
    monkeypatch.delenv("TFHUB_MODEL_LOAD_FORMAT", raising=False)
    monkeypatch.setattr(
        hub.resolver.HttpResolverBase, "_call_urlopen", _no_network, raising=False
    )

    def load(family):
        place_in_tfhub_cache(tiny_savedmodels[family], cache_dir, HANDLES[family])
        return hub.load(HANDLES[family])

    return load


def _check(tensor, shape):
    assert tensor.dtype == tf.float32
    assert tuple(tensor.shape) == shape
    assert np.all(np.isfinite(tensor.numpy()))


# --------------------------------------------------------------------------
# Builders and cache placement
# --------------------------------------------------------------------------


def test_builders_cover_all_families():
    assert set(BUILDERS) == set(HANDLES) == {
        "trillsson",
        "trill",
        "trill-distilled",
        "frill",
        "yamnet",
        "vggish",
    }


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_saved_model_loads_directly(tiny_savedmodels, family):
    path = tiny_savedmodels[family]
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    model = tf.saved_model.load(path)
    assert callable(model)


def test_place_in_tfhub_cache_uses_sha1_folder(tiny_savedmodels, tmp_path):
    handle = HANDLES["vggish"]
    target = place_in_tfhub_cache(tiny_savedmodels["vggish"], tmp_path, handle)
    expected = tmp_path / hashlib.sha1(handle.encode("utf8")).hexdigest()
    assert target == str(expected)
    assert (expected / "saved_model.pb").is_file()


def test_builds_are_deterministic(tiny_savedmodels, tmp_path):
    x = _audio(40000)
    again = tf.saved_model.load(build_vggish_like(tmp_path / "vggish"))
    first = tf.saved_model.load(tiny_savedmodels["vggish"])
    np.testing.assert_array_equal(first(x).numpy(), again(x).numpy())


# --------------------------------------------------------------------------
# Each family, called like the real model
# --------------------------------------------------------------------------


def test_trillsson(hub_load):
    model = hub_load("trillsson")
    batch = np.stack([_audio(24000, seed) for seed in range(3)])
    out = model(batch)
    assert isinstance(out, dict) and set(out) == {"embedding"}
    _check(out["embedding"], (3, 1024))
    emb = out["embedding"].numpy()
    assert not np.allclose(emb[0], emb[1])

    # Rows are independent: a clip alone gives the same embedding as in a batch.
    alone = model(batch[1:2])["embedding"].numpy()
    np.testing.assert_allclose(alone[0], emb[1], rtol=1e-5, atol=1e-6)

    # Zero-padding changes the embedding, for short and long clips alike.
    for clip in (batch[0], _audio(40000)):
        padded = np.pad(clip, (0, 8000))
        a = model(clip[None])["embedding"].numpy()
        b = model(padded[None])["embedding"].numpy()
        assert not np.allclose(a, b, atol=1e-3)

    # Very short clips are padded inside; rank-1 input is refused.
    _check(model(_audio(100)[None])["embedding"], (1, 1024))
    with pytest.raises((ValueError, TypeError)):
        model(_audio(16000))


@pytest.mark.parametrize(
    "n_samples, n_frames", [(128, 1), (15360, 1), (16000, 1), (32000, 3)]
)
def test_trill(hub_load, n_samples, n_frames):
    model = hub_load("trill")
    out = model(samples=_audio(n_samples), sample_rate=16000)
    assert isinstance(out, dict) and set(out) == {"embedding", "layer19"}
    _check(out["embedding"], (n_frames, 512))
    _check(out["layer19"], (n_frames, 12288))


def test_trill_distilled(hub_load):
    model = hub_load("trill-distilled")
    out = model(samples=_audio(48000), sample_rate=16000)
    assert isinstance(out, dict) and set(out) == {"embedding"}
    _check(out["embedding"], (5, 2048))
    emb = out["embedding"].numpy()
    assert not np.allclose(emb[0], emb[-1])
    _check(model(samples=_audio(128), sample_rate=16000)["embedding"], (1, 2048))


def test_frill(hub_load):
    model = hub_load("frill")
    out = model(_audio(15360)[None])
    assert isinstance(out, dict) and set(out) == {"embedding"}
    _check(out["embedding"], (1, 2048))
    _check(model(_audio(48000)[None])["embedding"], (5, 2048))
    with pytest.raises(tf.errors.InvalidArgumentError, match="0.96 s"):
        model(_audio(15359)[None])


@pytest.mark.parametrize(
    "n_samples, n_frames", [(1, 1), (15600, 1), (16000, 2), (48000, 6)]
)
def test_yamnet(hub_load, n_samples, n_frames):
    model = hub_load("yamnet")
    out = model(_audio(n_samples))
    assert isinstance(out, tuple) and len(out) == 3
    scores, embeddings, log_mel = out
    _check(scores, (n_frames, 521))
    _check(embeddings, (n_frames, 1024))
    # The log-mel covers the padded clip: 96 frames + 48 per extra patch.
    _check(log_mel, (96 + 48 * (n_frames - 1), 64))
    assert np.all((scores.numpy() >= 0) & (scores.numpy() <= 1))


@pytest.mark.parametrize(
    "n_samples, n_frames",
    [(100, 0), (15599, 0), (15600, 1), (30959, 1), (30960, 2), (48000, 3)],
)
def test_vggish(hub_load, n_samples, n_frames):
    model = hub_load("vggish")
    out = model(_audio(n_samples))
    assert n_frames == max(0, 1 + (n_samples - 15600) // 15360)
    _check(out, (n_frames, 128))
