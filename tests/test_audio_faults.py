"""Hostile input files and folders (issue 12): each test names the defect it guards.

Symbolic-link cycles in a class folder, finite but huge samples, files rewritten
with their old size and modification time, things that are not regular files,
absurd sample rates and recordings too long to embed as one clip.
"""

import os
import shutil
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from numpy.testing import assert_array_equal

from skaloe import EncoderTransformer
from skaloe.datasets import load_audio_folder
from skaloe.encoders import _audio

SR = 16000
REPO_ROOT = Path(__file__).resolve().parents[1]

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32",
                                    reason="symbolic links need a POSIX file system")
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")


def tone(seed, n_samples=4000):
    """A short tone plus noise, float32 in [-0.5, 0.5]."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / SR
    x = 0.4 * np.sin(2 * np.pi * (200 + 150 * seed) * t) + 0.05 * rng.standard_normal(n_samples)
    return x.astype(np.float32)


def write_wav(path, samples, sr=SR, subtype="PCM_16"):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, sr, subtype=subtype)
    return str(path)


def embed(X, **params):
    params.setdefault("model", "mfcc")
    return EncoderTransformer(**params).fit_transform(X)


# -- 1. symbolic-link cycles in a class folder ----------------------------------


@needs_symlinks
def test_folder_link_to_itself_lists_each_file_once(tmp_path):
    """A class folder holding ``self -> .`` listed 42 clips for 2 files."""
    a = write_wav(tmp_path / "cls1" / "a.wav", tone(0))
    b = write_wav(tmp_path / "cls1" / "b.wav", tone(1))
    os.symlink(".", tmp_path / "cls1" / "self")
    with pytest.warns(UserWarning, match=r"(?s)self.*already listed"):
        filenames, target = load_audio_folder(tmp_path, return_X_y=True)
    assert filenames.tolist() == [a, b]
    assert target.tolist() == [0, 0]


_CYCLE_SCRIPT = """
import os, sys, warnings
from skaloe.datasets import load_audio_folder
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    files, target = load_audio_folder(sys.argv[1], return_X_y=True)
for f, t in zip(files, target):
    print(t, os.path.relpath(f, sys.argv[1]))
for w in caught:
    print("WARNING", w.message)
