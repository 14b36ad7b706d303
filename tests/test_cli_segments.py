"""Long recordings from the command line (issue 14): embed windows, label them, get a timeline.

The recordings are built here from synthetic vowels, quiet noise and digital
silence with known boundaries, written with soundfile: two files of 14 s and
8 s at 16 kHz. The encoder is the offline spectral baseline ``mfcc``.
"""

import csv
import io
import json
import logging
import os
import sqlite3
import threading
from http.client import HTTPConnection

import numpy as np
import pytest
import soundfile as sf
from numpy.testing import assert_array_equal

from ci_support import require
from server_support import start_server, stop_server
from skaloe import EncoderTransformer
from skaloe.cli import _build_parser, main, run_label
from skaloe.datasets import load_embeddings, make_vowels, save_embeddings, segment_recordings
from skaloe.encoders import read_segment
from skaloe.labeling import DurableSession, LabelingSession, export_labels

SR = 16000
CLASSES = ["voice", "quiet"]
# Where the voice is, in seconds; the rest is quiet noise (-40 dBFS) or, in
# meeting.wav from 9 to 11 s, digital silence.
VOICE = {
    "meeting.wav": [(0.0, 3.0), (6.0, 9.0), (11.0, 14.0)],
    "street.wav": [(2.0, 6.0)],
}
DURATION = {"meeting.wav": 14.0, "street.wav": 8.0}


def _recording(name, seed):
    rng = np.random.default_rng(seed)
    n = int(DURATION[name] * SR)
    samples = (0.01 * rng.standard_normal(n)).astype(np.float32)
    vowels = make_vowels(16, n_classes=2, sample_rate=SR, random_state=seed).data
    k = 0
    for start, end in VOICE[name]:
        for second in range(int(start), int(end)):
            samples[second * SR:(second + 1) * SR] = vowels[k]
            k += 1
    if name == "meeting.wav":
        samples[9 * SR:11 * SR] = 0.0
    return samples


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """A folder with the two recordings; ``(folder, [paths])``."""
    folder = tmp_path_factory.mktemp("recordings")
    paths = []
    for seed, name in enumerate(sorted(VOICE)):
        path = folder / name
        sf.write(path, _recording(name, seed), SR, subtype="PCM_16")
        paths.append(str(path))
    return str(folder), paths


@pytest.fixture(scope="module")
def windows(recordings, tmp_path_factory):
    """``skaloe embed FOLDER --window 1 --hop 0.5 --model mfcc``: the .npz file."""
    folder, _ = recordings
    npz = str(tmp_path_factory.mktemp("embedded") / "windows.npz")
    assert main(["embed", folder, "-o", npz, "--window", "1", "--hop", "0.5",
                 "--model", "mfcc"]) == 0
    return npz


def _voice_share(path, start, end):
    """How much of [start, end) is voice in the recording ``path``."""
    inside = sum(max(0.0, min(end, b) - max(start, a))
                 for a, b in VOICE[os.path.basename(path)])
    return inside / (end - start)


def _truth(path, start, end):
    share = _voice_share(path, start, end)
    return "voice" if share == 1.0 else "quiet" if share == 0.0 else None


def _request(server, method, path, body=None):
    conn = HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Host": f"127.0.0.1:{server.port}"}
    if body is not None:
        body = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def _decoded(wav_bytes):
    samples, rate = sf.read(io.BytesIO(wav_bytes), dtype="float32")
    return samples, rate


def _assert_same_samples(wav_bytes, expected, rate):
    """The served WAV holds exactly the samples read_segment reads (16-bit rounding apart)."""
    samples, served_rate = _decoded(wav_bytes)
    assert served_rate == rate and samples.shape == expected.shape
    np.testing.assert_allclose(samples, expected, rtol=0, atol=2 / 32768)


# -- skaloe embed --window ----------------------------------------------------------


def test_embed_window_writes_the_exact_bounds_and_the_same_embeddings(recordings, windows,
                                                                        capsys, tmp_path):
    _, paths = recordings
    table = segment_recordings(paths, window=1.0, hop=0.5, as_frame=False)
    data = load_embeddings(windows)
    assert data.paths == table.path.tolist()
    assert_array_equal(data.starts, table.start)  # exact, not approximately
    assert_array_equal(data.ends, table.end)
    assert data.model == "mfcc" and data.labels is None
    expected = EncoderTransformer("mfcc").fit_transform(table)
    assert_array_equal(data.embeddings, expected)
    # 27 windows of the 14 s recording and 15 of the 8 s one.
    assert len(data.starts) == 27 + 15

    out = str(tmp_path / "again.npz")
    assert main(["embed", recordings[0], "-o", out, "--window", "1", "--hop", "0.5",
                 "--model", "mfcc"]) == 0
    printed = capsys.readouterr().out
    assert "42 windows of 1 s (hop 0.5 s) of 2 recordings" in printed


