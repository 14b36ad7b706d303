"""``skaloe label``: serve the labeling page of a durable, resumable session."""

from __future__ import annotations

import argparse
import os
import sys
import time

from ._inputs import (
    _add_segment_options,
    _check_segment_options,
    _is_store,
    _read_audio_input,
    _segment_input,
)
from ._parser import (
    _SELECTIONS,
    CLIError,
    _add_encoder_options,
    _comma_list,
    _non_negative_float,
    _non_negative_int,
    _plural,
    _positive_int,
    _strategy_name,
)


def add_parser(sub):
    """Add the ``label`` command to the subparsers ``sub``."""
    label = sub.add_parser(
        "label",
        help="label clips in a local web page; every label is saved at once (resumable)",
        description=(
            "Label audio clips in your browser, with active learning choosing the clips. "
            "The first run embeds POOL once (--model, through --cache) and creates the "
            "session database --db; each label is committed to it (with the annotator and "
            "the time) before the page moves on, so a crash loses nothing already shown as "
            "saved. Run the same command again to resume exactly where you stopped: the "
            "same next clips, the same labels (POOL may then be left out; if given, it "
            "must be the pool the database was made for). The page lists the next queried "
            "clips with an audio player each, one button per class (keys 1-9 label the "
            "highlighted clip, Space plays it, U undoes the last label), the number of "
            "labels, the validation accuracy (with --val-input) or an estimate from "
            "cross-validation on your labels, and a stopping hint. With --blind the page "
            "never shows file names (which often give the class away), only Clip 1, Clip "
            "2, .... It is served on "
            "127.0.0.1 (this machine only) unless --host says otherwise, and serves pool "
            "clips by number only. POOL is an audio folder, a text file with one audio "
            "path per line, an .npz written by 'skaloe embed', or a store written by "
            "'skaloe embed --dask'. When POOL holds windows of long recordings ('skaloe "
            "embed --window', or --window here), the page plays each window alone (with "
            "--context seconds around it) and shows its recording and its times "
            "(h:mm:ss.s); the labels then carry each window's start and end, and "
            "'skaloe timeline' turns them into events."
        ),
        epilog="examples: skaloe label clips/ --db labels.sqlite --classes dog,cat,bird "
               "--cache ~/.cache/skaloe ; skaloe label --db labels.sqlite (resume) ; "
               "skaloe label --db labels.sqlite --export-csv labels.csv ; skaloe label "
               "windows.npz --db night.sqlite --classes bird,rain,silence --context 1",
    )
    label.add_argument("pool", nargs="?", default=None, metavar="POOL",
                       help="audio folder, file list, .npz of embeddings or embedding store "
                            "(needed to create the database; optional when resuming)")
    label.add_argument("--db", required=True, metavar="FILE",
                       help="the session database (SQLite), created on the first run")
    label.add_argument("--classes", type=_comma_list, default=None, metavar="LIST",
                       help="comma-separated class names, at least two (required for a new "
                            "database; stored in it)")
    _add_encoder_options(
        label, cache_help="embedding cache folder for POOL and --val-input (default: no cache)")
    label.add_argument(
        "--val-input", default=None, metavar="VAL",
        help="a labeled validation set: a folder with one subfolder per class or a file list "
             "of path<TAB>label lines (new database only); the page then shows validation "
             "accuracy instead of an estimate")
    label.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                       help="clips shown and queried at a time (default: the number of "
                            "classes, one per predicted class)")
    label.add_argument("--query-strategy", type=_strategy_name, default=None, metavar="NAME",
                       help="query strategy: entropy, largest_margin, least_confidence, "
                            "margin, norm or random (default: margin, ALOE's smallest margin)")
    label.add_argument("--selection", choices=_SELECTIONS, default=None,
                       help="class-aware (a batch spread over the predicted classes), "
                            "class-agnostic (the most uncertain clips, whatever their "
                            "predicted class) or one-per-class (at most one clip per "
                            "predicted class, as ALOE; fewer when a class is predicted "
                            "nowhere) (default: class-aware)")
    label.add_argument("--random-state", type=int, default=None, metavar="SEED",
                       help="seed of the learner (default: 0); the same seed and labels "
                            "give the same queries")
    label.add_argument("--host", default="127.0.0.1",
                       help="address to serve on (default: 127.0.0.1, this machine only; "
                            "0.0.0.0 lets other machines reach the page, and then the printed "
                            "address carries a secret token that every request must send)")
    label.add_argument("--port", type=_non_negative_int, default=8765,
                       help="port to serve on; 0 picks a free one (default: 8765)")
    label.add_argument("--token", action="store_true",
                       help="require the secret token on 127.0.0.1 too, against other users "
                            "of a shared machine (always required with another --host)")
    label.add_argument("--allow-host", action="append", default=None, metavar="NAME",
                       type=_host_name_option,
                       help="another name this machine is reached by (a DNS alias), accepted "
                            "in the Host header besides its host name and IP addresses; "
                            "may be repeated")
    label.add_argument(
        "--blind", action=argparse.BooleanOptionalAction, default=None,
        help="blind labeling: the page shows clips as Clip 1, Clip 2, ... and never their file "
             "names or paths, which often give the class away (e.g. cough_012.wav). Stored "
             "with a new database, so resuming stays blind; on resume, --blind or --no-blind "
             "overrides it for this run (default: not blind)")
    label.add_argument(
        "--context", type=_non_negative_float, default=0.0, metavar="S",
        help="for windows of long recordings: also play S seconds of the recording before "
             "and after each window, to hear what it cuts into; the page marks which part "
             "of the player is the window (default: 0, the window alone, exactly what is "
             "labeled)")
    label.add_argument("--annotator", default=None, metavar="NAME",
                       help="name recorded with every label (default: your user name)")
    label.add_argument("--export-csv", default=None, metavar="FILE",
                       help="write the labels (position, path, label, annotator, time; for "
                            "windows of long recordings position, path, start, end, label, "
                            "annotator, time) to FILE and exit, without serving the page")
    label.add_argument("-v", "--verbose", action="count", default=0,
                       help="show embedding progress and log each request")
    _add_segment_options(
        label, title="long recordings: label windows instead of whole files",
        window_help="cut each audio file of POOL into windows of S seconds, each one pool "
                    "item (embedded when the database is created); give the same options "
                    "with POOL when resuming")
    label.set_defaults(func=run_label)


