"""The ``skaloe`` command line: the offline main job and its errors."""

import io
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from ci_support import require
from skaloe.cli import CLIError, main, run_demo


def _run_demo(tmp_path, **options):
    """What ``skaloe demo`` prints, on 240 clips written to tmp_path/audio."""
    args = dict(
        n_samples=240, rounds=3, runs=1, n_per_class=2, model="mfcc",
        data_dir=str(tmp_path / "audio"), cache=str(tmp_path / "cache"),
        n_jobs=None, random_state=0, verbose=0,
    )
    out = io.StringIO()
    assert run_demo(SimpleNamespace(**{**args, **options}), out=out) == 0
    return out.getvalue()


_CELL = r"(\d\.\d{3}) \u00b1 (\d\.\d{3})"
_DEMO_ROW = re.compile(rf"^\s+(\d+)\s+{_CELL}\s+{_CELL}\s*$", re.M)


def _flat(text):
    """``text`` with its line wrapping undone, for checking sentences."""
    return " ".join(text.split())


def test_demo_prints_learning_curves_and_all_labels(tmp_path):
    text = _run_demo(tmp_path)
    flat = _flat(text)
    assert "encoder 'mfcc' (spectral baseline)" in flat
    assert "240 synthetic clips of 12 vowels" in flat
    # One plain sentence says what is compared, without jargon.
    assert "What is compared:" in flat and "least sure about" in flat
    for jargon in ("margin", "probe", "upper bound"):
        assert jargon not in text
    rows = _DEMO_ROW.findall(text)
    # 2 labels x 12 classes to start, then 3 class-aware rounds of 12.
    assert [int(r[0]) for r in rows] == [24, 36, 48, 60]
    assert re.search(r"^\s+180\s+\d\.\d{3}\s+<- all labels", text, re.M)
    assert "To reach 95% of the all-labels score" in text
    assert "To reach 98% of the all-labels score" in text
    # The audio and the cache went where they were asked to.
    assert list((tmp_path / "audio").iterdir())
    assert (tmp_path / "cache" / "skaloe-embeddings").is_dir()


def test_demo_columns_are_the_strategies_they_name(tmp_path):
    """Each column of the demo is that strategy's curve, checked against simulate.

    The means, the spreads over runs and the labels needed to reach 95% and
    98% of the all-labels score are recomputed one strategy at a time.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skaloe import EncoderTransformer
    from skaloe.datasets import load_audio_folder
    from skaloe.experiment import simulate

    # Settings where both strategies reach 95% of the all-labels score in every run
    # (so the saving is printed) and the 98% target only in some (so it is not).
    text = _run_demo(tmp_path, runs=2, n_per_class=1, rounds=8, random_state=4)
    header = next(line for line in text.splitlines() if line.strip().startswith("labels"))
    assert header.split() == ["labels", "active", "random"]
    rows = _DEMO_ROW.findall(text)
    table = np.array([[float(v) for v in row] for row in rows])
    assert table[:, 0].tolist() == list(range(12, 109, 12))

    # The demo's protocol, spelled out: the clips it wrote, embedded with its
    # encoder, a stratified 25% held out, then each strategy on its own.
    folder = load_audio_folder(tmp_path / "audio")
    X = EncoderTransformer("mfcc", memory=tmp_path / "cache").fit_transform(folder.filenames)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, folder.target, test_size=0.25, stratify=folder.target, random_state=4)
    needed = {}
    for column, strategy, name in ((1, "margin", "active"), (3, "random", "random")):
        results = simulate(
            X_pool, y_pool, X_test, y_test,
            estimator=make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
            strategies=(strategy,), selections=("class-aware",), n_rounds=8,
            n_per_class=1, n_runs=2, random_state=4,
        )
        _, curve, spread = results.curves()[(strategy, "class-aware")]
        np.testing.assert_allclose(table[:, column], curve, atol=5e-4)
        np.testing.assert_allclose(table[:, column + 1], spread, atol=5e-4)
        for fraction in (0.95, 0.98):
            reach = results.labels_to_reach(fraction)[strategy, "class-aware"]
            line = next(line for line in text.split(f"To reach {fraction:.0%}")[1].splitlines()
                        if line.strip().startswith(f"{name}:"))
            if reach["n_reached"] == reach["n_runs"]:
                assert f"{name}: {reach['n_labels']:.0f} \u00b1 " in line
            elif reach["n_reached"] == 0:
                assert "not reached within" in line
            else:
                assert (f"in the {reach['n_reached']} of {reach['n_runs']} runs that got "
                        "there") in line
            needed[strategy, fraction] = reach
    # The two columns differ, so a column computed with the other strategy is caught.
    assert not np.array_equal(table[:, 1], table[:, 3])
    # The saving is the demo's sentence when both strategies got there in every run,
    # and the demo says why there is none when active learning did not.
    mine, base = needed["margin", 0.95], needed["random", 0.95]
    assert mine["n_reached"] == base["n_reached"] == mine["n_runs"] == 2
    saving = 1 - mine["n_labels"] / base["n_labels"]
    part = _flat(text.split("To reach 95%")[1].split("To reach 98%")[0])
    assert f"{abs(saving):.0%} {'fewer' if saving >= 0 else 'more'} labels than random" in part
    assert 0 < needed["margin", 0.98]["n_reached"] < 2
    part = _flat(text.split("To reach 98%")[1])
    assert "no saving against random is given, as not every run got there" in part


def test_demo_default_is_the_pretrained_network(capsys):
    assert main(["demo", "--n-samples", "120", "--rounds", "1", "--runs", "1"]) == 0
    text = capsys.readouterr().out
    assert "encoder 'ge2e' (a pretrained speech network that ships with skaloe" in text


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


# -- which errors are the user's: one line, or a traceback ---------------------


def _raising(error):
    def run(args, out=None):
        raise error

    return run


@pytest.mark.parametrize("error, message", [
    (CLIError("--rounds 3 needs more data"), "--rounds 3 needs more data"),
    (ValueError("Unknown model 'x';\n  see available_models()"),
     "Unknown model 'x'; see available_models()"),
    (FileNotFoundError(2, "No such file or directory", "clip.wav"),
     "[Errno 2] No such file or directory: 'clip.wav'"),
    (PermissionError("cannot write 'out.npz'"), "cannot write 'out.npz'"),
    (ImportError("pip install 'skaloe[tf]'"), "pip install 'skaloe[tf]'"),
    (ValueError(), "ValueError"),
], ids=["CLIError", "ValueError", "FileNotFoundError", "PermissionError", "ImportError",
        "no message"])
def test_main_prints_a_user_error_as_one_line_with_exit_code_2(error, message, monkeypatch,
                                                                capsys):
    from skaloe.cli import USER_ERRORS, _demo

    assert isinstance(error, USER_ERRORS)
    monkeypatch.setattr(_demo, "run_demo", _raising(error))
    assert main(["demo"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"skaloe demo: error: {message}\n"
    assert captured.out == ""


@pytest.mark.parametrize("error", [TypeError, AttributeError, KeyError, IndexError,
                                   RuntimeError, AssertionError, ZeroDivisionError])
def test_main_lets_a_bug_propagate_with_its_traceback(error, monkeypatch, capsys):
    from skaloe.cli import USER_ERRORS, _simulate

    assert not issubclass(error, USER_ERRORS)
    monkeypatch.setattr(_simulate, "run_simulate", _raising(error("a bug in skaloe")))
    with pytest.raises(error, match="a bug in skaloe"):
        main(["simulate", "embeddings.npz"])
    assert capsys.readouterr().err == ""  # nothing printed over the traceback


def test_a_bug_deep_inside_a_command_is_not_taken_for_a_user_error(vowel_npz, tmp_path,
                                                                   monkeypatch):
    """The command's own error handling (bad files, bad splits) lets a bug through."""
    import skaloe.datasets
    import skaloe.experiment

    def broken_simulate(*args, **kwargs):
        return None.curves()  # AttributeError, as a bug would raise

    monkeypatch.setattr(skaloe.experiment, "simulate", broken_simulate)
    with pytest.raises(AttributeError, match="curves"):
        main(["simulate", str(vowel_npz), "--rounds", "1", "--runs", "1",
              "--out", str(tmp_path / "out")])
    monkeypatch.setattr(skaloe.datasets, "load_embeddings", _raising(TypeError("reader bug")))
    with pytest.raises(TypeError, match="reader bug"):
        main(["simulate", str(vowel_npz)])


