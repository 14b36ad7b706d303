"""Durable labeling sessions: every label committed, exact resume, undo, export, crashes."""

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.datasets import make_classification

from skaloe.labeling import DurableSession

CLASSES = ["a", "b", "c"]


@pytest.fixture
def pool(tmp_path):
    """An .npz pool of embeddings (as 'skaloe embed' writes) and its true labels."""
    X, y = make_classification(90, n_features=8, n_informative=5, n_classes=3,
                               n_clusters_per_class=1, random_state=0)
    path = tmp_path / "pool.npz"
    np.savez(path, embeddings=X.astype(np.float32),
             paths=np.array([f"/nowhere/clip{i}.wav" for i in range(len(X))]))
    return str(path), np.array(CLASSES)[y]


def _oracle_rounds(session, truth, n):
    """Label the first queried clip n times, as a person following the page would."""
    for _ in range(n):
        position = session.next_batch()[0]
        session.label(position, str(truth[position]))


def test_resumed_session_asks_what_an_uninterrupted_one_asks(pool, tmp_path):
    path, truth = pool
    a = DurableSession.create(tmp_path / "a.sqlite", path, CLASSES, random_state=3,
                              annotator="ana")
    _oracle_rounds(a, truth, 7)
    queried_before_close = a.next_batch()
    a.close()
    a = DurableSession(tmp_path / "a.sqlite")  # a new process would do the same
    assert a.next_batch() == queried_before_close
    _oracle_rounds(a, truth, 5)

    b = DurableSession.create(tmp_path / "b.sqlite", path, CLASSES, random_state=3)
    _oracle_rounds(b, truth, 12)
    assert [r["position"] for r in a.labels()] == [r["position"] for r in b.labels()]
    assert a.next_batch() == b.next_batch()
    np.testing.assert_array_equal(a.learner_.query_scores(), b.learner_.query_scores())
    assert a.progress()["n_labels"] == 12
    a.close()
    b.close()


def test_every_label_is_committed_with_who_and_when(pool, tmp_path):
    path, truth = pool
    db = tmp_path / "s.sqlite"
    session = DurableSession.create(db, path, CLASSES, annotator="ana")
    first = session.next_batch()[0]
    event = session.label(first, "b")
    session.label(session.next_batch()[0], "c", annotator="bo")
    # Another connection sees both labels while the session is still open.
    with sqlite3.connect(db) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = other.execute("SELECT kind, position, label, annotator, time FROM events "
                             "ORDER BY id").fetchall()
    assert rows[0][:4] == ("label", first, "b", "ana")
    assert [r[3] for r in rows] == ["ana", "bo"]
    assert rows[0][4] == event["time"] and event["time"].endswith("+00:00")
    session.close()


def test_undo_is_an_event_and_rebuilds_the_learner(pool, tmp_path):
    path, truth = pool
    s = DurableSession.create(tmp_path / "s.sqlite", path, CLASSES, random_state=0)
    _oracle_rounds(s, truth, 6)
    last = s.labels()[-1]
    undone = s.undo()
    assert undone["position"] == last["position"] and undone["label"] == last["label"]
    assert len(s.labels()) == 5 and not s.learner_.labeled_mask_[last["position"]]
    assert [e["kind"] for e in s.events()] == ["label"] * 6 + ["undo"]

    ref = DurableSession.create(tmp_path / "ref.sqlite", path, CLASSES, random_state=0)
    _oracle_rounds(ref, truth, 5)
    assert s.next_batch() == ref.next_batch()
    s.close()
    s = DurableSession(tmp_path / "s.sqlite")  # the undo survives a restart
    assert len(s.labels()) == 5 and s.next_batch() == ref.next_batch()
    for _ in range(5):
        s.undo()
    with pytest.raises(LookupError, match="no label to undo"):
        s.undo()
    assert s.progress()["can_undo"] is False
    s.close()
    ref.close()


def test_export_csv(pool, tmp_path):
    path, truth = pool
    s = DurableSession.create(tmp_path / "s.sqlite", path, CLASSES, annotator="ana")
    _oracle_rounds(s, truth, 3)
    s.undo()
    out = tmp_path / "labels.csv"
    assert s.export_csv(out) == 2
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["position"] for r in rows] == [str(r["position"]) for r in s.labels()]
    assert set(rows[0]) == {"position", "path", "label", "annotator", "time"}
    assert rows[0]["path"].startswith("/nowhere/clip") and rows[0]["annotator"] == "ana"
    s.close()


