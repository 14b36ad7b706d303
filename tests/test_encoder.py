"""Behaviour of EncoderTransformer that users rely on, with the offline encoders.

Only the built-in spectral encoders ("mfcc", "logmel") and Python callables
are used here: no TensorFlow (the TF-Hub / SavedModel paths are covered in
``test_savedmodels.py``).
"""

import os
import pickle
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import joblib
import numpy as np
import pytest

from ci_support import require
import soundfile as sf
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import skaloe.encoders._cache as cache_module
import skaloe.encoders._transformer as transformer_module
from skaloe import EncoderTransformer
from skaloe.encoders._runners import SpectralRunner

SR = 16000
REPO_ROOT = Path(__file__).resolve().parents[1]


# -- helpers ---------------------------------------------------------------


def make_int16(seed, n_samples, sr=SR):
    """A tone plus noise as int16 PCM (every mel band gets energy)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / sr
    freq = 200 + 150 * (seed % 20)
    x = 0.4 * np.sin(2 * np.pi * freq * t) + 0.1 * rng.standard_normal(n_samples)
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


def as_float(x_int16):
    return x_int16.astype(np.float32) / np.float32(32768.0)


def make_float(seed, n_samples, sr=SR):
    return as_float(make_int16(seed, n_samples, sr))


def embed(X, **params):
    """Embed with the fast spectral ``mfcc`` encoder unless another model is named.

    The tests of this module are about input forms, caching and errors, which
    every encoder shares; ``tests/test_ge2e.py`` tests the default encoder.
    """
    params.setdefault("model", "mfcc")
    return EncoderTransformer(**params).fit_transform(X)


def write_wavs(folder, clips, subtype="PCM_16", prefix="clip", sr=SR, ext="wav"):
    paths = []
    for i, clip in enumerate(clips):
        path = Path(folder) / f"{prefix}{i}.{ext}"
        sf.write(path, clip, sr, subtype=subtype)
        paths.append(str(path))
    return paths


def forbid_spectral(monkeypatch):
    def boom(self, waveforms, indices):
        raise AssertionError(f"spectral encoder ran on {len(waveforms)} clips (cache expected)")

    monkeypatch.setattr(SpectralRunner, "embed", boom)


def subprocess_env():
    """The environment of a fresh interpreter that imports skaloe from this checkout."""
    pythonpath = os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": pythonpath}


def run_python(code, *args, timeout=120):
    """Run ``code`` in a fresh interpreter (skaloe importable from the repo)."""
    env = subprocess_env()
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def shard_files(cache_dir):
    root = Path(cache_dir) / "skaloe-embeddings"
    return sorted(p for p in root.rglob("*") if p.is_file())


# -- 1. input forms ----------------------------------------------------------


def test_array_input_forms_give_identical_embeddings():
    pcm = np.stack([make_int16(s, 8000) for s in range(3)])
    ref = embed(as_float(pcm))
    assert ref.shape == (3, 80) and ref.dtype == np.float32

    assert_array_equal(embed(list(as_float(pcm))), ref)
    assert_array_equal(embed(tuple(as_float(pcm))), ref)
    assert_array_equal(embed(as_float(pcm).astype(np.float64)), ref)
    assert_array_equal(embed([row.tolist() for row in as_float(pcm)]), ref)  # lists of floats
    # int16 PCM is scaled by 1/32768; int32 by 1/2**31 (same values here).
    assert_array_equal(embed(pcm), ref)
    assert_array_equal(embed(list(pcm)), ref)
    assert_array_equal(embed(pcm.astype(np.int32) * 65536), ref)
    # uint8 PCM is unsigned, centred on 128.
    pcm8 = ((pcm.astype(np.int32) >> 8) + 128).astype(np.uint8)
    assert_array_equal(
        embed(pcm8), embed((pcm8.astype(np.float32) - 128) / np.float32(128))
    )


def test_path_input_forms_give_identical_embeddings(tmp_path, monkeypatch):
    pd = require("pandas")
    pcm = [make_int16(s, n) for s, n in enumerate([8000, 12345, 16000])]
    paths = write_wavs(tmp_path, pcm)
    ref = embed([as_float(x) for x in pcm])

    assert_array_equal(embed(paths), ref)
    assert_array_equal(embed(tuple(paths)), ref)
    assert_array_equal(embed([Path(p) for p in paths]), ref)
    assert_array_equal(embed([paths[0], Path(paths[1]), pcm[2]]), ref)  # mixed
    assert_array_equal(embed(np.array(paths)), ref)
    assert_array_equal(embed(np.array(paths, dtype=object)), ref)
    assert_array_equal(embed(pd.Series(paths, index=[7, 3, 5])), ref)
    assert_array_equal(embed(pd.DataFrame({"path": paths})), ref)
    # relative paths are resolved against the working directory
    monkeypatch.chdir(tmp_path)
    assert_array_equal(embed([os.path.basename(p) for p in paths]), ref)


def test_column_of_paths_and_column_transformer(tmp_path):
    """A (n, 1) array of paths is what a ColumnTransformer passes from an array."""
    pd = require("pandas")
    from sklearn.compose import ColumnTransformer

    pcm = [make_int16(s, n) for s, n in enumerate([8000, 12345])]
    paths = write_wavs(tmp_path, pcm)
    ref = embed([as_float(x) for x in pcm])
    column = np.array(paths, dtype=object)[:, np.newaxis]
    assert_array_equal(embed(column), ref)
    assert_array_equal(embed(column.astype(str)), ref)
    assert not hasattr(EncoderTransformer("mfcc").fit(column), "n_features_in_")

    table = pd.DataFrame({"path": paths, "age": [31, 47]})
    for data, columns in [(table, ["path"]), (table, "path"), (table.to_numpy(), [0])]:
        ct = ColumnTransformer([("audio", EncoderTransformer("mfcc"), columns)], remainder="passthrough")
        out = ct.fit_transform(data)
        assert out.shape == (2, 81)
        assert_allclose(np.asarray(out[:, :80], dtype=np.float32), ref)


@pytest.mark.parametrize(
    "fmt, subtype, ext, exact",
    [
        ("WAV", "PCM_16", "wav", True),
        ("WAV", "FLOAT", "wav", True),
        ("FLAC", "PCM_16", "flac", True),
        ("OGG", "VORBIS", "ogg", False),  # lossy
    ],
)
def test_file_formats(tmp_path, fmt, subtype, ext, exact):
    if subtype not in sf.available_subtypes(fmt):
        pytest.skip(f"libsndfile cannot write {fmt}/{subtype}")
    pcm = [make_int16(s, n) for s, n in [(1, 16000), (2, 9000)]]
    waves = [as_float(x) for x in pcm]
    paths = []
    for i, (x, w) in enumerate(zip(pcm, waves)):
        path = tmp_path / f"clip{i}.{ext}"
        sf.write(path, x if subtype == "PCM_16" else w, SR, format=fmt, subtype=subtype)
        paths.append(path)
    got = embed(paths)
    ref = embed(waves)
    if exact:
        assert_array_equal(got, ref)
    else:
        rel = np.linalg.norm(got - ref, axis=1) / np.linalg.norm(ref, axis=1)
        assert (rel < 0.1).all(), rel


def test_stereo_file_is_averaged_to_mono(tmp_path):
    left, right = make_float(1, 12000), make_float(2, 12000)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    mono = (left + right) / np.float32(2)
    assert_allclose(embed([path]), embed([mono]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("sr", [44100, 8000])
def test_files_and_arrays_are_resampled_to_16k(tmp_path, sr):
    import librosa
    x = make_float(3, sr)  # one second at sr
    path = tmp_path / f"sr{sr}.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    resampled = librosa.resample(x, orig_sr=sr, target_sr=SR, res_type="soxr_hq")
    assert abs(len(resampled) - SR) <= 1
    ref = embed([resampled.astype(np.float32)])
    assert_allclose(embed([path]), ref, rtol=1e-5, atol=1e-4)
    assert_allclose(
        EncoderTransformer("mfcc", sample_rate=sr).fit_transform(x[np.newaxis]), ref, rtol=1e-5, atol=1e-4
    )
    # without sample_rate the same array is taken to be 16 kHz audio: a different embedding
    assert not np.allclose(embed(x[np.newaxis]), ref, atol=1e-2)


@pytest.mark.parametrize(
    "model, pooling, dim",
    [
        ("mfcc", "auto", 80),
        ("mfcc", "mean+std", 80),
        ("mfcc", "mean", 20),
        ("mfcc", "max", 60),
        ("logmel", "auto", 128),
        ("logmel", "mean+std", 128),
        ("logmel", "mean", 64),
        ("logmel", "max", 64),
    ],
)
def test_output_shape_dtype_and_feature_names(model, pooling, dim):
    clips = [make_float(s, n) for s, n in enumerate([4000, 16000, 7777])]
    enc = EncoderTransformer(model, pooling=pooling).fit(clips)
    names = enc.get_feature_names_out()  # known before any transform
    assert len(names) == dim
    assert list(names) == [f"encodertransformer{i}" for i in range(dim)]
    emb = enc.transform(clips)
    assert emb.shape == (3, dim) and emb.dtype == np.float32
    assert np.isfinite(emb).all()
    assert enc.encoder_.dim == dim and enc.encoder_.kind == "spectral"


@pytest.mark.parametrize("model", ["mfcc", "logmel"])
def test_pooling_variants_are_consistent(model):
    clips = [make_float(s, n) for s, n in enumerate([4000, 16000, 7777])]
    mean = embed(clips, model=model, pooling="mean")
    mean_std = embed(clips, model=model, pooling="mean+std")
    maximum = embed(clips, model=model, pooling="max")
    d = mean.shape[1]
    assert_array_equal(mean_std[:, :d], mean)  # mean+std = [mean, std]
    assert (mean_std[:, d:] > 0).all()
    # max covers every per-frame feature (mfcc: with its deltas), mean the static ones
    assert (maximum[:, :d] >= mean - 1e-5).all() and (maximum[:, :d] > mean).any()


def test_mfcc_matches_an_independent_librosa_reference():
    """25 ms Hann windows, 10 ms hop, 512-point FFT, 64 mels 125-7500 Hz, log, DCT-II;
    mfcc: mean and std of 20 coefficients, std of their deltas and delta-deltas."""
    import librosa
    from scipy.fft import dct

    x = make_float(5, 16000).astype(np.float64)
    # librosa centres the 400-sample window inside the 512-sample frame: offset by 56
    padded = np.concatenate([np.zeros(56), x, np.zeros(56)])
    mel = librosa.feature.melspectrogram(
        y=padded, sr=SR, n_fft=512, hop_length=160, win_length=400, window="hann",
        center=False, power=2.0, n_mels=64, fmin=125.0, fmax=7500.0,
    )
    assert mel.shape[1] == 1 + (len(x) - 400) // 160
    logmel = np.log(mel + 1e-6)
    mfcc = dct(logmel, type=2, norm="ortho", axis=0)[:20]
    # HTK deltas over 9 frames; delta-deltas are the deltas of the deltas
    delta = librosa.feature.delta(mfcc, width=9, mode="nearest")
    delta2 = librosa.feature.delta(delta, width=9, mode="nearest")

    expected_logmel = np.concatenate([logmel.mean(axis=1), logmel.std(axis=1)])
    expected_mfcc = np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1), delta.std(axis=1),
                                    delta2.std(axis=1)])
    assert_allclose(embed([x], model="logmel")[0], expected_logmel, rtol=1e-3, atol=1e-3)
    assert_allclose(embed([x], model="mfcc")[0], expected_mfcc, rtol=1e-3, atol=1e-3)


def test_set_output_pandas(tmp_path):
    pd = require("pandas")
    pcm = [make_int16(s, 8000) for s in range(3)]
    paths = write_wavs(tmp_path, pcm)
    enc = EncoderTransformer("mfcc", pooling="mean").set_output(transform="pandas")

    out = enc.fit_transform([as_float(x) for x in pcm])
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(enc.get_feature_names_out())
    assert out.shape == (3, 20)
    assert_array_equal(out.to_numpy(), embed(paths, pooling="mean"))
    assert list(out.index) == [0, 1, 2]

    # A Series (or one-column DataFrame) of paths: the output keeps its index,
    # so rows stay aligned with the table the paths came from.
    series = pd.Series(paths, index=["c", "a", "b"], name="path")
    out = enc.fit(series).transform(series)
    assert list(out.index) == ["c", "a", "b"]
    out = enc.fit_transform(series.to_frame())
    assert list(out.index) == ["c", "a", "b"]


# -- 2. lengths, independence, determinism ----------------------------------


def test_clips_of_any_length_and_short_clips_are_padded():
    lengths = [1, 10, 150, 399, 400, 401, 560, 16000, 23456]
    clips = [make_float(s, n) for s, n in enumerate(lengths)]
    emb = embed(clips)
    assert emb.shape == (len(lengths), 80)
    assert np.isfinite(emb).all()
    # A clip shorter than one 400-sample window is mirror-padded to 400 samples.
    for clip, row in zip(clips, emb):
        if len(clip) < 400:
            padded = np.pad(clip, (0, 400 - len(clip)), mode="symmetric")
            assert_array_equal(embed([padded])[0], row)
    # A 2-D array of short clips works too.
    assert embed(np.stack([make_float(s, 100) for s in range(3)])).shape == (3, 80)


@pytest.mark.parametrize("model", ["mfcc", "logmel"])
def test_embedding_independent_of_batch_order_and_n_jobs(model):
    """Exact equality: clips are only batched with equal-length clips and pooled alone."""
    rng = np.random.default_rng(0)
    lengths = [16000] * 70 + [8000] * 5 + [100, 399, 400, 401, 12345]
    clips = [make_float(s, n) for s, n in enumerate(lengths)]
    full = embed(clips, model=model)
    alone = np.vstack([embed([c], model=model) for c in clips[::7] + clips[-5:]])
    assert_array_equal(alone, np.vstack([full[::7], full[-5:]]))
    perm = rng.permutation(len(clips))
    assert_array_equal(embed([clips[i] for i in perm], model=model), full[perm])
    assert_array_equal(embed(clips, model=model, n_jobs=2), full)
    assert_array_equal(embed(clips, model=model, n_jobs=-1), full)
    # in a 2-D array, with many other equal-length clips
    same = np.stack(clips[:70])
    assert_array_equal(embed(same, model=model), full[:70])
    assert_array_equal(embed(same[3:4], model=model), full[3:4])


def test_long_clips_are_processed_in_frame_chunks(monkeypatch):
    """Long clips are transformed a few thousand frames at a time (bounded memory):
    the chunking changes nothing but the last bits, and stays batch-independent."""
    import skaloe.encoders._spectral as spectral

    lengths = [400 + 160 * (k - 1) for k in (1, 7, 8, 9, 30)] + [5000, 5000, 5000]
    clips = [make_float(s, n) for s, n in enumerate(lengths)]
    for model in ("mfcc", "logmel"):
        whole = embed(clips, model=model)
        monkeypatch.setattr(spectral, "FRAME_CHUNK", 8)
        chunked = embed(clips, model=model)
        assert_allclose(chunked, whole, rtol=1e-5, atol=1e-5)
        alone = np.vstack([embed([c], model=model) for c in clips])
        assert_array_equal(alone, chunked)
        monkeypatch.undo()


# -- 3. errors ---------------------------------------------------------------


def _re(text):
    import re

    return re.escape(str(text))


@pytest.mark.parametrize("memory", [False, True])
def test_missing_file_error_names_path_and_index(tmp_path, memory):
    good = write_wavs(tmp_path, [make_int16(0, 4000)])[0]
    missing = str(tmp_path / "nope.wav")
    enc = EncoderTransformer("mfcc", memory=tmp_path / "cache" if memory else None)
    with pytest.raises(FileNotFoundError, match=_re(missing) + r".*X\[1\].*does not exist"):
        enc.fit_transform([good, missing])


def test_bad_file_errors(tmp_path):
    good = write_wavs(tmp_path, [make_int16(0, 4000)])[0]
    with pytest.raises(FileNotFoundError, match=_re(tmp_path) + r".*X\[1\].*is a directory"):
        embed([good, tmp_path])

    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match=_re(corrupt) + r".*X\[1\].*unreadable or corrupt"):
        embed([good, corrupt])

    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SR, subtype="PCM_16")
    assert sf.info(empty).frames == 0
    with pytest.raises(ValueError, match=_re(empty) + r".*X\[0\].*no samples"):
        embed([empty, good])

    x = make_float(1, 4000)
    x[17] = np.nan
    nan_file = tmp_path / "nan.wav"
    sf.write(nan_file, x, SR, subtype="FLOAT")
    with pytest.raises(ValueError, match=_re(nan_file) + r".*X\[1\].*NaN or infinite"):
        embed([good, nan_file])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_name_the_clip(bad):
    clips = [make_float(s, 4000) for s in range(3)]
    clips[2][123] = bad
    with pytest.raises(ValueError, match=r"X\[2\] contains NaN or infinite samples.*sample 123"):
        embed(clips)
    # in a 2-D array given to transform
    enc = EncoderTransformer("mfcc").fit(clips[:2])
    with pytest.raises(ValueError, match=r"X\[2\] contains NaN or infinite samples"):
        enc.transform(np.stack(clips))
    # fit on a 2-D array uses scikit-learn's check (which does not name the clip)
    with pytest.raises(ValueError, match="NaN|infinity"):
        EncoderTransformer("mfcc").fit(np.stack(clips))


@pytest.mark.parametrize(
    "X, error, match",
    [
        ([np.zeros(800, np.float32), np.zeros((2, 800), np.float32)], ValueError,
         r"X\[1\] has shape \(2, 800\); each clip must be a 1-D mono waveform"),
        (np.zeros((2, 2, 800), np.float32), ValueError, r"X has shape \(2, 2, 800\)"),
        (np.zeros(800, np.float32), ValueError, "Reshape your data"),
        ([], ValueError, "contains no clips"),
        (np.array([], dtype=object), ValueError, "contains no clips"),
        ([np.zeros(800, np.float32), np.zeros(0, np.float32)], ValueError, r"X\[1\] is empty"),
        (np.zeros((2, 800), np.int64), ValueError, r"X\[0\] has dtype int64.*astype\(np.int16\)"),
        ([np.zeros(800, np.float32), np.zeros(800, np.int64)], ValueError,
         r"X\[1\] has dtype int64"),
        (np.zeros((2, 800), np.complex64), ValueError, r"Complex data not supported: X\[0\]"),
        (np.zeros((2, 800), bool), ValueError, r"X\[0\] has dtype bool"),
        ([np.zeros(800, np.float32), None], TypeError, r"X\[1\] is of type NoneType"),
        (42, TypeError, "must be a list of file paths or waveforms"),
    ],
)
def test_bad_input_errors(X, error, match):
    with pytest.raises(error, match=match):
        embed(X)


def test_transform_of_no_clips_raises():
    pd = require("pandas")
    enc = EncoderTransformer("mfcc").fit([make_float(0, 800)])
    for empty in (np.zeros((0, 800), np.float32), [], pd.Series([], dtype=object)):
        with pytest.raises(ValueError, match="contains no clips"):
            enc.transform(empty)


def test_single_path_and_sparse_and_dataframe_errors(tmp_path):
    pd = require("pandas")
    import scipy.sparse

    path = write_wavs(tmp_path, [make_int16(0, 4000)])[0]
    for single in (path, Path(path)):
        with pytest.raises(ValueError, match="single path " + _re(repr(path)) + r".*\[path\]"):
            embed(single)
    enc = EncoderTransformer("mfcc").fit([path])
    with pytest.raises(ValueError, match="single path"):
        enc.transform(path)
    dense = np.ones((2, 800))
    for sparse in (scipy.sparse.csr_matrix(dense), scipy.sparse.csr_array(dense)):
        with pytest.raises(TypeError, match="Sparse input is not supported.*toarray"):
            embed(sparse)
    df = pd.DataFrame({"path": [path], "label": ["x"]})
    with pytest.raises(ValueError, match=r"2 columns.*X\['path'\]"):
        embed(df)
    assert embed(df[["path"]]).shape == (1, 80)


def test_model_errors(tmp_path):
    clips = [make_float(0, 800)]
    with pytest.raises(
        ValueError, match=r"Unknown model 'trillson5'.*trillsson5.*mfcc.*available_models"
    ):
        embed(clips, model="trillson5")
    missing = tmp_path / "no_such_savedmodel"
    for model in (str(missing), missing):
        with pytest.raises(FileNotFoundError, match=_re(missing) + ".*does not exist.*SavedModel"):
            embed(clips, model=model)
    with pytest.raises(ValueError, match="output_key='layer19' is not an output of mfcc"):
        embed(clips, model="mfcc", output_key="layer19")


@pytest.mark.parametrize(
    "params",
    [
        {"pooling": "median"},
        {"batch_size": 0},
        {"sample_rate": 0},
        {"min_length": -1},
        {"call_convention": "stream"},
        {"timeout": 0},
        {"memory": 5},
        {"model": 5},
    ],
)
def test_invalid_parameters_raise_at_fit(params):
    enc = EncoderTransformer(**params)  # __init__ does not validate
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        enc.fit([make_float(0, 800)])


# -- 4. callables as models ----------------------------------------------------


def test_callable_returning_one_vector_per_clip():
    def stats(x):
        assert x.ndim == 1 and x.dtype == np.float32
        return np.array([x.mean(), x.std(), np.abs(x).max()])  # float64 is cast

    clips = [make_float(s, n) for s, n in enumerate([500, 16000, 3000])]
    enc = EncoderTransformer(stats).fit(clips)
    emb = enc.transform(clips)
    assert emb.dtype == np.float32 and emb.shape == (3, 3)
    assert_allclose(emb, np.array([stats(c) for c in clips], dtype=np.float32))
    assert enc.encoder_.kind == "callable" and enc.encoder_.call == "waveform"
    # int16 input reaches the model scaled to [-1, 1]
    pcm = make_int16(7, 2000)
    assert_allclose(embed([pcm], model=stats)[0], stats(as_float(pcm)), rtol=1e-6)


@pytest.mark.parametrize(
    "pooling, reduce",
    [
        ("mean", lambda f: f.mean(axis=0)),
        ("auto", lambda f: f.mean(axis=0)),
        ("max", lambda f: f.max(axis=0)),
        ("mean+std", lambda f: np.concatenate([f.mean(axis=0), f.std(axis=0)])),
    ],
)
def test_callable_returning_frames_is_pooled(pooling, reduce):
    def frames(x):  # (n_frames, 4): 100-sample frames
        f = x[: len(x) // 100 * 100].reshape(-1, 100)
        return np.stack([f.mean(1), f.std(1), f.max(1), f.min(1)], axis=1)

    clips = [make_float(s, n) for s, n in enumerate([1000, 16000, 2345])]
    emb = embed(clips, model=frames, pooling=pooling)
    expected = np.stack([reduce(frames(c)) for c in clips]).astype(np.float32)
    assert emb.shape == expected.shape
    assert_allclose(emb, expected, rtol=1e-6, atol=1e-7)


def test_callable_batch_convention():
    seen = []

    def batch_model(X):
        seen.append(X.shape)
        assert X.ndim == 2 and X.dtype == np.float32
        return np.stack([X.mean(axis=1), X.std(axis=1)], axis=1)

    lengths = [1000] * 5 + [2000] * 2 + [1000]
    clips = [make_float(s, n) for s, n in enumerate(lengths)]
    emb = embed(clips, model=batch_model, call_convention="batch", batch_size=4)
    expected = np.array([[c.mean(), c.std()] for c in clips], dtype=np.float32)
    assert_allclose(emb, expected, rtol=1e-6, atol=1e-7)
    # only clips of equal length share a batch, at most batch_size of them
    assert sorted(seen) == [(2, 1000), (2, 2000), (4, 1000)]
    # batch_size does not change results
    assert_allclose(embed(clips, model=batch_model, call_convention="batch", batch_size=1), emb)


def test_callable_min_length_pads():
    lengths = []

    def model(x):
        lengths.append(len(x))
        return np.array([x.sum()])

    clip = make_float(0, 300)
    emb = embed([clip], model=model, min_length=1000)
    assert lengths == [1000]
    assert_allclose(emb[0, 0], np.pad(clip, (0, 700), mode="symmetric").sum(), rtol=1e-5)


def test_callable_dimension_found_lazily_for_feature_names():
    calls = []

    def model(x):
        calls.append(len(x))
        return np.zeros((3, 7)) + x.mean()

    enc = EncoderTransformer(model).fit([make_float(0, 800)])
    assert enc.encoder_.dim is None and calls == []
    assert len(enc.get_feature_names_out()) == 7  # runs the model once on silence
    assert calls == [SR]
    assert enc.transform([make_float(1, 800)]).shape == (1, 7)

    def batch_model(X):
        return np.ones((X.shape[0], 5))

    enc = EncoderTransformer(batch_model, call_convention="batch").fit([make_float(0, 800)])
    assert len(enc.get_feature_names_out()) == 5


def test_callable_errors_name_the_clip():
    def fails_on_short(x):
        if len(x) < 1000:
            raise RuntimeError("input too short")
        return np.zeros(3)

    with pytest.raises(ValueError, match=r"failed on X\[1\].*input too short.*min_length"):
        embed([make_float(0, 2000), make_float(1, 500)], model=fails_on_short)

    def returns_nan(x):
        return np.full(3, np.nan if len(x) == 500 else 0.0)

    with pytest.raises(ValueError, match=r"NaN or infinite values for X\[1\]"):
        embed([make_float(0, 2000), make_float(1, 500)], model=returns_nan)

    def no_frames(x):
        return np.zeros((0, 4))

    with pytest.raises(ValueError, match=r"no frames for X\[0\].*min_length"):
        embed([make_float(0, 2000)], model=no_frames)


# -- 5. the embedding cache ----------------------------------------------------

HELPER_SOURCE = """
import numpy as np

