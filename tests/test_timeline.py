"""Tests of skaloe.timeline: events from segment predictions, their files, their plot."""

import subprocess
import sys
from pathlib import Path

import matplotlib  # a dependency of skaloe: imported directly, never skipped
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Perceptron
from sklearn.utils import Bunch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from figure_layout import layout_problems  # noqa: E402

from skaloe.timeline import (  # noqa: E402
    TimelineDisplay,
    predict_events,
    read_audacity_labels,
    read_events_csv,
    segments_to_events,
    write_audacity_labels,
    write_events_csv,
)
from skaloe.timeline._plot import format_hms  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def windows(path, n, window, hop, offset=0.0):
    """``n`` windows of ``window`` s every ``hop`` s: rows (path, start, end)."""
    return [(path, offset + k * hop, offset + k * hop + window) for k in range(n)]


def rows(events):
    """Events as a list of (path, start, end, label, n_segments) tuples."""
    return list(zip(events["path"], events["start"], events["end"], events["label"],
                    events["n_segments"]))


def one_hot(codes, n_classes, p=0.75):
    """Probabilities ``p`` for the class of each code, the rest shared equally."""
    proba = np.full((len(codes), n_classes), (1 - p) / (n_classes - 1))
    proba[np.arange(len(codes)), codes] = p
    return proba


# -- merging windows into events ----------------------------------------------


def test_hop_equal_to_window_gives_the_window_edges():
    segments = windows("a.wav", 6, 1.0, 1.0)
    events = segments_to_events(segments, ["x", "x", "y", "y", "y", "x"])
    assert isinstance(events, pd.DataFrame)
    assert list(events.columns) == ["path", "start", "end", "label", "probability",
                                    "n_segments"]
    assert rows(events) == [("a.wav", 0.0, 2.0, "x", 2), ("a.wav", 2.0, 5.0, "y", 3),
                            ("a.wav", 5.0, 6.0, "x", 1)]
    assert events["probability"].isna().all()  # no proba given
    assert events["n_segments"].dtype == np.int64


def test_overlapping_windows_change_class_in_the_middle_of_their_overlap():
    # Windows of 1 s every 0.25 s: [0, 1], [0.25, 1.25], ...; the last "x" window
    # is [0.75, 1.75], the first "y" one [1.0, 2.0]: overlap 1.0-1.75, middle 1.375.
    segments = windows("a.wav", 8, 1.0, 0.25)
    proba = one_hot([0, 0, 0, 0, 1, 1, 1, 1], 2)
    proba[1] = [0.5, 0.5]  # a tie goes to the first class, as np.argmax
    events = segments_to_events(segments, proba=proba, classes=["x", "y"])
    assert rows(events) == [("a.wav", 0.0, 1.375, "x", 4), ("a.wav", 1.375, 2.75, "y", 4)]
    # the mean over the windows of the probability of the event's class
    assert events["probability"].tolist() == [(0.75 * 3 + 0.5) / 4, 0.75]


@pytest.mark.parametrize("window, hop", [(1.0, 1.0), (1.0, 0.5), (1.0, 0.25),
                                         (0.96, 0.32), (2.0, 0.1)])
@pytest.mark.parametrize("change", [3.0, 3.3, 4.07])
def test_boundaries_fall_within_half_a_hop_of_the_true_change(window, hop, change):
    """Windows predicted as the class at their centre: the boundary is off by < hop / 2."""
    n = int((10.0 - window) / hop) + 1
    segments = windows("a.wav", n, window, hop)
    centres = np.array([(s + e) / 2 for _, s, e in segments])
    y_pred = np.where(centres < change, "before", "after")
    events = segments_to_events(segments, y_pred)
    assert events["label"].tolist() == ["before", "after"]
    assert events["start"].iloc[0] == 0.0
    assert events["end"].iloc[1] == pytest.approx(segments[-1][2])
    boundary = events["end"].iloc[0]
    assert boundary == events["start"].iloc[1]
    assert abs(boundary - change) <= hop / 2 + 1e-9


