"""A local web page for a :class:`~skaloe.labeling.DurableSession` (standard library only).

Routes (nothing else is served; no route takes a file path):

- ``GET /`` the page; ``GET /static/app.js``, ``GET /static/style.css``;
- ``GET /api/state`` the queue, the classes and the progress, as JSON;
- ``GET /clip/<id>`` the clip ``id`` as WAV: its pool position, or in blind
  mode the random number the page was given for it; for a segment of a long
  recording, the segment's samples alone, with ``context`` seconds each side;
- ``GET /labels.csv`` the labels in force;
- ``POST /api/label`` with ``{"id": <int>, "label": <class name>}``;
- ``POST /api/undo`` with ``{}``.

Errors are JSON ``{"error": "..."}`` with a 4xx status: 400 malformed
request, 403 foreign Host or Origin or a missing access token, 404 unknown
route or clip, 405 wrong method, 409 conflict (clip already labeled, nothing
to undo), 411/413 missing or oversized body, 415 a body that is not JSON.

A server reachable from other machines has an access token: every request
but the page itself (``/`` and its two static files) must carry it, as the
``X-Skaloe-Token`` header or the ``token`` query parameter.

In blind mode no answer names a clip's file: the state calls clips "Clip 1",
"Clip 2"... in the order they were first shown, their ids are random numbers
(pool positions can give the class away too, in a pool read class folder by
class folder), WAV files are sent without their metadata chunks, the CSV has
no ``path`` column, and errors about a clip's file say only that it cannot be
played. A segment's times in its recording are still shown (they name no
file), not its recording's name.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import numbers
import os
import re
import secrets
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

__all__ = ["LabelServer"]

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
_MAX_BODY = 16 * 1024
_WRITE_CHUNK = 64 * 1024
_CLIP = re.compile(r"/clip/([^/]*)")
_API_POST = ("/api/label", "/api/undo")
_API_GET = ("/api/state", "/labels.csv")
_TOKEN_HEADER = "X-Skaloe-Token"
# Blind mode's clip ids: 12 digits (the clip route takes up to 12), drawn at
# random so that an id says nothing about the clip and the page of an earlier
# server (other ids) cannot label a clip by mistake.
_BLIND_ID_LOW, _BLIND_ID_HIGH = 10**11, 10**12
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# A Host header or an origin's host[:port]: a name or an IPv4 address, or an
# IPv6 address in brackets; nothing else (no user info, no path).
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::([0-9]{1,5}))?")


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_ip_address(name):
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _host_name(name):
    """A host name as the Host check compares it: lower case, IPv6 without brackets."""
    name = name.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return ipaddress.ip_address(name).compressed
    except ValueError:
        return name


def _parse_host(value):
    """The ``(name, port)`` of a Host header value; None when it is malformed.

    ``name`` is compared as :func:`_host_name` writes it; ``port`` is None when
    the value has none.
    """
    if value is None:
        return None
    match = _HOST.fullmatch(value.strip().lower())
    if match is None:
        return None
    name, port = match.groups()
    if name.startswith("[") and not _is_ip_address(name[1:-1]):
        return None
    return _host_name(name), (None if port is None else int(port))


def _host_allowed(host, port, names, *, any_address=False):
    """Whether a request's Host header names this server.

    Parameters
    ----------
    host : str or None
        The Host header (``name``, ``name:port``, ``[ipv6]:port``).
    port : int
        The port the server listens on. A Host without a port means the
        default port of HTTP or HTTPS, so it is accepted on ports 80 and 443
        only.
    names : set of str
        The accepted names, as :func:`_host_name` writes them.
    any_address : bool, default=False
        Also accept any IP address literal. A browser sends one only when the
        user typed the address, never through DNS rebinding.

    Returns
    -------
    allowed : bool
    """
    parsed = _parse_host(host)
    if parsed is None:
        return False
    name, given_port = parsed
    if given_port is None:
        if port not in (80, 443):
            return False
    elif given_port != port:
        return False
    return name in names or (any_address and _is_ip_address(name))


def _extra_host(name):
    """A name given in ``extra_hosts``, as :func:`_host_name` writes it."""
    if isinstance(name, str):
        if _is_ip_address(name.strip().strip("[]")):
            return _host_name(name)
        parsed = _parse_host(name)
        if parsed is not None and parsed[1] is None:
            return parsed[0]
    raise ValueError(f"extra_hosts holds {name!r}, which is not a host name; give names "
                     "without scheme or port, e.g. 'labels.example.org'")


def _same_origin(origin, host):
    """Whether an Origin header names the same host and port as the Host header."""
    parts = urlsplit(origin)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    if default_port is None or parts.path or parts.query or parts.fragment:
        return False
    origin_host, host = _parse_host(parts.netloc), _parse_host(host)
    if origin_host is None or host is None:
        return False
    return ((origin_host[0], origin_host[1] or default_port)
            == (host[0], host[1] or default_port))


class _HTTPError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _load_static():
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
    files = {}
    for route, (name, content_type) in _STATIC.items():
        with open(os.path.join(folder, name), "rb") as f:
            files[route] = (f.read(), content_type)
    return files


class _Handler(BaseHTTPRequestHandler):
    server_version = "skaloe-label"
    protocol_version = "HTTP/1.1"

    # -- plumbing ----------------------------------------------------------

    def setup(self):
        # Every read and write on the connection gives up after this long:
        # an idle keep-alive connection, or a client that stops sending in
        # the middle of a request, is closed (TimeoutError, no answer).
        self.timeout = self.server.connection_timeout
        super().setup()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status, body, content_type, extra_headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; media-src 'self'; object-src 'none'; frame-ancestors 'none'",
        )
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            # In pieces: the connection timeout then bounds each wait for the
            # client to take more, not the whole transfer of a long clip.
            for start in range(0, len(body), _WRITE_CHUNK):
                self.wfile.write(body[start:start + _WRITE_CHUNK])

    def _json(self, status, payload, extra_headers=()):
        body = json.dumps(payload).encode()
        self._send(status, body, "application/json", extra_headers)

    def _error(self, status, message, extra_headers=()):
        self._json(status, {"error": message}, extra_headers)

    def _path(self):
        parts = urlsplit(self.path)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            raise _HTTPError(HTTPStatus.BAD_REQUEST, "malformed request target")
        self._check_token(parts)
        return parts.path

    def _check_host(self):
        """Refuse requests for another host name (DNS rebinding) or from another site."""
        server = self.server
        host = self.headers.get("Host")
        if not _host_allowed(host, server.port, server.allowed_hosts,
                             any_address=not server.local_only):
            raise _HTTPError(
                HTTPStatus.FORBIDDEN,
                f"unexpected Host header {host!r}; open the address printed by skaloe label "
                f"({server.url.split('?')[0]})")
        origin = self.headers.get("Origin")
        if origin is not None and self.command == "POST" and not _same_origin(origin, host):
            raise _HTTPError(HTTPStatus.FORBIDDEN, f"cross-origin request from {origin!r}")

    def _check_token(self, parts):
        """Refuse a request without the server's token, but for the page itself."""
        expected = self.server.token
        if expected is None or parts.path in self.server.static:
            return
        given = self.headers.get(_TOKEN_HEADER)
        if given is None:
            given = parse_qs(parts.query).get("token", [None])[-1]
        if given is None:
            raise _HTTPError(
                HTTPStatus.FORBIDDEN,
                "this server requires its access token: open the full address printed by "
                "skaloe label, which ends in ?token=...")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode()):
            raise _HTTPError(
                HTTPStatus.FORBIDDEN,
                "wrong access token: open the full address printed by skaloe label "
                "(a restarted server has a new token)")

    def _dispatch(self, handler):
        try:
            self._check_host()
            handler()
        except (ConnectionError, TimeoutError):
            raise  # the client went away or stalled: nobody to answer
        except _HTTPError as exc:
            if self.command == "POST":
                self.close_connection = True  # the body may be unread
            self._error(exc.status, str(exc))
        except Exception as exc:  # a bug or an unreadable clip: say so, keep serving
            self.log_error("error: %r", exc)
            if self.server.blind:  # the message may name a file
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR,
                            f"{type(exc).__name__} on the server (blind labeling hides the "
                            "details; run skaloe label with -v to log them)")
            else:
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}")

    def _method_not_allowed(self):
        path = urlsplit(self.path).path
        if path in _API_POST:
            allow = "POST"
        elif path in _STATIC or path in _API_GET or _CLIP.fullmatch(path):
            allow = "GET, HEAD"
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such page: {path}")
            return
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not allowed on {path}",
                    [("Allow", allow)])

    # -- methods -----------------------------------------------------------

    def do_GET(self):  # noqa: N802 - the base class's name
        self._dispatch(self._get)

    def do_HEAD(self):  # noqa: N802
        self._dispatch(self._get)

    def do_POST(self):  # noqa: N802
        self._dispatch(self._post)

    def do_PUT(self):  # noqa: N802
        self._method_not_allowed()

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT

    # -- routes ------------------------------------------------------------

    def _get(self):
        path = self._path()
        session = self.server.session
        if path in self.server.static:
            body, content_type = self.server.static[path]
            self._send(HTTPStatus.OK, body, content_type)
        elif path == "/api/state":
            self._json(HTTPStatus.OK, self.server.state())
        elif path == "/labels.csv":
            import csv
            import io

            out = io.StringIO()
            fields = list(session.csv_columns)
            if self.server.blind:
                fields.remove("path")
            writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(session.labels())
            self._send(HTTPStatus.OK, out.getvalue().encode(), "text/csv; charset=utf-8",
                       [("Content-Disposition", 'attachment; filename="labels.csv"')])
        elif (match := _CLIP.fullmatch(path)) is not None:
            text = match.group(1)
            if not re.fullmatch(r"[0-9]{1,12}", text):
                raise _HTTPError(HTTPStatus.BAD_REQUEST,
                                 f"a clip id is a number (digits), got {text!r}")
            position = self.server.clip_position(int(text))
            try:
                data = session.audio_bytes(position, audio_only=self.server.blind,
                                           context=self.server.context)
            except (IndexError, LookupError) as exc:
                if self.server.blind:  # the message names the file
                    self.log_error("clip %s: %s", text, exc)
                    raise _HTTPError(HTTPStatus.NOT_FOUND,
                                     f"the audio of clip {text} cannot be played") from None
                raise _HTTPError(HTTPStatus.NOT_FOUND, str(exc)) from None
            self._send(HTTPStatus.OK, data, "audio/wav")
        elif path in _API_POST:
            self._method_not_allowed()
        else:
            raise _HTTPError(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    def _read_json(self):
        if self.headers.get("Transfer-Encoding"):
            raise _HTTPError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            raise _HTTPError(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
        if not re.fullmatch(r"[0-9]{1,12}", length.strip()):
            raise _HTTPError(HTTPStatus.BAD_REQUEST, f"bad Content-Length {length!r}")
        length = int(length)
        if length > _MAX_BODY:
            self.close_connection = True  # the body is not read
            raise _HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                             f"the body is {length} bytes; at most {_MAX_BODY} are accepted")
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body = self.rfile.read(length)
        if content_type != "application/json":
            raise _HTTPError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                             "send the body as Content-Type: application/json")
        try:
            payload = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError):
            raise _HTTPError(HTTPStatus.BAD_REQUEST, "the body is not valid JSON") from None
        except RecursionError:
            raise _HTTPError(
                HTTPStatus.BAD_REQUEST,
                'the JSON body is nested too deeply; send one flat object such as '
                '{"id": 3, "label": "dog"}') from None
        if not isinstance(payload, dict):
            raise _HTTPError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return payload

    def _post(self):
        path = self._path()
        if path not in _API_POST:
            self._method_not_allowed()
            return
        payload = self._read_json()
        session = self.server.session
        with self.server.lock:
            if path == "/api/label":
                unknown = set(payload) - {"id", "label"}
                if unknown:
                    raise _HTTPError(HTTPStatus.BAD_REQUEST,
                                     f"unknown field {sorted(unknown)[0]!r}; send id and label")
                clip_id, label = payload.get("id"), payload.get("label")
                if type(clip_id) is not int:
                    raise _HTTPError(HTTPStatus.BAD_REQUEST,
                                     f"id must be an integer clip id, got {clip_id!r}")
                if not isinstance(label, str):
                    raise _HTTPError(HTTPStatus.BAD_REQUEST,
                                     f"label must be a class name (a string), got {label!r}")
                position = self.server.clip_position(clip_id)
                if label not in session.classes:
                    raise _HTTPError(HTTPStatus.BAD_REQUEST,
                                     f"unknown label {label!r}; choose one of {session.classes}")
                if session.learner_.labeled_mask_[position]:
                    raise _HTTPError(HTTPStatus.CONFLICT, f"clip {clip_id} is already labeled")
                session.label(position, label, annotator=self.server.annotator)
            else:
                if payload:
                    raise _HTTPError(HTTPStatus.BAD_REQUEST, "undo takes an empty JSON object")
                try:
                    session.undo(annotator=self.server.annotator)
                except LookupError as exc:
                    raise _HTTPError(HTTPStatus.CONFLICT, str(exc)) from None
            state = self.server.state()
        self._json(HTTPStatus.OK, state)