CALLS = []


def encode(x):
    CALLS.append(len(x))
    return np.array([x.mean(), x.std(), np.abs(x).max(), float(len(x))], dtype=np.float32)
"""


@pytest.fixture
def helper_module(tmp_path, monkeypatch):
    """A module-level counting encoder, importable here and in subprocesses."""
    import importlib

    name = f"skaloe_test_helper_{uuid.uuid4().hex[:12]}"
    folder = tmp_path / "helpers"
    folder.mkdir()
    (folder / f"{name}.py").write_text(HELPER_SOURCE)
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)


def test_cache_warm_pass_new_instance_and_new_process(tmp_path, monkeypatch):
    pcm = [make_int16(s, n) for s, n in enumerate([4000, 8000, 16000, 4000])]
    paths = write_wavs(tmp_path, pcm)
    X = paths[:2] + [as_float(pcm[2]), pcm[3]]  # files and arrays
    cache = tmp_path / "cache"
    uncached = embed(X)
    cold = embed(X, memory=cache)
    assert_array_equal(cold, uncached)
    assert shard_files(cache)

    forbid_spectral(monkeypatch)
    assert_array_equal(embed(X, memory=cache), uncached)  # new instance, same process
    np.savez(tmp_path / "arrays.npz", a=as_float(pcm[2]), b=pcm[3])
    run_python(
        """
        import sys
        import numpy as np
        from skaloe import EncoderTransformer
        from skaloe.encoders._runners import SpectralRunner

        def boom(self, waveforms, indices):
            raise AssertionError("spectral encoder ran: cache missed")

        SpectralRunner.embed = boom
        cache, a, b, arrays, out = sys.argv[1:]
        arrays = np.load(arrays)
        emb = EncoderTransformer("mfcc", memory=cache).fit_transform([a, b, arrays["a"], arrays["b"]])
        np.save(out, emb)
        """,
        cache, paths[0], paths[1], tmp_path / "arrays.npz", tmp_path / "out.npy",
    )
    assert_array_equal(np.load(tmp_path / "out.npy"), uncached)


def test_cache_callable_model_across_processes(tmp_path, helper_module):
    clips = [make_float(s, n) for s, n in enumerate([1000, 2000, 3000])]
    np.save(tmp_path / "clips.npy", np.array(clips, dtype=object), allow_pickle=True)
    cache = tmp_path / "cache"
    uncached = embed(clips, model=helper_module.encode)
    del helper_module.CALLS[:]
    cold = embed(clips, model=helper_module.encode, memory=cache)
    assert_array_equal(cold, uncached)
    assert len(helper_module.CALLS) == 3
    warm = embed(clips, model=helper_module.encode, memory=cache)
    assert_array_equal(warm, uncached)
    assert len(helper_module.CALLS) == 3  # nothing recomputed

    out = run_python(
        """
        import importlib, sys
        import numpy as np
        folder, name, cache, clips, out = sys.argv[1:]
        sys.path.insert(0, folder)
        helper = importlib.import_module(name)
        from skaloe import EncoderTransformer
        clips = list(np.load(clips, allow_pickle=True))
        clips.append(np.zeros(500, np.float32))  # one new clip
        emb = EncoderTransformer(helper.encode, memory=cache).fit_transform(clips)
        np.save(out, emb)
        print("calls", len(helper.CALLS))
        """,
        Path(helper_module.__file__).parent, helper_module.__name__, cache,
        tmp_path / "clips.npy", tmp_path / "out.npy",
    )
    assert "calls 1" in out  # only the new clip ran in the new process
    got = np.load(tmp_path / "out.npy")
    assert_array_equal(got[:3], uncached)
    assert_array_equal(got[3], helper_module.encode(np.zeros(500, np.float32)))


def test_cache_callables_with_different_closures_do_not_collide(tmp_path):
    def make_model(scale):
        def model(x):
            return np.array([x.mean() * scale, x.std() * scale])

        return model

    clips = [make_float(s, 1000) for s in range(3)]
    cache = tmp_path / "cache"
    one = embed(clips, model=make_model(1.0), memory=cache)
    two = embed(clips, model=make_model(2.0), memory=cache)
    assert_allclose(two, 2 * one, rtol=1e-6)
    assert_array_equal(embed(clips, model=make_model(1.0), memory=cache), one)
    assert len(list((cache / "skaloe-embeddings").iterdir())) == 2


def test_cache_callable_with_comprehension_is_cached(tmp_path):
    def model(x):
        return np.array([float(v) for v in x[:3]])

    clips = [make_float(0, 1000)]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embed(clips, model=model, memory=tmp_path / "cache")
    assert shard_files(tmp_path / "cache")


def test_cache_unfingerprintable_callable_warns_and_still_works(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise TypeError("no")

    thing = Unpicklable()

    def model(x):
        assert thing is not None
        return np.array([x.mean()])

    clips = [make_float(0, 1000)]
    with pytest.warns(UserWarning, match="not cached.*module-level function"):
        emb = embed(clips, model=model, memory=tmp_path / "cache")
    assert_allclose(emb, [[clips[0].mean()]])
    assert not shard_files(tmp_path / "cache")


def test_cache_memory_forms(tmp_path, monkeypatch, count_spectral):
    clips = [make_float(s, 3000) for s in range(3)]
    uncached = embed(clips)
    count_spectral.clear()
    folder = tmp_path / "cache"

    assert_array_equal(embed(clips, memory=str(folder)), uncached)
    assert sum(count_spectral) == 3
    n_files = len(shard_files(folder))
    # the same folder as a Path and as a joblib.Memory: all hits
    assert_array_equal(embed(clips, memory=folder), uncached)
    assert_array_equal(embed(clips, memory=joblib.Memory(folder, verbose=0)), uncached)
    assert_array_equal(embed(clips, memory=joblib.Memory(str(folder), verbose=0)), uncached)
    assert sum(count_spectral) == 3
    assert len(shard_files(folder)) == n_files

    # joblib.Memory(None) disables caching
    count_spectral.clear()
    before = sorted(tmp_path.rglob("*"))
    assert_array_equal(embed(clips, memory=joblib.Memory(None, verbose=0)), uncached)
    assert_array_equal(embed(clips, memory=joblib.Memory(None, verbose=0)), uncached)
    assert sum(count_spectral) == 6
    assert sorted(tmp_path.rglob("*")) == before


def test_cache_is_keyed_by_model_and_parameters(tmp_path, monkeypatch):
    clips = [make_float(s, 4000) for s in range(3)]
    cache = tmp_path / "cache"
    configs = [
        {"model": "mfcc"},
        {"model": "logmel"},
        {"model": "mfcc", "pooling": "mean"},
        {"model": "mfcc", "pooling": "max"},
        {"model": "mfcc", "min_length": 2000},
    ]
    uncached = [embed(clips, **c) for c in configs]
    for c, ref in zip(configs, uncached):
        assert_array_equal(embed(clips, memory=cache, **c), ref)
    folders = list((cache / "skaloe-embeddings").iterdir())
    assert len(folders) == len(configs)
    assert all((f / "model.json").is_file() for f in folders)
    # "auto" and its explicit value are the same configuration
    forbid_spectral(monkeypatch)
    assert_array_equal(embed(clips, memory=cache, model="mfcc", pooling="mean+std"), uncached[0])
    assert_array_equal(embed(clips, memory=cache, model="MFCC", min_length=400), uncached[0])
    for c, ref in zip(configs, uncached):
        assert_array_equal(embed(clips, memory=cache, **c), ref)


def test_cache_changed_file_is_embedded_again(tmp_path, count_spectral):
    pcm = [make_int16(s, 8000) for s in range(3)]
    paths = write_wavs(tmp_path, pcm)
    cache = tmp_path / "cache"
    embed(paths, memory=cache)
    count_spectral.clear()

    # rewrite clip 1 with other audio of the same length (same size), later mtime
    new = make_int16(99, 8000)
    sf.write(paths[1], new, SR, subtype="PCM_16")
    st = os.stat(paths[1])
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    got = embed(paths, memory=cache)
    assert count_spectral == [1]  # only the changed file
    assert_array_equal(got, embed([as_float(pcm[0]), as_float(new), as_float(pcm[2])]))

    # The cache is keyed by path, size and mtime, not by audio content: a copy
    # of an unchanged file under another name is a miss (embedded again, with
    # an identical result), and so is a renamed file.
    import shutil

    copy = tmp_path / "copy.wav"
    shutil.copy(paths[0], copy)
    renamed = tmp_path / "renamed.wav"
    os.rename(paths[2], renamed)
    count_spectral.clear()
    got2 = embed([paths[0], copy, renamed], memory=cache)
    assert count_spectral == [2]
    assert_array_equal(got2, got[[0, 0, 2]])


def test_cache_sees_a_new_size_when_the_mtime_is_kept(tmp_path, count_spectral):
    """A file rewritten with other audio and its old mtime restored (as rsync -t or a
    copy from an archive leaves it) is embedded again: the key holds the size."""
    pcm = [make_int16(s, 8000) for s in range(2)]
    paths = write_wavs(tmp_path, pcm)
    cache = tmp_path / "cache"
    embed(paths, memory=cache)
    count_spectral.clear()

    st = os.stat(paths[1])
    longer = make_int16(42, 12000)
    sf.write(paths[1], longer, SR, subtype="PCM_16")
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(paths[1]).st_mtime_ns == st.st_mtime_ns
    assert os.stat(paths[1]).st_size != st.st_size
    got = embed(paths, memory=cache)
    assert count_spectral == [1]  # only the rewritten file
    assert_array_equal(got[1], embed([as_float(longer)])[0])


def test_cache_duplicates_embedded_once(tmp_path, count_spectral):
    a, b = make_float(0, 4000), make_float(1, 4000)
    path = write_wavs(tmp_path, [make_int16(2, 4000)])[0]
    X = [a, b, a.copy(), path, Path(path), a, path]
    expected = embed([a, b, a, path, path, a, path])
    count_spectral.clear()
    got = embed(X, memory=tmp_path / "cache")
    assert count_spectral == [3]  # a, b and the file, once each
    assert_array_equal(got, expected)
    assert_array_equal(got[0], got[2])
    assert_array_equal(got[3], got[4])
    # without a cache duplicates are embedded (identically) every time
    count_spectral.clear()
    assert_array_equal(embed(X), expected)
    assert count_spectral == [7]


def test_cache_partial_hits_fill_the_right_rows(tmp_path, count_spectral):
    rng = np.random.default_rng(1)
    clips = [make_float(s, 2000 + 100 * (s % 3)) for s in range(10)]
    uncached = embed(clips)
    cache = tmp_path / "cache"
    embed(clips[::2], memory=cache)
    count_spectral.clear()
    order = rng.permutation(10)
    got = embed([clips[i] for i in order], memory=cache)
    assert count_spectral == [5]
    assert_array_equal(got, uncached[order])
    # everything is cached now
    count_spectral.clear()
    assert_array_equal(embed(clips, memory=cache), uncached)
    assert count_spectral == []


def test_cache_shards_merge(tmp_path, monkeypatch, count_spectral):
    monkeypatch.setattr(cache_module, "MAX_SHARDS", 3)
    monkeypatch.setattr(transformer_module, "_CHUNK", 2)
    clips = [make_float(s, 1000) for s in range(25)]
    uncached = embed(clips)
    cache = tmp_path / "cache"
    for start in range(0, 25, 5):  # several calls, each writing up to 3 shards
        part = slice(start, start + 5)
        assert_array_equal(embed(clips[part], memory=cache), uncached[part])
        (folder,) = (cache / "skaloe-embeddings").iterdir()
        assert len(list(folder.glob("*.keys.npy"))) <= 3
        assert len(list(folder.glob("*.emb.npy"))) == len(list(folder.glob("*.keys.npy")))
    count_spectral.clear()
    assert_array_equal(embed(clips, memory=cache), uncached)
    assert count_spectral == []
    # the merged shards hold each clip once
    keys = np.concatenate([np.load(p) for p in folder.glob("*.keys.npy")])
    assert len(keys) == 25 == len(np.unique(keys, axis=0))


def test_cache_interrupted_write_leaves_no_phantom_shard(tmp_path, monkeypatch):
    """A write that fails part way (a full disk) returns the embeddings with a
    warning and leaves no file behind; a temporary file left by a killed
    writer is never read as a shard, nor blocks merges."""
    clips = [make_float(s, 1000) for s in range(4)]
    uncached = embed(clips)
    cache = tmp_path / "cache"
    embed(clips[:1], memory=cache)

    real_replace = os.replace

    def crash_on_keys(src, dst):
        if str(dst).endswith(".keys.npy"):
            raise OSError("simulated crash")
        return real_replace(src, dst)

    monkeypatch.setattr(cache_module.os, "replace", crash_on_keys)
    with pytest.warns(UserWarning, match="Cannot write to the embedding cache .*simulated crash"):
        assert_array_equal(embed(clips[:2], memory=cache), uncached[:2])
    monkeypatch.setattr(cache_module.os, "replace", real_replace)
    (folder,) = (cache / "skaloe-embeddings").iterdir()
    assert not list(folder.glob(".tmp*"))  # the failed write cleaned up after itself

    assert_array_equal(embed(clips, memory=cache), uncached)
    # a temporary file left behind by a killed process is ignored as well
    (folder / ".tmp-0123456789abcdef-deadbeef.keys.npy").write_bytes(b"\x93NUMPY garbage")
    monkeypatch.setattr(cache_module, "MAX_SHARDS", 1)
    assert_array_equal(embed([make_float(9, 1000)], memory=cache), embed([make_float(9, 1000)]))
    assert len(list(folder.glob("[!.]*.keys.npy"))) == 1  # merged despite the stray file
    assert_array_equal(embed(clips, memory=cache), uncached)


@pytest.mark.parametrize("crash_at", ["embeddings", "keys", "removal"])
def test_cache_merge_interrupted_loses_no_row(tmp_path, monkeypatch, crash_at):
    """A merge that dies part way (a crash, a full disk) leaves every row findable."""
    store = cache_module.EmbeddingStore(tmp_path, {"name": "probe", "dim": 3})
    rng = np.random.default_rng(0)
    keys = [bytes(rng.integers(0, 256, 16, dtype=np.uint8)) for _ in range(12)]
    rows = rng.standard_normal((12, 3)).astype(np.float32)
    for start in range(0, 12, 3):  # four shards
        store.add(keys[start:start + 3], rows[start:start + 3])
    assert len(store._shards()) == 4

    real_replace, real_remove = os.replace, os.remove

    def failing_replace(src, dst):  # renaming a written file into place fails
        if (crash_at == "embeddings" and str(dst).endswith(".emb.npy")) or (
                crash_at == "keys" and str(dst).endswith(".keys.npy")):
            raise OSError("simulated crash in merge")
        return real_replace(src, dst)

    def failing_remove(path):
        if crash_at == "removal":
            raise OSError("simulated crash in merge")
        return real_remove(path)

    monkeypatch.setattr(cache_module.os, "replace", failing_replace)
    monkeypatch.setattr(cache_module.os, "remove", failing_remove)
    with pytest.raises(OSError, match="simulated crash in merge"):
        store.merge()
    monkeypatch.undo()
    if crash_at != "removal":  # no half-written merged shard is left behind
        assert sorted(p.name for p in store.folder.iterdir() if p.name.endswith(".npy")) == \
            sorted(f"{shard}{suffix}" for shard in store._shards()
                   for suffix in (".emb.npy", ".keys.npy"))

    reopened = cache_module.EmbeddingStore(tmp_path, {"name": "probe", "dim": 3})
    found, got = reopened.lookup(keys)
    assert found.all()
    assert_array_equal(got, rows)
    reopened.merge()  # a later merge completes the job
    assert len(reopened._shards()) == 1
    found, got = reopened.lookup(keys)
    assert found.all()
    assert_array_equal(got, rows)


CONCURRENT_WORKER = """
import os, sys, time, warnings
import numpy as np
import skaloe.encoders._cache as cache_module
import skaloe.encoders._transformer as transformer_module
from skaloe import EncoderTransformer