def test_gaps_end_events_and_clip_them_to_the_covered_span():
    # hop > window: every window stands alone, even with one class.
    segments = windows("a.wav", 3, 0.5, 1.0)
    events = segments_to_events(segments, ["x", "x", "x"])
    assert rows(events) == [("a.wav", 0.0, 0.5, "x", 1), ("a.wav", 1.0, 1.5, "x", 1),
                            ("a.wav", 2.0, 2.5, "x", 1)]
    # max_gap bridges them: one event, and a class change inside a bridged gap
    # falls in its middle.
    events = segments_to_events(segments, ["x", "x", "y"], max_gap=0.5)
    assert rows(events) == [("a.wav", 0.0, 1.75, "x", 2), ("a.wav", 1.75, 2.5, "y", 1)]
    # A gap just over max_gap is not bridged.
    events = segments_to_events(segments, ["x", "x", "x"], max_gap=0.49)
    assert len(events) == 3


def test_skipped_silence_splits_an_event():
    # 1 s windows every 0.5 s over 0-3 s, then (silence skipped) over 5-7 s.
    segments = windows("a.wav", 5, 1.0, 0.5) + windows("a.wav", 3, 1.0, 0.5, offset=5.0)
    events = segments_to_events(segments, ["x"] * 8)
    assert rows(events) == [("a.wav", 0.0, 3.0, "x", 5), ("a.wav", 5.0, 7.0, "x", 3)]


def test_float_error_of_computed_times_does_not_make_gaps():
    hop = 0.1
    segments = [("a.wav", k * hop, k * hop + hop) for k in range(30)]
    segments = [(p, s, round(e, 1)) for p, s, e in segments]  # ends a few ULPs off starts
    events = segments_to_events(segments, ["x"] * 30)
    assert len(events) == 1 and events["n_segments"].iloc[0] == 30


def test_unsorted_rows_of_several_recordings():
    rng = np.random.default_rng(0)
    a = windows("b/rec.wav", 6, 1.0, 0.5)
    b = windows("a/rec.wav", 4, 1.0, 1.0)
    segments = a + b
    codes = np.array([0, 0, 1, 1, 1, 0, 2, 2, 2, 1])
    proba = one_hot(codes, 3)
    expected = segments_to_events(segments, proba=proba, classes=["p", "q", "r"])
    assert expected["path"].tolist() == ["a/rec.wav", "a/rec.wav", "b/rec.wav",
                                         "b/rec.wav", "b/rec.wav"]
    assert rows(expected)[:2] == [("a/rec.wav", 0.0, 3.0, "r", 3),
                                  ("a/rec.wav", 3.0, 4.0, "q", 1)]
    assert rows(expected)[2:] == [("b/rec.wav", 0.0, 1.25, "p", 2),
                                  ("b/rec.wav", 1.25, 2.75, "q", 3),
                                  ("b/rec.wav", 2.75, 3.5, "p", 1)]
    for _ in range(3):
        order = rng.permutation(len(segments))
        shuffled = segments_to_events([segments[i] for i in order], proba=proba[order],
                                      classes=["p", "q", "r"])
        pd.testing.assert_frame_equal(shuffled, expected)


@pytest.mark.parametrize("shape", ["frame", "dict", "bunch", "tuples", "pathlib"])
def test_segment_tables_of_every_shape(shape):
    segments = windows("rec.wav", 4, 1.0, 0.5)
    path, start, end = (list(column) for column in zip(*segments))
    table = {
        "frame": pd.DataFrame({"path": path, "start": start, "end": end, "extra": 1}),
        "dict": {"path": np.array(path), "start": np.array(start), "end": np.array(end)},
        "bunch": Bunch(path=np.array(path), start=np.array(start), end=np.array(end)),
        "tuples": segments,
        "pathlib": [(Path(p), s, e) for p, s, e in segments],
    }[shape]
    events = segments_to_events(table, [1, 1, 2, 2])
    assert rows(events) == [("rec.wav", 0.0, 1.25, 1, 2), ("rec.wav", 1.25, 2.5, 2, 2)]


