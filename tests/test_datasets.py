"""Tests for skaloe.datasets: the vowel generator and class-per-folder I/O."""

import os
import warnings

import numpy as np
import pytest
from sklearn.utils import Bunch

from skaloe.datasets import load_audio_folder, make_vowels, save_audio_folder

import soundfile as sf

VOWEL_NAMES = ["i", "ih", "ey", "eh", "ae", "aa", "ao", "ow", "uh", "uw", "ah", "er"]


# --------------------------------------------------------------------------
# make_vowels
# --------------------------------------------------------------------------


def test_make_vowels_bunch_shapes_dtypes_and_range():
    bunch = make_vowels(30, n_classes=5, n_speakers=7, duration=0.25, random_state=0)
    assert isinstance(bunch, Bunch)
    assert bunch.data.shape == (30, 4000)
    assert bunch.data.dtype == np.float32
    assert np.all(np.isfinite(bunch.data))
    assert np.abs(bunch.data).max() <= 1.0
    # Every clip carries sound at its random peak level in [0.1, 0.9].
    peaks = np.abs(bunch.data).max(axis=1)
    assert np.all(peaks > 0.08) and np.all(peaks < 0.95)
    assert bunch.target.dtype == np.int64 and bunch.target.shape == (30,)
    assert bunch.target_names == VOWEL_NAMES[:5]
    assert bunch.speaker.shape == (30,)
    assert np.issubdtype(bunch.speaker.dtype, np.integer)
    assert bunch.speaker.min() >= 0 and bunch.speaker.max() < 7
    assert bunch.sample_rate == 16000
    assert isinstance(bunch.DESCR, str) and "Hillenbrand" in bunch.DESCR
    assert "filenames" not in bunch


def test_make_vowels_all_twelve_classes_and_sample_rate():
    bunch = make_vowels(24, duration=0.1, sample_rate=8000, random_state=1)
    assert bunch.target_names == VOWEL_NAMES
    assert bunch.data.shape == (24, 800)
    assert bunch.sample_rate == 8000
    assert np.all(np.isfinite(bunch.data))
    assert all(name.isascii() for name in bunch.target_names)


@pytest.mark.parametrize("n_samples, n_classes", [(36, 12), (37, 12), (10, 3), (2, 2)])
def test_make_vowels_classes_are_balanced(n_samples, n_classes):
    y = make_vowels(
        n_samples, n_classes=n_classes, duration=0.05, random_state=0
    ).target
    counts = np.bincount(y, minlength=n_classes)
    assert counts.sum() == n_samples
    assert counts.max() - counts.min() <= 1
    # Classes come in shuffled order, not sorted.
    if n_samples >= 10:
        assert not np.all(np.diff(y) >= 0)


def test_make_vowels_is_deterministic():
    kwargs = dict(n_classes=4, duration=0.2, noise=0.05)
    a = make_vowels(16, random_state=3, **kwargs)
    b = make_vowels(16, random_state=3, **kwargs)
    c = make_vowels(16, random_state=4, **kwargs)
    assert a.data.tobytes() == b.data.tobytes()
    np.testing.assert_array_equal(a.target, b.target)
    np.testing.assert_array_equal(a.speaker, b.speaker)
    assert not np.array_equal(a.data, c.data)
    # A RandomState instance is accepted and consumed like an int seed.
    d = make_vowels(16, random_state=np.random.RandomState(3), **kwargs)
    assert d.data.tobytes() == a.data.tobytes()


def test_make_vowels_does_not_touch_global_rng():
    np.random.seed(0)
    expected = np.random.rand(3)
    np.random.seed(0)
    make_vowels(4, n_classes=2, duration=0.05, random_state=0)
    np.testing.assert_array_equal(np.random.rand(3), expected)


def test_make_vowels_noise_zero_leaves_silence_at_the_edges():
    clean = make_vowels(20, n_classes=2, duration=0.3, noise=0.0, random_state=0)
    noisy = make_vowels(20, n_classes=2, duration=0.3, noise=0.05, random_state=0)
    # The onset envelope makes the first millisecond silent without noise ...
    peaks = np.abs(clean.data).max(axis=1)
    assert np.all(clean.data[:, 0] == 0)
    assert np.all(np.abs(clean.data[:, :16]).max(axis=1) < 0.01 * peaks)
    # ... and background noise fills them otherwise.
    assert np.abs(noisy.data[:, :200]).std(axis=1).min() > 1e-3