def test_main_after_ctrl_c_says_interrupted_and_returns_130(monkeypatch, capsys):
    from skaloe.cli import _embed

    monkeypatch.setattr(_embed, "run_embed", _raising(KeyboardInterrupt()))
    assert main(["embed", "in", "-o", "out.npz"]) == 130
    assert capsys.readouterr().err == "skaloe embed: interrupted\n"


def test_python_m_skaloe_exit_codes(tmp_path):
    """The command as a process: a user error is one line and code 2, a bug a traceback."""
    user = subprocess.run([sys.executable, "-m", "skaloe", "simulate", str(tmp_path / "no.npz")],
                          capture_output=True, text=True)
    assert user.returncode == 2
    assert user.stderr.splitlines() == [
        f"skaloe simulate: error: INPUT {str(tmp_path / 'no.npz')!r} does not exist"]
    bug = subprocess.run(
        [sys.executable, "-c",
         "import sys, skaloe.cli._demo as demo\n"
         "def run_demo(args, out=None):\n    raise TypeError('a bug in the demo')\n"
         "demo.run_demo = run_demo\n"
         "from skaloe.cli import main\nsys.exit(main(['demo']))\n"],
        capture_output=True, text=True)
    assert bug.returncode == 1
    assert "Traceback (most recent call last)" in bug.stderr
    assert bug.stderr.rstrip().endswith("TypeError: a bug in the demo")
    assert "skaloe demo: error" not in bug.stderr


# -- skaloe embed / skaloe simulate -------------------------------------------

import os  # noqa: E402
import shutil  # noqa: E402


from skaloe.datasets import make_vowels  # noqa: E402
from skaloe.experiment import SimulationResults  # noqa: E402


@pytest.fixture(scope="module")
def vowel_folder(tmp_path_factory):
    """240 synthetic vowel clips of 12 classes, one subfolder per class."""
    root = tmp_path_factory.mktemp("vowels") / "audio"
    make_vowels(240, directory=root, random_state=0)
    return root