def test_without_pandas_events_are_a_bunch_of_arrays(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    events = segments_to_events(windows("a.wav", 3, 1.0, 1.0), ["x", "x", "y"])
    assert isinstance(events, Bunch)
    assert events.start.tolist() == [0.0, 2.0]
    assert events.label.tolist() == ["x", "y"]
    assert events.n_segments.dtype == np.int64


def test_ignored_classes_leave_a_hole_and_end_their_neighbours():
    segments = windows("a.wav", 6, 1.0, 1.0)
    labels = ["silence", "x", "x", "silence", "y", "silence"]
    events = segments_to_events(segments, labels, ignore="silence")
    assert rows(events) == [("a.wav", 1.0, 3.0, "x", 2), ("a.wav", 4.0, 5.0, "y", 1)]
    events = segments_to_events(segments, labels, ignore=["silence", "y"])
    assert events["label"].tolist() == ["x"]
    with pytest.raises(ValueError, match=r"ignore=\['silense'\] names no class"):
        segments_to_events(segments, proba=one_hot([0] * 6, 2), classes=["silence", "x"],
                           ignore="silense")


def test_min_duration_drops_short_events():
    segments = windows("a.wav", 7, 1.0, 1.0)
    events = segments_to_events(segments, ["x", "x", "x", "y", "x", "x", "x"],
                                min_duration=1.5)
    assert rows(events) == [("a.wav", 0.0, 3.0, "x", 3), ("a.wav", 4.0, 7.0, "x", 3)]
    events = segments_to_events(segments, ["x", "x", "x", "y", "x", "x", "x"],
                                min_duration=1.0)
    assert len(events) == 3  # exactly min_duration long is kept


def test_y_pred_with_proba_averages_the_probability_of_the_predicted_class():
    segments = windows("a.wav", 2, 1.0, 1.0)
    proba = np.array([[0.5, 0.25, 0.25], [0.125, 0.375, 0.5]])
    events = segments_to_events(segments, ["b", "b"], proba=proba, classes=["a", "b", "c"])
    assert events["probability"].tolist() == [(0.25 + 0.375) / 2]
    with pytest.raises(ValueError, match=r"y_pred row 1 is 'd', which is not among"):
        segments_to_events(segments, ["a", "d"], proba=proba, classes=["a", "b", "c"])


def test_proba_without_classes_numbers_the_columns():
    events = segments_to_events(windows("a.wav", 2, 1.0, 1.0),
                                proba=[[0.25, 0.75], [0.75, 0.25]])
    assert events["label"].tolist() == [1, 0]


def _error(match, segments, *args, **kwargs):
    with pytest.raises((ValueError, TypeError), match=match):
        segments_to_events(segments, *args, **kwargs)


def test_bad_segments_are_refused_naming_the_row():
    ok = windows("a.wav", 3, 1.0, 1.0)
    _error("segments is empty", [], [])
    _error("segments is empty", {"path": [], "start": [], "end": []}, [])
    _error("single value 'a.wav'", "a.wav", ["x"])
    _error("is the single value 'a.wav'", {"path": "a.wav", "start": [0.0], "end": [1.0]},
           ["x"])
    _error("has no column 'end'", {"path": ["a.wav"], "start": [0.0]}, ["x"])
    _error("differ in length", {"path": ["a.wav"] * 2, "start": [0.0], "end": [1.0]}, ["x"])
    _error(r"row 1 has 2 values", [("a.wav", 0, 1), ("a.wav", 1)], ["x", "x"])
    _error(r"row 1 \('a.wav'\): end \(1.0 s\) is not after start \(1.0 s\)",
           [("a.wav", 0, 1), ("a.wav", 1.0, 1.0)], ["x", "x"])
    _error(r"row 0 \('a.wav'\): start is -1.0 s", [("a.wav", -1.0, 1.0)], ["x"])
    _error(r"row 2 \('a.wav'\): end is nan", ok[:2] + [("a.wav", 2.0, np.nan)], ["x"] * 3)
    _error(r"row 1 \('a.wav'\): start is '1', not a number",
           [("a.wav", 0, 1), ("a.wav", "1", 2)], ["x"] * 2)
    _error(r"row 1: path is None", [("a.wav", 0, 1), (None, 1, 2)], ["x"] * 2)
    _error(r"rows 0 \(0-1 s\) and 2 \(0-2 s\) of 'a.wav' start at the same time",
           ok[:2] + [("a.wav", 0.0, 2.0)], ["x"] * 3)
    _error(r"rows 0 \(0-10 s\) and 1 \(2-3 s\) of 'a.wav' lie one inside the other",
           [("a.wav", 0.0, 10.0), ("a.wav", 2.0, 3.0)], ["x", "x"])


def test_bad_predictions_are_refused():
    ok = windows("a.wav", 3, 1.0, 1.0)
    _error("Give y_pred", ok)
    _error("y_pred has 2 labels but there are 3 segments", ok, ["x", "x"])
    _error("y_pred row 1 has no label", ok, ["x", None, "x"])
    _error("proba has 2 rows but there are 3", ok, proba=[[1.0], [1.0]])
    _error("proba must be a 2-D array", ok, proba=[1.0, 1.0, 1.0])
    _error(r"proba row 2 is \[1.5, -0.5\], outside \[0, 1\]", ok,
           proba=[[1.0, 0.0], [1.0, 0.0], [1.5, -0.5]])
    _error(r"proba row 0 is \[nan, 1.0\]", ok, proba=[[np.nan, 1.0]] * 3)
    _error("classes has 3 values but proba has 2 columns", ok, proba=[[1.0, 0.0]] * 3,
           classes=["a", "b", "c"])
    _error("classes holds 'a' twice", ok, proba=[[1.0, 0.0]] * 3, classes=["a", "a"])
    _error("min_duration must be a number of seconds >= 0", ok, ["x"] * 3,
           min_duration=-1)
    _error("max_gap must be a number of seconds >= 0", ok, ["x"] * 3, max_gap=np.inf)


def test_predict_events_uses_predict_proba_and_classes():
    X = np.array([[0.0], [0.1], [0.2], [0.8], [0.9], [1.0]])
    clf = LogisticRegression().fit(X, ["low"] * 3 + ["high"] * 3)
    segments = windows("a.wav", 6, 1.0, 1.0)
    events = predict_events(clf, X, segments)
    assert rows(events) == [("a.wav", 0.0, 3.0, "low", 3), ("a.wav", 3.0, 6.0, "high", 3)]
    proba = clf.predict_proba(X)
    expected = proba[:3, list(clf.classes_).index("low")].mean()
    assert events["probability"].iloc[0] == pytest.approx(expected)
    # A classifier without predict_proba: its predict, and no probability.
    events = predict_events(Perceptron().fit(X, [0, 0, 0, 1, 1, 1]), X, segments)
    assert events["label"].tolist() == [0, 1]
    assert events["probability"].isna().all()
    with pytest.raises(ValueError, match="X has 5 rows but segments has 6"):
        predict_events(clf, X[:5], segments)


# -- CSV ------------------------------------------------------------------------


HOSTILE = ["a\tb", "line\nbreak", 'quote " and, comma', "crlf\r\nx", "ünïcødé", " pad "]


def test_csv_round_trip_at_the_printed_precision(tmp_path):
    segments = windows("rec 1, take \"2\".wav", 5, 1 / 3, 1 / 3) + windows("b.wav", 2, 1, 1)
    proba = one_hot([0, 0, 1, 1, 0, 1, 1], 2, p=2 / 3)
    events = segments_to_events(segments, proba=proba, classes=[7, 8])
    file = write_events_csv(events, tmp_path / "events.csv")
    assert file == tmp_path / "events.csv"
    back = read_events_csv(file)
    assert list(back.columns) == list(events.columns)
    assert back["path"].tolist() == events["path"].tolist()
    assert back["label"].tolist() == ["8", "7", "8", "7"]  # CSV has no types: str
    for name in ("start", "end", "probability"):
        assert back[name].tolist() == [float(f"{v:.6f}") for v in events[name]]
    assert back["n_segments"].tolist() == events["n_segments"].tolist()
    write_events_csv(events, file, decimals=2)
    assert read_events_csv(file)["end"].tolist() == [2.0, 0.67, 1.33, 1.67]


def test_csv_keeps_hostile_labels_and_unknown_probabilities(tmp_path):
    events = [("a.wav", float(i), i + 0.5, label) for i, label in enumerate(HOSTILE)]
    file = write_events_csv(events, tmp_path / "e.csv")
    back = read_events_csv(file)
    assert back["label"].tolist() == HOSTILE
    assert back["probability"].isna().all() and (back["n_segments"] == 0).all()


def test_csv_errors_name_the_line(tmp_path):
    file = tmp_path / "e.csv"

    def refused(text, match):
        file.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=match):
            read_events_csv(file)

    refused("", "is empty")
    refused("path,start,finish,label\n", "has no column 'end'")
    refused("path,start,end,label\na.wav,0,1,x\na.wav,zero,1,x\n",
            r"line 3: start is 'zero', not a number")
    refused("path,start,end,label\na.wav,0,1\n", r"line 2: 3 values for the 4 columns")
    refused("path,start,end,label\na.wav,2,1,x\n", r"line 2: end \(1.0 s\) is before start")
    refused("path,start,end,label\na.wav,0,inf,x\n", r"line 2: end is 'inf'")
    refused("path,start,end,label,n_segments\na.wav,0,1,x,-2\n",
            r"line 2: n_segments is '-2'")
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        write_events_csv([("a.wav", 0, 1, "x")], tmp_path / "missing" / "e.csv")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        write_events_csv([("a.wav", 0, 1, "x")], tmp_path)
    with pytest.raises(ValueError, match="decimals must be an integer from 0 to 15"):
        write_events_csv([("a.wav", 0, 1, "x")], file, decimals=1.5)
    with pytest.raises(ValueError, match="events row 0 has no label"):
        write_events_csv([("a.wav", 0, 1, None)], file)