def test_progress_estimates_accuracy_and_says_so(pool, tmp_path):
    path, truth = pool
    s = DurableSession.create(tmp_path / "s.sqlite", path, CLASSES, random_state=0)
    p = s.progress()
    assert p["accuracy"] is None and p["accuracy_kind"] == "estimate"
    assert p["n_labels"] == 0 and p["n_pool"] == 90 and "labels" in p["hint"]
    assert "shown once two or more classes have 5 labels each" in p["accuracy_text"]
    s.close()


def test_estimated_accuracy_is_a_cross_validation_of_the_labels(tmp_path):
    """Without a validation set the page shows k-fold CV accuracy, not training accuracy."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    # Overlapping classes: a model fitted on all the labels scores better on them
    # than on held-out folds, so the two numbers differ.
    X, y = make_classification(90, n_features=8, n_informative=3, n_classes=3,
                               n_clusters_per_class=1, class_sep=0.6, flip_y=0.1,
                               random_state=1)
    X = X.astype(np.float32)
    path = tmp_path / "pool.npz"
    np.savez(path, embeddings=X, paths=np.array([f"/nowhere/clip{i}.wav" for i in range(90)]))
    truth = np.array(CLASSES)[y]
    s = DurableSession.create(tmp_path / "s.sqlite", str(path), CLASSES, random_state=0)
    positions = []
    for label in CLASSES:  # the first six clips of each class, in pool order
        positions += [int(i) for i in np.flatnonzero(truth == label)[:6]]
    for position in positions[:4] + positions[6:10] + positions[12:16]:
        s.label(position, str(truth[position]))
    p = s.progress()  # four labels per class: too few folds' worth to show a number
    assert p["accuracy"] is None and "(fewest so far: 4)" in p["accuracy_text"]
    for position in positions[4:6] + positions[10:12] + positions[16:18]:
        s.label(position, str(truth[position]))
    p = s.progress()
    assert p["accuracy_kind"] == "estimate"
    assert "5-fold cross-validation" in p["accuracy_text"]

    # An independent 5-fold cross-validation of the same 18 labels.
    X_lab, y_lab = X[positions], truth[positions]
    fold_scores = []
    for train, test in StratifiedKFold(5).split(X_lab, y_lab):
        model = LogisticRegression(max_iter=1000).fit(X_lab[train], y_lab[train])
        fold_scores.append(np.mean(model.predict(X_lab[test]) == y_lab[test]))
    expected = float(np.mean(fold_scores))
    training = np.mean(LogisticRegression(max_iter=1000).fit(X_lab, y_lab).predict(X_lab) == y_lab)
    assert expected != pytest.approx(training)  # the check can tell them apart
    assert p["accuracy"] == pytest.approx(expected, abs=1e-9)
    # It carries its uncertainty (the standard error over the folds) and says
    # it is no validation accuracy.
    error = np.std(fold_scores, ddof=1) / np.sqrt(5)
    assert p["accuracy_error"] == pytest.approx(error, abs=1e-9)
    assert f"{expected:.3f} ± {error:.3f}" in p["accuracy_text"]
    assert "a rough guide" in p["accuracy_text"] and "--val-input" in p["accuracy_text"]
    s.close()


def test_each_label_costs_one_pool_pass_no_clustering_and_a_one_thread_estimate(
        tmp_path, monkeypatch):
    """What keeps a label fast at any pool size (benchmarks/bench_session.py times it):
    commit + teach + next batch scores the pool once, the cold start clusters the pool
    once per session, and the page's estimate never runs on more than one BLAS thread."""
    import sklearn.model_selection
    from threadpoolctl import threadpool_info

    from skaloe.active import _learner, _selection

    s, truth = _three_class_session(tmp_path)
    calls = {"score": 0, "kmeans": 0, "estimate_threads": []}
    score_pool, kmeans = _learner.score_pool, _selection._kmeans_representatives
    cross_val_score = sklearn.model_selection.cross_val_score

    def counting_score_pool(*args, **kwargs):
        calls["score"] += 1
        return score_pool(*args, **kwargs)

    def counting_kmeans(*args, **kwargs):
        calls["kmeans"] += 1
        return kmeans(*args, **kwargs)

    def recording_cross_val_score(*args, **kwargs):
        calls["estimate_threads"] += [
            lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        return cross_val_score(*args, **kwargs)

    monkeypatch.setattr(_learner, "score_pool", counting_score_pool)
    monkeypatch.setattr(_selection, "_kmeans_representatives", counting_kmeans)
    monkeypatch.setattr(sklearn.model_selection, "cross_val_score", recording_cross_val_score)
    per_label = []
    for _ in range(30):
        before = dict(calls, estimate_threads=None)
        position = s.next_batch()[0]
        s.label(position, str(truth[position]))
        s.next_batch()
        s.progress()  # the page asks for it after every label
        per_label.append((calls["score"] - before["score"], calls["kmeans"] - before["kmeans"]))
    # Cold labels reuse the cluster order made at creation; warm ones score the pool once.
    assert all(kmeans_fits == 0 for _, kmeans_fits in per_label)
    assert all(passes <= 1 for passes, _ in per_label)
    assert sum(passes for passes, _ in per_label) >= 25
    assert calls["estimate_threads"] and set(calls["estimate_threads"]) == {1}
    s.close()


def test_audio_pool_with_validation_set(tmp_path):
    import soundfile as sf
    rng = np.random.default_rng(0)
    t = np.arange(3200) / 16000
    paths, val_paths, val_labels = [], [], []
    for i in range(14):
        freq = (300, 1200)[i % 2]
        x = (0.3 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.normal(size=t.size))
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, x.astype(np.float32), 16000)
        (val_paths if i >= 10 else paths).append(str(path))
        if i >= 10:
            val_labels.append(("low", "high")[i % 2])
    db = tmp_path / "s.sqlite"
    s = DurableSession.create(db, paths, ["low", "high"], validation=(val_paths, val_labels),
                              cache=str(tmp_path / "cache"), batch_size=2)
    assert s.model == "ge2e" and s.batch_size == 2
    data = s.audio_bytes(0)
    assert data[:4] == b"RIFF" and data == open(paths[0], "rb").read()
    position = s.next_batch()[0]
    s.label(position, "low")
    s.label(s.next_batch()[0], "high")
    p = s.progress()
    assert p["accuracy_kind"] == "validation" and 0 <= p["accuracy"] <= 1
    assert "accuracy on your validation clips" in p["hint"]
    assert "validation accuracy" in p["hint_detail"]
    s.close()
    # The same files resume; another list does not, and the error names both.
    DurableSession(db, pool=paths).close()
    with pytest.raises(ValueError, match="belongs to another pool") as e:
        DurableSession(db, pool=paths[:-1])
    assert "9 audio files" in str(e.value) and "10 clips" in str(e.value)


