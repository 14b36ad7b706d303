"""Tests of skaloe.notebook.LabelingSession, with and without ipywidgets."""

import io
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from ci_support import require
import soundfile
from sklearn.datasets import make_classification

from skaloe.active import ActiveLearner
from skaloe.encoders._audio import load_clip
from skaloe.notebook import SKIP, LabelingSession

N_POOL = 30


def make_pool(n=N_POOL, seed=0):
    X, y = make_classification(n, n_features=6, random_state=seed)
    rng = np.random.default_rng(seed)
    # Clips of different lengths and PCM formats: float32 and int16.
    clips = []
    for i in range(n):
        x = rng.uniform(-0.8, 0.8, 400 + 10 * i)
        clips.append(x.astype(np.float32) if i % 2 else (x * 32767).astype(np.int16))
    names = np.array(["dog", "cat"])[y]
    return X, names, clips


def fitted_learner(X, names, n_seed=1):
    seed = np.full(len(X), -1, dtype=object)
    for name in ("cat", "dog"):
        where = np.flatnonzero(names == name)[:n_seed]
        seed[where] = name
    return ActiveLearner(random_state=0).fit(X, seed)


def decode(data, dtype="float32"):
    samples, rate = soundfile.read(io.BytesIO(data), dtype=dtype)
    return samples, rate


PCM16_ATOL = 2 / 32768


def as_float(clip):
    return clip.astype(np.float32) / 32768 if clip.dtype == np.int16 else clip


def walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


# -- without widgets -----------------------------------------------------------


