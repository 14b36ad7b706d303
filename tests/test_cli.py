"""The ``skaloe`` command line: the offline main job and its errors."""

import io
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from skaloe.cli import main, run_demo


def test_demo_prints_learning_curves_and_upper_bound(tmp_path):
    args = SimpleNamespace(
        n_samples=240, rounds=3, runs=1, n_per_class=2, model="mfcc",
        data_dir=str(tmp_path / "audio"), cache=str(tmp_path / "cache"),
        n_jobs=None, random_state=0, verbose=0,
    )
    out = io.StringIO()
    assert run_demo(args, out=out) == 0
    text = out.getvalue()
    assert "240 synthetic vowel clips" in text
    rows = re.findall(r"^\s+(\d+)\s+(0\.\d{3}|1\.000)\s+(0\.\d{3}|1\.000)\s*$", text, re.M)
    # 2 labels x 12 classes to start, then 3 class-aware rounds of 12.
    assert [int(r[0]) for r in rows] == [24, 36, 48, 60]
    assert re.search(r"^\s+180\s+\d\.\d{3}\s+\(full-data linear probe", text, re.M)
    # The audio and the cache went where they were asked to.
    assert list((tmp_path / "audio").iterdir())
    assert (tmp_path / "cache" / "skaloe-embeddings").is_dir()


def test_demo_rejects_bad_arguments_with_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--n-samples", "0"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--n-samples" in err and "positive integer" in err


def test_no_command_prints_help():
    assert main([]) == 2


def test_console_script_help_is_complete():
    result = subprocess.run(
        [sys.executable, "-m", "skaloe.cli", "demo", "--help"],
        capture_output=True, text=True, check=True,
    )
    for option in ("--n-samples", "--rounds", "--runs", "--n-per-class", "--model",
                   "--data-dir", "--cache", "--n-jobs", "--random-state"):
        assert option in result.stdout