def test_errors_name_the_problem(pool, tmp_path):
    path, truth = pool
    db = tmp_path / "s.sqlite"
    with pytest.raises(FileNotFoundError, match="No labeling database"):
        DurableSession(db)
    s = DurableSession.create(db, path, CLASSES)
    with pytest.raises(ValueError, match="Unknown label 'd'"):
        s.label(0, "d")
    with pytest.raises(IndexError, match="Clip 90 is not in the pool"):
        s.label(90, "a")
    s.label(0, "a")
    with pytest.raises(ValueError, match="Clip 0 is already labeled 'a'"):
        s.label(0, "b")
    assert len(s.labels()) == 1
    s.close()
    with pytest.raises(FileExistsError, match="already holds a database"):
        DurableSession.create(db, path, CLASSES)
    other = tmp_path / "other.npz"
    np.savez(other, embeddings=np.ones((5, 8), dtype=np.float32))
    with pytest.raises(ValueError, match=r"another pool.*pool\.npz.*other\.npz"):
        DurableSession(db, pool=str(other))
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello, I am not a database\n" * 10)
    with pytest.raises(ValueError, match="not an SQLite database"):
        DurableSession(not_db)
    with pytest.raises(ValueError, match="at least two classes"):
        DurableSession.create(tmp_path / "x.sqlite", path, ["a"])
    with pytest.raises(ValueError, match="listed twice"):
        DurableSession.create(tmp_path / "x.sqlite", path, ["a", "a"])
    with pytest.raises(ValueError, match="random_state must be an integer"):
        DurableSession.create(tmp_path / "x.sqlite", path, CLASSES, random_state=None)
    assert not (tmp_path / "x.sqlite").exists()


_CHILD = textwrap.dedent("""
    import os, sys
    import numpy as np
    from skaloe.labeling import DurableSession

    db, pool, truth = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    if os.path.exists(db):
        session = DurableSession(db, pool=pool, annotator="child")
    else:
        session = DurableSession.create(db, pool, ["a", "b", "c"], random_state=5,
                                        annotator="child")
    print("READY", flush=True)
    while True:
        batch = session.next_batch()
        if not batch:
            break
        event = session.label(batch[0], truth[batch[0]])
        # Acknowledged only once label() returned: the label is committed.
        print("ACK", event["id"], event["position"], event["label"], flush=True)
""")