# -- Audacity labels --------------------------------------------------------------


def test_audacity_labels_one_file_per_recording(tmp_path):
    segments = windows("calls/night.wav", 4, 1.0, 0.5) + windows("calls/day.flac", 2, 2, 2)
    events = segments_to_events(segments, ["owl", "owl", "fox", "fox", "x", "x"])
    files = write_audacity_labels(events, tmp_path / "labels")
    assert files == {"calls/day.flac": tmp_path / "labels" / "day.txt",
                     "calls/night.wav": tmp_path / "labels" / "night.txt"}
    assert files["calls/night.wav"].read_text() == (
        "0.000000\t1.250000\towl\n1.250000\t2.500000\tfox\n"
    )
    back = read_audacity_labels(files["calls/night.wav"], recording="calls/night.wav")
    assert list(back.columns) == ["path", "start", "end", "label"]
    assert back["path"].tolist() == ["calls/night.wav"] * 2
    assert back["start"].tolist() == [0.0, 1.25]
    assert back["end"].tolist() == [1.25, 2.5]
    assert back["label"].tolist() == ["owl", "fox"]
    assert read_audacity_labels(files["calls/day.flac"])["path"].tolist() == [
        str(files["calls/day.flac"])]


def test_same_stem_in_two_folders_writes_two_files(tmp_path):
    events = [("a/rec.wav", 0.0, 1.0, "x"), ("b/rec.wav", 0.0, 2.0, "y"),
              ("c/REC.mp3", 0.0, 3.0, "z"), ("d/other.wav", 0.0, 4.0, "w")]
    files = write_audacity_labels(events, tmp_path)
    assert len(set(files.values())) == 4
    assert files["d/other.wav"].name == "other.txt"
    for rec in ("a/rec.wav", "b/rec.wav", "c/REC.mp3"):
        assert files[rec].name.lower().startswith("rec-")
    for (rec, _, end, label) in events:
        back = read_audacity_labels(files[rec])
        assert back["end"].tolist() == [end] and back["label"].tolist() == [label]
    assert files == write_audacity_labels(events[::-1], tmp_path)  # deterministic
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in files.values())