def _host_name_option(text):
    """``--allow-host``: a host name without scheme or port."""
    from ..labeling._server import _extra_host

    try:
        _extra_host(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a host name; give a name without scheme or port, e.g. "
            "labels.example.org") from None
    return text


def _label_pool(source, args, say):
    """What ``DurableSession`` takes as pool: an .npz or store path, a list of audio
    paths, or with --window a table of their windows."""
    if not os.path.exists(source):
        raise CLIError(f"POOL {source!r} does not exist")
    embedded = ((os.path.isfile(source) and source.lower().endswith(".npz"))
                or _is_store(source))
    if embedded:
        if args.window is not None:
            raise CLIError(
                f"POOL {source!r} is already embedded, so --window cannot cut it; cut the "
                "recordings with 'skaloe embed RECORDINGS --window S', or give the audio "
                "folder or file list as POOL")
        return source
    paths, _, _, _ = _read_audio_input(source, "label")
    if args.window is None:
        return paths
    table, _, summary = _segment_input(paths, None, args, "label")
    say(f"skaloe label: {summary}")
    return table


def _items(session):
    return "windows" if session.is_segments else "clips"


def _print_access_note(server):
    """Say on stderr when the page needs its token, and who can reach it."""
    import ipaddress
    import socket

    if server.token is None:
        return
    note = "skaloe label: note: "
    if server.local_only:
        print(note + "the address below carries a secret token that every request must send",
              file=sys.stderr)
        return
    print(note + f"serving on {server.host}, reachable from other machines: the address "
          "below carries a secret token that every request must send; anyone who has it can "
          "listen to the clips and label them, so share it with labelers only",
          file=sys.stderr)
    try:
        unspecified = ipaddress.ip_address(server.host).is_unspecified
    except ValueError:
        unspecified = False
    if unspecified:
        print(note + f"from another machine, replace {server.host} with this machine's name "
              f"({socket.gethostname()}) or one of its IP addresses", file=sys.stderr)