def _run_and_kill(script, args, n_acks):
    """Start the child, wait for n_acks acknowledged labels, SIGKILL it mid-session."""
    child = subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    acks = []

    def read(line):
        if line.startswith("ACK"):
            _, event_id, position, label = line.split()
            acks.append((int(event_id), int(position), label))

    try:
        for line in child.stdout:
            read(line)
            if len(acks) == n_acks:
                child.send_signal(signal.SIGKILL)  # while it writes the next label
                break
    finally:
        child.kill()
        child.wait(timeout=30)
    # On a loaded machine the child may have acknowledged more labels than were
    # read when the signal went out: those are in the pipe, and acknowledged too.
    for line in child.stdout.read().splitlines():
        read(line)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL, "the child ended before it was killed"
    return acks


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_killed_session_loses_no_acknowledged_label(pool, tmp_path):
    path, truth = pool
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    db = str(tmp_path / "killed.sqlite")
    args = [db, path, ",".join(truth)]
    acked = _run_and_kill(script, args, 6)
    acked += _run_and_kill(script, args, 5)  # resumed from the database, killed again

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    session = DurableSession(db, pool=path)
    stored = [(e["id"], e["position"], e["label"]) for e in session.events()]
    assert set(acked) <= set(stored)
    # At most the label being written at each kill got in without acknowledgement.
    assert len(stored) - len(acked) <= 2
    assert all(e["kind"] == "label" and e["annotator"] == "child" for e in session.events())

    # Two kills changed nothing: an uninterrupted session asks for the same clips.
    reference = DurableSession.create(tmp_path / "ref.sqlite", path, CLASSES, random_state=5)
    _oracle_rounds(reference, truth, len(stored))
    assert [r["position"] for r in reference.labels()] == [s[1] for s in stored]
    assert session.next_batch() == reference.next_batch()
    session.close()
    reference.close()


