"""Long recordings (issue 14): windows as pool items, read without decoding whole files.

Recordings are built here from tones, vowels and silences with known
boundaries and written with soundfile; all are small, except the one that
checks memory stays bounded.
"""

import os
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
import soundfile as sf
from ci_support import require
from numpy.testing import assert_array_equal
from sklearn.utils import Bunch

from skaloe import EncoderTransformer
from skaloe.datasets import make_vowels, segment_recordings
from skaloe.encoders import Segment, _audio, read_segment
from skaloe.encoders import _segments as segments_module


def frame(t, sr):
    """The documented frame of a time: the nearest, halves up."""
    return int(np.floor(t * sr + 0.5))


def tone(seconds, sr, freq=440.0, level=0.3, phase=0.0):
    t = np.arange(int(round(seconds * sr))) / sr
    return (level * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def write(path, samples, sr, **kwargs):
    sf.write(str(path), samples, sr, **kwargs)
    return str(path)


def decoded(path):
    """The whole file as the file reader decodes it: float32, channels averaged."""
    data, sr = sf.read(path, dtype="float32", always_2d=True)
    return data.mean(axis=1, dtype=np.float32), sr


def rows(table):
    return list(zip(np.asarray(table["start"]).tolist(), np.asarray(table["end"]).tolist()))


def speech(seconds, sr, seed=0):
    """``seconds`` one-second synthetic vowels, end to end."""
    vowels = make_vowels(max(seconds, 12), sample_rate=sr, random_state=seed).data
    return vowels[:seconds].ravel()


def mean_abs(x):
    """A cheap module-level encoder: two numbers per clip."""
    return np.array([np.abs(x).mean(), len(x)], dtype=np.float32)


# -- windowing ---------------------------------------------------------------------------


@pytest.mark.parametrize("window, hop, expected", [
    # 5.5 s: windows every hop while they fit, then one that ends with the recording
    (2.0, 1.0, [(0, 2), (1, 3), (2, 4), (3, 5), (3.5, 5.5)]),
    (2.0, None, [(0, 2), (2, 4), (3.5, 5.5)]),  # hop = window
    (2.0, 2.0, [(0, 2), (2, 4), (3.5, 5.5)]),
    (1.0, 0.5, [(k / 2, k / 2 + 1) for k in range(10)]),  # they end at 5.5: no extra window
    (5.5, None, [(0, 5.5)]),  # exactly one window
    (8.0, 2.0, [(0, 5.5)]),  # longer than the recording: the whole recording
])
def test_windows_start_every_hop_and_the_last_one_ends_with_the_recording(
        tmp_path, window, hop, expected):
    path = write(tmp_path / "rec.wav", tone(5.5, 8000), 8000)
    table = segment_recordings(path, window=window, hop=hop, as_frame=False)
    assert rows(table) == [(float(a), float(b)) for a, b in expected]
    assert list(table.path) == [path] * len(expected)
    assert table.attrs["window"] == window and table.attrs["hop"] == (hop or window)


def test_every_sample_is_in_a_window_and_windows_have_one_length(tmp_path):
    sr = 22050
    n = sr * 7 + 1234  # not a whole number of hops
    path = write(tmp_path / "odd.wav", np.zeros(n, np.float32), sr)
    table = segment_recordings(path, window=0.75, hop=0.3, as_frame=False)
    a = np.array([frame(s, sr) for s in table.start])
    b = np.array([frame(e, sr) for e in table.end])
    assert a[0] == 0 and b[-1] == n
    assert np.all(a[1:] <= b[:-1])  # no gap anywhere
    assert set(b - a) <= {frame(0.75, sr), frame(0.75, sr) - 1, frame(0.75, sr) + 1}
    assert np.allclose(table.end - table.start, 0.75)
    # starts at 0, hop, 2 hop, ... then the last one aligned to the end
    assert_array_equal(table.start[:-1], np.round(np.arange(len(a) - 1) * 0.3, 9))
    assert table.end[-1] == n / sr and table.start[-1] == round(n / sr - 0.75, 9)


def test_recordings_of_a_folder_and_a_list(tmp_path):
    folder = tmp_path / "field"
    (folder / "night" / "deep").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    b = write(folder / "night" / "b.flac", tone(1.5, 8000), 8000)
    c = write(folder / "night" / "deep" / "c.WAV", tone(0.5, 16000), 16000)
    a = write(folder / "a.wav", tone(2.0, 8000), 8000)
    write(folder / ".hidden" / "x.wav", tone(2.0, 8000), 8000)
    (folder / "notes.txt").write_text("not audio")
    table = segment_recordings(folder, window=1.0)
    assert list(table["path"]) == [a, a, b, b, c]
    assert rows(table) == [(0, 1), (1, 2), (0, 1), (0.5, 1.5), (0, 0.5)]
    assert list(table.columns) == ["path", "start", "end"]
    # a list mixes files and folders; a file named directly is kept whatever its suffix
    other = write(tmp_path / "other.snd", tone(1.0, 8000), 8000, format="WAV")
    table = segment_recordings([other, folder / "night"], window=1.0)
    assert list(table["path"]) == [other, b, b, c]


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32",
                    reason="symbolic links need a POSIX file system")