def test_audacity_refuses_tabs_and_line_breaks_and_writes_nothing(tmp_path):
    for label in HOSTILE[:2] + ["cr\rx"]:
        events = [("a.wav", 0.0, 1.0, "ok"), ("b.wav", 1.0, 2.0, label)]
        with pytest.raises(ValueError, match=r"event row 1 \('b.wav', 1-2 s\) holds a"):
            write_audacity_labels(events, tmp_path / "out")
        assert not (tmp_path / "out").exists()
    # the other hostile labels are fine
    events = [("a.wav", float(i), i + 1.0, label) for i, label in enumerate(HOSTILE[2:])]
    events = [e for e in events if "\r" not in e[3] and "\n" not in e[3]]
    files = write_audacity_labels(events, tmp_path / "out")
    assert read_audacity_labels(files["a.wav"])["label"].tolist() == [e[3] for e in events]


def test_audacity_label_format_and_empty_recordings(tmp_path):
    events = {"path": ["a.wav"], "start": [0.0], "end": [1.5], "label": ["owl"],
              "probability": [0.875], "n_segments": [3]}
    files = write_audacity_labels(events, tmp_path, decimals=1,
                                  label_format="{label} ({probability:.2f}, {n_segments})",
                                  recordings=["a.wav", "quiet.wav"])
    assert files["a.wav"].read_text() == "0.0\t1.5\towl (0.88, 3)\n"
    assert files["quiet.wav"].read_text() == ""
    with pytest.raises(ValueError, match=r"names \{score\}"):
        write_audacity_labels(events, tmp_path, label_format="{score}")