def _copy_session(source, target):
    """A consistent copy of a session file, made while it may be open (SQLite backup)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def _replayed_copy(source, target):
    """A copy of a session file without its learner checkpoints: opening it replays the log."""
    _copy_session(source, target)
    with sqlite3.connect(target) as conn:
        conn.execute("DELETE FROM checkpoints")
    return target


@pytest.fixture
def count_teach(monkeypatch):
    """How often ActiveLearner.teach runs: each call is one replayed label."""
    from skaloe.active import ActiveLearner

    calls = {"n": 0}
    teach = ActiveLearner.teach

    def counting(self, *args, **kwargs):
        calls["n"] += 1
        return teach(self, *args, **kwargs)

    monkeypatch.setattr(ActiveLearner, "teach", counting)
    return calls


def _three_class_session(tmp_path, name="u.sqlite"):
    X, y = make_classification(300, n_features=8, n_informative=5, n_classes=3,
                               random_state=0)
    np.savez(tmp_path / "pool.npz", embeddings=X.astype(np.float32),
             paths=np.array([f"clip{i}.wav" for i in range(len(X))]))
    names = np.array(["a", "b", "c"])
    session = DurableSession.create(tmp_path / name, tmp_path / "pool.npz", ["a", "b", "c"],
                                    random_state=0)
    return session, names[y]


def _label_first(session, truth, n):
    for _ in range(n):
        first = session.next_batch()[0]
        session.label(first, str(truth[first]))


def test_undo_loads_a_checkpoint_and_equals_a_replay(tmp_path, count_teach):
    s, truth = _three_class_session(tmp_path)
    _label_first(s, truth, 14)
    with sqlite3.connect(tmp_path / "u.sqlite") as conn:  # only the last ten kept
        assert conn.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0] == 10
    count_teach["n"] = 0
    for _ in range(3):  # three undos in a row, each loads a checkpoint: nothing replayed
        s.undo()
    assert count_teach["n"] == 0
    # One writer per file: the replay opens a copy of the log (read while s is open).
    replayed = DurableSession(_replayed_copy(tmp_path / "u.sqlite", tmp_path / "r.sqlite"))
    assert count_teach["n"] == 11  # the copy without checkpoints did replay
    assert s.next_batch() == replayed.next_batch()
    np.testing.assert_array_equal(s.learner_.query_scores(), replayed.learner_.query_scores())
    np.testing.assert_array_equal(s.learner_.estimator_.coef_,
                                  replayed.learner_.estimator_.coef_)
    # Labeling again after the undos goes on exactly as in the replayed session.
    for session in (s, replayed):
        _label_first(session, truth, 1)
    assert s.next_batch() == replayed.next_batch()
    # Beyond the kept checkpoints, undo replays.
    count_teach["n"] = 0
    for _ in range(9):
        s.undo()
    assert count_teach["n"] >= 1
    fresh = DurableSession(_replayed_copy(tmp_path / "u.sqlite", tmp_path / "f.sqlite"))
    assert s.next_batch() == fresh.next_batch()
    for session in (s, replayed, fresh):
        session.close()


def test_reopening_loads_the_checkpoint_instead_of_replaying(tmp_path, count_teach):
    s, truth = _three_class_session(tmp_path)
    _label_first(s, truth, 40)
    following = s.next_batch()
    s.close()
    count_teach["n"] = 0
    reopened = DurableSession(tmp_path / "u.sqlite")
    assert count_teach["n"] == 0  # no label replayed
    replayed = DurableSession(_replayed_copy(tmp_path / "u.sqlite", tmp_path / "r.sqlite"))
    assert count_teach["n"] == 40
    assert reopened.next_batch() == following == replayed.next_batch()
    np.testing.assert_array_equal(reopened.learner_.estimator_.coef_,
                                  replayed.learner_.estimator_.coef_)
    assert reopened.learner_.history_ == replayed.learner_.history_
    assert reopened.progress() == replayed.progress()
    # Both go on identically, undo included.
    for session in (reopened, replayed):
        _label_first(session, truth, 3)
        session.undo()
    assert reopened.next_batch() == replayed.next_batch()
    reopened.close()
    replayed.close()


def test_a_label_committed_without_its_checkpoint_is_replayed_on_reopening(
        tmp_path, monkeypatch, count_teach):
    s, truth = _three_class_session(tmp_path)
    _label_first(s, truth, 12)
    # The process dies after the label is committed, before its checkpoint is written.
    with monkeypatch.context() as patch:
        patch.setattr(DurableSession, "_save_checkpoint", lambda self: None)
        _label_first(s, truth, 1)
    following = s.next_batch()
    s.close()
    count_teach["n"] = 0
    reopened = DurableSession(tmp_path / "u.sqlite")
    assert count_teach["n"] == 1  # only the label after the newest checkpoint
    assert reopened.next_batch() == following
    reopened.close()


@pytest.mark.parametrize("damage", ["garbage", "pickle", "other labels", "unknown attribute"])
def test_a_damaged_or_hostile_checkpoint_is_never_trusted(tmp_path, count_teach, damage):
    import io
    import json

    s, truth = _three_class_session(tmp_path)
    _label_first(s, truth, 8)
    following = s.next_batch()
    s.close()
    with sqlite3.connect(tmp_path / "u.sqlite") as conn:
        (checkpoint_id, state), = conn.execute(
            "SELECT id, state FROM checkpoints ORDER BY id DESC LIMIT 1").fetchall()
        if damage == "garbage":
            state = b"not an archive"
        elif damage == "pickle":  # an object array: loading it would unpickle
            buffer = io.BytesIO()
            np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
            state = buffer.getvalue()
        else:
            with np.load(io.BytesIO(state), allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
            document = json.loads(arrays["__document__"].tobytes())
            if damage == "other labels":
                mask = arrays[document["state"]["labeled_mask_"]["__array__"]]
                mask[np.flatnonzero(~mask)[0]] = True
            else:
                document["state"]["predict"] = "not a method"
            arrays["__document__"] = np.frombuffer(json.dumps(document).encode(), np.uint8)
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            state = buffer.getvalue()
        conn.execute("UPDATE checkpoints SET state = ? WHERE id = ?", (state, checkpoint_id))
    count_teach["n"] = 0
    with pytest.warns(UserWarning, match="checkpoint .* is not usable"):
        reopened = DurableSession(tmp_path / "u.sqlite")
    assert count_teach["n"] == 1  # replayed from the checkpoint before the damaged one
    assert reopened.next_batch() == following
    assert callable(reopened.learner_.predict)
    reopened.close()


def test_a_session_file_without_checkpoints_opens_by_replay_and_gains_them(tmp_path,
                                                                           count_teach):
    s, truth = _three_class_session(tmp_path)
    _label_first(s, truth, 6)
    following = s.next_batch()
    s.close()
    with sqlite3.connect(tmp_path / "u.sqlite") as conn:  # as written by skaloe 0.1
        conn.execute("DROP TABLE checkpoints")
    count_teach["n"] = 0
    from skaloe.labeling import export_labels

    read_only = export_labels(tmp_path / "u.sqlite", tmp_path / "out.csv")
    assert read_only == 6
    reopened = DurableSession(tmp_path / "u.sqlite")
    assert count_teach["n"] == 6 and reopened.next_batch() == following
    reopened.close()
    count_teach["n"] = 0
    DurableSession(tmp_path / "u.sqlite").close()
    assert count_teach["n"] == 0


@pytest.mark.parametrize("random_state", [0, 1, 2])
def test_labeling_one_clip_at_a_time_meets_a_new_region_with_each_cold_label(tmp_path,
                                                                              random_state):
    """The cold start is computed once per pool and consumed in order: a labeler who
    takes the first clip of each batch does not get the same cluster over and over."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=5000, centers=4, n_features=2, cluster_std=1.0,
                      random_state=random_state)
    path = tmp_path / "pool.npz"
    np.savez(path, embeddings=X.astype(np.float32),
             paths=np.array([f"/nowhere/clip{i}.wav" for i in range(len(X))]))
    s = DurableSession.create(tmp_path / "s.sqlite", str(path), list("abcd"),
                              random_state=random_state)
    seen = []
    for _ in range(6):
        position = s.next_batch()[0]
        seen.append(int(y[position]))
        s.label(position, "abcd"[y[position]])
    assert len(set(seen)) >= 3, seen
    s.close()


