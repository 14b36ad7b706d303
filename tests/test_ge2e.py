"""The embedded GE2E encoder: equal to the original network, offline, torch-free."""

import json
import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from numpy.testing import assert_allclose, assert_array_equal

from ge2e_clips import GOLDEN_CLIPS, golden_clip
from skaloe import EncoderTransformer
from skaloe.encoders import _ge2e

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDEN = json.loads((Path(__file__).parent / "data" / "ge2e_golden.json").read_text())["clips"]


@pytest.fixture(scope="module")
def clips():
    return [golden_clip(name) for name in GOLDEN_CLIPS]


# -- equal to Resemblyzer 0.1.4 (golden values computed with torch) -------------


def test_speaker_readout_equals_the_original_network(clips):
    """output_key="speaker" is VoiceEncoder.embed_utterance of the volume-normalised clip."""
    got = EncoderTransformer("ge2e", output_key="speaker").fit_transform(clips)
    assert got.shape == (len(clips), 256) and got.dtype == np.float32
    for row, name in zip(got, GOLDEN_CLIPS):
        assert_allclose(row, GOLDEN[name]["speaker"], atol=1e-5, rtol=0, err_msg=name)
        assert abs(np.linalg.norm(row) - 1) < 1e-5 and (row >= 0).all()


def test_partials_and_hidden_states_equal_the_original(clips):
    weights = _ge2e.load_weights()
    for wav, name in zip(clips, GOLDEN_CLIPS):
        wav = _ge2e.normalize_volume(wav)
        starts = _ge2e.partial_starts(len(wav))
        assert len(starts) == GOLDEN[name]["n_partials"], name
        mel = _ge2e.mel_partials(wav, starts[:1])
        hidden = _ge2e.lstm_forward(np.ascontiguousarray(mel.transpose(1, 0, 2)),
                                    np.array([160]), 3, weights)
        means = np.concatenate([h[:, 0].mean(axis=0) for h in hidden])
        assert_allclose(means, GOLDEN[name]["layer_means"], atol=1e-5, rtol=0, err_msg=name)


@pytest.mark.parametrize("seconds, n_partials", [(0.001, 1), (1.0, 1), (2.5, 2), (3.0, 3),
                                                  (7.0, 8)])
def test_partial_count_follows_the_coverage_rule(seconds, n_partials):
    assert len(_ge2e.partial_starts(int(seconds * 16000))) == n_partials


# -- the readouts -----------------------------------------------------------------


def test_hidden_readout_pools_the_frames_that_hold_audio(clips):
    """Mean and std over each partial's audio frames of every layer, averaged over partials."""
    weights = _ge2e.load_weights()
    got = EncoderTransformer().fit_transform(clips)  # the default: ge2e, "hidden"
    assert got.shape == (len(clips), 1536)
    for row, wav in zip(got, clips):
        wav = _ge2e.normalize_volume(wav)
        starts = _ge2e.partial_starts(len(wav))
        mel = _ge2e.mel_partials(wav, starts)
        hidden = _ge2e.lstm_forward(np.ascontiguousarray(mel.transpose(1, 0, 2)),
                                    np.full(len(starts), 160), 3, weights)
        audio_frames = max(1, int(np.ceil(len(wav) / 160)))
        per_partial = []
        for p, start in enumerate(starts):
            n = min(160, max(1, audio_frames - start))
            per_partial.append(np.concatenate(
                [np.concatenate([h[:n, p].mean(0), h[:n, p].std(0)]) for h in hidden]))
        assert_allclose(row, np.mean(per_partial, axis=0), rtol=1e-4, atol=1e-5)


def test_one_layer_readouts_are_parts_of_hidden(clips):
    hidden = EncoderTransformer("ge2e").fit_transform(clips)
    for k in (1, 2, 3):
        layer = EncoderTransformer("ge2e", output_key=f"layer{k}").fit_transform(clips)
        assert layer.shape == (len(clips), 512)
        assert_array_equal(layer, hidden[:, 512 * (k - 1):512 * k])


