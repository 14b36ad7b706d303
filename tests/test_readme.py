"""The README's code runs as written, offline, and prints what it computes."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.rst"


def _python_blocks():
    """The ``.. code-block:: python`` blocks of the README, dedented."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text, re.M):
        lines = match.group(1).rstrip("\n").splitlines()
        blocks.append("\n".join(line[4:] for line in lines) + "\n")
    return blocks


def test_every_snippet_prints_what_it_computes():
    blocks = _python_blocks()
    assert len(blocks) == 3
    for block in blocks:
        last = [line for line in block.splitlines() if line.strip()][-1]
        assert last.startswith("print("), f"the snippet ends without printing:\n{block}"


def test_offline_snippets_run(tmp_path):
    """The quick start and the active learning loop, one after the other, as a reader runs them."""
    offline = [b for b in _python_blocks() if "trillsson" not in b]
    assert len(offline) == 2
    script = tmp_path / "readme.py"
    script.write_text("\n".join(offline), encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.split("\n")
    score = float(lines[0])
    n_labels, loop_score = lines[1].split()
    assert 0.5 < score <= 1.0  # 12 vowels: chance is 1/12
    assert int(n_labels) == 120 and 0.0 < float(loop_score) <= 1.0
    assert (tmp_path / "vowels").is_dir() and (tmp_path / "embedding-cache").is_dir()