# -- the session file: one writer, one live label per clip, complete when closed -------


def test_a_second_writer_is_refused_and_can_export_meanwhile(pool, tmp_path):
    from skaloe.labeling import SessionLockedError, export_labels

    path, truth = pool
    db = tmp_path / "s.sqlite"
    s = DurableSession.create(db, path, CLASSES, random_state=0)
    _oracle_rounds(s, truth, 3)
    with pytest.raises(SessionLockedError, match=r"open in another process .*pid \d+.*export"):
        DurableSession(db)
    # Reading takes no lock: the labels can be exported while s labels on.
    assert export_labels(db, tmp_path / "now.csv") == 3
    s.close()
    DurableSession(db).close()  # closed: free again


def test_a_writer_in_another_process_locks_until_it_ends(pool, tmp_path):
    from skaloe.labeling import SessionLockedError

    path, truth = pool
    db = tmp_path / "s.sqlite"
    DurableSession.create(db, path, CLASSES, random_state=0).close()
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from skaloe.labeling import DurableSession
            s = DurableSession({str(db)!r})
            print("open", flush=True)
            time.sleep(120)
        """)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert child.stdout.readline().strip() == "open"
        with pytest.raises(SessionLockedError, match=f"pid {child.pid}"):
            DurableSession(db)
    finally:
        child.kill()  # a killed writer leaves no lock behind
        child.wait()
    s = DurableSession(db)
    s.label(s.next_batch()[0], "a")
    s.close()


def test_the_log_refuses_a_second_live_label_for_a_clip(pool, tmp_path):
    from skaloe.labeling._database import LabelDatabase

    path, truth = pool
    db = tmp_path / "s.sqlite"
    s = DurableSession.create(db, path, CLASSES, random_state=0)
    position = s.next_batch()[0]
    s.label(position, "a")
    s.close()
    raw = LabelDatabase(db)  # whatever writes, the file itself says no
    with pytest.raises(ValueError, match=rf"Clip {position} already has the label 'a'"):
        raw.append("label", position=position, label="b", annotator="mallory")
    label_id = raw.active_labels()[0]["id"]
    raw.append("undo", undoes=label_id, annotator="ana")
    raw.append("label", position=position, label="b", annotator="ana")  # after an undo: fine
    assert [e["label"] for e in raw.active_labels()] == ["b"]
    raw.close()


def test_a_closed_session_file_alone_holds_every_label(pool, tmp_path):
    import shutil

    path, truth = pool
    db = tmp_path / "s.sqlite"
    s = DurableSession.create(db, path, CLASSES, random_state=0)
    _oracle_rounds(s, truth, 8)
    expected = [(r["position"], r["label"]) for r in s.labels()]
    s.close()
    (tmp_path / "copy").mkdir()
    shutil.copy(db, tmp_path / "copy" / "s.sqlite")  # the .sqlite alone, no -wal beside it
    with sqlite3.connect(tmp_path / "copy" / "s.sqlite") as conn:
        rows = conn.execute("SELECT position, label FROM events WHERE kind = 'label' "
                            "ORDER BY id").fetchall()
    assert rows == expected


def test_damaged_embeddings_still_let_the_labels_out(pool, tmp_path, capsys):
    from skaloe.cli import main
    from skaloe.labeling import DamagedSessionError

    path, truth = pool
    db = tmp_path / "s.sqlite"
    s = DurableSession.create(db, path, CLASSES, random_state=0)
    _oracle_rounds(s, truth, 4)
    expected = [str(r["position"]) for r in s.labels()]
    s.close()
    with sqlite3.connect(db) as conn:  # flip bytes of the stored pool embeddings
        data = bytearray(conn.execute("SELECT data FROM embeddings WHERE part = 'pool'")
                         .fetchone()[0])
        data[:8] = bytes(8)
        conn.execute("UPDATE embeddings SET data = ? WHERE part = 'pool'", (bytes(data),))
    with pytest.raises(DamagedSessionError, match=r"labels are intact.*--export-csv"):
        DurableSession(db)
    out = tmp_path / "rescued.csv"
    assert main(["label", "--db", str(db), "--export-csv", str(out)]) == 0
    assert "4 labels were read from its log" in capsys.readouterr().out
    with open(out, newline="") as f:
        assert [r["position"] for r in csv.DictReader(f)] == expected
    assert main(["label", "--db", str(db)]) == 2  # labeling it is refused, with the way out
    assert "--export-csv" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["header", "middle", "end"])
def test_a_damaged_session_file_is_one_clear_error_that_names_it(tmp_path, capsys, where):
    """SQLite's "database disk image is malformed" never escapes as a traceback."""
    from skaloe.cli import main
    from skaloe.labeling import DamagedSessionError

    s, truth = _three_class_session(tmp_path)
    _label_first(s, truth, 10)
    s.close()
    db = tmp_path / "u.sqlite"
    size = db.stat().st_size
    offset = {"header": 4096, "middle": 3 * 4096, "end": size - 2 * 4096}[where]
    with open(db, "r+b") as f:
        f.seek(offset)
        f.write(np.random.default_rng(0).bytes(4096))
    try:
        DurableSession(db).close()
    except DamagedSessionError as exc:
        assert str(db) in str(exc) and "--export-csv" in str(exc)
    assert main(["label", "--db", str(db), "--export-csv", str(tmp_path / "out.csv")]) in (0, 2)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if err:
        assert err.count("\n") == 1 and "is damaged" in err and str(db) in err


