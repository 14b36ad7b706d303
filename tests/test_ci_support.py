"""The suite cannot go green on a broken install: CI fails where a local run may skip.

Each test runs part of the suite in a fresh interpreter with one dependency
made unimportable (a package of the same name, first on ``PYTHONPATH``, that
raises ImportError), the way a broken install would leave it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci_support import running_in_ci

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("value, expected", [
    ("true", True), ("1", True), ("yes", True), ("TRUE", True), (" True ", True),
    ("", False), ("0", False), ("false", False), ("no", False),
])
def test_running_in_ci_reads_the_usual_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)
    assert running_in_ci() is expected


def test_ci_run_exports_ci():
    """.ci/run says it is CI, so the suite fails rather than skips there."""
    script = (REPO_ROOT / ".ci" / "run").read_text()
    assert "export CI=true" in script


def _run_pytest(tmp_path, broken, args, *, ci, path=None):
    shadow = tmp_path / "shadow" / broken
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        f"raise ImportError('{broken} is broken (simulated by test_ci_support)')\n")
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tmp_path / "shadow"), str(REPO_ROOT), env.get("PYTHONPATH", "")])
    if ci:
        env["CI"] = "true"
    if path is not None:
        env["PATH"] = path
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("module", ["tests/test_savedmodels.py", "tests/test_encoder_tfhub.py"])
def test_broken_tensorflow_hub_fails_the_run(tmp_path, module):
    # Locally too: tensorflow-hub is a dependency of skaloe, never optional.
    rc, out = _run_pytest(tmp_path, "tensorflow_hub", ["--collect-only", module], ci=False)
    assert rc != 0, out
    assert "tensorflow_hub is broken" in out
    assert "skipped" not in out


def test_missing_test_extra_skips_locally_and_fails_in_ci(tmp_path):
    test = "tests/test_experiment.py::test_frames_and_csv"
    rc, out = _run_pytest(tmp_path, "pandas", [test], ci=False)
    assert rc == 0 and "1 skipped" in out and "pandas cannot be imported" in out, out
    rc, out = _run_pytest(tmp_path / "ci", "pandas", [test], ci=True)
    assert rc == 1 and "1 failed" in out and "pandas cannot be imported" in out, out


def test_browser_test_fails_in_ci_without_chromium(tmp_path):
    # selenium works; no chromium nor chromedriver on PATH.
    bare = tmp_path / "bin"
    bare.mkdir()
    test = "tests/test_label_web.py::test_browser_labels_reloads_undoes_and_resumes"
    rc, out = _run_pytest(tmp_path, "not_a_dependency", [test], ci=True, path=str(bare))
    assert rc == 1 and "1 failed" in out and "chromium" in out, out