def test_unknown_readout_and_pooling_are_refused():
    with pytest.raises(ValueError, match="'hidden', 'layer1', 'layer2', 'layer3', 'speaker'"):
        EncoderTransformer("ge2e", output_key="embedding").fit([np.zeros(100)])
    with pytest.raises(ValueError, match="pools over time inside"):
        EncoderTransformer("ge2e", pooling="max").fit([np.zeros(100)])


# -- robustness --------------------------------------------------------------------


def test_embedding_does_not_depend_on_the_other_clips_of_its_block(clips):
    together = _ge2e.embed(clips, "hidden")
    alone = np.concatenate([_ge2e.embed([c], "hidden") for c in clips])
    reversed_ = _ge2e.embed(clips[::-1], "hidden")[::-1]
    small_blocks = _ge2e.embed(clips, "hidden", block_partials=2)
    threads = _ge2e.embed(clips, "hidden", n_jobs=2, block_partials=3)
    for other in (alone, reversed_, small_blocks, threads):
        assert_array_equal(together, other)


@pytest.mark.parametrize("output_key", ["hidden", "speaker"])
def test_silent_tiny_and_empty_clips_give_finite_embeddings(output_key):
    clips = [np.zeros(16000, np.float32), np.zeros(3, np.float32), np.full(1, 0.5, np.float32),
             np.full(800, 1e-30, np.float32)]
    got = EncoderTransformer("ge2e", output_key=output_key).fit_transform(clips)
    assert np.isfinite(got).all()


def test_volume_is_raised_to_minus_30_dbfs_never_lowered():
    clip = golden_clip("1.0s")
    rms = float(np.sqrt(np.mean(clip.astype(np.float64) ** 2)))
    at_target = clip * np.float32(10 ** (-30 / 20) / rms)
    encoder = EncoderTransformer("ge2e", output_key="speaker")
    quiet, target = encoder.fit_transform([clip * np.float32(0.01), at_target])
    assert_allclose(quiet, target, atol=2e-6)  # a quiet clip is raised to -30 dBFS
    louder = encoder.fit_transform([at_target * 4, at_target * 2])  # -18 and -24 dBFS
    assert np.abs(louder[0] - louder[1]).max() > 1e-3  # loud clips are left as they are


def test_files_are_read_at_16k_and_cached(tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, golden_clip("2.5s"), 16000, subtype="FLOAT")
    cache = tmp_path / "cache"
    first = EncoderTransformer(memory=cache).fit_transform([str(path)])
    (folder,) = (cache / "skaloe-embeddings").iterdir()
    assert folder.name.startswith("ge2e-")
    assert json.loads((folder / "model.json").read_text())["ge2e"].startswith("v1-")
    assert_array_equal(first, EncoderTransformer().fit_transform([golden_clip("2.5s")]))
    assert_array_equal(EncoderTransformer(memory=cache).fit_transform([str(path)]), first)


def test_damaged_weights_file_is_named(tmp_path, monkeypatch):
    damaged = tmp_path / "ge2e.npz"
    data = bytearray(_ge2e.WEIGHTS_FILE.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(_ge2e, "WEIGHTS_FILE", damaged)
    _ge2e.load_weights.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"ge2e\.npz is damaged.*reinstall skaloe"):
            EncoderTransformer("ge2e").fit_transform([np.zeros(1600, np.float32)])
        monkeypatch.setattr(_ge2e, "WEIGHTS_FILE", tmp_path / "missing.npz")
        with pytest.raises(RuntimeError, match="missing.npz cannot be read"):
            _ge2e.load_weights()
    finally:
        _ge2e.load_weights.cache_clear()