def test_import_does_not_import_ipywidgets():
    code = (
        "import sys, skaloe.notebook; "
        "bad = [m for m in ('ipywidgets', 'IPython') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_label_skip_submit_without_widgets():
    X, names, clips = make_pool()
    learner = fitted_learner(X, names)
    session = LabelingSession(learner, clips, ["cat", "dog"])
    assert session.batch_ is None and session.pending_ == {}

    batch = session.next_batch()
    assert len(batch) == 2  # batch_size None: one per label choice
    assert not learner.labeled_mask_[batch].any()
    first, second = batch.tolist()
    session.label(first, names[first])
    session.skip(second)
    assert session.pending_ == {first: names[first]}
    assert session.skipped_ == {second}
    before = learner.labeled_mask_.sum()

    taught = session.submit()
    assert taught.tolist() == [first]
    assert session.pending_ == {}
    assert learner.labeled_mask_.sum() == before + 1
    assert learner.labeled_mask_[first] and not learner.labeled_mask_[second]
    assert learner.y_pool_[first] == names[first]
    assert learner.n_rounds_ == 1

    # A skipped clip is not asked again while other clips are unlabeled.
    session.batch_size = 5
    later = session.next_batch()
    assert len(later) == 5 and second not in later.tolist()

    # A label not among the choices becomes a choice and a class.
    session.label(later[0], "bird")
    session.label(later[1], "cat")
    session.label(later[1], "dog")  # changing one's mind: the last choice counts
    assert session.labels == ["cat", "dog", "bird"]
    session.submit()
    assert "bird" in learner.classes_.tolist()
    assert learner.y_pool_[later[1]] == "dog"
    assert learner.n_rounds_ == 2
    assert "round 2" in session.status() and "bird: 1" in session.status()

    # Nothing pending: no teach call.
    assert session.submit().tolist() == []
    assert learner.n_rounds_ == 2


def test_failed_teach_keeps_pending_and_retry_does_not_warn(monkeypatch):
    X, names, clips = make_pool()
    learner = fitted_learner(X, names)
    session = LabelingSession(learner, clips, ["cat", "dog"])
    batch = session.next_batch().tolist()
    for position in batch:
        session.label(position, names[position])
    chosen = dict(session.pending_)

    def boom():
        raise RuntimeError("refit failed")

    monkeypatch.setattr(learner, "_refit", boom)
    with pytest.raises(RuntimeError, match="refit failed"):
        session.submit()
    assert session.pending_ == chosen  # nothing chosen is lost
    assert learner.labeled_mask_[batch].all()  # the learner recorded them too

    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "already labeled" warning for the retry
        assert sorted(session.submit().tolist()) == sorted(batch)
    assert session.pending_ == {}
    assert [learner.y_pool_[p] for p in batch] == [names[p] for p in batch]


def test_relabel_through_session_still_warns():
    X, names, clips = make_pool()
    learner = fitted_learner(X, names)
    labeled = int(np.flatnonzero(learner.labeled_mask_)[0])
    other = "dog" if learner.y_pool_[labeled] == "cat" else "cat"
    session = LabelingSession(learner, clips, ["cat", "dog"])
    session.label(labeled, other)
    with pytest.warns(UserWarning, match="already labeled"):
        session.submit()
    assert learner.y_pool_[labeled] == other


def test_defaults_and_validation():
    X, names, clips = make_pool()
    learner = fitted_learner(X, names)
    session = LabelingSession(learner, np.stack([c[:400] for c in clips]) * 0 + 0.1)
    assert session.labels == ["cat", "dog"]  # the learner's classes so far

    with pytest.raises(ValueError, match="not fitted"):
        LabelingSession(ActiveLearner(), clips, ["cat"])
    with pytest.raises(ValueError, match="29 clips but the learner's pool has 30"):
        LabelingSession(learner, clips[:-1], ["cat"])
    with pytest.raises(TypeError, match="single string"):
        LabelingSession(learner, clips, "cat")
    with pytest.raises(ValueError, match="batch_size"):
        LabelingSession(learner, clips, ["cat"], batch_size=0)
    with pytest.raises(IndexError, match=r"Clip 30 is not in the pool \(positions 0 to 29\)"):
        session.label(N_POOL, "cat")
    with pytest.raises(TypeError, match="int pool position"):
        session.skip("3")
    with pytest.raises(ValueError, match="unlabeled"):
        session.label(0, -1)
    with pytest.raises(ValueError, match="skip"):
        session.label(0, SKIP)
    with pytest.raises(ValueError, match="empty"):
        session.add_label("  ")
    assert session.pending_ == {}


def test_add_label_matches_int_labels():
    X, names, clips = make_pool()
    seed = np.full(len(X), -1)
    seed[[np.flatnonzero(names == "cat")[0], np.flatnonzero(names == "dog")[0]]] = [1, 0]
    learner = ActiveLearner(random_state=0).fit(X, seed)  # classes 0 and 1
    session = LabelingSession(learner, clips)
    assert session.labels == [0, 1]
    assert session.add_label(" 2 ") == 2
    assert session.add_label("1") == 1
    assert session.labels == [0, 1, 2]


def test_audio_bytes_of_waveforms_and_files(tmp_path):
    X, names, clips = make_pool()
    learner = fitted_learner(X, names)
    session = LabelingSession(learner, clips, sample_rate=8000)
    for position in (0, 1):  # int16, float32
        data, fmt = session.audio_bytes(position)
        assert fmt == "wav" and data[:4] == b"RIFF"
        samples, rate = decode(data)
        assert rate == 8000  # a waveform keeps its rate: nothing resampled
        np.testing.assert_allclose(samples, as_float(clips[position]), atol=PCM16_ATOL)

    # Files: a WAV file's own bytes; other formats re-encoded as WAV.
    rng = np.random.default_rng(1)
    wav, flac = tmp_path / "a.wav", tmp_path / "b.flac"
    soundfile.write(wav, rng.uniform(-0.5, 0.5, (500, 2)), 22050, subtype="PCM_24")
    soundfile.write(flac, rng.uniform(-0.5, 0.5, 16000), 16000)
    paths = [str(wav), str(flac)] + [str(wav)] * (N_POOL - 2)
    session = LabelingSession(learner, paths)
    data, _ = session.audio_bytes(0)
    assert data == wav.read_bytes()
    data, fmt = session.audio_bytes(1)
    samples, rate = decode(data)
    assert fmt == "wav" and rate == 16000
    np.testing.assert_allclose(samples, load_clip(str(flac), 1, 16000), atol=1 / 16384)

    session = LabelingSession(learner, [str(tmp_path / "missing.wav")] * N_POOL)
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        session.audio_bytes(3)


# -- with widgets ----------------------------------------------------------------


def test_widget_missing_ipywidgets(monkeypatch):
    X, names, clips = make_pool()
    session = LabelingSession(fitted_learner(X, names), clips, ["cat", "dog"])
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ImportError, match=r"pip install 'skaloe\[notebook\]'"):
        session.widget()
    with pytest.raises(ImportError, match=r"skaloe\[notebook\]"):
        session.show()
    assert session.controls_ is None
    # Without widgets the flow still works.
    batch = session.next_batch()
    session.label(batch[0], "cat")
    session.submit()


