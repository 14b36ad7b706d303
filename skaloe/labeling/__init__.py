"""Labeling sessions: durable ones with the ``skaloe label`` web page, and in a notebook.

:class:`DurableSession` binds a pool of clips to an SQLite file that records
every label the moment it is given (with who and when); a session resumes
exactly where it stopped, even after a crash. :class:`LabelServer` serves a
local web page for it: the queried clips with audio players, label buttons
and keyboard shortcuts, progress and undo. :class:`LabelingSession` labels
in memory, in a notebook, with a player and buttons per clip (ipywidgets).

Importing this module imports neither the encoders nor the web server's
static files; both are loaded when used.
"""

from ._database import DamagedSessionError, SessionLockedError
from ._notebook import SKIP, LabelingSession
from ._server import LabelServer
from ._session import DurableSession, export_labels

__all__ = [
    "SKIP", "DamagedSessionError", "DurableSession", "LabelServer", "LabelingSession",
    "SessionLockedError", "export_labels",
]