"""


@needs_symlinks
def test_folder_links_up_and_across_classes_end(tmp_path):
    """``up -> ..`` plus ``side -> ../cls1`` made the walk (and skaloe embed) run forever.

    Each real folder is walked once and each real file listed once, under the
    class folder that holds it; a link to a file of another class is skipped.
    Run in a fresh interpreter with a time limit, so a regression fails instead
    of hanging the test session.
    """
    root = tmp_path / "data"
    write_wav(root / "cls1" / "a.wav", tone(0))
    write_wav(root / "cls1" / "deeper" / "b.wav", tone(1))
    write_wav(root / "cls2" / "c.wav", tone(2))
    os.symlink("..", root / "cls1" / "up")
    os.symlink("../cls1", root / "cls2" / "side")
    os.symlink("../cls1/a.wav", root / "cls2" / "again.wav")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", _CYCLE_SCRIPT, str(root)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    listed = [line for line in lines if not line.startswith("WARNING")]
    assert listed == ["0 cls1/a.wav", f"0 {os.path.join('cls1', 'deeper', 'b.wav')}",
                      "1 cls2/c.wav"]
    warning = "\n".join(line for line in lines if line.startswith("WARNING"))
    for skipped in ("up", "side", "again.wav"):
        assert skipped in warning


@needs_symlinks
def test_cli_embed_ends_on_a_folder_with_link_cycles(tmp_path):
    """``skaloe embed`` on the folder of the previous test hung until killed."""
    root = tmp_path / "data"
    write_wav(root / "cls1" / "a.wav", tone(0))
    write_wav(root / "cls2" / "c.wav", tone(2))
    os.symlink("..", root / "cls1" / "up")
    os.symlink("../cls1", root / "cls2" / "side")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT),
                                                        os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "emb.npz"
    proc = subprocess.run(
        [sys.executable, "-m", "skaloe", "embed", str(root), "-o", str(out), "--model", "mfcc"],
        env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "2 clips" in proc.stdout and "2 classes" in proc.stdout
    assert "already listed" in proc.stderr  # the walker's warning, as a note
    with np.load(out) as data:
        assert data["embeddings"].shape[0] == 2


@needs_symlinks
def test_folder_link_to_another_class_folder_keeps_the_real_one(tmp_path):
    """A class folder that is a link to another class folder does not take its files."""
    b = write_wav(tmp_path / "b" / "x.wav", tone(0))
    os.symlink("b", tmp_path / "a")  # sorts first, but is the link
    with pytest.warns(UserWarning) as record:
        bunch = load_audio_folder(tmp_path)
    filenames = bunch.filenames
    assert bunch.target_names == ["b"]
    messages = " ".join(str(w.message) for w in record)
    assert "'a' leads to 'b', already listed" in messages
    assert filenames.tolist() == [b]


@needs_symlinks
@needs_fifo
def test_folder_skips_entries_that_are_not_regular_files(tmp_path):
    """A dangling link or a named pipe with an audio suffix is skipped and named."""
    good = write_wav(tmp_path / "cls" / "good.wav", tone(0))
    os.symlink("gone.wav", tmp_path / "cls" / "dangling.wav")
    os.mkfifo(tmp_path / "cls" / "pipe.wav")
    with pytest.warns(UserWarning) as record:
        filenames = load_audio_folder(tmp_path).filenames
    assert filenames.tolist() == [good]
    messages = " ".join(str(w.message) for w in record)
    assert "dangling.wav" in messages and "does not exist" in messages
    assert "pipe.wav" in messages and "named pipe" in messages


# -- 2. finite but huge samples ------------------------------------------------


@pytest.mark.parametrize("model", ["mfcc", "logmel"])
@pytest.mark.parametrize("loud", ["one sample at 1e30", "the whole clip at 3e17"])
def test_huge_samples_in_a_float_wav_warn_and_embed_finite(tmp_path, model, loud):
    """Finite but huge samples gave a NaN row, which skaloe embed wrote and cached."""
    x = tone(3)
    if loud.startswith("one"):
        x[1000] = 1e30
    else:
        x *= np.float32(3e17) / np.abs(x).max()
    path = write_wav(tmp_path / "loud.wav", x, subtype="FLOAT")
    quiet = write_wav(tmp_path / "quiet.wav", tone(4))
    with pytest.warns(UserWarning, match=r"loud\.wav.*X\[1\].*outside \[-1, 1\]"):
        emb = embed([quiet, path], model=model, memory=tmp_path / "cache")
    assert np.isfinite(emb).all()
    # The quiet clip is embedded as it is alone; the cache holds the finite row
    # (and a cached clip is not decoded again, so it does not warn again).
    assert_array_equal(emb[0], embed([quiet], model=model)[0])
    assert_array_equal(embed([quiet, path], model=model, memory=tmp_path / "cache"), emb)


def test_huge_sample_in_an_array_warns_naming_its_index():
    x = tone(3)
    x[10] = 1e30
    with pytest.warns(UserWarning, match=r"X\[2\].*1e\+30.*outside \[-1, 1\]"):
        emb = embed([tone(0), tone(1), x])
    assert np.isfinite(emb).all()


def test_quiet_clips_do_not_warn(recwarn):
    embed([tone(0), np.clip(tone(1) * 9, -9, 9)])  # up to 10 is tolerated
    assert not [w for w in recwarn if "outside [-1, 1]" in str(w.message)]


def test_ge2e_refuses_a_clip_it_cannot_embed_naming_it():
    """The embedded GE2E network overflows on huge samples: an error, not a NaN row."""
    x = tone(3, 16000)
    x[100] = 1e30
    with pytest.warns(UserWarning, match=r"X\[1\]"):
        with pytest.raises(ValueError, match=r"'ge2e'.*NaN or infinite.*X\[1\]"):
            embed([tone(0, 16000), x], model="ge2e")


def _nan_for_loud(x):
    return np.full(4, np.nan if np.abs(x).max() > 1 else 0.5, dtype=np.float32)


def test_callable_returning_nan_is_refused_naming_the_clip():
    x = tone(1)
    x[0] = 5.0
    with pytest.raises(ValueError, match=r"NaN or infinite.*X\[1\]"):
        embed([tone(0), x], model=_nan_for_loud)


# -- 3. stale cache rows ---------------------------------------------------------


def test_cache_sees_a_rewrite_with_size_and_mtime_restored(tmp_path):
    """After a rewrite whose size and mtime are restored (os.utime, rsync -t, tar x),
    the old embedding came back from the cache."""
    path = write_wav(tmp_path / "clip.wav", tone(0))
    cache = tmp_path / "cache"
    first = embed([path], memory=cache)
    st = os.stat(path)
    write_wav(path, tone(5))  # other audio, same length and format: same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns
    again = embed([path], memory=cache)
    assert_array_equal(again, embed([path]))
    assert not np.array_equal(again, first)


def test_cache_sees_a_copy_that_keeps_the_timestamps(tmp_path):
    """``cp -p`` of another file of the same size and mtime over a cached one."""
    old = write_wav(tmp_path / "clip.wav", tone(0))
    new = write_wav(tmp_path / "other" / "clip.wav", tone(6))
    st = os.stat(old)
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    cache = tmp_path / "cache"
    embed([old], memory=cache)
    shutil.copy2(new, old)  # what cp -p does
    assert os.stat(old).st_mtime_ns == st.st_mtime_ns
    assert_array_equal(embed([old], memory=cache), embed([new]))


def test_clip_key_is_stable_for_an_untouched_file(tmp_path):
    path = write_wav(tmp_path / "clip.wav", tone(0))
    assert _audio.clip_key(path, 0, SR) == _audio.clip_key(path, 0, SR)


# -- 5. what a path that is no audio file is ----------------------------------


@pytest.mark.parametrize("memory", [False, True])
def test_folder_given_as_a_file_is_called_a_folder(tmp_path, memory):
    good = write_wav(tmp_path / "a.wav", tone(0))
    (tmp_path / "sub.wav").mkdir()
    with pytest.raises(OSError, match=r"sub\.wav.*X\[1\].* is a directory, not an audio file"):
        embed([good, str(tmp_path / "sub.wav")], memory=tmp_path / "c" if memory else None)


@needs_symlinks
@pytest.mark.parametrize("memory", [False, True])
def test_symlink_loop_given_as_a_file_is_called_a_loop(tmp_path, memory):
    os.symlink("loop.wav", tmp_path / "loop.wav")
    with pytest.raises(OSError, match=r"loop\.wav.*X\[0\].* symbolic link that loops"):
        embed([str(tmp_path / "loop.wav")], memory=tmp_path / "c" if memory else None)


@needs_symlinks
def test_dangling_symlink_names_its_target(tmp_path):
    os.symlink("gone.wav", tmp_path / "link.wav")
    with pytest.raises(FileNotFoundError, match=r"link\.wav.*symbolic link to 'gone\.wav'"):
        embed([str(tmp_path / "link.wav")])


def _in_a_thread(func, *args):
    """Run ``func(*args)``; return (finished, result or exception) after at most 10 s."""
    box = {}

    def target():
        try:
            box["value"] = func(*args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["value"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(10)
    return not thread.is_alive(), box.get("value")


def _release_readers(fifo):
    """Open the pipe for writing (if a reader waits on it) so that the reader ends."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