def test_read_audacity_tolerates_its_variants(tmp_path):
    file = tmp_path / "labels.txt"
    file.write_bytes(
        b"\xef\xbb\xbf1.5\t2.5\tbird\r\n"
        b"\\\t100.000000\t2000.000000\r\n"   # the frequency range of the label above
        b"\r\n"
        b"3\t3\r\n"                          # a point label without text
        b"4.25\t5\tsong\twith a tab\n"
    )
    back = read_audacity_labels(file, recording="rec.wav")
    assert back["start"].tolist() == [1.5, 3.0, 4.25]
    assert back["end"].tolist() == [2.5, 3.0, 5.0]
    assert back["label"].tolist() == ["bird", "", "song\twith a tab"]
    file.write_text("1\t2\tx\nnot a label\n")
    with pytest.raises(ValueError, match=r"line 2 is 'not a label', not a label"):
        read_audacity_labels(file)
    file.write_text("1\tx\ty\n")
    with pytest.raises(ValueError, match=r"line 1: end is 'x', not a number"):
        read_audacity_labels(file)


# -- the display ------------------------------------------------------------------


def _spans(collection):
    """(start, end) of each bar of a broken_barh collection."""
    return [(float(p.vertices[:, 0].min()), float(p.vertices[:, 0].max()))
            for p in collection.get_paths()]


@pytest.fixture
def timeline():
    """Two recordings; the first has 1 s windows every 0.5 s, a gap at 4-6 s."""
    segments = windows("rec/a.wav", 7, 1.0, 0.5) + windows("rec/a.wav", 3, 1.0, 0.5, 6.0)
    segments += windows("rec/b.wav", 4, 1.0, 1.0)
    codes = [0, 0, 0, 1, 1, 1, 1, 2, 2, 0] + [0, 0, 1, 1]
    proba = one_hot(codes, 3)
    y = np.full(len(segments), -1, dtype=object)
    y[[1, 4, 8]] = ["speech", "music", "noise"]
    return segments, proba, ["speech", "music", "noise"], y


def test_display_from_predictions_draws_events_probabilities_and_labels(timeline):
    segments, proba, classes, y = timeline
    display = TimelineDisplay.from_predictions(
        segments, proba=proba, classes=classes, recording="rec/a.wav", labeled=y)
    assert display.recording == "rec/a.wav"
    assert set(display.bands_) == {"speech", "music", "noise"}
    assert _spans(display.bands_["speech"]) == [(0.0, 1.75), (7.25, 8.0)]
    assert _spans(display.bands_["music"]) == [(1.75, 4.0)]
    assert _spans(display.bands_["noise"]) == [(6.0, 7.25)]
    assert _spans(display.labeled_["music"]) == [(2.0, 3.0)]
    assert set(display.labeled_) == {"speech", "music", "noise"}
    line = display.lines_["predicted"]
    x = line.get_xdata()
    assert np.isnan(x).sum() == 1  # broken at the gap between the two stretches
    np.testing.assert_allclose(x[~np.isnan(x)], [0.5 + 0.5 * k for k in range(7)] +
                               [6.5, 7.0, 7.5])
    np.testing.assert_allclose(line.get_ydata()[~np.isnan(x)], 0.75)
    assert display.colors_["speech"] != display.colors_["music"]
    assert display.ax_.get_xlabel() == "time (s)"
    assert display.ax_.get_title() == "a.wav"  # the file name, not the whole path
    assert display.figure_ is display.ax_.figure
    assert [t.get_text() for t in display.ax_.get_yticklabels()][-2:] == [
        "predicted", "labeled"]
    assert layout_problems(display.figure_) == []
    legend = display.ax_.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "speech", "music", "noise", "probability of the predicted class"]
    display.figure_.canvas.draw()
    assert not legend.get_window_extent().overlaps(display.ax_.bbox)


