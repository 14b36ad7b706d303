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
