"""The ``skaloe`` command line.

One module per command, each with ``add_parser(sub)`` and ``run_<command>(args)``:
``_demo`` (``skaloe demo``, the offline main job on synthetic speech), ``_embed``
(``skaloe embed``, audio in, an embeddings file or a store folder out),
``_simulate`` (``skaloe simulate``, ALOE's simulated active learning),
``_label`` (``skaloe label``, the labeling page) and ``_timeline``
(``skaloe timeline``, the events of labeled long recordings). ``_parser`` holds what they
share (option types, the parser class, the encoder options) and ``_inputs`` the
audio forms of INPUT. Embeddings files and the labels of a store are read and
written by :mod:`skaloe.datasets` only.

**Which errors are the user's.** :func:`main` prints an exception as one line,
``skaloe <command>: error: <message>``, and returns 2 when its type is in
:data:`USER_ERRORS`:

* :class:`CLIError`, raised by the command line's own checks of options and
  inputs;
* :class:`ValueError`, which skaloe, scikit-learn and NumPy raise for a value or
  a file that is not what they take (an unknown model name, an undecodable
  clip, an embeddings file that is not in skaloe's format, ...);
* :class:`OSError` (``FileNotFoundError``, ``PermissionError``, a full disk, an
  unreachable server, :class:`~skaloe.encoders.ModelUnavailableError`): the
  state of the machine, not of the code;
* :class:`ImportError`: an optional dependency that is not installed (the
  message says which extra to install).

Every other exception (``TypeError``, ``AttributeError``, ``KeyError``,
``IndexError``, ``RuntimeError``, ``AssertionError``, ...) is a bug in skaloe or
in a library it calls, which the user cannot fix by changing the command: it
propagates with its traceback, to be reported. The rule goes by type, so a
bug that raises a ``ValueError`` is shown as one line too; in exchange, every
message that skaloe writes for bad input reaches the user without a
traceback. Library errors that are the user's under another type are turned
into :class:`CLIError` where they are caught: a locked or damaged labeling
session, a failed shard of ``skaloe embed --dask``, a Dask cluster that cannot
start. Ctrl-C prints one line and returns 130; a bad option is argparse's one
line, with exit code 2.
"""

from __future__ import annotations

import sys

from . import _demo, _embed, _label, _simulate, _timeline
from ._demo import run_demo
from ._embed import run_embed
from ._label import run_label
from ._parser import CLIError, _one_line, _Parser
from ._simulate import run_simulate
from ._timeline import run_timeline

__all__ = [
    "USER_ERRORS",
    "CLIError",
    "main",
    "run_demo",
    "run_embed",
    "run_label",
    "run_simulate",
    "run_timeline",
]

#: The exception types that :func:`main` reports as one line (exit code 2)
#: instead of a traceback: errors in what the user gave, not in the code.
USER_ERRORS = (CLIError, ValueError, OSError, ImportError)


def _version():
    from .._version import __version__

    return f"skaloe {__version__}"


def _build_parser():
    parser = _Parser(
        prog="skaloe",
        description="Active learning on audio with frozen pretrained encoders.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in (_demo, _embed, _simulate, _label, _timeline):
        command.add_parser(sub)
    return parser


def main(argv=None):
    """Entry point of the ``skaloe`` console script.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after ``skaloe``; None reads them from ``sys.argv``.

    Returns
    -------
    exit_code : int
        0 on success, 2 for a user error (one of :data:`USER_ERRORS`, printed
        as one line on stderr) or a missing command, 130 after Ctrl-C. Any
        other exception propagates with its traceback.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        message = _one_line(exc) or type(exc).__name__
        print(f"skaloe {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"skaloe {args.command}: interrupted", file=sys.stderr)
        return 130
