"""The gallery examples in ``examples/`` run to completion, offline, and draw readable figures.

Each example runs as a script in its own process, from a temporary working
directory, with matplotlib's non-interactive backend, the way sphinx-gallery
runs it when the documentation is built. The figures it leaves open, the ones
sphinx-gallery saves, are then checked in that process (``figure_layout.py``):
no two texts of an axes overlap, and no legend covers a line, a scattered
point or a text.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci_support import require

TESTS_DIR = str(Path(__file__).resolve().parent)
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))

# Generous: each example takes seconds; this only guards against a hang.
TIMEOUT = 300

# Runs the example as ``__main__``, then checks the figures it left open
# (figure_layout.py) and writes what it found, as JSON.
RUN_AND_CHECK_FIGURES = """\
import json, runpy, sys
import matplotlib.pyplot as plt
example, tests_dir, report = sys.argv[1:]
sys.argv = [example]
runpy.run_path(example, run_name="__main__")
sys.path.insert(0, tests_dir)
from figure_layout import layout_problems
with open(report, "w") as file:
    json.dump([layout_problems(plt.figure(n)) for n in plt.get_fignums()], file)
"""


def test_examples_are_found():
    assert EXAMPLES, f"no examples found in {EXAMPLES_DIR}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(example, tmp_path):
    require("pandas")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    report = tmp_path / "figures.json"
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # Keep any download cache of an example away from the user's folders.
        "TFHUB_CACHE_DIR": str(tmp_path / "tfhub-cache"),
    }
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_CHECK_FIGURES, str(example), TESTS_DIR, str(report)],
        check=False,
        cwd=workdir,
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
    assert not any(workdir.iterdir()), (
        f"{example.name} left files in its working directory: "
        f"{sorted(p.name for p in workdir.iterdir())}"
    )

    figures = json.loads(report.read_text())
    assert figures, f"{example.name} draws no figure for its gallery thumbnail"
    problems = [
        f"figure {number}: {problem}"
        for number, found in enumerate(figures, start=1)
        for problem in found
    ]
    assert not problems, (
        f"{example.name} draws figures that hide something:\n" + "\n".join(problems)
    )


def test_layout_checks_find_hidden_things():
    """The checks above see overlapping texts and a legend over data, and nothing else."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from figure_layout import layout_problems

    fig, ax = plt.subplots()
    try:
        ax.plot([0, 1], [0, 1], label="diagonal")
        ax.scatter([0.5, 0.9], [0.5, 0.1], label="points")
        ax.text(0.1, 0.9, "first")
        ax.text(0.1, 0.9, "second")
        ax.legend(loc="center")
        assert sorted(layout_problems(fig)) == [
            "axes 0 ('untitled'): texts 'first' and 'second' overlap",
            "axes 0 ('untitled'): the legend covers 1 points of 'points'",
            "axes 0 ('untitled'): the legend covers line 'diagonal'",
        ]
        ax.texts[1].set_position((0.1, 0.8))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
        assert layout_problems(fig) == []
    finally:
        plt.close(fig)