def test_widget_drives_teach():
    widgets = require("ipywidgets")
    X, names, clips = make_pool()
    learner = fitted_learner(X, names)
    session = LabelingSession(learner, clips, ["cat", "dog"], batch_size=3)
    box = session.widget()
    assert isinstance(box, widgets.VBox)
    assert session.widget() is box
    controls = session.controls_
    batch = session.batch_.tolist()
    assert len(batch) == 3 and sorted(controls["choices"]) == sorted(batch)

    # Every player and button row is in the displayed tree; each player holds
    # the WAV of its own clip.
    tree = list(walk(box))
    players = [w for w in tree if isinstance(w, widgets.Audio)]
    rows = [w for w in tree if isinstance(w, widgets.ToggleButtons)]
    assert len(players) == len(rows) == 3
    for position in batch:
        player = controls["audio"][position]
        assert player in players and controls["choices"][position] in rows
        assert player.format == "wav"
        samples, rate = decode(player.value)
        assert rate == 16000 and len(samples) == len(clips[position])
        np.testing.assert_allclose(samples, as_float(clips[position]), atol=PCM16_ATOL)
        # ...and not of another clip of the batch
        others = [p for p in batch if p != position]
        assert all(len(clips[p]) != len(samples) for p in others)
        row = controls["choices"][position]
        assert row.value is None  # nothing chosen yet
        assert [label for label, _ in row.options] == ["cat", "dog", "(skip)"]
    assert controls["submit"] in tree and controls["status"] in tree
    assert "2 of 30 clips labeled" in controls["status"].value

    # Type a new label, then click through the batch.
    controls["new_label"].value = "bird"
    controls["add"].click()
    assert session.labels == ["cat", "dog", "bird"]
    assert controls["new_label"].value == ""
    first, second, third = batch
    for position in batch:
        assert [label for label, _ in controls["choices"][position].options][-2:] == [
            "bird", "(skip)",
        ]
    controls["choices"][first].value = names[first]
    controls["choices"][second].value = "bird"
    controls["choices"][third].value = "dog"
    controls["choices"][third].value = SKIP  # changed one's mind: skip it
    assert session.pending_ == {first: names[first], second: "bird"}
    assert "2 pending" in controls["status"].value
    before = learner.labeled_mask_.copy()

    controls["submit"].click()
    assert session.last_error_ is None
    grown = learner.labeled_mask_ & ~before
    assert sorted(np.flatnonzero(grown).tolist()) == sorted([first, second])
    assert not learner.labeled_mask_[third]  # skipped: not taught
    assert learner.y_pool_[first] == names[first] and learner.y_pool_[second] == "bird"
    assert "bird" in learner.classes_.tolist()
    assert learner.n_rounds_ == 1
    assert session.pending_ == {}

    # The next batch is shown: new clips, fresh buttons, updated status.
    new_batch = session.batch_.tolist()
    assert len(new_batch) == 3 and not set(new_batch) & {first, second, third}
    assert sorted(session.controls_["choices"]) == sorted(new_batch)
    assert all(r.value is None for r in session.controls_["choices"].values())
    assert "4 of 30 clips labeled" in controls["status"].value
    assert "round 1" in controls["status"].value
    assert len([w for w in walk(box) if isinstance(w, widgets.Audio)]) == 3

    # label() from code shows on the buttons; unselecting drops the label.
    session.label(new_batch[0], "cat")
    assert session.controls_["choices"][new_batch[0]].value == "cat"
    session.controls_["choices"][new_batch[0]].value = None
    assert session.pending_ == {}


def test_widget_failed_submit_keeps_labels(monkeypatch):
    require("ipywidgets")
    X, names, clips = make_pool()
    learner = fitted_learner(X, names)
    session = LabelingSession(learner, clips, ["cat", "dog"])
    session.widget()
    controls = session.controls_
    batch = session.batch_.tolist()
    for position in batch:
        controls["choices"][position].value = names[position]

    def boom(indices, labels):
        raise RuntimeError("teach failed")

    monkeypatch.setattr(learner, "teach", boom)
    controls["submit"].click()
    assert isinstance(session.last_error_, RuntimeError)
    assert "teach failed" in controls["status"].value
    assert session.batch_.tolist() == batch  # still the same batch
    assert session.pending_ == {p: names[p] for p in batch}
    assert [controls["choices"][p].value for p in batch] == [names[p] for p in batch]

    monkeypatch.undo()
    controls["submit"].click()
    assert session.last_error_ is None
    assert learner.labeled_mask_[batch].all()
    assert "teach failed" not in controls["status"].value


def test_widget_with_files_and_exhausted_pool(tmp_path):
    widgets = require("ipywidgets")
    n = 4
    X, names, _ = make_pool(n=N_POOL)
    X, names = X[:n], names[:n]
    if len(set(names)) < 2:
        names = np.array(["cat", "dog", "cat", "dog"])
    paths = []
    for i in range(n):
        path = tmp_path / f"clip{i}.wav"
        soundfile.write(path, np.full(100 + i, 0.01 * (i + 1)), 16000)
        paths.append(str(path))
    learner = fitted_learner(X, names)
    session = LabelingSession(learner, paths, ["cat", "dog"], batch_size=5)
    session.widget()
    controls = session.controls_
    assert len(controls["audio"]) == 2  # only two clips unlabeled
    for position, player in controls["audio"].items():
        assert player.value == (tmp_path / f"clip{position}.wav").read_bytes()
        controls["choices"][position].value = names[position]
    controls["submit"].click()
    assert learner.labeled_mask_.all()
    assert session.batch_.tolist() == [] and controls["audio"] == {}
    texts = [w.value for w in walk(controls["box"]) if isinstance(w, widgets.HTML)]
    assert any("Nothing left to label" in t for t in texts)