def test_make_vowels_variable_durations_give_a_list():
    X, y = make_vowels(
        20, n_classes=4, duration=(0.1, 0.3), return_X_y=True, random_state=0
    )
    assert isinstance(X, list) and len(X) == 20 and y.shape == (20,)
    lengths = np.array([len(x) for x in X])
    assert all(x.ndim == 1 and x.dtype == np.float32 for x in X)
    assert lengths.min() >= 1600 and lengths.max() <= 4800
    assert len(np.unique(lengths)) > 10
    assert max(np.abs(x).max() for x in X) <= 1.0


def test_make_vowels_return_X_y_matches_bunch():
    X, y = make_vowels(8, n_classes=2, duration=0.1, return_X_y=True, random_state=5)
    bunch = make_vowels(8, n_classes=2, duration=0.1, random_state=5)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_make_vowels_directory_writes_readable_wavs(tmp_path):
    bunch = make_vowels(
        12, n_classes=3, duration=0.2, directory=tmp_path / "vowels", random_state=0
    )
    assert bunch.filenames.shape == (12,)
    for clip, label, path in zip(bunch.data, bunch.target, bunch.filenames):
        name = bunch.target_names[label]
        assert os.path.basename(os.path.dirname(path)) == name
        audio, sr = sf.read(path, dtype="float32")
        assert sr == 16000
        assert sf.info(path).subtype == "PCM_16"
        np.testing.assert_allclose(audio, clip, atol=1.5 / 32768)

    listed = load_audio_folder(tmp_path / "vowels")
    assert listed.target_names == sorted(bunch.target_names)
    assert sorted(listed.filenames) == sorted(bunch.filenames)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_classes=13), "13"),
        (dict(n_classes=1), "n_classes"),
        (dict(n_classes=2.5), "2.5"),
        (dict(n_samples=5, n_classes=6), "n_samples=5"),
        (dict(n_speakers=0), "n_speakers"),
        (dict(duration=-1.0), "-1.0"),
        (dict(duration=0.0), "duration"),
        (dict(duration=(0.5, 0.2)), r"\(0\.5, 0\.2\)"),
        (dict(duration="long"), "long"),
        (dict(sample_rate=4000), "4000"),
        (dict(sample_rate=16000.0), "16000.0"),
        (dict(noise=-0.1), "-0.1"),
    ],
)
def test_make_vowels_rejects_bad_parameters(kwargs, match):
    params = dict(n_samples=12, duration=0.1, random_state=0)
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_vowels(**params)


def test_make_vowels_is_learnable_but_not_trivial():
    import librosa
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    bunch = make_vowels(360, duration=0.5, random_state=0)
    mfcc = librosa.feature.mfcc(y=bunch.data, sr=bunch.sample_rate, n_mfcc=20)
    features = np.hstack([mfcc.mean(axis=-1), mfcc.std(axis=-1)])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        accuracy = cross_val_score(clf, features, bunch.target, cv=cv).mean()
    assert 0.6 < accuracy < 0.99, accuracy


# --------------------------------------------------------------------------
# save_audio_folder
# --------------------------------------------------------------------------