def test_weights_and_licence_ship_in_the_package():
    folder = _ge2e.WEIGHTS_FILE.parent
    licence = (folder / "LICENSE-resemblyzer").read_text().split()
    assert licence[:4] == ["Apache", "License", "Version", "2.0,"]
    notice = (folder / "NOTICE-ge2e").read_text()
    assert "Resemblyzer 0.1.4" in notice and "Apache License, Version 2.0" in notice
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    for name in ("data/ge2e.npz", "data/LICENSE-resemblyzer", "data/NOTICE-ge2e"):
        assert name in pyproject


def test_runs_without_torch_or_tensorflow(tmp_path):
    """With torch and TensorFlow unimportable, the default encoder still runs."""
    for name in ("torch", "tensorflow"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    code = (
        "import sys, numpy as np\n"
        "from skaloe import EncoderTransformer\n"
        "x = EncoderTransformer().fit_transform([np.ones(8000, np.float32) * 0.1])\n"
        "assert x.shape == (1, 1536) and np.isfinite(x).all()\n"
        "assert not {'torch', 'tensorflow'} & set(sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO_ROOT)])}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, env=env)


# -- tools/convert_ge2e.py: reading torch's legacy format without torch ----------


def _convert_module():
    sys.path.insert(0, str(REPO_ROOT / "tools"))
    try:
        import convert_ge2e
    finally:
        sys.path.pop(0)
    return convert_ge2e


def test_converter_reads_a_legacy_checkpoint(monkeypatch):
    """A legacy torch file, written here with stand-ins for torch's pickled names."""
    convert = _convert_module()
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled by reference")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage, utils._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    storage = np.arange(12, dtype="<f4")

    class Storage:
        pass

    class Tensor:
        def __init__(self, offset, size, stride):
            self.args = (offset, size, stride)

        def __reduce__(self):
            offset, size, stride = self.args
            return _rebuild_tensor_v2, (the_storage, offset, size, stride, False, {})

    the_storage = Storage()

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            if obj is the_storage:
                return ("storage", FloatStorage, "key0", "cpu", storage.size, None)
            return None

    import io

    out = io.BytesIO()
    for value in (convert.LEGACY_MAGIC, convert.LEGACY_PROTOCOL, {"little_endian": True}):
        pickle.dump(value, out, protocol=2)
    Writer(out, protocol=2).dump({"model_state": {"a": Tensor(0, (3, 4), (4, 1)),
                                                  "b": Tensor(2, (2, 2), (1, 4))},
                                  "step": 7})
    pickle.dump(["key0"], out, protocol=2)
    out.write(np.int64(storage.size).tobytes() + storage.tobytes())

    checkpoint = convert.read_legacy_checkpoint(out.getvalue())
    assert checkpoint["step"] == 7
    assert_array_equal(checkpoint["model_state"]["a"], storage.reshape(3, 4))
    assert_array_equal(checkpoint["model_state"]["b"], [[2, 6], [3, 7]])


def test_converter_refuses_anything_but_a_plain_checkpoint():
    convert = _convert_module()
    import io

    out = io.BytesIO()
    pickle.dump(convert.LEGACY_MAGIC, out, protocol=2)
    pickle.dump(convert.LEGACY_PROTOCOL, out, protocol=2)
    pickle.dump({"little_endian": True}, out, protocol=2)
    pickle.dump(print, out, protocol=2)  # a global outside the allowed few
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load (__builtin__|builtins)\.print"):
        convert.read_legacy_checkpoint(out.getvalue())
    with pytest.raises(ValueError, match="wrong magic number"):
        convert.read_legacy_checkpoint(pickle.dumps(123))


def test_deterministic_npz_loads_without_pickle(tmp_path):
    convert = _convert_module()
    arrays = {"w": np.arange(6, dtype="<f4").reshape(2, 3), "b": np.ones(2, "<f4")}
    data = convert.deterministic_npz(arrays)
    assert data == convert.deterministic_npz(dict(reversed(list(arrays.items()))))
    path = tmp_path / "w.npz"
    path.write_bytes(data)
    with np.load(path, allow_pickle=False) as loaded:
        assert_array_equal(loaded["w"], arrays["w"])