def test_embed_skip_silence_says_what_it_dropped(recordings, tmp_path, capsys):
    folder, paths = recordings
    out = str(tmp_path / "loud.npz")
    assert main(["embed", folder, "-o", out, "--window", "1", "--hop", "0.5",
                 "--skip-silence", "--model", "mfcc"]) == 0
    printed = capsys.readouterr().out
    with pytest.warns(UserWarning, match="skip_silence dropped"):
        table = segment_recordings(paths, window=1.0, hop=0.5, skip_silence=True,
                                   as_frame=False)
    n_silent = sum(table.attrs["n_silent"].values())
    assert n_silent == 3  # the windows inside meeting.wav's 9-11 s of digital silence
    assert (f"{len(table.start)} windows of 1 s (hop 0.5 s) of 2 recordings, "
            f"{n_silent} silent windows dropped (below -60 dBFS, in 1 recording)") in printed
    data = load_embeddings(out)
    assert_array_equal(data.starts, table.start)
    assert not any(9.0 <= s and e <= 11.0 for s, e in zip(data.starts, data.ends))

    # A threshold above everything: nothing left, said in one line.
    assert main(["embed", folder, "-o", out, "--window", "1", "--skip-silence",
                 "--silence-threshold", "0", "--model", "mfcc"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "quieter than 0 dBFS" in err


def test_embed_class_folders_give_each_window_its_recording_class(recordings, tmp_path):
    import shutil

    _, paths = recordings
    for name, path in zip(("indoor", "outdoor"), paths):
        os.makedirs(tmp_path / "classes" / name)
        shutil.copy(path, tmp_path / "classes" / name / os.path.basename(path))
    out = str(tmp_path / "classes.npz")
    assert main(["embed", str(tmp_path / "classes"), "-o", out, "--window", "2",
                 "--model", "mfcc"]) == 0
    data = load_embeddings(out)
    names = [data.label_names[k] for k in data.labels]
    assert names == [{"meeting.wav": "indoor", "street.wav": "outdoor"}[os.path.basename(p)]
                     for p in data.paths]


@pytest.mark.parametrize("options, message", [
    (["--hop", "1"], "--hop applies to windows of long recordings; add --window"),
    (["--skip-silence"], "--skip-silence applies to windows"),
    (["--window", "1", "--hop", "2"], "--hop 2 is longer than --window 1"),
    (["--window", "1", "--silence-threshold", "-50"], "add --skip-silence"),
    (["--window", "0"], "expected a positive number"),
    (["--window", "1", "--skip-silence", "--silence-threshold", "nan"], "expected a number"),
])
def test_embed_segment_options_that_do_not_fit_are_one_line(recordings, tmp_path, capsys,
                                                            options, message):
    argv = ["embed", recordings[0], "-o", str(tmp_path / "x.npz"), "--model", "mfcc",
            *options]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own one line
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# -- the .npz file and the store carry the bounds ---------------------------------


def test_embeddings_file_round_trips_bounds_and_refuses_bad_ones(tmp_path):
    file = tmp_path / "e.npz"
    X = np.ones((3, 2), dtype=np.float32)
    paths = ["a.wav", "a.wav", "b.wav"]
    save_embeddings(file, X, paths=paths, starts=[0, 1.5, 0.25], ends=[3, 4.5, 1.0])
    data = load_embeddings(file)
    assert data.starts.dtype == np.float64 and data.starts.tolist() == [0.0, 1.5, 0.25]
    assert data.ends.tolist() == [3.0, 4.5, 1.0]
    with np.load(file, allow_pickle=False) as raw:
        assert sorted(raw.files) == ["embeddings", "ends", "paths", "starts"]

    save_embeddings(file, X, paths=paths)  # an older file: no bounds
    data = load_embeddings(file)
    assert data.starts is None and data.ends is None and data.paths == paths

    bad = [
        (dict(starts=[0, 1, 2]), "'starts' given without 'ends'"),
        (dict(paths=None, starts=[0, 1, 2], ends=[1, 2, 3]), "without 'paths'"),
        (dict(starts=[0, 1], ends=[1, 2]), "'starts' holds 2 bounds but"),
        (dict(starts=[0, np.nan, 2], ends=[1, 2, 3]), "row 1 has the bounds"),
        (dict(starts=[0, 1, 2], ends=[1, np.inf, 3]), "row 1 has the bounds"),
        (dict(starts=[0, 2, 2], ends=[1, 2, 3]), "0 <= start < end"),
        (dict(starts=[-1, 1, 2], ends=[1, 2, 3]), "row 0 has the bounds"),
        (dict(starts=[[0, 1, 2]], ends=[[1, 2, 3]]), "1-D array of seconds"),
        (dict(starts=["0", "1", "2"], ends=[1, 2, 3]), "1-D array of seconds"),
    ]
    for kwargs, message in bad:
        kwargs = {"paths": paths, **kwargs}
        with pytest.raises(ValueError, match=message.replace("(", r"\(")):
            save_embeddings(file, X, **kwargs)
        # The same arrays written by someone else: refused on reading, naming the file.
        arrays = {"embeddings": X}
        for key, value in kwargs.items():
            if value is not None:
                arrays[key] = np.asarray(value)
        np.savez(file, **arrays)
        with pytest.raises(ValueError, match=message.replace("(", r"\(")) as info:
            load_embeddings(file)
        assert str(file) in str(info.value)

    # Bounds as Python objects are never unpickled.
    np.savez(file, embeddings=X, paths=np.array(paths),
             starts=np.array([0, 1, 2], dtype=object), ends=np.array([1, 2, 3], dtype=object))
    with pytest.raises(ValueError, match="never loads"):
        load_embeddings(file)


@pytest.fixture(scope="module")
def scheduler():
    """The address of a one-worker, in-process Dask cluster."""
    distributed = require("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
        host="127.0.0.1", dashboard_address=None, silence_logs=logging.CRITICAL,
    ) as cluster:
        yield cluster.scheduler_address


def test_embed_dask_window_writes_a_store_whose_bounds_load_and_label(
        recordings, windows, scheduler, tmp_path, capsys):
    folder, paths = recordings
    store = str(tmp_path / "store")
    assert main(["embed", folder, "-o", store, "--dask", scheduler, "--window", "1",
                 "--hop", "0.5", "--model", "mfcc", "--shard-size", "16"]) == 0
    printed = capsys.readouterr().out
    assert "42 windows of 1 s (hop 0.5 s) of 2 recordings" in printed
    assert "16 windows a shard" in printed
    data, npz = load_embeddings(store), load_embeddings(windows)
    table = segment_recordings([os.path.abspath(p) for p in paths], window=1.0, hop=0.5,
                               as_frame=False)
    assert data.paths == table.path.tolist()
    assert_array_equal(data.starts, table.start)
    assert_array_equal(data.ends, table.end)
    np.testing.assert_allclose(data.embeddings, npz.embeddings, rtol=1e-6, atol=1e-6)

    # skaloe label takes the store as POOL: its windows are the pool items.
    db = str(tmp_path / "store.sqlite")
    seen = {}

    def look(server):
        seen["state"] = server.state()
        threading.Thread(target=server.shutdown, daemon=True).start()

    args = _build_parser().parse_args(["label", store, "--db", db, "--classes",
                                       "voice,quiet", "--port", "0"])
    assert run_label(args, ready=look) == 0
    assert "42 windows embedded" in capsys.readouterr().out
    for clip in seen["state"]["queue"]:
        position = clip["id"]
        assert (clip["segment"]["start"], clip["segment"]["end"]) == (
            data.starts[position], data.ends[position])
    with DurableSession(db, pool=store) as session:
        assert session.is_segments and session.n_pool == 42
        assert session.segment(5) == (data.starts[5], data.ends[5])


def test_a_store_that_mixes_files_and_windows_loads_labels_and_is_checked(
        recordings, scheduler, tmp_path):
    distributed = require("distributed")
    from skaloe.distributed import embed_distributed

    _, paths = recordings
    store = tmp_path / "mixed"
    rows = [paths[1], (paths[0], 1.0, 2.5), (paths[0], 3.0, 4.0)]
    with distributed.Client(scheduler) as client:
        embed_distributed(rows, store, model="mfcc", client=client)
    data = load_embeddings(store)
    assert np.isnan(data.starts[0]) and np.isnan(data.ends[0])  # a whole file
    assert data.starts[1:].tolist() == [1.0, 3.0] and data.ends[1:].tolist() == [2.5, 4.0]
    with DurableSession.create(tmp_path / "m.sqlite", str(store), CLASSES) as session:
        assert session.segment(0) is None and session.segment(1) == (1.0, 2.5)
        assert session.clip_duration(0) == pytest.approx(DURATION["street.wav"])
        with open(paths[1], "rb") as f:
            assert session.audio_bytes(0) == f.read()  # a whole WAV file, as it is
        expected, rate = read_segment(paths[0], 3.0, 4.0)
        _assert_same_samples(session.audio_bytes(2), expected, rate)

    (store / "segments.json").write_text(json.dumps({"start": ["x", 1, 3],
                                                     "end": [None, 2.5, 4]}))
    with pytest.raises(ValueError, match=r"The embedding store .*'starts' must be a 1-D"):
        load_embeddings(store)
    (store / "segments.json").write_text(json.dumps({"start": [None, 2.5, 3],
                                                     "end": [None, 2.5, 4]}))
    with pytest.raises(ValueError, match=r"row 1 has the bounds start=2.5, end=2.5"):
        load_embeddings(store)


# -- skaloe label on windows ---------------------------------------------------------


@pytest.fixture
def segment_session(windows, tmp_path):
    session = DurableSession.create(tmp_path / "w.sqlite", windows, CLASSES, random_state=0,
                                    annotator="tester")
    yield session
    session.close()


@pytest.mark.parametrize("context", [0.0, 1.0, 30.0])
def test_the_clip_endpoint_serves_the_segment_and_its_context(segment_session, context):
    session = segment_session
    server, thread = start_server(session, context=context)
    try:
        state = json.loads(_request(server, "GET", "/api/state")[1])
        assert state["context"] == context
        for clip in state["queue"]:
            position = clip["id"]
            path = session.paths[position]
            start, end = session.starts[position], session.ends[position]
            segment = clip["segment"]
            assert clip["name"] == segment["recording"] == os.path.basename(path)
            assert (segment["start"], segment["end"]) == (start, end)
            assert clip["duration"] == pytest.approx(end - start)
            status, body = _request(server, "GET", f"/clip/{position}")
            assert status == 200
            expected, rate = read_segment(path, start, end, context=context)
            _assert_same_samples(body, expected, rate)
            # What the page says the player holds is what it holds.
            length = DURATION[os.path.basename(path)]
            assert segment["play_start"] == max(0.0, start - context)
            assert segment["play_end"] == pytest.approx(min(length, end + context))
            assert len(expected) / rate == pytest.approx(
                segment["play_end"] - segment["play_start"], abs=1 / rate)
            assert segment["before"] == pytest.approx(start - segment["play_start"])
    finally:
        stop_server(server, thread)


def test_the_state_shows_recording_and_times_and_blind_hides_the_name(segment_session):
    from skaloe.labeling._core import format_clock

    assert format_clock(0) == "0:00:00.0"
    assert format_clock(42.04) == "0:00:42.0" and format_clock(3725.25) == "1:02:05.3"
    session = segment_session
    for blind in (False, True):
        server, thread = start_server(session, blind=blind, context=0.5)
        try:
            state = json.loads(_request(server, "GET", "/api/state")[1])
            for clip in state["queue"]:
                segment = clip["segment"]
                assert segment["times"] == (f"{format_clock(segment['start'])}\u2013"
                                            f"{format_clock(segment['end'])}")
                if blind:
                    assert clip["name"].startswith("Clip ") and segment["recording"] is None
                    status, body = _request(server, "GET", f"/clip/{clip['id']}")
                    assert status == 200 and b"LIST" not in body
            if blind:
                text = json.dumps(state)
                assert ".wav" not in text and "meeting" not in text and "street" not in text
            first = state["queue"][0]
            status, body = _request(server, "POST", "/api/label",
                                    {"id": first["id"], "label": "voice"})
            assert status == 200
            last = json.loads(body)["progress"]["last"]
            assert last["segment"]["times"] == first["segment"]["times"]
            status, body = _request(server, "GET", "/labels.csv")
            header = body.decode().splitlines()[0]
            assert header == ("position,start,end,label,annotator,time" if blind else
                              "position,path,start,end,label,annotator,time")
            _request(server, "POST", "/api/undo", {})
        finally:
            stop_server(server, thread)


def test_cli_label_plays_windows_with_context_and_exports_their_bounds(windows, tmp_path,
                                                                       capsys):
    db = str(tmp_path / "labels.sqlite")
    seen = {}

    def label_two(server):
        def work():
            try:
                seen["context"] = server.context
                for label in ("voice", "quiet"):
                    clip = server.state()["queue"][0]
                    seen.setdefault("labeled", []).append((clip["id"], label))
                    status, _ = _request(server, "POST", "/api/label",
                                         {"id": clip["id"], "label": label})
                    assert status == 200
            finally:
                server.shutdown()

        threading.Thread(target=work, daemon=True).start()

    args = _build_parser().parse_args(
        ["label", windows, "--db", db, "--classes", "voice,quiet", "--port", "0",
         "--annotator", "ana", "--context", "1.5"])
    assert run_label(args, ready=label_two) == 0
    out = capsys.readouterr().out
    assert "42 windows embedded" in out and "with 1.5 s of its recording before and after" in out
    assert seen["context"] == 1.5

    csv_file = tmp_path / "labels.csv"
    assert main(["label", "--db", db, "--export-csv", str(csv_file)]) == 0
    assert "resuming" in (out := capsys.readouterr().out) and "2 labels of 42 windows" in out
    with open(csv_file, newline="") as f:
        rows = list(csv.DictReader(f))
    data = load_embeddings(windows)
    assert list(rows[0]) == ["position", "path", "start", "end", "label", "annotator", "time"]
    for row, (position, label) in zip(rows, seen["labeled"]):
        assert int(row["position"]) == position and row["label"] == label
        assert row["path"] == data.paths[position] and row["annotator"] == "ana"
        assert float(row["start"]) == data.starts[position]
        assert float(row["end"]) == data.ends[position]
    # The read-only export (another process may be labeling) writes the same file.
    assert export_labels(db, tmp_path / "again.csv") == 2
    assert (tmp_path / "again.csv").read_text() == csv_file.read_text()


def test_cli_label_window_cuts_audio_itself_and_refuses_it_on_embedded_pools(
        recordings, windows, tmp_path, capsys):
    folder, _ = recordings
    db = str(tmp_path / "cut.sqlite")
    argv = ["label", folder, "--db", db, "--classes", "voice,quiet", "--model", "mfcc",
            "--window", "2", "--hop", "1", "--export-csv", str(tmp_path / "x.csv")]
    assert main(argv) == 2  # no database to export from yet
    capsys.readouterr()
    with DurableSession.create(db, segment_recordings(folder, window=2.0, hop=1.0,
                                                      as_frame=False),
                               CLASSES, model="mfcc") as session:
        assert session.is_segments and session.segment(1) == (1.0, 3.0)
    assert main(argv) == 0  # resumed with the same pool, cut again
    out = capsys.readouterr().out
    assert "windows of 2 s (hop 1 s) of 2 recordings" in out and "resuming" in out
    assert main(["label", folder, "--db", db, "--window", "3", "--export-csv",
                 str(tmp_path / "x.csv")]) == 2
    assert "another pool" in capsys.readouterr().err
    assert main(["label", windows, "--db", str(tmp_path / "n.sqlite"), "--classes",
                 "a,b", "--window", "1"]) == 2
    err = capsys.readouterr().err
    assert "already embedded, so --window cannot cut it" in err and err.count("\n") == 1
    assert main(["label", "--db", db, "--window", "2", "--export-csv",
                 str(tmp_path / "x.csv")]) == 2
    assert "no POOL is given" in capsys.readouterr().err


# -- session files -------------------------------------------------------------------


def _meta(db, key):
    with sqlite3.connect(db) as conn:
        return json.loads(conn.execute("SELECT value FROM meta WHERE key = ?",
                                       (key,)).fetchone()[0])


def test_a_session_file_from_before_segments_opens_and_keeps_every_label(tmp_path):
    rng = np.random.default_rng(0)
    npz = tmp_path / "clips.npz"
    save_embeddings(npz, rng.normal(size=(30, 4)), paths=[f"c{i}.wav" for i in range(30)])
    db = tmp_path / "old.sqlite"
    session = DurableSession.create(db, npz, ["no", "yes"], random_state=0)
    for label in ("yes", "no", "yes"):
        session.label(session.next_batch()[0], label)
    following, labels = session.next_batch(), session.labels()
    session.close()
    assert _meta(db, "format_version") == 1  # a session of clips: older skaloe reads it
    with sqlite3.connect(db) as conn:  # the pool table as skaloe wrote it before segments
        conn.execute("ALTER TABLE pool DROP COLUMN segment_start")
        conn.execute("ALTER TABLE pool DROP COLUMN segment_end")
        events_before = conn.execute("SELECT * FROM events ORDER BY id").fetchall()

    assert export_labels(db, tmp_path / "read-only.csv") == 3  # read-only: no migration
    with open(tmp_path / "read-only.csv") as f:
        assert f.readline().strip() == "position,path,label,annotator,time"

    reopened = DurableSession(db)
    assert reopened.labels() == labels and reopened.next_batch() == following
    assert not reopened.is_segments and reopened.segment(0) is None
    reopened.label(following[0], "no")
    reopened.close()
    with sqlite3.connect(db) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(pool)")]
        events_after = conn.execute("SELECT * FROM events ORDER BY id").fetchall()
    assert columns == ["position", "path", "segment_start", "segment_end"]
    assert events_after[:3] == events_before and len(events_after) == 4
    with DurableSession(db) as again:
        assert [row["label"] for row in again.labels()] == ["yes", "no", "yes", "no"]


def test_a_session_of_segments_is_format_2(segment_session, tmp_path):
    # Format 2, which skaloe versions from before segments refuse to open (they
    # would play whole recordings); this one reads formats 1 and 2 only.
    assert _meta(segment_session.database, "format_version") == 2
    segment_session.close()
    with sqlite3.connect(segment_session.database) as conn:
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'format_version'")
    with pytest.raises(ValueError, match="of format 3, but this skaloe reads formats 1 and 2"):
        DurableSession(segment_session.database)


# -- the notebook helper ----------------------------------------------------------------


def test_the_notebook_session_plays_segments(windows):
    from skaloe.active import ActiveLearner

    data = load_embeddings(windows)
    table = {"path": data.paths, "start": data.starts, "end": data.ends}
    learner = ActiveLearner(random_state=0).fit(data.embeddings, [-1] * len(data.paths))
    for blind, context in ((False, 0.0), (True, 2.0)):
        session = LabelingSession(learner, table, CLASSES, blind=blind, context=context)
        position = int(session.next_batch()[0])
        body, fmt = session.audio_bytes(position)
        expected, rate = read_segment(data.paths[position], data.starts[position],
                                      data.ends[position], context=context)
        assert fmt == "wav"
        _assert_same_samples(body, expected, rate)
        title = session.clip_title(position)
        assert "0:00:" in title and "1.0 s" in title
        assert ("meeting" in title or "street" in title) is not blind
        assert ("played with 2 s before and after" in title) is bool(context)


# -- the page, in a browser ------------------------------------------------------------


def test_browser_shows_the_times_and_which_part_is_the_segment(segment_session):
    from test_label_web import _chromium_driver, _wait_labels

    session = segment_session
    driver = _chromium_driver()
    try:
        from selenium.webdriver.common.by import By

        for blind in (False, True):
            server, thread = start_server(session, blind=blind, context=1.0)
            try:
                driver.get(server.url)
                _wait_labels(driver, 0)
                state = server.state()
                assert driver.find_element(By.ID, "items-word").text == "windows"
                items = driver.find_elements(By.CSS_SELECTOR, "li.clip")
                assert len(items) == len(state["queue"]) == 2
                for item, clip in zip(items, state["queue"]):
                    segment = clip["segment"]
                    assert item.find_element(By.CLASS_NAME, "times").text == segment["times"]
                    note = item.find_element(By.CLASS_NAME, "segment-note").text
                    assert note.startswith(segment["times"])
                    assert "before" in note or "after" in note
                    assert "into the player" in note
                    name = item.find_element(By.CLASS_NAME, "name").text
                    recording = os.path.basename(session.paths[
                        server.clip_position(clip["id"])])
                    if blind:
                        assert name.startswith("Clip ") and recording not in note
                    else:
                        assert name == recording and f" of {recording}, with " in note
                    inside = item.find_element(By.CSS_SELECTOR, ".span .inside")
                    assert inside.is_displayed()
                if blind:
                    assert ".wav" not in driver.page_source
            finally:
                stop_server(server, thread)
    finally:
        driver.quit()


# -- skaloe timeline ---------------------------------------------------------------


def _labeled_session(windows, db, n_per_class=4):
    """A session of the windows with a few labels of each class, by the truth."""
    data = load_embeddings(windows)
    session = DurableSession.create(db, windows, CLASSES, random_state=0)
    counts = dict.fromkeys(CLASSES, 0)
    for position in range(len(data.paths)):
        truth = _truth(data.paths[position], data.starts[position], data.ends[position])
        if truth is not None and counts[truth] < n_per_class and position % 3 == 0:
            session.label(position, truth)
            counts[truth] += 1
    assert counts == dict.fromkeys(CLASSES, n_per_class)
    session.close()
    return data


def test_timeline_writes_events_labels_and_plots_that_follow_the_voice(windows, tmp_path,
                                                                        capsys):
    from skaloe.timeline import read_audacity_labels, read_events_csv

    db = str(tmp_path / "t.sqlite")
    data = _labeled_session(windows, db)
    out = tmp_path / "timeline"
    assert main(["timeline", "--db", db, "--out", str(out), "--ignore", "quiet"]) == 0
    printed = capsys.readouterr().out
    assert "fitted on 8 labels (quiet, voice)" in printed
    assert "42 windows of 2 recordings predicted" in printed
    assert str(out / "events.csv") in printed
    assert sorted(os.listdir(out)) == ["events.csv", "meeting.png", "meeting.txt",
                                       "street.png", "street.txt"]
    events = read_events_csv(out / "events.csv")
    assert set(np.asarray(events["label"]).tolist()) == {"voice"}
    for recording in sorted(set(data.paths)):
        name = os.path.basename(recording)
        assert f"{recording}: " in printed and str(out / name.replace(".wav", ".png")) in printed
        mine = np.asarray(events["path"]) == recording
        found = list(zip(np.asarray(events["start"])[mine], np.asarray(events["end"])[mine]))
        # Each stretch of voice is one event whose bounds are within half a window.
        assert len(found) == len(VOICE[name])
        for (start, end), (true_start, true_end) in zip(found, VOICE[name]):
            assert abs(start - true_start) <= 0.5 and abs(end - true_end) <= 0.5
        track = read_audacity_labels(out / name.replace(".wav", ".txt"))
        np.testing.assert_allclose(np.asarray(track["start"]), [s for s, _ in found],
                                   atol=1e-6)
        with open(out / name.replace(".wav", ".png"), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"

    # Without --ignore the quiet stretches are events too, and --no-plots writes no PNG.
    other = tmp_path / "all"
    assert main(["timeline", "--db", db, "--out", str(other), "--no-plots",
                 "--min-duration", "1.5"]) == 0
    events = read_events_csv(other / "events.csv")
    assert {"voice", "quiet"} == set(np.asarray(events["label"]).tolist())
    assert (np.asarray(events["end"]) - np.asarray(events["start"]) >= 1.5).all()
    assert not any(name.endswith(".png") for name in os.listdir(other))


def test_timeline_errors_are_one_line(windows, tmp_path, capsys):
    db = str(tmp_path / "e.sqlite")
    clips_npz = tmp_path / "clips.npz"
    save_embeddings(clips_npz, np.eye(4), paths=[f"c{i}.wav" for i in range(4)])
    with DurableSession.create(tmp_path / "clips.sqlite", clips_npz, CLASSES):
        pass
    with DurableSession.create(db, windows, CLASSES) as session:
        cases = [
            (["--db", str(tmp_path / "missing.sqlite")], "no session database"),
            (["--db", str(tmp_path / "clips.sqlite")], "a session of whole clips"),
            (["--db", db], "holds no label yet"),
        ]
        for argv, message in cases:
            assert main(["timeline", *argv, "--out", str(tmp_path / "o")]) == 2
            err = capsys.readouterr().err
            assert err.startswith("skaloe timeline: error:") and message in err
            assert err.count("\n") == 1
        session.label(0, "quiet")  # the session is open here: the timeline only reads it
    for argv, message in [
        (["--db", db], "labels of one class only ('quiet', 1 label)"),
        (["--db", db, "--ignore", "music"], "--ignore names 'music', which is not a class"),
    ]:
        assert main(["timeline", *argv, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
