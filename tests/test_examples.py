"""The gallery examples in ``examples/`` run to completion, offline.

Each example runs as a script in its own process, from a temporary working
directory, with matplotlib's non-interactive backend, the way sphinx-gallery
runs it when the documentation is built.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci_support import require

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))

# Generous: each example takes seconds; this only guards against a hang.
TIMEOUT = 300


def test_examples_are_found():
    assert EXAMPLES, f"no examples found in {EXAMPLES_DIR}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(example, tmp_path):
    require("matplotlib")
    require("pandas")
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # Keep any download cache of an example away from the user's folders.
        "TFHUB_CACHE_DIR": str(tmp_path / "tfhub-cache"),
    }
    result = subprocess.run(
        [sys.executable, str(example)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, (
        f"{example.name} exited with code {result.returncode}\n"
        f"--- stdout ---\n{result.stdout[-4000:]}\n"
        f"--- stderr ---\n{result.stderr[-8000:]}"
    )
    # Examples write to temporary folders only, never next to themselves.
    assert not any(p for p in tmp_path.iterdir() if p.name != "tfhub-cache"), (
        f"{example.name} left files in its working directory: "
        f"{sorted(p.name for p in tmp_path.iterdir())}"
    )