class LabelServer(ThreadingHTTPServer):
    """The labeling web page of a :class:`~skaloe.labeling.DurableSession`.

    A threading HTTP server (standard library): each connection is served by
    its own thread, at most ``max_connections`` at once, and one lock
    serialises every use of the session (its learner and its database). It
    serves the page, the pool clips by id and a JSON API; never a file named
    in a request.

    Parameters
    ----------
    session : DurableSession
        The session to label.
    host : str, default="127.0.0.1"
        The address to bind. The default accepts connections from this
        machine only. Another address (``0.0.0.0`` for every interface)
        lets other machines reach the page, and then an access token is
        required (see ``require_token``).
    port : int, default=0
        The port; 0 picks a free one (see ``url``).
    annotator : str, default=None
        Recorded with every label given through the page; None means the
        session's annotator.
    verbose : bool, default=False
        Log each request, time-outs and dropped connections to stderr.
    require_token : bool or None, default=None
        Whether every request but the page itself must carry the secret
        ``token`` (as the ``X-Skaloe-Token`` header or the ``token`` query
        parameter; the page passes it on from its own address). None
        requires it when ``host`` is not a loopback address, True on
        loopback too (for a machine shared with other users); False is
        refused for a non-loopback ``host``.
    extra_hosts : list of str, default=None
        More host names the page may be opened under (a DNS alias of this
        machine, say), besides those listed under ``allowed_hosts``.
    connection_timeout : float, default=30
        Seconds any read or write on a connection may wait. An idle
        connection (kept alive between requests, or opened and left silent)
        is closed after that long, as is one that stalls in the middle of a
        request.
    max_connections : int, default=64
        Connections served at once, one thread each. Further connections
        wait, unanswered, in the listen queue (``request_queue_size``, 128)
        until one of them closes.
    blind : bool or None, default=None
        Blind labeling: the page never gets a clip's file name or path, in
        its state, its addresses, the audio or the CSV; clips are shown as
        "Clip 1", "Clip 2"... in the order they come up, with random ids.
        Labelers who see names such as ``cough_012.wav`` label by the name.
        None means the session's own setting (``session.blind``, chosen at
        :meth:`DurableSession.create`). The times of a segment in its
        recording are still shown, not the recording's name.
    context : float, default=0.0
        For pool items that are segments of long recordings: seconds of the
        recording played before and after each segment (clipped to the
        recording). The page says which part of the player is the segment.

    Attributes
    ----------
    url : str
        The page's address, with the token when one is required, e.g.
        ``http://127.0.0.1:8765/`` or ``http://0.0.0.0:8765/?token=...``.
    token : str or None
        The access token (``secrets.token_urlsafe``, new at each start), or
        None when none is required.
    allowed_hosts : frozenset of str
        The names accepted in the Host header (with the server's port, or
        without one on ports 80 and 443): ``localhost``, ``127.0.0.1``,
        ``::1`` and ``host``; when ``host`` is not loopback, also this
        machine's host name (``socket.gethostname()``), ``extra_hosts``,
        and any IP address literal (a browser sends one only when the user
        typed it, never through DNS rebinding).
    local_only : bool
        Whether ``host`` is a loopback address (this machine only).
    blind : bool
        Whether file names are hidden from the page.
    context : float
        Seconds played around each segment.
    lock : threading.RLock
        Held around every use of the session.

    Examples
    --------
    >>> server = LabelServer(session)            # doctest: +SKIP
    >>> print(server.url)                        # doctest: +SKIP
    http://127.0.0.1:40123/
    >>> server.serve_forever()                   # doctest: +SKIP
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, session, host="127.0.0.1", port=0, *, annotator=None, verbose=False,
                 require_token=None, extra_hosts=None, connection_timeout=30,
                 max_connections=64, blind=None, context=0.0):
        if (not isinstance(connection_timeout, numbers.Real)
                or isinstance(connection_timeout, bool)
                or not 0 < connection_timeout < float("inf")):
            raise ValueError(f"connection_timeout must be a positive number of seconds, got "
                             f"{connection_timeout!r}")
        if (not isinstance(max_connections, numbers.Integral) or isinstance(max_connections, bool)
                or max_connections < 1):
            raise ValueError(f"max_connections must be a positive integer, got "
                             f"{max_connections!r}")
        if (not isinstance(context, numbers.Real) or isinstance(context, bool)
                or not 0 <= context < float("inf")):
            raise ValueError(f"context must be a number of seconds >= 0, got {context!r}")
        if blind is None:
            blind = bool(getattr(session, "blind", False))
        elif not isinstance(blind, bool):
            raise ValueError(f"blind must be True, False or None, got {blind!r}")
        bound = host.strip("[]")
        local = _is_loopback(bound)
        if require_token is None:
            require_token = not local
        elif not require_token and not local:
            raise ValueError(
                f"host {host!r} is reachable from other machines, so the access token is "
                "required; use require_token=None or True, or serve on 127.0.0.1")
        names = set(_LOOPBACK_NAMES) | {_host_name(bound)}
        if not local:
            names.add(_host_name(socket.gethostname()))
        if isinstance(extra_hosts, str):
            raise TypeError(f"extra_hosts must be a list of host names, got the string "
                            f"{extra_hosts!r}")
        names.update(_extra_host(name) for name in extra_hosts or ())
        if ":" in bound:
            self.address_family = socket.AF_INET6
        self.session = session
        self.annotator = annotator
        self.verbose = verbose
        self.connection_timeout = float(connection_timeout)
        self.max_connections = int(max_connections)
        self.lock = threading.RLock()
        self.static = _load_static()
        self.local_only = local
        self.token = secrets.token_urlsafe(24) if require_token else None
        self.allowed_hosts = frozenset(names)
        self.blind = blind
        self.context = float(context)
        # Blind mode: position -> (random id, number shown as "Clip <number>"),
        # and id -> position, for the clips the page has been shown.
        self._shown = {}
        self._positions = {}
        self._slots = threading.BoundedSemaphore(self.max_connections)
        self._stopping = threading.Event()
        super().__init__((bound, port), _Handler)
        self.host = bound
        self.port = self.server_address[1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{self.port}/"
        if self.token is not None:
            self.url += f"?token={self.token}"

    # -- one thread per connection, at most max_connections -----------------

    def process_request(self, request, client_address):
        """Serve a connection in a new thread once fewer than ``max_connections`` run.

        Waiting here stops accepting: further connections wait in the listen
        queue.
        """
        while not self._slots.acquire(timeout=0.1):
            if self._stopping.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address):
        """A client that resets or stalls is no error of the server: log it only when verbose."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            if self.verbose:
                sys.stderr.write(f"connection from {client_address[0]} dropped: {error!r}\n")
            return
        super().handle_error(request, client_address)

    def shutdown(self):
        """Stop :meth:`serve_forever`, also while it waits for a free connection slot."""
        self._stopping.set()
        super().shutdown()

    def clip_id(self, position):
        """The id the page knows a clip by: its position, or in blind mode a random number.

        Parameters
        ----------
        position : int

        Returns
        -------
        id : int
        """
        return self._blind_clip(position)[0] if self.blind else position

    def clip_position(self, clip_id):
        """The pool position of a clip id the page sent; an HTTP 404 when there is none.

        In blind mode only ids handed out by :meth:`state` are known.
        """
        if not self.blind:
            if not 0 <= clip_id < self.session.n_pool:
                raise _HTTPError(HTTPStatus.NOT_FOUND, f"clip {clip_id} is not in the pool")
            return clip_id
        with self.lock:
            position = self._positions.get(clip_id)
        if position is None:
            raise _HTTPError(HTTPStatus.NOT_FOUND,
                             f"no clip has the id {clip_id} on this server; reload the page "
                             "(a restarted server gives the clips new ids)")
        return position

    def _blind_clip(self, position):
        with self.lock:
            if position not in self._shown:
                while True:
                    clip_id = _BLIND_ID_LOW + secrets.randbelow(_BLIND_ID_HIGH - _BLIND_ID_LOW)
                    if clip_id not in self._positions:
                        break
                self._shown[position] = (clip_id, len(self._shown) + 1)
                self._positions[clip_id] = position
            return self._shown[position]

    def _clip_name(self, position):
        if self.blind:
            return f"Clip {self._blind_clip(position)[1]}"
        return self.session.clip_name(position)

    def _segment(self, position):
        """Where a segment lies in its recording, and in its player; None for a clip."""
        from ._core import format_clock

        session = self.session
        bounds = session.segment(position)
        if bounds is None:
            return None
        start, end = bounds
        play_start, play_end = session.played_span(position, self.context)
        return {
            "start": start, "end": end,
            "times": f"{format_clock(start)}–{format_clock(end)}",
            "recording": None if self.blind else session.clip_name(position),
            "play_start": play_start, "play_end": play_end,
            "before": start - play_start, "after": play_end - end,
        }

    def state(self):
        """The JSON the page shows: queue, classes and progress.

        Each clip in the queue has its ``id``, ``name`` (its file name, or
        "Clip <n>" in blind mode), ``audio`` (whether it can be played),
        ``duration`` (seconds, from its file's header; None if unknown) and
        ``segment``: None for a whole clip; for a segment of a long recording
        a dict with ``start`` and ``end`` (seconds in the recording),
        ``times`` (the same as ``h:mm:ss.s–h:mm:ss.s``), ``recording`` (its
        file name; None in blind mode), ``play_start`` and ``play_end`` (the
        part of the recording the player holds: the segment with ``context``
        seconds each side, clipped to the recording), ``before`` and
        ``after`` (the seconds of context the player holds on each side).
        ``progress["last"]`` names the latest label's clip the same way.
        ``segments`` says whether the pool items are segments of long
        recordings, and ``context`` how many seconds are played around each.

        Returns
        -------
        state : dict
        """
        session = self.session
        with self.lock:
            queue = [
                {"id": self.clip_id(position), "name": self._clip_name(position),
                 "audio": bool(session.paths[position]),
                 "duration": session.clip_duration(position),
                 "segment": self._segment(position)}
                for position in session.next_batch()
            ]
            progress = session.progress()
            last = progress["last"]
            if last is not None:
                last["name"] = self._clip_name(last["position"])
                last["segment"] = self._segment(last["position"])
                if self.blind:
                    del last["position"]
            return {
                "classes": session.classes,
                "queue": queue,
                "progress": progress,
                "annotator": self.annotator or session.annotator,
                "blind": self.blind,
                "segments": session.is_segments,
                "context": self.context,
            }