def test_display_every_class_line_and_ignored_band(timeline):
    segments, proba, classes, _ = timeline
    display = TimelineDisplay.from_predictions(
        segments, proba=proba, classes=classes, recording="rec/b.wav",
        proba_lines="all", ignore="noise",
        labeled=pd.DataFrame({"path": ["rec/b.wav", "rec/a.wav"], "start": [0.0, 0.0],
                              "end": [1.0, 1.0], "label": ["speech", "music"]}))
    assert set(display.lines_) == {"speech", "music", "noise"}
    assert display.lines_["music"].get_color() is not None
    np.testing.assert_allclose(display.lines_["music"].get_ydata(), [0.125] * 2 + [0.75] * 2)
    assert set(display.bands_) == {"speech", "music"}
    assert set(display.labeled_) == {"speech"}  # the row of rec/a.wav is left out
    assert layout_problems(display.figure_) == []


def test_display_from_events_and_from_estimator(timeline, tmp_path):
    segments, proba, classes, _ = timeline
    events = segments_to_events(segments, proba=proba, classes=classes)
    file = write_events_csv(events, tmp_path / "events.csv")
    labels = write_audacity_labels(events, tmp_path)
    display = TimelineDisplay.from_events(
        read_events_csv(file), recording="rec/b.wav",
        labeled=read_audacity_labels(labels["rec/b.wav"], recording="rec/b.wav"))
    assert _spans(display.bands_["speech"]) == [(0.0, 2.0)]
    assert _spans(display.labeled_["music"]) == [(2.0, 4.0)]
    x, y = display.lines_["events"].get_xdata(), display.lines_["events"].get_ydata()
    np.testing.assert_allclose(x[~np.isnan(x)], [0, 2, 2, 4])
    np.testing.assert_allclose(y[~np.isnan(y)], 0.75)
    assert layout_problems(display.figure_) == []

    X = np.repeat(np.arange(len(segments))[:, None] % 3, 2, axis=1).astype(float)
    clf = LogisticRegression().fit(X, [classes[int(v)] for v in X[:, 0]])
    _, ax = plt.subplots()
    display = TimelineDisplay.from_estimator(clf, X, segments, recording="rec/b.wav", ax=ax)
    assert display.ax_ is ax
    assert "predicted" in display.lines_
    path = tmp_path / "timeline.png"
    display.figure_.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_display_long_recordings_read_in_hours_minutes_seconds():
    segments = windows("long.wav", 3600, 1.0, 1.0)
    y_pred = np.repeat(["a", "b", "a"], 1200)
    display = TimelineDisplay.from_predictions(segments, y_pred)
    assert display.ax_.get_xlabel() == "time (h:mm:ss)"
    display.figure_.canvas.draw()
    low, high = display.ax_.get_xlim()
    ticks = [t.get_text() for t in display.ax_.get_xticklabels()
             if low <= t.get_position()[0] <= high]
    assert ticks[0] == "0:00:00" and all(t.count(":") == 2 for t in ticks)
    assert 3 <= len(ticks) <= 9
    assert display.lines_ == {}  # y_pred only: no probability to draw
    assert format_hms(3725.4) == "1:02:05"
    short = TimelineDisplay.from_predictions(segments[:10], y_pred[:10], time_format="hms")
    assert short.ax_.get_xlabel() == "time (h:mm:ss)"