def test_a_link_cycle_in_a_folder_ends(tmp_path):
    folder = tmp_path / "field"
    folder.mkdir()
    a = write(folder / "a.wav", tone(1.0, 8000), 8000)
    os.symlink(folder, folder / "loop")
    with pytest.warns(UserWarning, match=r"'loop' leads to the top folder"):
        table = segment_recordings(folder, window=1.0)
    assert list(table["path"]) == [a]


def test_return_types(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    path = write(tmp_path / "rec.wav", tone(2.0, 8000), 8000)
    frame_table = segment_recordings(path)
    assert isinstance(frame_table, pd.DataFrame)
    assert frame_table["start"].dtype == np.float64 and frame_table.attrs["n_silent"] == {}
    bunch = segment_recordings(path, as_frame=False)
    assert isinstance(bunch, Bunch) and bunch.path.dtype == object
    assert bunch.attrs == frame_table.attrs
    monkeypatch.setitem(sys.modules, "pandas", None)  # pandas not installed
    assert isinstance(segment_recordings(path), Bunch)
    with pytest.raises(ImportError, match="as_frame=False"):
        segment_recordings(path, as_frame=True)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"window": 0}, ValueError, r"window must be a positive, finite number of seconds, got 0"),
    ({"window": -1.0}, ValueError, "window must be a positive"),
    ({"window": float("nan")}, ValueError, "window must be a positive"),
    ({"window": float("inf")}, ValueError, "window must be a positive"),
    ({"window": "1"}, TypeError, "window must be a number of seconds"),
    ({"hop": 0.0}, ValueError, "hop must be a positive"),
    ({"window": 1.0, "hop": 1.5}, ValueError, r"hop=1.5 is longer than window=1.0.*table\[::k\]"),
    ({"silence_threshold": float("nan")}, ValueError, "silence_threshold must be a finite"),
    ({"as_frame": "yes"}, ValueError, "as_frame must be"),
    ({"window": 1e-5}, ValueError, r"shorter than one sample of .*rec\.wav"),
])
def test_window_and_hop_are_checked(tmp_path, kwargs, error, match):
    path = write(tmp_path / "rec.wav", tone(1.0, 8000), 8000)
    with pytest.raises(error, match=match):
        segment_recordings(path, **kwargs)