@needs_fifo
@pytest.mark.parametrize("memory", [False, True])
def test_named_pipe_given_as_a_file_is_called_a_pipe_and_never_opened(tmp_path, memory):
    fifo = str(tmp_path / "pipe.wav")
    os.mkfifo(fifo)
    try:
        finished, result = _in_a_thread(
            lambda: embed([fifo], memory=tmp_path / "c" if memory else None))
    finally:
        _release_readers(fifo)
    assert finished, "embedding a named pipe blocked"
    assert isinstance(result, OSError)
    assert "pipe.wav" in str(result) and "X[0]" in str(result)
    assert "is a named pipe" in str(result)


@needs_fifo
def test_labeling_playback_never_opens_a_named_pipe(tmp_path):
    from skaloe.labeling._core import clip_wav_bytes

    fifo = str(tmp_path / "pipe.wav")
    os.mkfifo(fifo)
    try:
        finished, result = _in_a_thread(clip_wav_bytes, fifo, 0, SR)
    finally:
        _release_readers(fifo)
    assert finished, "playing a named pipe blocked"
    assert isinstance(result, OSError) and "is a named pipe" in str(result)


# -- 6. absurd sample rates and very long recordings -------------------------------


def test_file_at_an_absurd_sample_rate_is_refused_naming_it(tmp_path):
    """A 1 Hz WAV took 41 s and 458 MB to resample."""
    path = write_wav(tmp_path / "slow.wav", np.zeros(64, np.float32), sr=1)
    with pytest.raises(ValueError, match=r"slow\.wav.*X\[0\].*1 Hz.*1000 Hz"):
        embed([path])


def test_array_at_an_absurd_sample_rate_is_refused():
    with pytest.raises(ValueError, match=r"X\[0\].*500 Hz.*1000 Hz"):
        embed([tone(0)], sample_rate=500)