cache, sync, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
paths = sys.argv[5:]
transformer_module._CHUNK = 3          # many small shards...
cache_module.MAX_SHARDS = 4            # ...merged often, while others read and write
# Any trouble with the cache (a row not saved, a damaged shard) fails the worker.
warnings.filterwarnings("error", message=".*skaloe-embeddings")
# The race that once failed lookups, forced rather than left to timing: every
# listing of the shards is followed at once by a merge that removes them.
listing, merging = cache_module.EmbeddingStore._shards, []


def list_then_merge(store):
    names = listing(store)
    if not merging:
        merging.append(store)
        try:
            store.merge()
        finally:
            merging.pop()
    return names


cache_module.EmbeddingStore._shards = list_then_merge
clips = []
for s in range(first, last):
    clips.append(paths[s % len(paths)] if s % 5 == 0 else
                 np.random.default_rng(s).uniform(-0.5, 0.5, 600 + 7 * (s % 4)).astype(np.float32))
enc = EncoderTransformer("mfcc", memory=cache)
enc.fit_transform(clips[:1])  # warm up the imports
open(os.path.join(sync, f"ready-{first}"), "w").close()
deadline = time.time() + 60
while not os.path.exists(os.path.join(sync, "go")) and time.time() < deadline:
    time.sleep(0.005)