def test_display_refuses_what_it_cannot_show(timeline, monkeypatch):
    segments, proba, classes, y = timeline
    with pytest.raises(ValueError, match=r"holds 2 recordings .*pass recording="):
        TimelineDisplay.from_predictions(segments, proba=proba, classes=classes)
    with pytest.raises(ValueError, match=r"recording='rec/c.wav' is not in segments"):
        TimelineDisplay.from_predictions(segments, proba=proba, classes=classes,
                                         recording="rec/c.wav")
    with pytest.raises(ValueError, match="proba_lines='all' .* give proba"):
        TimelineDisplay.from_predictions(segments, ["x"] * len(segments),
                                         recording="rec/a.wav", proba_lines="all")
    with pytest.raises(ValueError, match="time_format must be one of"):
        TimelineDisplay.from_predictions(segments, proba=proba, recording="rec/a.wav",
                                         time_format="minutes")
    with pytest.raises(ValueError, match="labeled must be a table"):
        TimelineDisplay.from_events([("a.wav", 0, 1, "x")], labeled=[1, 2, 3])
    with pytest.raises(ValueError, match=r"labeled row 0: end \(0.5 s\) is before start"):
        TimelineDisplay.from_events([("a.wav", 0, 1, "x")], labeled=[(1.0, 0.5, "x")])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        TimelineDisplay.from_events([("a.wav", 0, 1, "x")])


def test_import_is_light():
    code = ("import sys, skaloe.timeline; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# -- end to end: a long WAV, windows, a few labels, events -------------------------


def test_long_recording_to_events_end_to_end(tmp_path):
    import soundfile as sf
    from skaloe import ActiveLearner, EncoderTransformer
    from skaloe.datasets import make_vowels

    rate = 16000
    vowels = make_vowels(12, n_classes=6, duration=2.0, random_state=0)
    clip = {name: [vowels.data[i] for i in np.flatnonzero(vowels.target == k)]
            for k, name in enumerate(vowels.target_names)}
    rng = np.random.default_rng(0)
    plan = [("silence", 1.0), ("i", clip["i"][0]), ("silence", 1.5), ("aa", clip["aa"][0]),
            ("i", clip["i"][1]), ("silence", 1.0), ("aa", clip["aa"][1]), ("silence", 1.0)]
    parts, truth, t = [], [], 0.0
    for label, audio in plan:
        if label == "silence":
            audio = (1e-3 * rng.standard_normal(int(audio * rate))).astype(np.float32)
        parts.append(audio)
        truth.append((label, t, t + len(audio) / rate))
        t += len(audio) / rate
    wav = tmp_path / "long.wav"
    sf.write(wav, np.concatenate(parts), rate, subtype="PCM_16")

    audio, read_rate = sf.read(wav, dtype="float32")
    assert read_rate == rate
    window, hop = 0.5, 0.25
    starts = np.arange(0.0, len(audio) / rate - window + 1e-9, hop)
    clips = np.stack([audio[int(round(s * rate)):int(round(s * rate)) + int(window * rate)]
                      for s in starts])
    segments = {"path": [str(wav)] * len(starts), "start": starts, "end": starts + window}
    X = EncoderTransformer("mfcc").fit_transform(clips)

    # Two labeled windows per class, well inside its stretches.
    centres = starts + window / 2
    true_label = np.array([next(lab for lab, a, b in truth if a <= c < b) for c in centres],
                          dtype=object)
    y = np.full(len(starts), -1, dtype=object)
    for label in ("silence", "i", "aa"):
        inside = [k for k in range(len(starts)) if all(
            true_label[j] == label for j in range(max(k - 2, 0), min(k + 3, len(starts))))]
        y[[inside[0], inside[-1]]] = label
    learner = ActiveLearner(random_state=0).fit(X, y)

    events = predict_events(learner, X, segments, ignore="silence", min_duration=0.5)
    sounds = [(lab, a, b) for lab, a, b in truth if lab != "silence"]
    assert events["label"].tolist() == [lab for lab, _, _ in sounds]
    for (label, a, b), start, end in zip(sounds, events["start"], events["end"]):
        assert abs(start - a) <= window and abs(end - b) <= window, (label, a, b, start, end)
        overlap = min(b, end) - max(a, start)
        assert overlap / (max(b, end) - min(a, start)) > 0.7
    assert (events["probability"] > 0.5).all()

    display = TimelineDisplay.from_estimator(learner, X, segments, ignore="silence",
                                             labeled=learner.y_pool_)
    assert set(display.labeled_) == {"silence", "i", "aa"}
    assert set(display.bands_) == {"i", "aa"}
    assert layout_problems(display.figure_) == []
    files = write_audacity_labels(events, tmp_path / "labels")
    assert read_audacity_labels(files[str(wav)])["label"].tolist() == events["label"].tolist()