def _write_long_wav(path, seconds, sr, channels=1, block_seconds=60):
    """A silent PCM-16 WAV written block by block, never held in memory whole."""
    block = np.zeros((block_seconds * sr, channels), dtype=np.int16)
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=channels,
                      subtype="PCM_16", format="WAV") as f:
        for start in range(0, seconds, block_seconds):
            f.write(block[: min(block_seconds, seconds - start) * sr])
    return str(path)


def test_recording_longer_than_the_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    """Memory grew with clip length (a 2-hour file peaked at 3.8 GB)."""
    limit = 600  # the documented default of skaloe.encoders._audio.MAX_DURATION
    path = _write_long_wav(tmp_path / "long.wav", limit + 10, 2000)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the long file was decoded")

    monkeypatch.setattr(sf, "read", no_decoding)
    monkeypatch.setattr(sf.SoundFile, "read", no_decoding)
    with pytest.raises(ValueError) as info:
        embed([path])
    message = str(info.value)
    assert "long.wav" in message and "X[0]" in message
    assert f"{limit + 10:.1f} s" in message and f"{limit} s" in message
    assert "ffmpeg" in message and "segment" in message


def test_arrays_are_not_limited_in_length(monkeypatch):
    """The limit guards decoding; a waveform is already in memory."""
    monkeypatch.setattr(_audio, "MAX_DURATION", 0.1)
    assert embed([tone(0, 4000)]).shape == (1, 80)


def test_limit_is_a_module_constant_that_can_be_lifted(tmp_path, monkeypatch):
    path = _write_long_wav(tmp_path / "long.wav", 30, 2000)
    monkeypatch.setattr(_audio, "MAX_DURATION", 20.0)
    with pytest.raises(ValueError, match="20 s"):
        embed([path])
    monkeypatch.setattr(_audio, "MAX_DURATION", 40.0)
    assert embed([path]).shape[0] == 1


def test_fallback_decoder_stops_past_the_limit(tmp_path, monkeypatch):
    """Files libsndfile cannot open go to librosa/audioread, which has no header to
    read first: it decodes at most the limit and a second, then refuses."""
    path = _write_long_wav(tmp_path / "long.wav", 30, 2000)
    monkeypatch.setattr(_audio, "MAX_DURATION", 20.0)

    class Unreadable(sf.SoundFile):
        def __init__(self, *args, **kwargs):
            raise sf.SoundFileRuntimeError("Format not recognised.")

    monkeypatch.setattr(sf, "SoundFile", Unreadable)  # librosa falls back to audioread
    with pytest.raises(ValueError, match=r"long\.wav.*X\[0\]\) lasts more than 20 s, longer"):
        embed([path])


def test_stereo_file_is_downmixed_while_it_is_read(tmp_path):
    """Both channels were held as float32 (and averaged) at once: bound the peak."""
    seconds, sr = 60, 44100
    path = _write_long_wav(tmp_path / "stereo.wav", seconds, sr, channels=2, block_seconds=20)
    mono_bytes = seconds * sr * 4
    tracemalloc.start()
    try:
        wave = _audio.read_audio_file(path, 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(wave) == seconds * SR
    # the mono float32 decode, one block and the 16 kHz result; not two channels
    assert peak < 1.5 * mono_bytes + wave.nbytes, (peak, mono_bytes)


def test_stereo_file_decodes_to_the_mean_of_its_channels(tmp_path):
    rng = np.random.default_rng(0)
    stereo = (0.3 * rng.standard_normal((3 * SR + 17, 2))).astype(np.float32)
    path = write_wav(tmp_path / "st.wav", stereo, subtype="FLOAT")
    assert_array_equal(_audio.read_audio_file(path, 0), stereo.mean(axis=1, dtype=np.float32))


def test_a_file_list_entry_that_is_no_audio_file_is_named_for_what_it_is(tmp_path, capsys):
    """skaloe embed FILE_LIST: a folder or a named pipe in the list is not 'missing'."""
    from skaloe.cli import main

    (tmp_path / "folder.wav").mkdir()
    os.mkfifo(tmp_path / "pipe.wav")
    for name, what in [("folder.wav", "is a directory"), ("pipe.wav", "is a named pipe")]:
        listing = tmp_path / f"list-{name}.txt"
        listing.write_text(f"{tmp_path / name}\n")
        assert main(["embed", str(listing), "-o", str(tmp_path / "out.npz")]) == 2
        err = capsys.readouterr().err
        assert what in err and "does not exist" not in err