def test_a_clip_that_cannot_be_played_is_a_lookup_error_naming_it(tmp_path):
    """The page answers 404 with the reason (LookupError), never 500, for an unplayable clip."""
    bad = tmp_path / "noise.flac"
    bad.write_bytes(b"this is not audio" * 100)
    X = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    np.savez(tmp_path / "pool.npz", embeddings=X,
             paths=np.array([str(bad)] + [str(tmp_path / f"gone{i}.wav") for i in range(19)]))
    s = DurableSession.create(tmp_path / "s.sqlite", tmp_path / "pool.npz", ["a", "b"])
    for position in (0, 1):
        with pytest.raises(LookupError, match=f"clip {position} .*cannot be played"):
            s.audio_bytes(position)
    s.close()


def test_the_stopping_hint_is_in_plain_words(pool, tmp_path):
    """The page's hint says what is measured and what to do, without the rule's jargon."""
    path, truth = pool
    s = DurableSession.create(tmp_path / "s.sqlite", path, CLASSES, random_state=0)
    hints = []
    while not s.progress()["should_stop"]:
        assert len(hints) < 90, "the session never advised stopping"
        hints.append(s.progress()["hint"])
        _oracle_rounds(s, truth, 1)
    p = s.progress()
    window = 3 * s.batch_size  # the session's rule: one label per round
    assert p["hint"] == ("You can stop: the model's guesses for the clips have stopped changing "
                         f"over the last {window} labels; more labels are unlikely to help much.")
    assert hints[0].startswith("Keep labeling. Once two classes have labels")
    assert all(h.startswith("Keep labeling") for h in hints)
    for hint in hints + [p["hint"]]:
        for jargon in ("kappa", "stop-set", "stop set", "round", "successive", "predictions"):
            assert jargon not in hint, (jargon, hint)
    # The rule's own terms stay available, for those who want them (the page's tooltip).
    assert "kappa" in p["hint_detail"] and "you can stop" in p["hint_detail"]
    # A pool of windows of long recordings is spoken of as windows, as the page's counts do.
    from skaloe.labeling._session import plain_stopping_advice

    assert plain_stopping_advice(s.learner_, "windows") == p["hint"].replace("clips", "windows")
    s.close()


