"""``skaloe timeline``: after labeling windows of long recordings, the events in every one."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from ._parser import CLIError, _comma_list, _non_negative_float, _plural

_EVENTS_CSV = "events.csv"


def add_parser(sub):
    """Add the ``timeline`` command to the subparsers ``sub``."""
    timeline = sub.add_parser(
        "timeline",
        help="after 'skaloe label' on windows of long recordings: predict every window, "
             "merge them into events, write a CSV, Audacity labels and a plot per recording",
        description=(
            "Turn a labeling session of windows of long recordings (a POOL written by "
            "'skaloe embed --window', or 'skaloe label --window') into a timeline. The "
            "classifier is fitted on the session's labels, as the labeling page fits it; "
            "it predicts every window of every recording, and consecutive windows of one "
            "class are merged into events (a change of class falls in the middle of the "
            "overlap of the two windows around it; see skaloe.timeline.predict_events). "
            f"Written to OUT: {_EVENTS_CSV} (path, start, end, label, probability, "
            "n_segments: every event of every recording), one Audacity label track per "
            "recording (<recording>.txt: in Audacity, open the recording, then File > "
            "Import > Labels...), and one timeline plot per recording (<recording>.png: the "
            "events, the probability of each window and the windows you labeled). The "
            "session is only read, so this also runs while someone labels in it."
        ),
        epilog="examples: skaloe timeline --db night.sqlite --out timeline/ ; skaloe "
               "timeline --db night.sqlite --out timeline/ --ignore silence --min-duration 2",
    )
    timeline.add_argument("--db", required=True, metavar="FILE",
                          help="the session database written by 'skaloe label'")
    timeline.add_argument("-o", "--out", required=True, metavar="OUT",
                          help="the folder to write to (created if missing; files of the "
                               "same names are replaced)")
    timeline.add_argument(
        "--ignore", type=_comma_list, default=None, metavar="LIST",
        help="comma-separated background classes (e.g. silence,noise) that get no events; "
             "their windows still end the events around them")
    timeline.add_argument("--min-duration", type=_non_negative_float, default=0.0,
                          metavar="S", help="leave out events shorter than S seconds "
                                            "(default: 0, keep all)")
    timeline.add_argument(
        "--max-gap", type=_non_negative_float, default=0.0, metavar="S",
        help="gaps of at most S seconds between windows (silence dropped by --skip-silence) "
             "do not end an event (default: 0)")
    timeline.add_argument("--no-plots", action="store_true",
                          help="write the CSV and the label tracks, not the plots")
    timeline.set_defaults(func=run_timeline)


def _fit(data, db):
    """The session's classifier, fitted on its labels: an ActiveLearner, as the page's."""
    from ..active import ActiveLearner

    labels = data.labels
    if not labels:
        raise CLIError(f"{db} holds no label yet; label some windows with 'skaloe label "
                       f"--db {db}' first")
    y = np.full(len(data.embeddings), -1, dtype=object)
    for event in labels:
        y[event["position"]] = event["label"]
    labeled = sorted({event["label"] for event in labels})
    if len(labeled) < 2:
        raise CLIError(
            f"{db} holds labels of one class only ({labeled[0]!r}, "
            f"{_plural(len(labels), 'label')}); a classifier needs labels of at least two "
            "classes: label more windows with 'skaloe label'")
    learner = ActiveLearner(random_state=data.random_state).fit(data.embeddings, y)
    return learner, y


def _plot(segments, proba, classes, y, recording, file, ignore, args):
    """Save the timeline of one recording as a PNG (no pyplot: nothing is left open)."""
    from matplotlib.figure import Figure

    from ..timeline import TimelineDisplay

    figure = Figure(figsize=(10, 3.2), layout="constrained")
    ax = figure.add_subplot()
    TimelineDisplay.from_predictions(
        segments, proba=proba, classes=classes, recording=recording, labeled=y,
        ignore=ignore, min_duration=args.min_duration, max_gap=args.max_gap,
        ax=ax)
    figure.savefig(file, dpi=100)


def run_timeline(args, out=None):
    """The ``timeline`` command: fit on a session's labels, write its events and plots."""
    from ..labeling._session import read_session
    from ..timeline import predict_events, write_audacity_labels, write_events_csv

    out = sys.stdout if out is None else out
    t0 = time.perf_counter()
    db = os.fspath(args.db)
    if not os.path.isfile(db):
        raise CLIError(f"no session database {db!r}; 'skaloe label POOL --db {db} ...' "
                       "creates one")
    folder = os.fspath(args.out)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise CLIError(f"--out {folder!r} is a file; give a folder for the timeline files")
    data = read_session(db)
    if data.starts is None:
        raise CLIError(
            f"{db} is a session of whole clips, not of windows of long recordings; a "
            "timeline needs windows: embed the recordings with 'skaloe embed RECORDINGS "
            "--window S -o windows.npz' and label that")
    unknown = [c for c in args.ignore or () if c not in data.classes]
    if unknown:
        raise CLIError(f"--ignore names {unknown[0]!r}, which is not a class of {db} "
                       f"({', '.join(data.classes)})")
    learner, y = _fit(data, db)
    # A class never labeled is never predicted: ignoring it changes nothing.
    ignore = [c for c in args.ignore or () if c in set(learner.classes_)]

    rows = np.array([i for i, s in enumerate(data.starts) if s is not None], dtype=np.intp)
    if len(rows) < len(data.starts):
        print(f"skaloe timeline: note: {len(data.starts) - len(rows)} pool items are whole "
              "clips, not windows of a recording; they are left out", file=sys.stderr)
    paths = np.empty(len(rows), dtype=object)
    paths[:] = [data.paths[i] for i in rows]
    segments = {"path": paths,
                "start": np.array([data.starts[i] for i in rows], dtype=np.float64),
                "end": np.array([data.ends[i] for i in rows], dtype=np.float64)}
    X = data.embeddings[rows]
    events = predict_events(learner, X, segments, ignore=ignore,
                            min_duration=args.min_duration, max_gap=args.max_gap)
    recordings = list(dict.fromkeys(paths.tolist()))

    os.makedirs(folder, exist_ok=True)
    csv_file = os.path.join(folder, _EVENTS_CSV)
    write_events_csv(events, csv_file)
    tracks = write_audacity_labels(events, folder, recordings=recordings)
    plots = {}
    if not args.no_plots:
        proba = learner.predict_proba(X)
        for recording in recordings:
            stem = os.path.splitext(os.path.basename(tracks[recording]))[0]
            plots[recording] = os.path.join(folder, stem + ".png")
            _plot(segments, proba, learner.classes_, y[rows], recording, plots[recording],
                  ignore, args)

    n_events = len(events["start"])
    ignored = f", without {', '.join(args.ignore)}" if args.ignore else ""
    say = lambda text: print(text, file=out, flush=True)  # noqa: E731
    say(f"skaloe timeline: fitted on {_plural(len(data.labels), 'label')} "
        f"({', '.join(map(str, learner.classes_))}) of {db}; {len(rows)} windows of "
        f"{_plural(len(recordings), 'recording')} predicted: "
        f"{_plural(n_events, 'event')}{ignored}, in {time.perf_counter() - t0:.1f} s")
    say(f"skaloe timeline: events of every recording: {csv_file}")
    per_recording = dict.fromkeys(recordings, 0)
    for path in np.asarray(events["path"]).tolist():
        per_recording[path] += 1
    for recording in recordings:
        files = [f"labels {tracks[recording]}"]
        if recording in plots:
            files.append(f"plot {plots[recording]}")
        say(f"skaloe timeline: {recording}: {_plural(per_recording[recording], 'event')}; "
            + ", ".join(files))
    return 0