def test_paths_are_checked(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"paths\[1\] = '.*missing\.wav' does not exist"):
        segment_recordings([write(tmp_path / "a.wav", tone(1, 8000), 8000),
                            tmp_path / "missing.wav"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"No audio files .* in the folder .*empty"):
        segment_recordings(tmp_path / "empty")
    with pytest.raises(ValueError, match=r"'.*nothing\.wav' holds no samples"):
        segment_recordings(write(tmp_path / "nothing.wav", np.zeros(0), 8000))
    with pytest.raises(ValueError, match="paths is empty"):
        segment_recordings([])


# -- silence -------------------------------------------------------------------------------


def test_skip_silence_drops_exactly_the_silent_windows(tmp_path):
    sr = 8000
    rng = np.random.default_rng(0)
    # 0-3 s tone | 3-6 s zeros | 6-8 s vowels | 8-9 s noise at -70 dBFS | 9-10 s noise at -50
    parts = [
        tone(3, sr),
        np.zeros(3 * sr, np.float32),
        speech(2, sr),
        (10 ** (-70 / 20) * rng.standard_normal(sr)).astype(np.float32),
        (10 ** (-50 / 20) * rng.standard_normal(sr)).astype(np.float32),
    ]
    path = write(tmp_path / "rec.wav", np.concatenate(parts), sr, subtype="FLOAT")
    # the two channels cancel: averaged, the second file is silent throughout
    cancel = write(tmp_path / "cancel.wav", np.stack([tone(2, sr), -tone(2, sr)], axis=1), sr,
                   subtype="FLOAT")
    all_windows = segment_recordings([path, cancel], window=1.0, hop=0.5)
    assert len(all_windows) == 19 + 3
    with pytest.warns(UserWarning) as record:
        table = segment_recordings([path, cancel], window=1.0, hop=0.5, skip_silence=True)
    silent = [(3.0, 4.0), (3.5, 4.5), (4.0, 5.0), (4.5, 5.5), (5.0, 6.0), (8.0, 9.0)]
    expected = [r for r in rows(all_windows[:19]) if r not in silent]
    assert rows(table) == expected  # windows that touch sound are kept
    assert table.attrs["n_silent"] == {path: 6, cancel: 3}
    # the dropped windows themselves, to listen to or to check the threshold with
    assert table.attrs["silent"] == ([(path, s, e) for s, e in silent]
                                     + [(cancel, 0.0, 1.0), (cancel, 0.5, 1.5), (cancel, 1.0, 2.0)])
    assert table.attrs["silence_threshold"] == -60.0
    message = str(record[0].message)
    assert "dropped 9 of 22 windows quieter than -60 dBFS" in message
    assert f"{path!r} 6 of 19" in message and f"{cancel!r} 3 of 3" in message
    assert "1 of them kept no window" in message
    # a higher threshold also drops the -50 dBFS stretch
    with pytest.warns(UserWarning):
        louder = segment_recordings(path, window=1.0, skip_silence=True, silence_threshold=-40)
    assert (9.0, 10.0) not in rows(louder) and (0.0, 1.0) in rows(louder)


def test_no_warning_when_nothing_is_silent(tmp_path):
    path = write(tmp_path / "rec.wav", tone(3, 8000), 8000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = segment_recordings(path, skip_silence=True)
    assert len(table) == 3 and table.attrs["n_silent"] == {} and table.attrs["silent"] == []


# -- embedding segments ---------------------------------------------------------------


RECORDINGS = [  # (rate, channels, format, subtype)
    (16000, 1, "WAV", "PCM_16"),
    (22050, 2, "WAV", "FLOAT"),
    (44100, 2, "WAV", "PCM_16"),
    (8000, 1, "FLAC", "PCM_16"),
    (44100, 2, "FLAC", "PCM_24"),
    (44100, 2, "OGG", "VORBIS"),  # lossy: decoded through, never seeked
]


def _recording(path, sr, channels, fmt, subtype, seconds=12.0, seed=0):
    rng = np.random.default_rng(seed)
    voice = speech(int(seconds), sr, seed)
    x = voice + 0.01 * rng.standard_normal(len(voice)).astype(np.float32)
    x[int(2 * sr) : int(3.5 * sr)] = 0.0
    if channels == 2:
        x = np.stack([x, np.roll(x, 37) * 0.5], axis=1)
    return write(path, x, sr, format=fmt, subtype=subtype)


@pytest.mark.parametrize("sr, channels, fmt, subtype", RECORDINGS)
def test_segment_embeds_as_its_samples_given_as_an_array(tmp_path, sr, channels, fmt, subtype):
    path = _recording(tmp_path / f"rec.{fmt.lower()}", sr, channels, fmt, subtype)
    whole, rate = decoded(path)
    assert rate == sr
    table = segment_recordings(path, window=1.0, hop=0.4)
    # odd bounds, overlapping and far apart, in a shuffled order
    extra = [(path, 0.123456, 0.9), (path, 7.77, 11.2), (path, 0.0, 12.0), (path, 3.3, 3.31)]
    segs = [Segment(p, s, e) for p, s, e in zip(table["path"], table["start"], table["end"])]
    segs = [segs[i] for i in np.random.default_rng(1).permutation(len(segs))] + extra
    arrays = [whole[frame(s, sr) : frame(e, sr)] for _, s, e in segs]
    got = EncoderTransformer("mfcc").fit_transform(segs)
    want = EncoderTransformer("mfcc", sample_rate=sr).fit_transform(arrays)
    assert_array_equal(got, want)


def test_segment_embeds_as_its_samples_with_the_default_encoder(tmp_path):
    path = _recording(tmp_path / "rec.wav", 44100, 2, "WAV", "PCM_16", seconds=6)
    whole, sr = decoded(path)
    table = segment_recordings(path, window=1.0, hop=0.5)
    arrays = [whole[frame(s, sr) : frame(e, sr)] for s, e in rows(table)]
    assert_array_equal(EncoderTransformer().fit_transform(table),
                       EncoderTransformer(sample_rate=sr).fit_transform(arrays))


def test_every_form_of_a_segment_table(tmp_path):
    a = _recording(tmp_path / "a.wav", 16000, 1, "WAV", "PCM_16", seconds=4, seed=1)
    b = _recording(tmp_path / "b.flac", 8000, 2, "FLAC", "PCM_16", seconds=3, seed=2)
    bunch = segment_recordings([a, b], window=1.5, hop=1.0, as_frame=False)
    encoder = EncoderTransformer("mfcc")
    reference = encoder.fit_transform(bunch)
    n = len(bunch.path)
    tuples = list(zip(bunch.path, bunch.start, bunch.end))
    assert_array_equal(encoder.fit_transform(tuples), reference)
    assert_array_equal(encoder.fit_transform([Segment(*t) for t in tuples]), reference)
    assert_array_equal(encoder.fit_transform([list(t) for t in tuples]), reference)
    assert_array_equal(encoder.fit_transform(
        {"path": list(bunch.path), "start": bunch.start, "end": bunch.end}), reference)
    pd = pytest.importorskip("pandas")
    frame_table = pd.DataFrame({"label": ["?"] * n, "path": bunch.path, "start": bunch.start,
                                "end": bunch.end}, index=np.arange(n) * 10)
    encoder.fit(frame_table)
    assert not hasattr(encoder, "n_features_in_")
    assert_array_equal(encoder.transform(frame_table), reference)
    # the three columns as an object array, as a ColumnTransformer passes them
    from sklearn.compose import make_column_transformer

    columns = make_column_transformer((EncoderTransformer("mfcc"), ["path", "start", "end"]))
    assert_array_equal(columns.fit_transform(frame_table), reference)
    # rows mix recordings, whole files, waveforms and segments
    wave = tone(1.0, 16000)
    mixed = encoder.fit_transform([tuples[3], a, wave, tuples[0]])
    assert_array_equal(mixed[[0, 3]], reference[[3, 0]])
    assert_array_equal(mixed[1], encoder.transform([a])[0])
    assert_array_equal(mixed[2], encoder.transform([wave])[0])


@pytest.mark.parametrize("row, error, match", [
    (("{a}", 2.0, 1.0), ValueError, r"X\[1\] \(a segment of '.*a\.wav'\) ends at 1.0 s, not "
                                    r"after its start 2.0 s"),
    (("{a}", 1.0, 1.0), ValueError, r"X\[1\] .*not after its start"),
    (("{a}", -0.5, 1.0), ValueError, r"X\[1\] \(a segment of '.*a\.wav'\) starts at -0.5 s"),
    (("{a}", float("nan"), 1.0), ValueError, r"X\[1\] .* has start=nan; start must be a finite"),
    (("{a}", 0.0, float("inf")), ValueError, r"X\[1\] .* has end=inf"),
    (("{a}", "0", 1.0), TypeError, r"X\[1\] .* has start='0', of type str"),
    (("{a}", True, 1.0), TypeError, r"X\[1\] .* has start=True"),
    (("{a}", 3.0, 4.01), ValueError, r"Segment 3.000 s to 4.010 s of audio file '.*a\.wav' "
                                     r"\(X\[1\]\) ends past the end of the recording, which "
                                     r"lasts 4.000 s"),
    (("{a}", 4.5, 5.0), ValueError, r"X\[1\]\) ends past the end"),
    (("{missing}", 0.0, 1.0), FileNotFoundError, r"'.*missing\.wav' \(X\[1\]\) does not exist"),
    (("{a}", 0.0, 601.0), ValueError, r"X\[1\]\) ends past the end"),
])
def test_bad_segments_are_named(tmp_path, row, error, match):
    a = write(tmp_path / "a.wav", tone(4.0, 8000), 8000)
    bad = (row[0].format(a=a, missing=tmp_path / "missing.wav"), *row[1:])
    with pytest.raises(error, match=match):
        EncoderTransformer("mfcc").fit_transform([(a, 0.0, 1.0), bad])


def test_a_segment_may_end_a_millisecond_past_the_recording(tmp_path):
    path = write(tmp_path / "a.wav", tone(4.0, 8000), 8000)
    encoder = EncoderTransformer("mfcc")
    assert_array_equal(encoder.fit_transform([(path, 3.0, 4.0009)]),
                       encoder.transform([(path, 3.0, 4.0)]))


def test_bad_tables_are_named(tmp_path):
    path = write(tmp_path / "a.wav", tone(2.0, 8000), 8000)
    encoder = EncoderTransformer("mfcc")
    with pytest.raises(ValueError, match=r"path, start and end columns have different lengths "
                                         r"\(2, 2, 1\)"):
        encoder.fit_transform({"path": [path, path], "start": [0.0, 1.0], "end": [1.0]})
    with pytest.raises(ValueError, match="table of segments with no rows"):
        encoder.fit_transform({"path": [], "start": [], "end": []})
    with pytest.raises(ValueError, match=r"'start' is not one column"):
        encoder.fit_transform({"path": [path], "start": 0.0, "end": [1.0]})


def test_the_clip_limit_applies_to_a_segment_not_to_its_recording(tmp_path, monkeypatch):
    sr = 1000  # 11 minutes at the lowest rate skaloe accepts: 1.3 MB
    x = np.zeros(11 * 60 * sr, dtype=np.int16)
    x[::50] = 3000  # a click every 50 ms
    path = write(tmp_path / "long.wav", x, sr, subtype="PCM_16")
    encoder = EncoderTransformer("mfcc")
    with pytest.raises(ValueError, match=r"lasts 660.0 s, longer than the 600 s .*"
                                         r"segment_recordings"):
        encoder.fit_transform([path])
    table = segment_recordings(path, window=10.0)
    assert len(table) == 66 and table["end"].iloc[-1] == 660.0
    emb = encoder.fit_transform(table)
    assert emb.shape == (66, 80) and np.isfinite(emb).all()
    assert_array_equal(emb[-1], encoder.transform([(path, 650.0, 660.0)])[0])
    with pytest.raises(ValueError, match=r"Segment 0.000 s to 601.000 s .*\(X\[0\]\) lasts "
                                         r"601.0 s, longer than the 600 s"):
        encoder.transform([(path, 0.0, 601.0)])
    monkeypatch.setattr(_audio, "MAX_DURATION", 5.0)  # the limit stays a module constant
    with pytest.raises(ValueError, match=r"lasts 10.0 s, longer than the 5 s"):
        encoder.transform(table)


# -- caching --------------------------------------------------------------------------


def test_cache_keys_hold_the_segment_bounds(tmp_path, count_spectral):
    path = _recording(tmp_path / "rec.wav", 16000, 1, "WAV", "PCM_16", seconds=5)
    table = segment_recordings(path, window=1.0, hop=0.5)
    encoder = EncoderTransformer("mfcc", memory=tmp_path / "cache")
    first = encoder.fit_transform(table)
    assert sum(count_spectral) == len(table)
    count_spectral.clear()
    assert_array_equal(encoder.transform(table), first)
    assert count_spectral == []  # all read back
    # another segment of the same file, and the whole file, are not cache hits
    other = encoder.transform([(path, 0.25, 1.25), (path, 0.0, 1.0), path])
    assert sum(count_spectral) == 2
    assert_array_equal(other[1], first[0])
    key = _audio.clip_key
    assert key(Segment(path, 0.0, 1.0), 0, 16000) != key(Segment(path, 0.0, 1.5), 0, 16000)
    assert key(Segment(path, 0.0, 1.0), 0, 16000) != key(path, 0, 16000)
    count_spectral.clear()
    encoder.transform([(path, -0.0, 1), (path, np.float32(0.5), np.int64(2) - 0.5)])
    assert count_spectral == []  # the same bounds, written otherwise


def test_a_rewritten_recording_is_embedded_again(tmp_path, count_spectral):
    path = write(tmp_path / "rec.wav", tone(3.0, 8000), 8000)
    encoder = EncoderTransformer("mfcc", memory=tmp_path / "cache")
    first = encoder.fit_transform([(path, 1.0, 2.0)])
    write(path, tone(3.0, 8000, freq=880.0), 8000)
    count_spectral.clear()
    second = encoder.transform([(path, 1.0, 2.0)])
    assert count_spectral == [1] and not np.array_equal(first, second)


# -- reading ------------------------------------------------------------------------------


def test_read_segment_gives_what_the_encoder_embeds(tmp_path):
    path = _recording(tmp_path / "rec.wav", 44100, 2, "WAV", "PCM_16", seconds=5)
    whole, sr = decoded(path)
    samples, rate = read_segment(path, 1.25, 2.5)
    assert rate == sr and samples.dtype == np.float32
    assert_array_equal(samples, whole[frame(1.25, sr) : frame(2.5, sr)])
    at_16k, rate = read_segment(path, 1.25, 2.5, sample_rate=16000)
    assert rate == 16000
    assert_array_equal(at_16k, _audio.load_clip(Segment(path, 1.25, 2.5), 0, 16000))
    # context, clipped to the recording
    around, _ = read_segment(path, 0.5, 4.5, context=1.0)
    assert_array_equal(around, whole)
    around, _ = read_segment(path, 2.0, 2.5, context=0.25)
    assert_array_equal(around, whole[frame(1.75, sr) : frame(2.75, sr)])
    with pytest.raises(ValueError, match="ends past the end of the recording"):
        read_segment(path, 4.0, 6.0)
    with pytest.raises(ValueError, match="context must be"):
        read_segment(path, 1.0, 2.0, context=-1)
    with pytest.raises(ValueError, match="sample_rate must be"):
        read_segment(path, 1.0, 2.0, sample_rate=100)


def test_segments_of_files_libsndfile_cannot_open(tmp_path, monkeypatch):
    """Such files go through audioread: decoded from their start, never seeked."""
    path = _recording(tmp_path / "rec.wav", 16000, 2, "WAV", "PCM_16", seconds=4)
    whole, sr = decoded(path)

    class Unreadable(sf.SoundFile):
        def __init__(self, *args, **kwargs):
            raise sf.SoundFileRuntimeError("Format not recognised.")

    monkeypatch.setattr(sf, "SoundFile", Unreadable)
    table = segment_recordings(path, window=1.0, hop=0.5)  # measured by decoding it
    assert rows(table)[-1] == (3.0, 4.0)
    segs = list(zip(table["path"], table["start"], table["end"]))[::-1]
    got = EncoderTransformer("mfcc").fit_transform(segs)
    arrays = [whole[frame(s, sr) : frame(e, sr)] for _, s, e in segs]
    assert_array_equal(got, EncoderTransformer("mfcc", sample_rate=sr).fit_transform(arrays))
    assert_array_equal(read_segment(path, 1.0, 2.0)[0], whole[sr : 2 * sr])
    with pytest.raises(ValueError, match=r"X\[0\]\) ends past the end of the recording"):
        EncoderTransformer("mfcc").fit_transform([(path, 3.5, 4.5)])


@pytest.mark.parametrize("fmt", ["WAV", "OGG"])
def test_one_pass_per_file_and_no_whole_decode(tmp_path, monkeypatch, fmt):
    """Overlapping windows share one sequential read of their file, across chunks too
    (an Ogg file, which is never seeked, was decoded from its start for every chunk)."""
    from skaloe.encoders import _transformer

    path = write(tmp_path / f"rec.{fmt.lower()}", tone(20.0, 8000), 8000, format=fmt)
    monkeypatch.setattr(_transformer, "_CHUNK_SECONDS", 5.0)  # 16 chunks of windows
    opened, read = [], []
    original_open = segments_module.open_stream

    def counting_open(*args):
        stream = original_open(*args)
        original_read = stream.read

        def counting_read(n):
            out = original_read(n)
            read.append(len(out))
            return out

        stream.read = counting_read
        opened.append(args[0])
        return stream

    table = segment_recordings(path, window=1.0, hop=0.25)
    monkeypatch.setattr(segments_module, "open_stream", counting_open)
    EncoderTransformer("mfcc").fit_transform(table)
    assert opened == [path]
    assert sum(read) == 20 * 8000  # each frame decoded once


# -- memory ---------------------------------------------------------------------------------


def test_long_recordings_are_read_in_bounded_memory(tmp_path):
    """Decoding whole files needed the whole recording as float32 (and more)."""
    sr, minutes = 16000, 30
    path = str(tmp_path / "long.wav")
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        for _ in range(minutes):
            f.write((rng.standard_normal(60 * sr) * 2000).astype(np.int16))
    whole_bytes = minutes * 60 * sr * 4  # 115 MB as float32
    tracemalloc.start()
    try:
        table = segment_recordings(path, window=2.0, hop=1.0, as_frame=False,
                                   skip_silence=True)
        _, peak_table = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        emb = EncoderTransformer(mean_abs).fit_transform(table)
        _, peak_embed = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert emb.shape == (minutes * 60 - 1, 2)
    assert_array_equal(emb[:, 1], 32000)
    # a few blocks for the silence check; a chunk of windows (512 s) to embed
    assert peak_table < whole_bytes / 10, peak_table
    assert peak_embed < whole_bytes / 2.5, peak_embed


# -- distributed ------------------------------------------------------------------------------


def test_embed_distributed_stores_segments(tmp_path):
    distributed = pytest.importorskip("distributed")
    from skaloe.distributed import embed_distributed, open_store, store_info

    a = _recording(tmp_path / "a.wav", 22050, 2, "WAV", "PCM_16", seconds=5, seed=3)
    b = _recording(tmp_path / "b.flac", 16000, 1, "FLAC", "PCM_16", seconds=3, seed=4)
    table = segment_recordings([a, b], window=1.0, hop=0.5)
    store = tmp_path / "store"
    reference = EncoderTransformer("mfcc").fit_transform(table)
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        X = embed_distributed(table, store, model="mfcc", client=client, shard_size=4)
        assert_array_equal(X, reference)
        info = store_info(store)
        assert info["paths"] == list(table["path"])
        assert info["start"] == list(table["start"]) and info["end"] == list(table["end"])
        # resuming with the same table works; with other bounds it is refused
        assert_array_equal(embed_distributed(table, store, model="mfcc", client=client,
                                             shard_size=4), reference)
        moved = table.assign(end=table["end"] - 0.1)
        with pytest.raises(ValueError, match=r"other segments \(paths\[0\] = \('.*a\.wav', "
                                             r"0\.0, 1\.0\), not \('.*a\.wav', 0\.0, 0\.9\)"):
            embed_distributed(moved, store, model="mfcc", client=client, shard_size=4)
        # rows of whole files and segments mix; a bad row is named
        mixed = [a, (b, 0.5, 1.5)]
        X = embed_distributed(mixed, tmp_path / "mixed", model="mfcc", client=client)
        assert_array_equal(X, EncoderTransformer("mfcc").fit_transform(mixed))
        assert store_info(tmp_path / "mixed")["start"] == [None, 0.5]
        with pytest.raises(ValueError, match=r"X\[1\] \(a segment of .*\) ends at 0.5 s"):
            embed_distributed([a, (b, 1.0, 0.5)], tmp_path / "bad", model="mfcc",
                              client=client)
    assert_array_equal(open_store(store), reference)
    assert store_info(tmp_path / "mixed")["end"] == [None, 1.5]


@pytest.mark.parametrize("table, as_frame, missing", [
    ({"path": ["a.wav"], "begin": [0.0], "end": [1.0]}, True, "'start'"),  # a misnamed column
    ({"path": ["a.wav"], "start": [0.0]}, True, "'end'"),
    ({"path": ["a.wav"], "begin": [0.0], "end": [1.0]}, False, "'start'"),
    ({"path": ["a.wav"], "start": [0.0]}, False, "'end'"),
    ({"path": ["a.wav"]}, False, "'start' or 'end'"),  # (a one-column frame is whole files)
])
def test_a_table_missing_a_bound_is_refused_not_embedded_whole(table, as_frame, missing):
    """A table that looks like segments but lacks start or end names the missing column.

    Embedding its paths as whole files instead would be silently wrong.
    """
    if as_frame:
        table = require("pandas").DataFrame(table)
    kind = "DataFrame" if as_frame else "mapping"
    with pytest.raises(ValueError, match=rf"X is a {kind} with a 'path' column but no "
                                         rf"{missing} column; a table of segments needs"):
        EncoderTransformer("mfcc").fit_transform(table)