def test_status_shows_the_learners_stopping_advice():
    from skaloe.active import PlateauStopping

    X, names, clips = make_pool(40)
    seed = np.full(30, -1, dtype=object)
    for name in ("cat", "dog"):
        seed[np.flatnonzero(names[:30] == name)[:2]] = name
    learner = ActiveLearner(stopping=PlateauStopping(patience=2), random_state=0).fit(
        X[:30], seed, X_val=X[30:], y_val=names[30:]
    )
    session = LabelingSession(learner, clips[:30], sample_rate=16000, batch_size=2)
    text = session.status()
    assert "validation accuracy" in text and "keep labeling" in text
    accuracy = learner.score(X[30:], names[30:])
    assert f"validation accuracy {accuracy:.3f}" in text
    # Without rules or validation set, the status stays as it was.
    plain = LabelingSession(fitted_learner(X[:30], names[:30]), clips[:30], sample_rate=16000)
    assert "validation" not in plain.status() and "labeling" not in plain.status()


def test_the_notebook_and_the_durable_session_check_clips_and_labels_alike(tmp_path):
    """One session core: the same position and label errors in memory and on disk."""
    from skaloe.labeling import DurableSession
    from skaloe.labeling import LabelingSession as FromLabeling

    assert FromLabeling is LabelingSession  # skaloe.notebook re-exports it
    X = np.random.default_rng(0).normal(size=(N_POOL, 4))
    np.savez(tmp_path / "pool.npz", embeddings=X)
    durable = DurableSession.create(tmp_path / "s.sqlite", tmp_path / "pool.npz",
                                    ["cat", "dog"], random_state=0)
    clips = [np.zeros(1600, dtype=np.float32)] * N_POOL
    notebook = LabelingSession(ActiveLearner(random_state=0).fit(X), clips, ["cat", "dog"])
    for position, error in [(N_POOL, IndexError), (-1, IndexError), ("3", TypeError),
                            (True, TypeError), (2.5, TypeError)]:
        with pytest.raises(error) as on_disk:
            durable.label(position, "cat")
        with pytest.raises(error) as in_memory:
            notebook.label(position, "cat")
        assert str(on_disk.value) == str(in_memory.value)
    for label in ["", "  ", -1]:
        with pytest.raises(ValueError) as on_disk:
            durable.label(0, label)
        with pytest.raises(ValueError) as in_memory:
            notebook.label(0, label)
        assert str(on_disk.value) == str(in_memory.value)
    durable.close()


def test_blind_widget_shows_no_file_names_and_every_clip_length(tmp_path):
    widgets = require("ipywidgets")
    X, names, _ = make_pool()
    paths = []
    for i, name in enumerate(names):
        (tmp_path / name).mkdir(exist_ok=True)
        path = tmp_path / name / f"{name}_{i:03d}.wav"
        with soundfile.SoundFile(path, "w", 16000, 1, subtype="PCM_16") as f:
            f.title = f"{name} take {i}"
            f.write(np.full(800 + 160 * i, 0.01))
        paths.append(str(path))
    learner = fitted_learner(X, names)
    with pytest.raises(ValueError, match="blind must be True or False"):
        LabelingSession(learner, paths, blind="yes")
    session = LabelingSession(learner, paths, ["cat", "dog"], batch_size=3, blind=True)
    session.widget()
    batch = session.batch_.tolist()
    titles = [w.value for w in walk(session.controls_["box"]) if isinstance(w, widgets.HTML)]
    assert [t.split(" · ")[0] for t in titles[:3]] == ["<b>Clip 1</b>", "<b>Clip 2</b>",
                                                        "<b>Clip 3</b>"]
    for title, position in zip(titles, batch):
        assert title.endswith(f" · {(800 + 160 * position) / 16000:.1f} s")
    shown = " ".join(titles)
    assert "_0" not in shown and ".wav" not in shown and "clip " not in shown
    for position, player in session.controls_["audio"].items():
        assert b"take" not in player.value and b"take" in open(paths[position], "rb").read()
    # Not blind: the position and the file name, and the length too.
    plain = LabelingSession(learner, paths, ["cat", "dog"])
    assert plain.clip_title(4) == f"clip 4 · {os.path.basename(paths[4])} · 0.1 s"
    waveforms = LabelingSession(learner, [np.zeros(4000)] * N_POOL, sample_rate=8000)
    assert waveforms.clip_title(0) == "clip 0 · 0.5 s"