def test_plain_advice_of_a_validation_plateau():
    from skaloe.active import ActiveLearner, PlateauStopping
    from skaloe.labeling._session import plain_stopping_advice

    X, y = make_classification(120, n_features=6, random_state=0)
    rule = PlateauStopping(patience=3, name="validation accuracy")
    learner = ActiveLearner(stopping=rule, random_state=0).fit(
        X[:100], np.full(100, -1), X_val=X[100:], y_val=y[100:])
    assert plain_stopping_advice(learner).startswith(
        "Keep labeling. Once two classes have labels, the accuracy on your validation clips")
    seen = set()
    while not learner.should_stop_:
        position = learner.query(1)
        learner.teach(position, y[position])
        text = plain_stopping_advice(learner)
        seen.add(text.split(":")[0].split(".")[0])
        assert "validation clips" in text and "round" not in text
    assert text.startswith("You can stop: the accuracy on your validation clips has not risen "
                           "over your last 3 labels (best ")
    assert seen == {"Keep labeling", "You can stop"}


def test_a_blind_session_is_stored_and_serves_audio_without_metadata(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(0)
    paths = []
    for i, name in enumerate(["cough", "sneeze"] * 3):
        path = tmp_path / f"{name}_{i}.wav"
        with sf.SoundFile(path, "w", 16000, 1, subtype="PCM_16") as f:
            f.title = f"{name} take {i}"
            f.write(0.1 * rng.normal(size=1601 + i))  # odd sizes: padded chunks
        paths.append(str(path))
    embeddings = rng.normal(size=(len(paths), 4)).astype(np.float32)
    db = tmp_path / "s.sqlite"
    with pytest.raises(ValueError, match="blind must be True or False"):
        DurableSession.create(db, paths, ["cough", "sneeze"], embeddings=embeddings,
                              blind="yes")
    s = DurableSession.create(db, paths, ["cough", "sneeze"], embeddings=embeddings,
                              blind=True)
    assert s.blind is True
    s.close()
    s = DurableSession(db)
    assert s.blind is True
    for position, path in enumerate(paths):
        whole, stripped = s.audio_bytes(position), s.audio_bytes(position, audio_only=True)
        assert whole == open(path, "rb").read() and b"take" in whole
        assert b"take" not in stripped and b"LIST" not in stripped
        a, rate_a = sf.read(io.BytesIO(whole), dtype="int16")
        b, rate_b = sf.read(io.BytesIO(stripped), dtype="int16")
        assert rate_a == rate_b == 16000 and np.array_equal(a, b)
        assert s.clip_duration(position) == pytest.approx((1601 + position) / 16000)
    s.close()


def test_wav_audio_only_keeps_fmt_fact_and_data():
    import struct

    from skaloe.encoders._audio import wav_audio_only

    def chunk(name, body):
        return name + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")

    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)  # 8-bit PCM: odd data sizes
    data = bytes(range(1, 8))
    body = (b"WAVE" + chunk(b"bext", b"cough_012.wav\0") + chunk(b"fmt ", fmt)
            + chunk(b"LIST", b"INFOINAM" + struct.pack("<I", 5) + b"cough\0")
            + chunk(b"data", data) + chunk(b"iXML", b"<name>cough</name>"))
    wav = b"RIFF" + struct.pack("<I", len(body)) + body
    out = wav_audio_only(wav)
    expected_body = b"WAVE" + chunk(b"fmt ", fmt) + chunk(b"data", data)
    assert out == b"RIFF" + struct.pack("<I", len(expected_body)) + expected_body
    assert b"cough" not in out
    # A streamed file whose data size runs past its end: the bytes that are there.
    streamed = wav[:12] + chunk(b"fmt ", fmt) + b"data" + struct.pack("<I", 0xFFFFFFFF) + data
    assert wav_audio_only(streamed).endswith(b"data" + struct.pack("<I", 7) + data + b"\0")
    # Not a RIFF WAVE file, or no audio in it: None (the caller decodes instead).
    assert wav_audio_only(b"RF64" + wav[4:]) is None
    assert wav_audio_only(wav[:12] + chunk(b"LIST", b"x")) is None
    assert wav_audio_only(b"") is None