for start in range(0, len(clips), 6):
    enc.fit_transform(clips[start : start + 6])
print("ok")
"""


def test_cache_concurrent_writers(tmp_path, monkeypatch):
    paths = write_wavs(tmp_path, [make_int16(s, 700) for s in range(4)])
    cache = tmp_path / "cache"
    env = subprocess_env()
    sync = tmp_path / "sync"
    sync.mkdir()
    ranges = [(0, 120), (40, 160), (80, 200)]  # overlapping sets of clips
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_WORKER, cache, sync, str(a), str(b), *paths],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for a, b in ranges
    ]
    # start the three at the same moment, once they have imported everything
    deadline = time.monotonic() + 120
    while len(list(sync.glob("ready-*"))) < len(procs) and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.01)
    (sync / "go").touch()
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        assert "ok" in out

    clips = [
        paths[s % len(paths)] if s % 5 == 0
        else np.random.default_rng(s).uniform(-0.5, 0.5, 600 + 7 * (s % 4)).astype(np.float32)
        for s in range(200)
    ]
    uncached = embed(clips)
    forbid_spectral(monkeypatch)
    assert_array_equal(embed(clips, memory=cache), uncached)
    (folder,) = (cache / "skaloe-embeddings").iterdir()
    names = sorted(p.name for p in folder.iterdir())
    assert not [n for n in names if n.startswith(".tmp") or "tmp" in n], names
    shards = {n[: -len(".keys.npy")] for n in names if n.endswith(".keys.npy")}
    assert {n[: -len(".emb.npy")] for n in names if n.endswith(".emb.npy")} == shards
    expected = {f"{s}{ext}" for s in shards for ext in (".keys.npy", ".emb.npy")}
    assert set(names) == {"model.json"} | expected
    for s in shards:
        assert len(np.load(folder / f"{s}.keys.npy")) == len(np.load(folder / f"{s}.emb.npy"))


# -- 6. pickling, cloning, params, pipelines ----------------------------------


def test_pickle_and_clone_of_fitted_transformer(tmp_path):
    clips = [make_float(s, 3000 + 500 * s) for s in range(4)]
    enc = EncoderTransformer("logmel", pooling="mean", n_jobs=2).fit(clips)
    ref = enc.transform(clips)
    restored = pickle.loads(pickle.dumps(enc))
    assert_array_equal(restored.transform(clips), ref)
    assert restored.encoder_ == enc.encoder_
    cloned = clone(enc)
    assert not hasattr(cloned, "encoder_")
    assert cloned.get_params() == enc.get_params()
    assert_array_equal(cloned.fit(clips[:1]).transform(clips), ref)
    # a transformer with a cache pickles too, and reads the same cache
    cached = EncoderTransformer("mfcc", memory=tmp_path / "cache").fit(clips)
    first = cached.transform(clips)
    assert_array_equal(pickle.loads(pickle.dumps(cached)).transform(clips), first)


def test_get_params_set_params():
    enc = EncoderTransformer()
    params = enc.get_params()
    # The default encoder is the embedded pretrained network.
    assert params["model"] == "ge2e" and params["pooling"] == "auto" and params["memory"] is None
    assert set(params) == {
        "model", "output_key", "call_convention", "pooling", "min_length", "sample_rate",
        "batch_size", "memory", "n_jobs", "timeout", "verbose",
    }
    clips = [make_float(0, 4000)]
    assert enc.fit_transform(clips).shape == (1, 1536)
    assert enc.set_params(model="mfcc") is enc
    assert enc.fit_transform(clips).shape == (1, 80)
    assert enc.set_params(model="logmel", pooling="mean") is enc
    assert enc.get_params()["model"] == "logmel"
    assert enc.fit_transform(clips).shape == (1, 64)
    assert len(enc.get_feature_names_out()) == 64


def test_pipeline_on_file_paths(tmp_path):
    def clip(label, seed):
        rng = np.random.default_rng(seed)
        t = np.arange(8000) / SR
        freq = (300 if label == 0 else 3000) * (1 + 0.05 * rng.uniform(-1, 1))
        x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.standard_normal(8000)
        return x.astype(np.float32)

    labels = np.array([0, 1] * 6)
    paths = []
    for i, y in enumerate(labels):
        path = tmp_path / f"train{i}.wav"
        sf.write(path, clip(y, i), SR, subtype="PCM_16")
        paths.append(str(path))
    pipe = make_pipeline(EncoderTransformer("mfcc"), StandardScaler(), LogisticRegression())
    pipe.fit(paths, labels)
    test_labels = np.array([1, 0, 0, 1])
    test_paths = []
    for i, y in enumerate(test_labels):
        path = tmp_path / f"test{i}.flac"
        sf.write(path, clip(y, 100 + i), SR, subtype="PCM_16")
        test_paths.append(path)
    assert_array_equal(pipe.predict(test_paths), test_labels)
    assert pipe.predict_proba(test_paths).shape == (4, 2)
    assert_array_equal(clone(pipe).fit(paths, labels).predict(test_paths), test_labels)


# -- 7. verbose ----------------------------------------------------------------


def test_verbose_output(tmp_path, capsys):
    clips = [make_float(s, 3000) for s in range(3)]
    embed(clips, verbose=0, memory=tmp_path / "cache0")
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""

    embed(clips, verbose=1)
    err = capsys.readouterr().err
    assert "Embedding with mfcc" in err and "3/3" in err

    embed(clips, verbose=1, memory=tmp_path / "cache")
    err = capsys.readouterr().err
    assert "mfcc: 0 of 3 distinct clips read from the cache" in err
    assert "Embedding with mfcc" in err
    embed(clips + clips[:1], verbose=1, memory=tmp_path / "cache")
    err = capsys.readouterr().err
    assert "mfcc: 3 of 3 distinct clips read from the cache" in err
    assert "Embedding with" not in err  # nothing left to embed


# -- 8. fit learns nothing -------------------------------------------------------


def test_fit_learns_nothing():
    a = [make_float(s, 4000) for s in range(3)]
    b = [make_float(s, 9000) for s in range(10, 14)]
    ref = embed(b)
    assert_array_equal(EncoderTransformer("mfcc").fit(a).transform(b), ref)
    assert_array_equal(EncoderTransformer("mfcc").fit(np.stack(a)).transform(b), ref)
    assert_array_equal(EncoderTransformer("mfcc").fit(np.stack(a)).transform(np.stack(b)), ref)


def test_n_features_in_only_when_fit_on_2d_array(tmp_path):
    pd = require("pandas")
    clips = np.stack([make_float(s, 4000) for s in range(3)])
    enc = EncoderTransformer("mfcc").fit(clips)
    assert enc.n_features_in_ == 4000
    # transform accepts clips of another length anyway
    assert enc.transform(np.stack([make_float(0, 5000)])).shape == (1, 80)
    enc.fit(list(clips))
    assert not hasattr(enc, "n_features_in_")
    enc.fit(clips.astype(np.int16))
    assert enc.n_features_in_ == 4000
    paths = write_wavs(tmp_path, [make_int16(0, 4000)])
    enc.fit(paths)
    assert not hasattr(enc, "n_features_in_") and not hasattr(enc, "feature_names_in_")
    enc.fit(pd.Series(paths))
    assert not hasattr(enc, "n_features_in_")
    assert EncoderTransformer("mfcc").fit(list(clips)).transform(paths).shape == (1, 80)


def test_transform_before_fit_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        EncoderTransformer("mfcc").transform([make_float(0, 1000)])
    with pytest.raises(NotFittedError):
        EncoderTransformer("mfcc").get_feature_names_out()


def test_a_mistyped_model_name_gets_the_closest_names():
    with pytest.raises(ValueError, match=r"Unknown model 'Trilsson5'\. Did you mean 'trillsson5'"):
        EncoderTransformer("Trilsson5").fit([np.zeros(16000, dtype=np.float32)])
    with pytest.raises(ValueError) as far:
        EncoderTransformer("zzzz").fit([np.zeros(16000, dtype=np.float32)])
    assert "Did you mean" not in str(far.value) and "Python callable" in str(far.value)