def run_label(args, out=None, *, ready=None):
    """The ``label`` command: serve the labeling page of a durable session.

    ``ready`` (for tests) is called with the server once it listens.
    """
    out = sys.stdout if out is None else out
    from ..labeling import (
        DamagedSessionError,
        DurableSession,
        LabelServer,
        SessionLockedError,
        export_labels,
    )

    def say(text):
        print(text, file=out, flush=True)

    db = os.fspath(args.db)
    if args.annotator is not None and not args.annotator.strip():
        raise CLIError("--annotator must not be empty")
    _check_segment_options(args)
    settings = {"classes": args.classes, "batch_size": args.batch_size,
                "query_strategy": args.query_strategy, "selection": args.selection,
                "random_state": args.random_state}
    if os.path.isfile(db) and os.path.getsize(db) > 0:
        if args.pool is None and args.window is not None:
            raise CLIError(f"--window cuts the recordings of POOL, but no POOL is given; "
                           f"{db} keeps its windows, so drop --window to resume (or give "
                           "POOL with the options it was created with)")
        pool = None if args.pool is None else _label_pool(args.pool, args, say)
        try:
            session = DurableSession(db, pool=pool, annotator=args.annotator)
        except (SessionLockedError, DamagedSessionError) as exc:
            if args.export_csv is None:
                raise CLIError(str(exc)) from None
            # Read the label log only: works while another process labels, and
            # on a file whose stored embeddings are damaged.
            n = export_labels(db, args.export_csv)
            say(f"skaloe label: {exc.__class__.__name__}: the session cannot be opened, but "
                f"{_plural(n, 'label')} were read from its log and written to "
                f"{args.export_csv}")
            return 0
        try:
            for name, value in settings.items():
                stored = getattr(session, name)
                if value is not None and value != stored:
                    shown = ",".join(stored) if name == "classes" else stored
                    raise CLIError(
                        f"{db} was created with --{name.replace('_', '-')} {shown}; drop the "
                        "option to resume, or give a new --db for a new session")
            if args.val_input is not None:
                raise CLIError(
                    f"--val-input is only read when a database is created; {db} already "
                    "exists (drop the option to resume)")
        except BaseException:
            session.close()
            raise
        say(f"skaloe label: resuming {db}: {len(session.labels())} labels of "
            f"{session.n_pool} {_items(session)}")
    else:
        if args.export_csv is not None:
            raise CLIError(f"no database {db!r} to export from")
        if args.pool is None:
            raise CLIError(f"POOL is required to create the new database {db!r}")
        if args.classes is None:
            raise CLIError(
                f"--classes is required to create the new database {db!r} "
                "(e.g. --classes dog,cat,bird)")
        pool = _label_pool(args.pool, args, say)
        validation = None
        if args.val_input is not None:
            if isinstance(pool, str):
                raise CLIError("--val-input takes audio, but POOL is already embedded (an "
                               ".npz or a store); give POOL as audio to use a validation set")
            val_paths, val_labels, val_names, _ = _read_audio_input(args.val_input, "label")
            if val_labels is None:
                raise CLIError(
                    f"--val-input {args.val_input!r} has no labels; use one subfolder per "
                    "class or path<TAB>label lines")
            validation = (val_paths, [val_names[k] for k in val_labels])
        t0 = time.perf_counter()
        session = DurableSession.create(
            db, pool, args.classes, validation=validation, model=args.model,
            cache=args.cache, n_jobs=args.n_jobs, batch_size=args.batch_size,
            query_strategy=args.query_strategy or "margin",
            selection=args.selection or "class-aware",
            random_state=0 if args.random_state is None else args.random_state,
            annotator=args.annotator, blind=bool(args.blind),
        )
        say(f"skaloe label: created {db}: {session.n_pool} {_items(session)} embedded in "
            f"{time.perf_counter() - t0:.1f} s, classes {', '.join(session.classes)}")
    try:
        if args.export_csv is not None:
            n = session.export_csv(args.export_csv)
            say(f"skaloe label: {_plural(n, 'label')} written to {args.export_csv}")
            return 0
        try:
            server = LabelServer(session, args.host, args.port, annotator=args.annotator,
                                 verbose=bool(args.verbose), require_token=args.token or None,
                                 extra_hosts=args.allow_host, blind=args.blind,
                                 context=args.context)
        except OSError as exc:
            raise CLIError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}"
                           ) from None
        _print_access_note(server)
        if server.blind:
            say("skaloe label: blind labeling: the page shows no file names or paths"
                + (" (the windows' times are shown)" if session.is_segments else ""))
        if session.is_segments:
            say("skaloe label: each window is played alone" if not args.context else
                f"skaloe label: each window is played with {args.context:g} s of its "
                "recording before and after")
        elif args.context:
            print("skaloe label: note: --context applies to windows of long recordings; "
                  "this session's clips are played whole", file=sys.stderr)
        say(f"skaloe label: open {server.url} to label (Ctrl+C to stop; every label is "
            f"saved in {db} as you go)")
        try:
            if ready is not None:
                ready(server)
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        say(f"skaloe label: stopped with {_plural(len(session.labels()), 'label')} in {db}")
        return 0
    finally:
        session.close()