@pytest.fixture(scope="module")
def vowel_npz(vowel_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("emb") / "vowels.npz"
    assert main(["embed", str(vowel_folder), "-o", str(out)]) == 0
    return out


def _run_error(argv, capsys):
    """Run ``main(argv)``; return (exit code, stderr) for a user error."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def test_embed_class_folder_writes_labeled_npz(vowel_folder, tmp_path, capsys):
    out = tmp_path / "sub" / "emb"  # no suffix, missing parent folder
    cache = tmp_path / "cache"
    assert main(["embed", str(vowel_folder), "-o", str(out), "--cache", str(cache),
                 "--n-jobs", "2"]) == 0
    text = capsys.readouterr().out
    written = tmp_path / "sub" / "emb.npz"
    assert len(text.strip().splitlines()) == 1
    assert "240 clips" in text and "1536-d" in text and "12 classes" in text
    assert str(written) in text
    with np.load(written) as data:
        emb, paths = data["embeddings"], data["paths"]
        labels, names = data["labels"], data["label_names"]
    assert emb.shape == (240, 1536) and emb.dtype == np.float32
    assert np.isfinite(emb).all()
    assert labels.shape == (240,) and labels.dtype.kind == "i"
    assert sorted(os.listdir(vowel_folder)) == names.tolist()
    assert paths.shape == (240,)
    # Every label names the class folder of its clip.
    parents = [os.path.basename(os.path.dirname(p)) for p in paths]
    assert parents == names[labels].tolist()
    assert (cache / "skaloe-embeddings").is_dir()


def test_embed_file_list_with_and_without_labels(vowel_folder, vowel_npz, tmp_path, capsys):
    files = sorted(str(p) for p in vowel_folder.rglob("*.wav"))[:30]
    relative = [os.path.relpath(f, tmp_path) for f in files]  # read from the list's folder
    lines = ["# path<TAB>label", ""] + [
        f"{r}\tvowel-{os.path.basename(os.path.dirname(f))}" for r, f in zip(relative, files)
    ]
    listing = tmp_path / "clips.tsv"
    listing.write_text("\n".join(lines) + "\n")
    out = tmp_path / "list.npz"
    assert main(["embed", str(listing), "-o", str(out)]) == 0
    assert "30 clips" in capsys.readouterr().out
    with np.load(out) as data:
        assert data["embeddings"].shape == (30, 1536)
        assert data["embeddings"].dtype == np.float32
        names = data["label_names"].tolist()
        labels = data["labels"]
        assert [os.path.basename(p) for p in data["paths"]] == [os.path.basename(f) for f in files]
    assert names == sorted({f"vowel-{os.path.basename(os.path.dirname(f))}" for f in files})
    assert [names[i] for i in labels] == [
        f"vowel-{os.path.basename(os.path.dirname(f))}" for f in files
    ]
    # The same clips as in the class-folder embedding.
    with np.load(vowel_npz) as full:
        index = {p: i for i, p in enumerate(full["paths"].tolist())}
        expected = full["embeddings"][[index[f] for f in files]]
    with np.load(out) as data:
        np.testing.assert_allclose(data["embeddings"], expected, rtol=1e-5, atol=1e-6)

    unlabeled = tmp_path / "plain.txt"
    unlabeled.write_text("\n".join(files[:5]) + "\n")
    out2 = tmp_path / "plain.npz"
    assert main(["embed", str(unlabeled), "-o", str(out2)]) == 0
    assert "no labels" in capsys.readouterr().out
    with np.load(out2) as data:
        assert data["embeddings"].shape == (5, 1536)
        assert "labels" not in data.files and "label_names" not in data.files


def test_embed_unlabeled_folder(vowel_folder, tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in sorted(vowel_folder.rglob("*.wav"))[:7]:
        shutil.copy(f, flat / f.name)
    (flat / "notes.txt").write_text("not audio")
    out = tmp_path / "flat.npz"
    assert main(["embed", str(flat), "-o", str(out), "-v"]) == 0
    captured = capsys.readouterr()
    assert "7 clips" in captured.out and "no labels" in captured.out
    assert "Embedding with" in captured.err  # the progress bar
    with np.load(out) as data:
        assert data["embeddings"].shape == (7, 1536)
        assert data["embeddings"].dtype == np.float32
        assert sorted(os.path.basename(p) for p in data["paths"]) == sorted(
            f.name for f in flat.glob("*.wav"))
        assert "labels" not in data.files


def _check_simulation_output(text, out_dir, keys, first_rows):
    assert "Learning curves" in text
    header = next(line for line in text.splitlines() if line.strip().startswith("labels"))
    for strategy, selection in keys:
        assert f"{strategy}/{selection}" in header
    rows = re.findall(r"^\s+(\d+)((?:\s+\d\.\d{3} \u00b1 \d\.\d{3})+)\s*$", text, re.M)
    assert [int(r[0]) for r in rows] == first_rows
    assert "all labels (every pool clip labeled" in text
    assert "What is compared:" in text
    summary = (out_dir / "summary.txt").read_text()
    assert summary.strip() and summary.strip() in text  # the summary table is printed too
    for strategy, _ in keys:
        assert strategy in summary
    results = SimulationResults.from_json(out_dir / "results.json")
    assert sorted(results.curves()) == sorted(keys)
    assert results.params["n_runs"] == 1 and results.params["n_rounds"] == 2
    records = (out_dir / "records.csv").read_text().splitlines()
    assert records[0].startswith("run,strategy,selection,round,n_labels,val_score")
    assert len(records) == 1 + len(results.records)
    png = out_dir / "learning_curves.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return results


def test_simulate_on_embeddings_npz(vowel_npz, tmp_path, capsys):
    out_dir = tmp_path / "results"
    assert main(["simulate", str(vowel_npz), "--rounds", "2", "--runs", "1",
                 "--n-per-class", "2", "--out", str(out_dir)]) == 0
    text = capsys.readouterr().out
    # 240 clips: pool 144, validation 48, test 48 (stratified 60/20/20).
    assert "pool 144, validation 48, test 48" in _flat(text)
    results = _check_simulation_output(
        text, out_dir, [("margin", "class-aware"), ("random", "class-aware")], [24, 36, 48])
    assert results.params["n_pool"] == 144 and results.params["n_test"] == 48
    # Deterministic: the same command gives the same scores.
    out2 = tmp_path / "again"
    assert main(["simulate", str(vowel_npz), "--rounds", "2", "--runs", "1",
                 "--n-per-class", "2", "--out", str(out2)]) == 0
    capsys.readouterr()
    again = SimulationResults.from_json(out2 / "results.json")
    assert [r["val_score"] for r in again.records] == [r["val_score"] for r in results.records]


def test_simulate_stops_comparing_when_the_pool_runs_out(vowel_npz, tmp_path, capsys, recwarn,
                                                         monkeypatch):
    """144 pool clips: 24 seed labels, then 12 a round run out after 10 of 15 rounds."""
    from skaloe.cli import _simulate

    plotted = []
    plot = _simulate._plot_curves
    monkeypatch.setattr(_simulate, "_plot_curves",
                        lambda results, path: plotted.append(results) or plot(results, path))
    out_dir = tmp_path / "results"
    assert main(["simulate", str(vowel_npz), "--rounds", "15", "--runs", "2",
                 "--n-per-class", "2", "--out", str(out_dir)]) == 0
    captured = capsys.readouterr()
    text, flat = captured.out, _flat(captured.out)
    assert "the pool of 144 clips ran out after 10 of the 15 rounds asked" in flat
    rows = re.findall(r"^\s+(\d+)((?:\s+\d\.\d{3} \u00b1 \d\.\d{3})+)\s*$", text, re.M)
    # The curves stop before the round that labeled every clip.
    assert [int(r[0]) for r in rows] == list(range(24, 144, 12))
    assert "Summary at 132 labels, the last round before the pool ran out" in flat
    summary = (out_dir / "summary.txt").read_text()
    assert summary.strip() in text and "132" in summary.splitlines()[2]
    # The command says it in words; the Python warning is not repeated on stderr.
    assert "UserWarning" not in captured.err
    assert not [w for w in recwarn if "ran out" in str(w.message)]
    # The plot stops there too; results.json keeps every round.
    assert max(r["n_labels"] for r in plotted[0].records) == 132
    assert (out_dir / "learning_curves.png").is_file()
    # The labels needed exclude the rounds with every clip labeled.
    results = SimulationResults.from_json(out_dir / "results.json")
    for r in results.labels_to_reach(0.95).values():
        assert all(n is None or n < 144 for n in r["per_run"])


def test_simulate_stops_comparing_when_runs_ask_different_numbers_of_labels(vowel_npz, tmp_path,
                                                                           capsys):
    """ALOE's rounds ask at most one label per predicted class, so runs differ in labels.

    The comparison must still stop before any run labeled the whole pool, and
    rows are then rounds, each cell with its mean number of labels.
    """
    out_dir = tmp_path / "results"
    assert main(["simulate", str(vowel_npz), "--preset", "aloe", "--rounds", "30", "--runs",
                 "3", "--n-per-class", "2", "--out", str(out_dir)]) == 0
    text = capsys.readouterr().out
    results = SimulationResults.from_json(out_dir / "results.json")
    n_pool = results.params["n_pool"]
    exhausted = [f for f in results.final if f["n_labels"] >= n_pool]
    assert exhausted, "the test needs runs that label the whole pool"
    assert "ran out after" in _flat(text)
    assert re.search(r"^\s+round\s+margin/class-aware", text, re.M)
    cells = re.findall(r"\d\.\d{3} \u00b1 \d\.\d{3} at (\d+(?:\.\d)?)", text)
    assert cells and max(float(n) for n in cells) < n_pool
    summary = (out_dir / "summary.txt").read_text()
    rows = [line.split() for line in summary.splitlines()[2:-1]]  # the strategies' rows
    assert all(float(row[2]) < n_pool for row in rows)
    # no run ran out by the label count the comparison stops at
    cut = float(re.search(r"Summary at (\d+) labels", _flat(text)).group(1))
    for f in exhausted:
        run = [r for r in results.records if (r["run"], r["strategy"]) == (f["run"], f["strategy"])]
        assert max(r["n_labels"] for r in run if r["n_labels"] < n_pool) >= cut


def test_simulate_says_how_to_get_the_plot_without_matplotlib(vowel_npz, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    out_dir = tmp_path / "results"
    assert main(["simulate", str(vowel_npz), "--rounds", "1", "--runs", "1",
                 "--strategies", "margin", "--out", str(out_dir)]) == 0
    flat = _flat(capsys.readouterr().out)
    assert "learning_curves.png was not written: matplotlib cannot be imported" in flat
    assert "pip install matplotlib" in flat
    assert (out_dir / "results.json").is_file()
    assert not (out_dir / "learning_curves.png").exists()


def test_simulate_on_audio_folder(vowel_folder, tmp_path, capsys):
    out_dir = tmp_path / "results"
    assert main(["simulate", str(vowel_folder), "--cache", str(tmp_path / "cache"),
                 "--strategies", "entropy,random", "--selections", "class-aware,class-agnostic",
                 "--rounds", "2", "--runs", "1", "--n-per-class", "2",
                 "--scoring", "balanced_accuracy", "--out", str(out_dir)]) == 0
    text = capsys.readouterr().out
    assert "240 clips in 12 classes" in text and "embedded with ge2e" in text
    keys = [(s, sel) for s in ("entropy", "random") for sel in ("class-aware", "class-agnostic")]
    # class-aware asks 12 labels a round, class-agnostic 1.
    _check_simulation_output(text, out_dir, keys, [24, 25, 26, 36, 48])
    assert (tmp_path / "cache" / "skaloe-embeddings").is_dir()


def test_simulate_default_out_folder(vowel_npz, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", str(vowel_npz), "--rounds", "0", "--runs", "1",
                 "--strategies", "margin"]) == 0
    capsys.readouterr()
    assert (tmp_path / "skaloe-simulation" / "results.json").is_file()


@pytest.mark.parametrize(
    "command, options",
    [
        ("embed", ["INPUT", "--output", "--model", "--cache", "--n-jobs", "--batch-size",
                   "--timeout", "--verbose", "--dask", "--dask-workers", "--shard-size",
                   "--write-on", "--overwrite", "--window", "--hop", "--skip-silence",
                   "--silence-threshold"]),
        ("timeline", ["--db", "--out", "--ignore", "--min-duration", "--max-gap",
                      "--no-plots", "events.csv", "Audacity"]),
        ("simulate", ["INPUT", "--model", "--cache", "--strategies", "--selections",
                      "--preset", "--response-method",
                      "--rounds", "--runs", "--n-per-class", "--batch-size", "--test-size",
                      "--val-size", "--val-input", "--test-input", "--stopping",
                      "--patience", "--min-delta", "--scoring", "--random-state", "--out"]),
    ],
)
def test_subcommand_help_lists_options(command, options, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in options:
        assert option in text


def test_top_level_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("demo", "embed", "simulate", "label", "timeline"):
        assert command in text


@pytest.fixture(scope="module")
def bad_inputs(vowel_folder, vowel_npz, tmp_path_factory):
    """Files for the user errors below."""
    root = tmp_path_factory.mktemp("bad")
    files = sorted(str(p) for p in vowel_folder.rglob("*.wav"))
    with np.load(vowel_npz) as data:
        emb, labels, names = data["embeddings"], data["labels"], data["label_names"]
    np.savez(root / "unlabeled.npz", embeddings=emb, paths=np.array(files))
    np.savez(root / "no_embeddings.npz", labels=labels)
    # One class with only 2 samples: it cannot be split into pool, validation and test.
    keep = np.flatnonzero(labels != 0).tolist() + np.flatnonzero(labels == 0)[:2].tolist()
    np.savez(root / "tiny_class.npz", embeddings=emb[keep], labels=labels[keep],
             label_names=names)
    one = np.flatnonzero(labels == 0)
    np.savez(root / "one_class.npz", embeddings=emb[one], labels=labels[one])
    (root / "text.npz").write_text("not an npz file\n")
    np.savez(root / "pickled.npz", embeddings=emb, labels=names[labels].astype(object))
    np.savez(root / "short_labels.npz", embeddings=emb, labels=labels[:-1], label_names=names)
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wav file" * 4)
    (root / "broken.txt").write_text(str(root / "broken.wav") + "\n")
    (root / "missing.txt").write_text(files[0] + "\n" + str(root / "nope.wav") + "\n")
    (root / "mixed.txt").write_text(f"{files[0]}\taa\n{files[1]}\n")
    (root / "binary.lst").write_bytes(bytes(range(128, 256)))
    (root / "empty").mkdir()
    flat = root / "flat"
    flat.mkdir()
    for f in files[:4]:
        shutil.copy(f, flat / os.path.basename(f))
    # Held-out sets that do not fit the pool of vowel_npz.
    wide = np.concatenate([emb, emb[:, :1]], axis=1)
    np.savez(root / "wide.npz", embeddings=wide, labels=labels, label_names=names)
    np.savez(root / "new_class.npz", embeddings=emb, labels=labels,
             label_names=np.array(["zz"] + names.tolist()[1:]))
    np.savez(root / "other_model.npz", embeddings=emb, labels=labels, label_names=names,
             model=np.array("logmel"))
    return root


_ERRORS = [
    # (argv with {bad}, {npz}, {audio} placeholders, the command, expected text)
    (["embed", "{bad}/nope", "-o", "{bad}/x.npz"], "does not exist"),
    (["embed", "{npz}", "-o", "{bad}/x.npz"], ".npz file"),
    (["embed", "{audio}"], "-o/--output"),
    (["embed", "{bad}/empty", "-o", "{bad}/x.npz"], "no audio files"),
    (["embed", "{bad}/broken.txt", "-o", "{bad}/x.npz"], "broken.wav"),
    (["embed", "{bad}/missing.txt", "-o", "{bad}/x.npz"], "nope.wav"),
    (["embed", "{bad}/mixed.txt", "-o", "{bad}/x.npz"], "label every line or none"),
    (["embed", "{bad}/binary.lst", "-o", "{bad}/x.npz"], "not UTF-8"),
    (["embed", "{audio}", "-o", "{bad}/x.npz", "--model", "no-such-model"], "Unknown model"),
    (["embed", "{audio}", "-o", "{bad}/x.npz", "--batch-size", "0"], "positive integer"),
    (["embed", "{audio}", "-o", "{bad}/x.npz", "--timeout", "-3"], "positive number"),
    (["simulate", "{bad}/nope.npz"], "does not exist"),
    (["simulate", "{bad}/unlabeled.npz"], "holds no labels"),
    (["simulate", "{bad}/no_embeddings.npz"], "no 'embeddings'"),
    (["simulate", "{bad}/text.npz"], "not an .npz file"),
    (["simulate", "{bad}/pickled.npz"], "'labels' is an array of Python objects, which skaloe "
                                        "never loads"),
    (["simulate", "{bad}/short_labels.npz"], "'labels' holds 239 labels but 'embeddings' "
                                             "holds 240 rows"),
    (["simulate", "{npz}", "--test-input", "{bad}/pickled.npz"], "--test-input: The "
                                                                 "embeddings file"),
    (["simulate", "{bad}/flat"], "has no labels"),
    (["simulate", "{npz}", "--strategies", "margin,smallest"], "unknown query strategy 'smallest'"),
    (["simulate", "{npz}", "--strategies", "margin,,random"], "empty items"),
    (["simulate", "{npz}", "--selections", "by-class"], "unknown selection 'by-class'"),
    (["simulate", "{npz}", "--rounds", "-1"], "non-negative integer"),
    (["simulate", "{npz}", "--runs", "0"], "positive integer"),
    (["simulate", "{npz}", "--runs", "three"], "positive integer"),
    (["simulate", "{npz}", "--n-per-class", "1.5"], "positive integer"),
    (["simulate", "{npz}", "--test-size", "1.5"], "between 0 and 1"),
    (["simulate", "{npz}", "--val-size", "x"], "between 0 and 1"),
    (["simulate", "{npz}", "--test-size", "0.5", "--val-size", "0.5"], "leave no pool"),
    (["simulate", "{npz}", "--scoring", "accuracyy"], "unknown --scoring"),
    (["simulate", "{npz}", "--n-per-class", "13"], "fewer than --n-per-class 13"),
    (["simulate", "{bad}/tiny_class.npz"], "smallest class 'aa' has 2 samples"),
    (["simulate", "{bad}/one_class.npz"], "at least 2 classes"),
    (["simulate", "{npz}", "--out", "{bad}/text.npz"], "is a file"),
    (["simulate", "{npz}", "--stopping", "plateau,patience"], "unknown stopping rule 'patience'"),
    (["simulate", "{npz}", "--stopping", "plateau,plateau"], "repeated"),
    (["simulate", "{npz}", "--patience", "3"], "add --stopping plateau"),
    (["simulate", "{npz}", "--min-delta", "0.01", "--stopping", "stabilizing"],
     "add --stopping plateau"),
    (["simulate", "{npz}", "--stopping", "plateau", "--patience", "0"], "positive integer"),
    (["simulate", "{npz}", "--stopping", "plateau", "--min-delta", "-0.1"],
     "non-negative number"),
    (["simulate", "{npz}", "--test-input", "{npz}", "--test-size", "0.3"],
     "--test-size and --test-input cannot be used together"),
    (["simulate", "{npz}", "--val-input", "{npz}", "--val-size", "0.3"],
     "--val-size and --val-input cannot be used together"),
    (["simulate", "{npz}", "--val-input", "{bad}/nope.npz"], "--val-input"),
    (["simulate", "{npz}", "--test-input", "{bad}/unlabeled.npz"], "holds no labels"),
    (["simulate", "{npz}", "--test-input", "{bad}/flat"], "has no labels"),
    (["simulate", "{npz}", "--val-input", "{bad}/wide.npz"], "holds 1537-d embeddings"),
    (["simulate", "{npz}", "--test-input", "{bad}/new_class.npz"], "has class 'zz'"),
    (["simulate", "{npz}", "--val-input", "{bad}/other_model.npz"],
     "was embedded with 'logmel'"),
    (["simulate", "{npz}", "--val-input", "{npz}", "--test-input", "{bad}/tiny_class.npz",
      "--n-per-class", "25"], "fewer than --n-per-class 25"),
]


@pytest.mark.parametrize("argv, expected", _ERRORS,
                         ids=[f"{a[0]}: {e}" for a, e in _ERRORS])
def test_user_errors_are_one_line_with_exit_code_2(argv, expected, bad_inputs, vowel_npz,
                                                   vowel_folder, capsys):
    argv = [a.format(bad=bad_inputs, npz=vowel_npz, audio=vowel_folder) for a in argv]
    code, err = _run_error(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"skaloe {argv[0]}: error: ")
    assert expected in lines[0]
    assert "Traceback" not in err


# -- held-out sets of their own, and stopping rules ---------------------------


@pytest.fixture(scope="module")
def held_out_sets(vowel_folder, tmp_path_factory):
    """A validation file list with 3 classes only, and a test folder of new clips."""
    root = tmp_path_factory.mktemp("held_out")
    make_vowels(120, directory=root / "test", random_state=1)
    extra = root / "val_audio"
    make_vowels(120, directory=extra, random_state=2)
    # Only three classes, so that their codes in this list (0, 1, 2) differ from
    # their codes in the pool: the labels must be matched by name.
    keep = sorted(os.listdir(extra))[-3:]
    lines = [f"{p}\t{p.parent.name}" for name in keep for p in sorted((extra / name).glob("*.wav"))]
    (root / "val.tsv").write_text("\n".join(lines) + "\n")
    return root, keep, len(lines)


def _upper_bound_by_hand(X_pool, y_pool, X_eval, y_eval):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X_pool)
    model = LogisticRegression(max_iter=1000).fit(scaler.transform(X_pool), y_pool)
    return model.score(scaler.transform(X_eval), y_eval)


def test_simulate_with_given_validation_and_test_sets(vowel_npz, held_out_sets, tmp_path,
                                                      capsys):
    root, val_classes, n_val = held_out_sets
    test_npz = tmp_path / "test.npz"
    val_npz = tmp_path / "val.npz"
    assert main(["embed", str(root / "test"), "-o", str(test_npz)]) == 0
    assert main(["embed", str(root / "val.tsv"), "-o", str(val_npz)]) == 0
    capsys.readouterr()
    out_dir = tmp_path / "results"
    # The validation set as audio (embedded by simulate), the test set as .npz.
    assert main(["simulate", str(vowel_npz), "--val-input", str(root / "val.tsv"),
                 "--test-input", str(test_npz), "--rounds", "2", "--runs", "1",
                 "--n-per-class", "2", "--out", str(out_dir)]) == 0
    text = capsys.readouterr().out
    assert (f"pool 240 (all of INPUT), validation {n_val} (--val-input), test 120 "
            "(--test-input)") in _flat(text)
    results = _check_simulation_output(
        text, out_dir, [("margin", "class-aware"), ("random", "class-aware")], [24, 36, 48])
    assert results.params["n_pool"] == 240
    assert results.params["n_val"] == n_val and results.params["n_test"] == 120
    assert results.params["val_input"] == str(root / "val.tsv")
    assert results.params["test_input"] == str(test_npz)

    # The upper bound, recomputed by hand with the labels matched by class name.
    with np.load(vowel_npz) as pool, np.load(test_npz) as test, np.load(val_npz) as val:
        X_pool, pool_names = pool["embeddings"], pool["label_names"].tolist()
        y_pool = np.array(pool_names)[pool["labels"]]
        y_test = test["label_names"][test["labels"]]
        y_val = val["label_names"][val["labels"]]
        assert sorted(set(y_val)) == val_classes
        expected_test = _upper_bound_by_hand(X_pool, y_pool, test["embeddings"], y_test)
        expected_val = _upper_bound_by_hand(X_pool, y_pool, val["embeddings"], y_val)
    assert results.upper_bound["test_score"] == pytest.approx(expected_test, abs=1e-9)
    assert results.upper_bound["val_score"] == pytest.approx(expected_val, abs=1e-9)


def test_simulate_with_given_test_set_splits_validation_off_input(vowel_npz, held_out_sets,
                                                                  tmp_path, capsys):
    root, _, _ = held_out_sets
    out_dir = tmp_path / "results"
    assert main(["simulate", str(vowel_npz), "--test-input", str(root / "test"),
                 "--val-size", "0.25", "--rounds", "0", "--runs", "1",
                 "--strategies", "margin", "--out", str(out_dir)]) == 0
    text = capsys.readouterr().out
    # 240 clips: 25% (60) for validation, the rest is the pool; the test set is apart.
    assert "pool 180 (INPUT split stratified, random state 0), validation 60, test 120 " \
           "(--test-input)" in _flat(text)
    results = SimulationResults.from_json(out_dir / "results.json")
    assert (results.params["n_pool"], results.params["n_val"], results.params["n_test"]) == (
        180, 60, 120)


def test_simulate_stopping_rules(vowel_npz, tmp_path, capsys):
    from skaloe.active import PlateauStopping

    out_dir = tmp_path / "results"
    assert main(["simulate", str(vowel_npz), "--rounds", "6", "--runs", "2",
                 "--n-per-class", "2", "--stopping", "plateau,stabilizing",
                 "--patience", "2", "--min-delta", "0.01", "--out", str(out_dir)]) == 0
    text = capsys.readouterr().out
    assert "stopping rules plateau, stabilizing" in _flat(text)
    assert "where each stopping rule would have stopped" in _flat(text)
    results = SimulationResults.from_json(out_dir / "results.json")
    assert len(results.params["stopping"]) == 2
    assert "patience=2" in results.params["stopping"][0]
    assert "min_delta=0.01" in results.params["stopping"][0]
    assert results.params["stopping"][1].startswith("StabilizingPredictions(")
    assert len(results.final) == 4
    for end in results.final:
        assert {"stop_PlateauStopping", "stop_StabilizingPredictions"} <= set(end)
        # The plateau stop point follows from the recorded validation scores.
        rule = PlateauStopping(patience=2, min_delta=0.01)
        for r in sorted((r for r in results.records
                         if (r["run"], r["strategy"], r["selection"])
                         == (end["run"], end["strategy"], end["selection"])),
                        key=lambda r: r["round"]):
            rule.update(SimpleNamespace(validation_score_=r["val_score"],
                                        n_labels_=r["n_labels"]))
        assert end["stop_PlateauStopping"] == rule.stopped_at_
    # Without --stopping, no stop point is recorded.
    out2 = tmp_path / "plain"
    assert main(["simulate", str(vowel_npz), "--rounds", "1", "--runs", "1",
                 "--n-per-class", "2", "--out", str(out2)]) == 0
    capsys.readouterr()
    plain = SimulationResults.from_json(out2 / "results.json")
    assert not any(key.startswith("stop_") for end in plain.final for key in end)
    assert plain.params["stopping"] == []


# -- skaloe embed --dask: a store folder on a Dask cluster, read by simulate ----

import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402


def _import_distributed():
    return require("distributed")


def _write_tone(path, freq, n):
    import soundfile as sf

    t = np.arange(n) / 16000
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * np.cos(t * 7000.0)
    sf.write(path, wave.astype(np.float32), 16000)


@pytest.fixture(scope="module")
def tone_folder(tmp_path_factory):
    """24 tiny WAV clips (0.1-0.15 s) of three classes, one subfolder per class."""
    root = tmp_path_factory.mktemp("tones") / "audio"
    for name, base in (("high", 900.0), ("low", 150.0), ("mid", 400.0)):
        (root / name).mkdir(parents=True)
        for i in range(8):
            _write_tone(root / name / f"{name}{i}.wav", base + 13.0 * i, 1600 + 97 * i)
    return root


@pytest.fixture(scope="module")
def tone_npz(tone_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("tones_npz") / "tones.npz"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["embed", str(tone_folder), "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def tone_store(tone_folder, tmp_path_factory):
    """The store of ``tone_folder`` written on a two-worker local cluster, and the output."""
    _import_distributed()
    store = tmp_path_factory.mktemp("tones_store") / "store"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["embed", str(tone_folder), "-o", str(store), "--dask", "local",
                     "--dask-workers", "2", "--shard-size", "5"])
    return store, code, out.getvalue()


def _markers(store):
    return {p.name: p.stat().st_mtime_ns for p in (store / "shards").iterdir()}


def test_embed_dask_local_writes_a_store_equal_to_the_npz(tone_store, tone_npz, tone_folder,
                                                           capsys):
    from skaloe.distributed import open_store, store_info

    store, code, text = tone_store
    assert code == 0
    assert len(text.strip().splitlines()) == 1
    for part in ("24 clips", "1536-d", "3 classes", "labels in labels.json",
                 "a local cluster of 2 workers", "5 of 5 shards embedded", str(store)):
        assert part in text
    assert sorted(os.listdir(store)) == [
        "embeddings.npy", "labels.json", "manifest.json", "paths.json", "shards"]
    info = store_info(store)
    assert info["complete"] and info["n_shards"] == 5 and info["shard_size"] == 5
    X = open_store(store)
    with np.load(tone_npz) as data:
        np.testing.assert_array_equal(X, data["embeddings"])
        assert info["paths"] == [os.path.abspath(p) for p in data["paths"]]
        labels = json.loads((store / "labels.json").read_text())
        assert labels["format"] == "skaloe-store-labels" and labels["n_rows"] == 24
        assert labels["label_names"] == data["label_names"].tolist() == ["high", "low", "mid"]
        assert labels["labels"] == data["labels"].tolist()

    # Running the same command again resumes: every shard is there, nothing is embedded.
    before = _markers(store)
    assert main(["embed", str(tone_folder), "-o", str(store), "--dask", "local",
                 "--dask-workers", "2"]) == 0  # the store's shard size is kept
    again = capsys.readouterr().out
    assert "0 of 5 shards embedded, 5 already stored" in again
    assert _markers(store) == before
    np.testing.assert_array_equal(open_store(store), X)


def _simulate_records(argv, out_dir, capsys):
    assert main(["simulate", *argv, "--rounds", "2", "--runs", "2", "--n-per-class", "1",
                 "--out", str(out_dir)]) == 0
    text = capsys.readouterr().out
    results = SimulationResults.from_json(out_dir / "results.json")
    numbers = ([(r["run"], r["strategy"], r["round"], r["n_labels"], r["val_score"])
                for r in results.records],
               [(f["run"], f["strategy"], f["val_score"], f["test_score"])
                for f in results.final],
               results.upper_bound["val_score"], results.upper_bound["test_score"])
    return text, numbers


def test_simulate_reads_a_store_like_the_npz(tone_store, tone_npz, tmp_path, capsys):
    store = tone_store[0]
    text, from_store = _simulate_records([str(store)], tmp_path / "store", capsys)
    assert f"24 embeddings (1536-d) in 3 classes from the store {store}" in text
    _, from_npz = _simulate_records([str(tone_npz)], tmp_path / "npz", capsys)
    assert from_store == from_npz
    assert len(from_store[0]) == 2 * 2 * 3  # runs x strategies x (seed + 2 rounds)

    # As --val-input and --test-input too.
    text, held_store = _simulate_records(
        [str(tone_npz), "--val-input", str(store), "--test-input", str(store)],
        tmp_path / "held_store", capsys)
    assert "--val-input: 24 embeddings (1536-d) in 3 classes from the store" in text
    _, held_npz = _simulate_records(
        [str(tone_npz), "--val-input", str(tone_npz), "--test-input", str(tone_npz)],
        tmp_path / "held_npz", capsys)
    assert held_store == held_npz


@pytest.fixture(scope="module")
def scheduler():
    """The address of a one-worker (in-process) cluster, for --dask ADDRESS."""
    distributed = _import_distributed()
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
        host="127.0.0.1", dashboard_address=None, silence_logs=logging.CRITICAL,
    ) as cluster:
        yield cluster.scheduler_address


def test_embed_dask_failed_shard_is_one_line_and_resumes(scheduler, tmp_path, capsys):
    from skaloe.distributed import open_store, store_info

    audio = tmp_path / "audio"
    for name, base in (("a", 200.0), ("b", 700.0)):
        (audio / name).mkdir(parents=True)
        for i in range(5):
            _write_tone(audio / name / f"{i}.wav", base + 20.0 * i, 1800)
    broken = audio / "b" / "2.wav"  # row 7: shard 2 of shards of 3 clips
    broken.write_bytes(b"RIFF\x00\x00not really a wav file" * 4)
    store = tmp_path / "store"
    argv = ["embed", str(audio), "-o", str(store), "--dask", scheduler, "--shard-size", "3",
            "--write-on", "client"]
    code, err = _run_error(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skaloe embed: error: Shard 2 ")
    assert str(broken) in lines[0] and "run the same command again" in lines[0]
    assert not (store / "labels.json").exists()
    n_before = store_info(store)["shards_done"]
    assert n_before < 4

    _write_tone(broken, 740.0, 1800)  # fixed: the same path, now readable
    assert main(argv) == 0
    text = capsys.readouterr().out
    done = f"{4 - n_before} of 4 shards embedded" + (
        f", {n_before} already stored" if n_before else "")
    assert done in text and scheduler in text
    assert json.loads((store / "labels.json").read_text())["labels"] == [0] * 5 + [1] * 5
    from skaloe.encoders import EncoderTransformer

    expected = EncoderTransformer().fit_transform(store_info(store)["paths"])
    np.testing.assert_array_equal(open_store(store), expected)

    # --overwrite embeds everything again; an unlabeled INPUT leaves no labels behind.
    listing = tmp_path / "clips.txt"
    listing.write_text("\n".join(store_info(store)["paths"]) + "\n")
    assert main(["embed", str(listing), "-o", str(store), "--dask", scheduler,
                 "--overwrite"]) == 0
    text = capsys.readouterr().out
    assert "1 of 1 shard embedded" in text and "no labels" in text
    assert store_info(store)["shard_size"] == 256
    assert not (store / "labels.json").exists()


@pytest.fixture(scope="module")
def bad_stores(tone_store, tmp_path_factory):
    """Damaged copies of the tone store, and outputs that cannot be a store."""
    store = tone_store[0]
    root = tmp_path_factory.mktemp("bad_stores")
    shutil.copytree(store, root / "unlabeled")
    os.remove(root / "unlabeled" / "labels.json")
    shutil.copytree(store, root / "incomplete")
    os.remove(root / "incomplete" / "shards" / "00003.json")
    shutil.copytree(store, root / "short_labels")
    labels = json.loads((store / "labels.json").read_text())
    labels["labels"] = labels["labels"][:3]
    (root / "short_labels" / "labels.json").write_text(json.dumps(labels))
    (root / "occupied").mkdir()
    (root / "occupied" / "notes.txt").write_text("mine")
    (root / "file.txt").write_text("not a folder")
    return root


_DASK_ERRORS = [
    (["embed", "{audio}", "-o", "{bad}/new", "--dask", "tcp://127.0.0.1:1", "--timeout", "1"],
     "cannot reach the Dask scheduler at 'tcp://127.0.0.1:1' within 1 s"),
    (["embed", "{audio}", "-o", "{bad}/new", "--dask", "no-port"], "not a scheduler address"),
    (["embed", "{audio}", "-o", "{bad}/file.txt", "--dask", "local"], "is a file"),
    (["embed", "{audio}", "-o", "{bad}/occupied", "--dask", "local"],
     "holds other files (e.g. 'notes.txt') and no embedding store"),
    (["embed", "{audio}", "-o", "{bad}/store.npz", "--dask", "local"], "not an .npz file"),
    (["embed", "{audio}", "-o", "{store}", "--dask", "local", "--shard-size", "4"],
     "written with --shard-size 5, not 4"),
    (["embed", "{audio}", "-o", "{bad}/new", "--dask", "local", "--cache", "{bad}/cache"],
     "--cache does not apply with --dask"),
    (["embed", "{audio}", "-o", "{bad}/new", "--dask", "tcp://127.0.0.1:1",
      "--dask-workers", "2"], "--dask-workers sets the size of --dask local"),
    (["embed", "{audio}", "-o", "{bad}/new", "--dask", "local", "--dask-workers", "0"],
     "positive integer"),
    (["embed", "{audio}", "-o", "{bad}/new", "--dask", "local", "--write-on", "nfs"],
     "invalid choice"),
    (["embed", "{audio}", "-o", "{bad}/x.npz", "--shard-size", "8"],
     "--shard-size applies to embedding on a Dask cluster; add --dask"),
    (["embed", "{audio}", "-o", "{bad}/x.npz", "--write-on", "client"], "--write-on applies"),
    (["embed", "{audio}", "-o", "{bad}/x.npz", "--overwrite"], "--overwrite applies"),
    (["embed", "{audio}", "-o", "{bad}/x.npz", "--dask-workers", "2"], "--dask-workers applies"),
    (["embed", "{store}", "-o", "{bad}/x.npz"], "is an embedding store"),
    (["simulate", "{bad}/unlabeled"], "is an embedding store without labels"),
    (["simulate", "{bad}/incomplete"], "incomplete embedding store: 4 of 5 shards"),
    (["simulate", "{bad}/short_labels"], "holds 3 labels but the store holds 24"),
    (["simulate", "{npz}", "--test-input", "{bad}/unlabeled"],
     "--test-input '{bad}/unlabeled' is an embedding store without labels"),
    (["simulate", "{npz}", "--val-input", "{bad}/incomplete"], "--val-input"),
]


@pytest.mark.parametrize("argv, expected", _DASK_ERRORS,
                         ids=[f"{a[0]}: {e}" for a, e in _DASK_ERRORS])
def test_dask_user_errors_are_one_line_with_exit_code_2(argv, expected, tone_store, tone_folder,
                                                        tone_npz, bad_stores, capsys):
    store = tone_store[0]
    fill = dict(bad=bad_stores, store=store, audio=tone_folder, npz=tone_npz)
    argv = [a.format(**fill) for a in argv]
    before = _markers(store)
    code, err = _run_error(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"skaloe {argv[0]}: error: ")
    assert expected.format(**fill) in lines[0]
    assert not (bad_stores / "new").exists()  # nothing was created
    assert _markers(store) == before


def test_a_mistyped_model_on_the_command_line_offers_only_what_it_can_take(tmp_path, capsys):
    from skaloe.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["embed", str(tmp_path), "-o", str(tmp_path / "x.npz"), "--model", "yamnett"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Did you mean 'yamnet'" in err and "callable" not in err
    assert err.count("\n") == 1


def test_report_bounds_a_saving_the_right_way_when_random_never_got_there():
    """Random short of the target in a run needed more labels than it had there.

    So a saving against it is a lower bound ("at least N% fewer"), and a
    shortfall an upper bound ("at most N% more").
    """
    from skaloe.cli._report import reach_lines

    def records(strategy, first_hits):
        return [{"run": run, "strategy": strategy, "selection": "class-aware", "round": k,
                 "n_labels": n, "val_score": 0.99 if hit is not None and n >= hit else 0.5}
                for run, hit in enumerate(first_hits) for k, n in enumerate((10, 20, 30, 40))]

    # random: 10 labels in run 0, never within 40 in run 1 (so: more than 40)
    for margin_hits, expected in (((30, 30), "at most 20% more labels than random"),
                                  ((10, 10), "at least 60% fewer labels than random")):
        results = SimulationResults(records("margin", margin_hits) + records("random", (10, None)),
                                    [], {"val_score": 1.0}, {"n_pool": 1000})
        text = _flat("\n".join(reach_lines(results)))
        assert expected in text