def test_save_audio_folder_layout_and_content(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.uniform(-1.2, 1.2, (4, 500)).astype(np.float32)
    y = np.array([1, 0, 1, 2])
    paths = save_audio_folder(
        tmp_path, X, y, sample_rate=8000, target_names=["cat", "dog", "bird"]
    )
    expected = [
        tmp_path / "dog" / "dog_00000.wav",
        tmp_path / "cat" / "cat_00001.wav",
        tmp_path / "dog" / "dog_00002.wav",
        tmp_path / "bird" / "bird_00003.wav",
    ]
    assert isinstance(paths, np.ndarray) and paths.dtype.kind == "U"
    assert list(paths) == [str(p) for p in expected]
    for clip, path in zip(X, paths):
        audio, sr = sf.read(path, dtype="float32")
        assert sr == 8000
        # Out-of-range samples are clipped to [-1, 1] before quantisation.
        np.testing.assert_allclose(audio, np.clip(clip, -1, 1), atol=1.5 / 32768)


def test_save_audio_folder_labels_as_names_and_list_input(tmp_path):
    X = [np.zeros(100), np.full(300, 0.5)]
    paths = save_audio_folder(tmp_path / "new" / "root", X, ["yes", 7])
    assert os.path.basename(paths[0]) == "yes_00000.wav"
    assert os.path.basename(paths[1]) == "7_00001.wav"
    assert sf.info(paths[1]).frames == 300


def test_save_audio_folder_writes_int16_unchanged(tmp_path):
    clip = np.array([0, 1, -1, 32767, -32768, 1234], dtype=np.int16)
    (path,) = save_audio_folder(tmp_path, [clip], [0])
    audio, _ = sf.read(path, dtype="int16")
    np.testing.assert_array_equal(audio, clip)


@pytest.mark.parametrize(
    "X, y, kwargs, match",
    [
        (np.zeros((3, 10)), [0, 1], {}, "3 clips but y holds 2"),
        ([np.zeros(10), np.zeros((2, 5))], [0, 1], {}, r"X\[1\] has shape \(2, 5\)"),
        ([np.zeros(10), np.zeros(0)], [0, 1], {}, r"X\[1\] is empty"),
        (np.zeros((2, 10, 1)), [0, 1], {}, r"\(2, 10, 1\)"),
        ([np.zeros(10, dtype=np.int64)], [0], {}, "int64"),
        (np.zeros((2, 10)), [0, 5], dict(target_names=["a", "b"]), r"y\[1\] = 5"),
        (np.zeros((1, 10)), ["a"], dict(target_names=["a"]), r"y\[0\] = 'a'"),
        (np.zeros((1, 10)), ["../up"], {}, "../up"),
        (np.zeros((1, 10)), [".hidden"], {}, ".hidden"),
        (np.zeros((1, 10)), [0], dict(sample_rate=0), "sample_rate"),
    ],
)
def test_save_audio_folder_errors(tmp_path, X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        save_audio_folder(tmp_path, X, y, **kwargs)
    assert not list(tmp_path.rglob("*.wav"))


# --------------------------------------------------------------------------
# load_audio_folder
# --------------------------------------------------------------------------


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_load_audio_folder_round_trip(tmp_path):
    X = np.zeros((6, 50), dtype=np.float32)
    y = np.array([2, 0, 1, 2, 0, 0])
    names = ["zebra", "ant", "moth"]
    written = save_audio_folder(tmp_path, X, y, target_names=names)

    bunch = load_audio_folder(tmp_path)
    assert bunch.target_names == ["ant", "moth", "zebra"]
    assert bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.target, [0, 1, 1, 2, 2, 2])
    # Grouped by class, sorted within each class.
    assert list(bunch.filenames) == sorted(written, key=lambda p: (p.split(os.sep)[-2], p))
    # Each listed file keeps the label it was written with.
    label_of = {path: names[label] for path, label in zip(written, y)}
    for path, target in zip(bunch.filenames, bunch.target):
        assert label_of[path] == bunch.target_names[target]
    assert isinstance(bunch.DESCR, str) and "3 classes" in bunch.DESCR

    filenames, target = load_audio_folder(str(tmp_path), return_X_y=True)
    np.testing.assert_array_equal(filenames, bunch.filenames)
    np.testing.assert_array_equal(target, bunch.target)


def test_load_audio_folder_categories(tmp_path):
    for name in ["a", "b", "c"]:
        _touch(tmp_path / name / "x.wav")
    bunch = load_audio_folder(tmp_path, categories=["c", "a"])
    assert bunch.target_names == ["a", "c"]
    np.testing.assert_array_equal(bunch.target, [0, 1])
    assert [os.path.basename(os.path.dirname(p)) for p in bunch.filenames] == ["a", "c"]

    with pytest.raises(ValueError, match=r"\['nope'\].*\['a', 'b', 'c'\]"):
        load_audio_folder(tmp_path, categories=["a", "nope"])


def test_load_audio_folder_shuffle_is_reproducible(tmp_path):
    for i in range(20):
        _touch(tmp_path / f"class{i % 3}" / f"{i:02d}.wav")
    ordered = load_audio_folder(tmp_path)
    first = load_audio_folder(tmp_path, shuffle=True, random_state=0)
    second = load_audio_folder(tmp_path, shuffle=True, random_state=0)
    other = load_audio_folder(tmp_path, shuffle=True, random_state=1)
    np.testing.assert_array_equal(first.filenames, second.filenames)
    np.testing.assert_array_equal(first.target, second.target)
    assert list(first.filenames) != list(ordered.filenames)
    assert list(first.filenames) != list(other.filenames)
    # Shuffling keeps each file with its own label.
    pairs = set(zip(ordered.filenames, ordered.target))
    assert set(zip(first.filenames, first.target)) == pairs


def test_load_audio_folder_extension_filter_and_hidden_entries(tmp_path):
    _touch(tmp_path / "dog" / "a.wav")
    _touch(tmp_path / "dog" / "b.FLAC")
    _touch(tmp_path / "dog" / "notes.txt")
    _touch(tmp_path / "dog" / ".c.wav")
    _touch(tmp_path / "dog" / "sub" / "d.mp3")
    _touch(tmp_path / "dog" / ".cache" / "e.wav")
    _touch(tmp_path / ".git" / "f.wav")
    _touch(tmp_path / "readme.wav")  # not inside a class folder

    bunch = load_audio_folder(tmp_path)
    assert bunch.target_names == ["dog"]
    found = [os.path.relpath(p, tmp_path).replace(os.sep, "/") for p in bunch.filenames]
    assert found == ["dog/a.wav", "dog/b.FLAC", "dog/sub/d.mp3"]

    only_wav = load_audio_folder(tmp_path, extensions=[".WAV"])
    assert [os.path.basename(p) for p in only_wav.filenames] == ["a.wav"]
    no_dot = load_audio_folder(tmp_path, extensions=("flac", "mp3"))
    assert [os.path.basename(p) for p in no_dot.filenames] == ["b.FLAC", "d.mp3"]


def test_load_audio_folder_warns_and_skips_empty_class(tmp_path):
    _touch(tmp_path / "a" / "1.wav")
    _touch(tmp_path / "b" / "readme.txt")
    _touch(tmp_path / "c" / "2.wav")
    with pytest.warns(UserWarning, match=r"'b'"):
        bunch = load_audio_folder(tmp_path)
    assert bunch.target_names == ["a", "c"]
    np.testing.assert_array_equal(bunch.target, [0, 1])


def test_load_audio_folder_missing_path(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match="missing"):
        load_audio_folder(missing)


def test_load_audio_folder_path_is_a_file(tmp_path):
    path = _touch(tmp_path / "clip.wav")
    with pytest.raises(NotADirectoryError, match="clip.wav"):
        load_audio_folder(path)


def test_load_audio_folder_without_class_folders(tmp_path):
    _touch(tmp_path / "loose.wav")
    (tmp_path / ".hidden").mkdir()
    with pytest.raises(ValueError, match="No class subfolders"):
        load_audio_folder(tmp_path)


def test_load_audio_folder_without_audio_files(tmp_path):
    _touch(tmp_path / "a" / "x.txt")
    _touch(tmp_path / "b" / "y.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no per-class warning before the error
        with pytest.raises(ValueError, match=r"No audio files.*'\.ogg'"):
            load_audio_folder(tmp_path, extensions=(".ogg",))


# --------------------------------------------------------------------------
# load_embeddings / save_embeddings / save_store_labels
# --------------------------------------------------------------------------

import json  # noqa: E402
import re  # noqa: E402
import zipfile  # noqa: E402

from skaloe.datasets import load_embeddings, save_embeddings, save_store_labels  # noqa: E402
from skaloe.distributed import _store  # noqa: E402


def _embeddings(n=4, dim=3):
    return np.arange(n * dim, dtype=np.float64).reshape(n, dim) / 7


def test_save_and_load_embeddings_round_trip(tmp_path):
    file = tmp_path / "emb.npz"
    X = _embeddings()
    save_embeddings(file, X, labels=["dog", "cat", "dog", "bird"],
                    paths=[tmp_path / f"{i}.wav" for i in range(4)], model="mfcc")
    assert os.listdir(tmp_path) == ["emb.npz"]  # no temporary file left behind
    data = load_embeddings(file)
    assert isinstance(data, Bunch)
    assert data.embeddings.dtype == np.float32
    np.testing.assert_array_equal(data.embeddings, X.astype(np.float32))
    assert data.labels.dtype == np.int64
    assert data.labels.tolist() == [2, 1, 2, 0]
    assert data.label_names == ["bird", "cat", "dog"]
    assert data.paths == [str(tmp_path / f"{i}.wav") for i in range(4)]
    assert data.model == "mfcc"
    # Plain arrays only: numpy reads the file without pickle.
    with np.load(file, allow_pickle=False) as raw:
        assert sorted(raw.files) == ["embeddings", "label_names", "labels", "model", "paths"]


def test_save_embeddings_keeps_given_label_names_and_their_order(tmp_path):
    file = tmp_path / "emb.npz"
    names = ["zebra", "ant", "unused"]
    save_embeddings(file, _embeddings(3), labels=np.array([1, 0, 1]), label_names=names)
    data = load_embeddings(file)
    assert data.labels.tolist() == [1, 0, 1] and data.label_names == names
    # Class names are matched against label_names, not renumbered.
    save_embeddings(file, _embeddings(3), labels=["ant", "zebra", "ant"], label_names=names)
    assert load_embeddings(file).labels.tolist() == [1, 0, 1]


def test_load_embeddings_without_optional_arrays(tmp_path):
    file = tmp_path / "emb.npz"
    save_embeddings(file, _embeddings())
    data = load_embeddings(file)
    assert data.labels is None and data.label_names is None
    assert data.paths is None and data.model is None
    # A file written by hand with labels but no label_names: the sorted values name them.
    np.savez(file, embeddings=_embeddings(), labels=np.array([7, 3, 7, 3]))
    data = load_embeddings(file)
    assert data.labels.tolist() == [1, 0, 1, 0] and data.label_names == ["3", "7"]


class _Trap:
    """Unpickling this creates the file ``marker``: proof that a reader unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _object_array(marker):
    array = np.empty(4, dtype=object)
    array[:] = [_Trap(marker)] * 4
    return array


_X = _embeddings()
_BAD_FILES = [
    # (what np.savez gets, or raw bytes, the error type, the message without the file name)
    (b"not an npz file\n", ValueError, r"is not an \.npz file \(not a zip archive\)"),
    ({"labels": np.arange(4)}, ValueError,
     r"holds no 'embeddings' array \(it holds 'labels'\)"),
    ({"embeddings": np.arange(4.0)}, ValueError,
     r"'embeddings' must be a 2-D numeric array \(n_clips, dim\), got shape \(4,\)"),
    ({"embeddings": np.array([["a", "b"]])}, ValueError,
     r"'embeddings' must be a 2-D numeric array.*dtype <U1"),
    ({"embeddings": np.zeros((0, 3))}, ValueError, r"'embeddings' is empty \(shape \(0, 3\)\)"),
    ({"embeddings": np.where(np.arange(12).reshape(4, 3) == 7, np.nan, 1.0)}, ValueError,
     r"'embeddings' contains NaN or infinite values \(first in row 2\)"),
    ({"embeddings": _X, "labels": np.arange(3)}, ValueError,
     r"'labels' holds 3 labels but 'embeddings' holds 4 rows; expected one per row"),
    ({"embeddings": _X, "labels": np.zeros((4, 1), dtype=int)}, ValueError,
     r"'labels' must be a 1-D array of class indices or class names, got shape \(4, 1\)"),
    ({"embeddings": _X, "labels": np.array([0, 1, 2, 1]), "label_names": np.array(["a", "b"])},
     ValueError, r"'labels' must be indices into the 2 'label_names' \(0 to 1\), got 2"),
    ({"embeddings": _X, "labels": np.array([0.5, 1, 0, 1]), "label_names": np.array(["a", "b"])},
     ValueError, r"'labels' must be indices into the 2 'label_names'"),
    ({"embeddings": _X, "labels": np.array(["a", "zz", "a", "a"]),
      "label_names": np.array(["a", "b"])}, ValueError,
     r"'labels' holds the class 'zz', which is not in 'label_names'"),
    ({"embeddings": _X, "labels": np.array([0, 1, 0, 1]), "label_names": np.array(["a", "a"])},
     ValueError, r"'label_names' lists the class 'a' twice"),
    ({"embeddings": _X, "labels": np.array([0, 1, 0, 1]), "label_names": np.array([3, 4])},
     ValueError, r"'label_names' must be a 1-D array of strings"),
    ({"embeddings": _X, "paths": np.array(["a.wav", "b.wav"])}, ValueError,
     r"'paths' holds 2 paths but 'embeddings' holds 4 rows"),
    ({"embeddings": _X, "paths": np.arange(4)}, ValueError,
     r"'paths' must be a 1-D array of strings"),
    ({"embeddings": _X, "model": np.array(["mfcc", "logmel"])}, ValueError,
     r"'model' must be a single string, got shape \(2,\)"),
]


@pytest.mark.parametrize("content, error, message", _BAD_FILES,
                         ids=[m.split("'")[1] if "'" in m else m[:20] for _, _, m in _BAD_FILES])
def test_load_embeddings_refuses_bad_files_naming_file_and_array(tmp_path, content, error,
                                                                  message):
    file = tmp_path / "bad.npz"
    if isinstance(content, bytes):
        file.write_bytes(content)
    else:
        np.savez(file, **content)
    with pytest.raises(error, match=re.escape(f"The embeddings file {str(file)!r}") + r".*"
                       + message) as exc:
        load_embeddings(file)
    # Every message says how to get a good file.
    assert "save_embeddings" in str(exc.value)


@pytest.mark.parametrize("key", ["embeddings", "labels", "paths"])
def test_load_embeddings_never_unpickles(tmp_path, key):
    marker = tmp_path / "unpickled"
    arrays = {"embeddings": _X, key: _object_array(str(marker))}
    np.savez(tmp_path / "hostile.npz", **arrays)  # np.savez pickles object arrays
    with pytest.raises(ValueError, match=rf"hostile\.npz': {key!r} is an array of Python "
                                         r"objects, which skaloe never loads"):
        load_embeddings(tmp_path / "hostile.npz")
    assert not marker.exists()


def test_load_embeddings_missing_damaged_and_npy_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'.*nope\.npz' does not exist; write one"):
        load_embeddings(tmp_path / "nope.npz")
    # A zip archive whose 'embeddings' member is not an .npy array.
    with zipfile.ZipFile(tmp_path / "zip.npz", "w") as archive:
        archive.writestr("embeddings.npy", b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match=r"'.*zip\.npz' is damaged \(.*\); write it again"):
        load_embeddings(tmp_path / "zip.npz")
    # A single array saved with np.save is not an embeddings file.
    np.save(tmp_path / "single.npy", _X)
    with pytest.raises(ValueError, match=r"'.*single\.npy' is not an \.npz file"):
        load_embeddings(tmp_path / "single.npy")


_BAD_ARGUMENTS = [
    (dict(embeddings=np.ones(3)), r"'embeddings' must be a 2-D numeric array"),
    (dict(embeddings=np.full((2, 2), np.inf)), r"'embeddings' contains NaN or infinite"),
    (dict(labels=[0, 1]), r"'labels' holds 2 labels but 'embeddings' holds 4 rows"),
    (dict(labels=[None, 1, 0, 1]), r"'labels' must be a 1-D array of class indices"),
    (dict(labels=[0, 1, 2, 0], label_names=["a", "b"]), r"indices into the 2 'label_names'"),
    (dict(label_names=["a", "b"]), r"'label_names' given without 'labels'"),
    (dict(paths=["a.wav"]), r"'paths' holds 1 paths but 'embeddings' holds 4 rows"),
    (dict(model=len), r"'model' must be the encoder's name \(a string\), got "
                      r"builtin_function_or_method"),
]


@pytest.mark.parametrize("kwargs, message", _BAD_ARGUMENTS,
                         ids=[m.split("'")[1] for _, m in _BAD_ARGUMENTS])
def test_save_embeddings_refuses_what_load_embeddings_refuses(tmp_path, kwargs, message):
    file = tmp_path / "emb.npz"
    kwargs = {"embeddings": _X, **kwargs}
    with pytest.raises(ValueError, match=re.escape(f"save_embeddings({str(file)!r})") + ".*"
                       + message):
        save_embeddings(file, kwargs.pop("embeddings"), **kwargs)
    assert not os.listdir(tmp_path)  # nothing written, not even a temporary file


def _make_store(folder, X, finished=True):
    """A real store folder of X's rows, two shards, written as embed_distributed does."""
    paths = [f"clip{i}.wav" for i in range(len(X))]
    manifest = _store.create_store(folder, paths, X.shape[1], 2, "tones", None,
                                   {"model": "mfcc"})
    target = {"folder": os.fspath(folder)}
    target.update({k: manifest[k] for k in ("dim", "data_offset", "n_rows")})
    bounds = _store.shard_bounds(len(X), 2)
    for shard, (start, stop) in enumerate(bounds if finished else bounds[:-1]):
        _store.write_shard(target, shard, start, X[start:stop])
    return folder


def test_store_labels_round_trip_and_removal(tmp_path):
    store = _make_store(tmp_path / "store", _X)
    data = load_embeddings(store)
    assert isinstance(data.embeddings, np.memmap)  # read lazily, not copied into memory
    np.testing.assert_array_equal(data.embeddings, _X.astype(np.float32))
    assert data.labels is None and data.label_names is None
    assert data.paths == [f"clip{i}.wav" for i in range(4)] and data.model == "mfcc"

    save_store_labels(store, ["b", "a", "b", "b"])
    document = json.loads((store / "labels.json").read_text())
    assert document == {"format": "skaloe-store-labels", "version": 1, "n_rows": 4,
                        "label_names": ["a", "b"], "labels": [1, 0, 1, 1]}
    data = load_embeddings(store)
    assert data.labels.tolist() == [1, 0, 1, 1] and data.label_names == ["a", "b"]

    save_store_labels(store, None)  # an unlabeled run leaves no stale labels behind
    assert not (store / "labels.json").exists()
    assert load_embeddings(store).labels is None
    save_store_labels(store, None)  # nothing to remove: no error


def test_save_store_labels_errors(tmp_path):
    store = _make_store(tmp_path / "store", _X)
    with pytest.raises(ValueError, match=r"save_store_labels\('.*store'\): 'labels' holds 3 "
                                         r"labels but the store holds 4 embeddings"):
        save_store_labels(store, [0, 1, 0], label_names=["a", "b"])
    with pytest.raises(ValueError, match="'label_names' given without 'labels'"):
        save_store_labels(store, None, label_names=["a"])
    (tmp_path / "plain").mkdir()
    with pytest.raises(FileNotFoundError, match=r"No embedding store at '.*plain'"):
        save_store_labels(tmp_path / "plain", [0])
    assert not (store / "labels.json").exists()


_BAD_STORE_LABELS = [
    ("{not json", r"cannot be read \("),
    (json.dumps({"format": "other", "labels": [0]}),
     r"is not the labels file of a skaloe embedding store"),
    (json.dumps({"format": "skaloe-store-labels", "version": 2}),
     r"has 'version' 2; this skaloe reads version 1: upgrade skaloe"),
    (json.dumps({"format": "skaloe-store-labels", "version": 1, "label_names": "ab",
                 "labels": [0, 0, 0, 0]}), r"'label_names' must be a list of class names"),
    (json.dumps({"format": "skaloe-store-labels", "version": 1, "label_names": ["a"],
                 "labels": [0, 1, 0, 0]}), r"'labels' must be a list of indices into the 1 "),
    (json.dumps({"format": "skaloe-store-labels", "version": 1, "label_names": ["a"],
                 "labels": [0, True, 0, 0]}), r"'labels' must be a list of indices"),
    (json.dumps({"format": "skaloe-store-labels", "version": 1, "label_names": ["a"],
                 "labels": [0, 0, 0]}), r"'labels' holds 3 labels but the store holds 4"),
]


@pytest.mark.parametrize("text, message", _BAD_STORE_LABELS,
                         ids=[m.split("'")[1] if "'" in m else m[:12]
                              for _, m in _BAD_STORE_LABELS])
def test_load_embeddings_refuses_bad_store_labels(tmp_path, text, message):
    store = _make_store(tmp_path / "store", _X)
    (store / "labels.json").write_text(text)
    with pytest.raises(ValueError, match=r"The labels file '.*labels\.json'.*" + message):
        load_embeddings(store)


def test_load_embeddings_refuses_unfinished_and_non_finite_stores(tmp_path):
    store = _make_store(tmp_path / "unfinished", _X, finished=False)
    with pytest.raises(ValueError, match=r"'.*unfinished' is an incomplete embedding store: "
                                         r"1 of 2 shards are embedded; run"):
        load_embeddings(store)
    bad = _X.copy()
    bad[3, 1] = np.inf
    store = _make_store(tmp_path / "inf", bad)
    with pytest.raises(ValueError, match=r"The embedding store '.*inf': 'embeddings' contains "
                                         r"NaN or infinite values \(first in row 3\)"):
        load_embeddings(store)
    (tmp_path / "plain").mkdir()
    with pytest.raises(FileNotFoundError, match=r"No embedding store at '.*plain'"):
        load_embeddings(tmp_path / "plain")
