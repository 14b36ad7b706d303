"""``skaloe label``: the local labeling page, over HTTP and in headless Chromium."""

import io
import json
import os
import shutil
import socket
import sqlite3
import threading
import urllib.error
import urllib.request
from http.client import HTTPConnection

import numpy as np
import pytest

from ci_support import require, unavailable
from server_support import start_server, stop_server
from skaloe.cli import main
from skaloe.labeling import DurableSession, LabelServer

CLASSES = ["dog", "cat", "bird"]


def _write_clips(folder, n=12):
    import soundfile as sf
    rng = np.random.default_rng(0)
    t = np.arange(3200) / 16000  # 0.2 s
    paths = []
    for i in range(n):
        freq = (250, 700, 1600)[i % 3]
        x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.normal(size=t.size)
        path = folder / f"clip{i:02d}.wav"
        sf.write(path, x.astype(np.float32), 16000)
        paths.append(str(path))
    list_file = folder / "pool.txt"
    list_file.write_text("".join(f"{os.path.basename(p)}\n" for p in paths))
    return paths, str(list_file)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """12 tiny WAV clips and a file list of them, shared by this module's tests."""
    folder = tmp_path_factory.mktemp("clips")
    return _write_clips(folder)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One embedding cache: the clips are embedded once for all these tests."""
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def served(clips, cache, tmp_path):
    paths, _ = clips
    session = DurableSession.create(tmp_path / "s.sqlite", paths, CLASSES, random_state=0,
                                    cache=cache, annotator="tester")
    server, thread = start_server(session)
    yield server, session
    stop_server(server, thread)
    session.close()


def _request(server, method, path, body=None, headers=None):
    conn = HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


# -- HTTP ------------------------------------------------------------------------


def test_state_label_undo_and_clips_over_http(served):
    server, session = served
    with urllib.request.urlopen(server.url + "api/state", timeout=10) as r:
        state = json.load(r)
    assert state["classes"] == CLASSES and len(state["queue"]) == 3
    first = state["queue"][0]["id"]
    with urllib.request.urlopen(f"{server.url}clip/{first}", timeout=10) as r:
        assert r.headers["Content-Type"] == "audio/wav"
        assert r.read() == open(session.paths[first], "rb").read()
    status, _, body = _request(server, "POST", "/api/label", {"id": first, "label": "cat"})
    assert status == 200 and json.loads(body)["progress"]["n_labels"] == 1
    assert session.labels()[0]["label"] == "cat"
    assert session.labels()[0]["annotator"] == "tester"
    status, _, _ = _request(server, "POST", "/api/label", {"id": first, "label": "dog"})
    assert status == 409  # already labeled
    status, _, body = _request(server, "POST", "/api/undo", {})
    assert status == 200 and json.loads(body)["progress"]["n_labels"] == 0
    assert _request(server, "POST", "/api/undo", {})[0] == 409  # nothing left to undo
    status, headers, body = _request(server, "GET", "/labels.csv")
    assert status == 200 and body.decode().startswith("position,path,label,annotator,time")
    status, headers, body = _request(server, "GET", "/")
    assert status == 200 and b"<script src=\"/static/app.js\">" in body
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Cross-Origin-Resource-Policy"] == "same-origin"


@pytest.mark.parametrize("method, path, body, headers, expected", [
    ("GET", "/clip/abc", None, None, 400),
    ("GET", "/clip/-1", None, None, 400),
    ("GET", "/clip/12", None, None, 404),
    ("GET", "/clip/99999999999", None, None, 404),
    ("GET", "/clip/", None, None, 400),
    ("GET", "/clip/1/2", None, None, 404),
    ("GET", "/clip/..%2F..%2Fetc%2Fpasswd", None, None, 400),
    ("GET", "/static/../../../etc/passwd", None, None, 404),
    ("GET", "/static/app.py", None, None, 404),
    ("GET", "/etc/passwd", None, None, 404),
    ("GET", "/file?path=/etc/passwd", None, None, 404),
    ("GET", "http://example.com/", None, None, 400),
    ("GET", "/api/label", None, None, 405),
    ("PUT", "/api/state", None, None, 405),
    ("DELETE", "/clip/1", None, None, 405),
    ("POST", "/api/state", {}, None, 405),
    ("POST", "/api/label", b"{not json", {"Content-Type": "application/json"}, 400),
    ("POST", "/api/label", b"[1, 2]", {"Content-Type": "application/json"}, 400),
    ("POST", "/api/label", b'{"id": 1, "label": "dog"}', {"Content-Type": "text/plain"}, 415),
    ("POST", "/api/label", {"id": "1", "label": "dog"}, None, 400),
    ("POST", "/api/label", {"id": 1.0, "label": "dog"}, None, 400),
    ("POST", "/api/label", {"id": True, "label": "dog"}, None, 400),
    ("POST", "/api/label", {"id": 1, "label": "wolf"}, None, 400),
    ("POST", "/api/label", {"id": 1, "label": 3}, None, 400),
    ("POST", "/api/label", {"id": 1}, None, 400),
    ("POST", "/api/label", {"id": 1, "label": "dog", "path": "/etc/passwd"}, None, 400),
    ("POST", "/api/label", {"id": 12, "label": "dog"}, None, 404),
    ("POST", "/api/label", {"id": -1, "label": "dog"}, None, 404),
    ("POST", "/api/undo", {"everything": True}, None, 400),
    ("POST", "/api/label", b"x" * 20000, {"Content-Type": "application/json"}, 413),
    ("GET", "/api/state", None, {"Host": "evil.example:80"}, 403),
    ("POST", "/api/label", {"id": 1, "label": "dog"}, {"Origin": "http://evil.example"}, 403),
    # A sandboxed iframe, a data: URL or a file:// page sends the opaque origin "null".
    ("POST", "/api/label", {"id": 1, "label": "dog"}, {"Origin": "null"}, 403),
    ("POST", "/api/undo", {}, {"Origin": "null"}, 403),
])
def test_malformed_or_foreign_requests_get_a_4xx(served, method, path, body, headers,
                                                   expected):
    server, session = served
    status, response_headers, data = _request(server, method, path, body, headers)
    assert status == expected, data
    assert "error" in json.loads(data)
    if status == 405:
        assert "Allow" in response_headers
    assert session.labels() == []  # nothing was labeled by a bad request


def test_missing_content_length_is_411(served):
    server, _ = served
    conn = HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", "/api/label")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    assert conn.getresponse().status == 411
    conn.close()


def test_only_pool_clips_are_served(served, tmp_path):
    server, session = served
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF....WAVEsecret")
    for target in (str(secret), "../secret.wav", "%2E%2E/secret.wav", "clip00.wav"):
        status, _, data = _request(server, "GET", "/clip/" + target)
        assert status in (400, 404) and b"secret" not in data.replace(b"secret.wav", b"")
    for i in range(session.n_pool):
        assert _request(server, "GET", f"/clip/{i}")[0] == 200


# -- what the page is told about each clip: durations, and nothing more in blind mode


LENGTHS = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5]  # seconds; one clip of each per class


def _class_named_pool(folder, classes=("cough", "sneeze")):
    """WAV files named after their class, in class folders, each titled with it too.

    The name, the folder and the WAV's LIST/INFO title all give the class
    away, as in many real collections. Returns ``(paths, seconds)``.
    """
    import soundfile as sf

    rng = np.random.default_rng(1)
    paths, seconds = [], []
    for name in classes:
        (folder / name).mkdir()
        for i, length in enumerate(LENGTHS):
            path = folder / name / f"{name}_{i:03d}.wav"
            with sf.SoundFile(path, "w", 16000, 1, subtype="PCM_16") as f:
                f.title = f"{name}-take-{i}"
                f.write(0.1 * rng.normal(size=int(length * 16000)))
            paths.append(str(path))
            seconds.append(length)
    return paths, seconds


def _blind_session(tmp_path, blind=True):
    paths, seconds = _class_named_pool(tmp_path)
    embeddings = np.random.default_rng(0).normal(size=(len(paths), 8)).astype(np.float32)
    session = DurableSession.create(tmp_path / "blind.sqlite", paths, ["cough", "sneeze"],
                                    embeddings=embeddings, batch_size=4, random_state=0,
                                    blind=blind)
    return session, paths, seconds


def test_state_gives_each_clip_its_duration_from_the_file_header(tmp_path):
    import soundfile as sf

    paths, seconds = _class_named_pool(tmp_path)
    flac = tmp_path / "other.flac"  # not a WAV: served decoded, timed from its header
    sf.write(flac, np.zeros(int(2.5 * 16000)), 16000)
    paths, seconds = paths + [str(flac)], seconds + [2.5]
    embeddings = np.random.default_rng(0).normal(size=(len(paths), 8)).astype(np.float32)
    session = DurableSession.create(tmp_path / "s.sqlite", paths, ["cough", "sneeze"],
                                    embeddings=embeddings, batch_size=4, random_state=0)
    server, thread = start_server(session)
    try:
        shown = {}
        while len(shown) < len(paths) - 1:  # label clips to see (nearly) the whole pool
            state = server.state()
            shown.update({clip["id"]: clip["duration"] for clip in state["queue"]})
            session.label(state["queue"][0]["id"], "cough")
        assert len(set(shown.values())) > 4
        for position, duration in shown.items():
            assert duration == pytest.approx(seconds[position], abs=1e-9), position
        assert session.clip_duration(len(paths) - 1) == pytest.approx(2.5)
    finally:
        stop_server(server, thread)
        session.close()
    # Unknown when the file is gone: None, not an error.
    os.remove(paths[0])
    with DurableSession(tmp_path / "s.sqlite") as session:
        assert session.clip_duration(0) is None
        assert session.clip_duration(1) == pytest.approx(seconds[1])


@pytest.mark.parametrize("how", ["stored", "server"])
def test_blind_mode_never_names_a_file(tmp_path, how):
    session, paths, seconds = _blind_session(tmp_path, blind=how == "stored")
    assert session.blind is (how == "stored")
    assert b"cough-take-0" in open(paths[0], "rb").read()  # the file's own title
    server, thread = start_server(session, **({"blind": True} if how == "server" else {}))
    answers = []

    def ask(method, path, body=None):
        status, headers, data = _request(server, method, path, body)
        answers.append(path.encode() + b" " + data + repr(headers).encode())
        return status, data

    try:
        assert server.blind
        status, data = ask("GET", "/api/state")
        state = json.loads(data)
        assert status == 200 and state["blind"] is True
        queue = state["queue"]
        assert [clip["name"] for clip in queue] == ["Clip 1", "Clip 2", "Clip 3", "Clip 4"]
        positions = session.next_batch()
        # Ids are random 12-digit numbers, not pool positions (which follow the folders).
        assert all(10**11 <= clip["id"] < 10**12 for clip in queue)
        assert [server.clip_position(clip["id"]) for clip in queue] == positions
        # Durations are still given.
        assert [clip["duration"] for clip in queue] == pytest.approx(
            [seconds[p] for p in positions])
        # The audio: the same samples, without the LIST/INFO title that names the class.
        import soundfile as sf

        for clip, position in zip(queue, positions):
            status, data = ask("GET", f"/clip/{clip['id']}")
            assert status == 200 and b"LIST" not in data and b"INAM" not in data
            served, rate = sf.read(io.BytesIO(data), dtype="int16")
            original, _ = sf.read(paths[position], dtype="int16")
            assert rate == 16000 and np.array_equal(served, original)
            assert ask("HEAD", f"/clip/{clip['id']}")[0] == 200
        # A pool position is no id in blind mode, for the audio or for a label.
        assert ask("GET", f"/clip/{positions[0]}")[0] == 404
        status, _ = ask("POST", "/api/label", {"id": positions[0], "label": "cough"})
        assert status == 404 and session.labels() == []
        # Labeling by id; the latest label is named like the page names it.
        status, data = ask("POST", "/api/label", {"id": queue[1]["id"], "label": "sneeze"})
        assert status == 200 and session.labels()[0]["position"] == positions[1]
        last = json.loads(data)["progress"]["last"]
        assert last["name"] == "Clip 2" and "position" not in last
        assert ask("POST", "/api/label", {"id": queue[1]["id"], "label": "cough"})[0] == 409
        # The CSV the page offers has no path column.
        status, data = ask("GET", "/labels.csv")
        assert status == 200 and data.decode().splitlines()[0] == "position,label,annotator,time"
        # A clip whose file is gone: an error that does not name it.
        gone = json.loads(ask("GET", "/api/state")[1])["queue"][0]
        os.remove(paths[server.clip_position(gone["id"])])
        status, data = ask("GET", f"/clip/{gone['id']}")
        assert status == 404 and "cannot be played" in json.loads(data)["error"]
        for path in ("/", "/static/app.js", "/static/style.css"):
            ask("GET", path)
    finally:
        stop_server(server, thread)
        session.close()
    everything = b"\n".join(answers)
    for path in paths:
        for part in (os.path.basename(path), os.path.splitext(os.path.basename(path))[0]):
            assert part.encode() not in everything, part
    for secret in (str(tmp_path).encode(), b".wav", b"cough_", b"sneeze_", b"-take-"):
        assert secret not in everything, secret


def test_not_blind_the_page_gets_names_and_positions(tmp_path):
    session, paths, _ = _blind_session(tmp_path, blind=False)
    server, thread = start_server(session)
    try:
        assert server.blind is False
        state = server.state()
        assert state["blind"] is False
        assert [clip["id"] for clip in state["queue"]] == session.next_batch()
        assert [clip["name"] for clip in state["queue"]] == [
            os.path.basename(paths[p]) for p in session.next_batch()]
        first = state["queue"][0]["id"]
        assert _request(server, "GET", f"/clip/{first}")[2] == open(paths[first], "rb").read()
    finally:
        stop_server(server, thread)
        session.close()
    with pytest.raises(ValueError, match="blind must be True, False or None"):
        LabelServer(session, blind="yes")


# -- who may ask: the Host and Origin checks, the access token ------------------


@pytest.fixture
def served_everywhere(clips, cache, tmp_path):
    """A server bound to 0.0.0.0 (reachable from other machines), asked on 127.0.0.1."""
    paths, _ = clips
    session = DurableSession.create(tmp_path / "s.sqlite", paths, CLASSES, random_state=0,
                                    cache=cache, annotator="tester")
    server, thread = start_server(session, "0.0.0.0")
    yield server, session
    stop_server(server, thread)
    session.close()


def test_a_server_reachable_from_elsewhere_requires_its_token(served_everywhere):
    server, session = served_everywhere
    token = server.token
    assert isinstance(token, str) and len(token) >= 32
    assert server.url == f"http://0.0.0.0:{server.port}/?token={token}"
    first = server.state()["queue"][0]["id"]
    answers = []

    def ask(method, path, body=None, headers=None):
        status, _, data = _request(server, method, path, body, headers)
        answers.append(data)
        return status, data

    # The page itself (the same for everyone, no data) loads without the token.
    for path in ("/", "/static/app.js", "/static/style.css"):
        assert ask("GET", path)[0] == 200
    # Everything that reads or changes the session needs it.
    for method, path, body in [("GET", "/api/state", None), ("GET", f"/clip/{first}", None),
                               ("GET", "/labels.csv", None), ("HEAD", "/api/state", None),
                               ("POST", "/api/label", {"id": first, "label": "dog"}),
                               ("POST", "/api/undo", {}), ("GET", "/etc/passwd", None)]:
        status, data = ask(method, path, body)
        assert status == 403, (method, path)
        if method != "HEAD":
            assert "?token=" in json.loads(data)["error"]
        status, data = ask(method, path, body, {"X-Skaloe-Token": token[:-1] + "A"})
        assert status == 403
        status, data = ask(method, path + "?token=not-it", body)
        assert status == 403
    assert session.labels() == []
    # With the token, as a header (the page's API calls) or in the query (its audio).
    assert ask("GET", "/api/state", headers={"X-Skaloe-Token": token})[0] == 200
    assert ask("GET", f"/clip/{first}?token={token}")[0] == 200
    assert ask("GET", f"/labels.csv?token={token}")[0] == 200
    status, _ = ask("POST", "/api/label", {"id": first, "label": "dog"},
                    {"X-Skaloe-Token": token, "Origin": f"http://127.0.0.1:{server.port}"})
    assert status == 200 and len(session.labels()) == 1
    # The Host and Origin checks stay on, token or not.
    for headers in [{"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Origin": f"http://evil.example:{server.port}"},
                    {"Host": f"evil.example:{server.port}"},
                    {"Host": "127.0.0.1:1"}]:
        status, _ = ask("POST", "/api/undo", {}, {"X-Skaloe-Token": token, **headers})
        assert status == 403, headers
    assert len(session.labels()) == 1
    # Names this machine is reached by, and any IP address typed in the address bar.
    for host in (socket.gethostname(), "localhost", "127.0.0.1", "192.0.2.7", "[fe80::1]"):
        status, _ = ask("GET", "/api/state", headers={"X-Skaloe-Token": token,
                                                        "Host": f"{host}:{server.port}"})
        assert status == 200, host
    # No answer gives the token away.
    assert not any(token.encode() in data for data in answers)


def test_loopback_needs_no_token_unless_asked(served, clips, cache, tmp_path):
    server, session = served
    assert server.token is None and server.url == f"http://127.0.0.1:{server.port}/"
    guarded = LabelServer(session, "127.0.0.1", 0, require_token=True)
    try:
        assert guarded.url.endswith(f"/?token={guarded.token}")
    finally:
        guarded.server_close()
    with pytest.raises(ValueError, match="reachable from other machines"):
        LabelServer(session, "0.0.0.0", 0, require_token=False)
    with pytest.raises(ValueError, match="not a host name"):
        LabelServer(session, "0.0.0.0", 0, extra_hosts=["http://labels.example.org"])


@pytest.mark.parametrize("port", [80, 443])
def test_host_check_on_the_default_ports_accepts_a_host_without_port(port):
    from skaloe.labeling._server import _LOOPBACK_NAMES, _host_allowed, _same_origin

    names = _LOOPBACK_NAMES
    for host in ("127.0.0.1", "localhost", "[::1]", "LocalHost", "localhost.",
                 f"127.0.0.1:{port}", f"localhost:{port}"):
        assert _host_allowed(host, port, names), host
    for host in ("127.0.0.1:8765", "evil.example", f"evil.example:{port}", "127.0.0.2",
                 "user@127.0.0.1", "127.0.0.1/", "[::1", "", None, "192.0.2.7"):
        assert not _host_allowed(host, port, names), host
    assert _same_origin("http://127.0.0.1", "127.0.0.1")
    assert _same_origin("http://localhost:80", "localhost")
    assert not _same_origin("https://127.0.0.1", "127.0.0.1:80")
    assert not _same_origin("http://evil.example", "127.0.0.1")


def test_host_check_elsewhere_takes_ip_addresses_but_not_other_names():
    from skaloe.labeling._server import _host_allowed

    names = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "labeling-box"}
    assert not _host_allowed("127.0.0.1", 8765, names)  # no port: 80, not this server
    for host in ("labeling-box:8765", "192.0.2.7:8765", "[2001:db8::1]:8765",
                 "0.0.0.0:8765"):
        assert _host_allowed(host, 8765, names, any_address=True), host
        assert not _host_allowed(host.replace("8765", "8766"), 8765, names, any_address=True)
    for host in ("evil.example:8765", "192.0.2.7.evil.example:8765", "[evil]:8765"):
        assert not _host_allowed(host, 8765, names, any_address=True), host
    assert not _host_allowed("192.0.2.7:8765", 8765, names)  # loopback servers: names only


# -- the command line ------------------------------------------------------------


def test_cli_creates_serves_resumes_and_exports(clips, cache, tmp_path, capsys):
    _, list_file = clips
    db = str(tmp_path / "labels.sqlite")
    seen = {}

    def label_two(server):
        def work():
            try:
                for label in ("dog", "bird"):
                    first = server.state()["queue"][0]["id"]
                    status, _, _ = _request(server, "POST", "/api/label",
                                            {"id": first, "label": label})
                    seen.setdefault("status", []).append(status)
            finally:
                server.shutdown()

        threading.Thread(target=work, daemon=True).start()

    from skaloe.cli import _build_parser, run_label

    args = _build_parser().parse_args(
        ["label", list_file, "--db", db, "--classes", "dog,cat,bird", "--port", "0",
         "--annotator", "cli", "--cache", cache])
    assert run_label(args, ready=label_two) == 0
    assert seen["status"] == [200, 200]
    out = capsys.readouterr().out
    assert "created" in out and "http://127.0.0.1:" in out and "2 labels" in out

    csv_path = tmp_path / "labels.csv"
    assert main(["label", "--db", db, "--export-csv", str(csv_path)]) == 0
    lines = csv_path.read_text().splitlines()
    assert len(lines) == 3 and lines[1].split(",")[2:4] == ["dog", "cli"]
    assert "resuming" in capsys.readouterr().out


def test_cli_blind_is_stored_and_resumes_blind(clips, cache, tmp_path, capsys):
    _, list_file = clips
    db = str(tmp_path / "blind.sqlite")
    seen = []

    def look(server):
        seen.append((server.blind, [clip["name"] for clip in server.state()["queue"]]))
        threading.Thread(target=server.shutdown, daemon=True).start()  # once it serves

    from skaloe.cli import _build_parser, run_label

    def run(*options):
        args = _build_parser().parse_args(["label", "--db", db, "--port", "0", *options])
        assert run_label(args, ready=look) == 0

    run(list_file, "--classes", "dog,cat,bird", "--cache", cache, "--blind")
    assert "blind labeling: the page shows no file names" in capsys.readouterr().out
    run()  # resumed without the flag: still blind
    run("--no-blind")  # the person running it may choose to see the names
    assert [blind for blind, _ in seen] == [True, True, False]
    assert seen[0][1] == seen[1][1] == ["Clip 1", "Clip 2", "Clip 3"]
    assert all(name.startswith("clip") and name.endswith(".wav") for name in seen[2][1])
    with DurableSession(db) as session:
        assert session.blind is True


def test_cli_on_every_interface_prints_the_address_with_its_token(clips, cache, tmp_path,
                                                                   capsys):
    _, list_file = clips
    seen = {}

    def ask(server):
        def work():
            try:
                plain = _request(server, "GET", "/api/state")[0]
                given = _request(server, "GET", "/api/state",
                                 headers={"X-Skaloe-Token": server.token})[0]
                seen["status"] = (plain, given)
                seen["token"] = server.token
            finally:
                server.shutdown()

        threading.Thread(target=work, daemon=True).start()

    from skaloe.cli import _build_parser, run_label

    args = _build_parser().parse_args(
        ["label", list_file, "--db", str(tmp_path / "l.sqlite"), "--classes", "dog,cat",
         "--host", "0.0.0.0", "--port", "0", "--cache", cache, "--allow-host", "labels.lan"])
    assert run_label(args, ready=ask) == 0
    assert seen["status"] == (403, 200)
    captured = capsys.readouterr()
    assert f"/?token={seen['token']} to label" in captured.out
    assert "reachable from other machines" in captured.err
    assert f"this machine's name ({socket.gethostname()})" in captured.err


def test_cli_refuses_an_allowed_host_that_is_no_host_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["label", "--db", str(tmp_path / "l.sqlite"), "--allow-host", "http://x.org/"])
    assert exc.value.code == 2
    assert "--allow-host: 'http://x.org/' is not a host name" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["label", "--db", "{db}"], "POOL is required"),
    (["label", "{list}", "--db", "{db}"], "--classes is required"),
    (["label", "{tmp}/missing.txt", "--db", "{db}", "--classes", "a,b"], "does not exist"),
    (["label", "{list}", "--db", "{db}", "--classes", "a"], "at least two classes"),
    (["label", "--db", "{db}", "--export-csv", "{tmp}/x.csv"], "no database"),
])
def test_cli_errors_are_one_line(clips, tmp_path, capsys, argv, message):
    _, list_file = clips
    argv = [a.format(db=tmp_path / "l.sqlite", list=list_file, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("skaloe label: error:") and message in err
    assert err.count("\n") == 1


def test_cli_resume_refuses_other_settings_and_pools(clips, cache, tmp_path, capsys):
    paths, list_file = clips
    db = str(tmp_path / "l.sqlite")
    DurableSession.create(db, paths, CLASSES, cache=cache).close()
    assert main(["label", "--db", db, "--batch-size", "5", "--export-csv",
                 str(tmp_path / "x.csv")]) == 2
    assert "created with --batch-size 3" in capsys.readouterr().err
    other = tmp_path / "other.txt"
    other.write_text(paths[0] + "\n")
    assert main(["label", str(other), "--db", db, "--export-csv", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "another pool" in err and "12 clips" in err and "1 audio file (" in err
    with pytest.raises(SystemExit) as exc:
        main(["label", list_file, "--db", db, "--query-strategy", "smart"])
    assert exc.value.code == 2 and "unknown query strategy 'smart'" in capsys.readouterr().err


def test_cli_help_is_complete(capsys):
    with pytest.raises(SystemExit):
        main(["label", "--help"])
    out = capsys.readouterr().out
    for option in ("--db", "--classes", "--model", "--cache", "--val-input", "--batch-size",
                   "--host", "--port", "--annotator", "--export-csv", "--random-state",
                   "--query-strategy", "--selection", "--blind", "--no-blind", "--context",
                   "--window", "--hop", "--skip-silence"):
        assert option in out


# -- headless Chromium --------------------------------------------------------------


def _chromium_driver():
    """A headless Chromium WebDriver; skip locally, fail in CI, when unavailable."""
    require("selenium")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        unavailable("the browser test needs the Debian packages chromium and chromium-driver "
                    "(installed by .ci/run)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver_path), options=options)


def _wait_labels(driver, n):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script(
            "return document.body.dataset.ready === 'true' && "
            "document.body.dataset.busy !== 'true' && document.body.dataset.nLabels")
        == str(n)
    )


def _queue_ids(driver):
    from selenium.webdriver.common.by import By

    return [int(e.get_attribute("data-id")) for e in driver.find_elements(By.CSS_SELECTOR,
                                                                            "li.clip")]


def test_browser_labels_reloads_undoes_and_resumes(clips, cache, tmp_path):
    from_db = tmp_path / "web.sqlite"
    paths, _ = clips
    session = DurableSession.create(from_db, paths, CLASSES, random_state=0, cache=cache)
    server, thread = start_server(session, annotator="browser")
    driver = _chromium_driver()
    try:
        from selenium.webdriver.common.by import By

        driver.get(server.url)
        _wait_labels(driver, 0)
        given = []
        for k, label in enumerate(["cat", "dog", "bird"]):
            current = driver.find_element(By.CSS_SELECTOR, "li.clip.current")
            given.append((int(current.get_attribute("data-id")), label))
            assert current.find_element(By.TAG_NAME, "audio").get_attribute("src").endswith(
                f"/clip/{given[-1][0]}")
            current.find_element(By.CSS_SELECTOR, f'button.label[data-label="{label}"]').click()
            _wait_labels(driver, k + 1)
        # The keyboard: "2" labels the highlighted clip with the second class.
        given.append((_queue_ids(driver)[0], CLASSES[1]))
        driver.find_element(By.TAG_NAME, "body").send_keys("2")
        _wait_labels(driver, 4)
        queue_before = _queue_ids(driver)

        driver.refresh()
        _wait_labels(driver, 4)
        assert driver.find_element(By.ID, "n-labels").text == "4"
        assert _queue_ids(driver) == queue_before
        assert "accuracy" in driver.find_element(By.ID, "accuracy").text
        hint = driver.find_element(By.ID, "hint")
        assert hint.text.startswith("Keep labeling")  # plain words; the rule's terms on hover
        assert hint.get_attribute("title").startswith("4 labels; successive models'")

        with sqlite3.connect(from_db) as conn:
            rows = conn.execute("SELECT position, label, annotator FROM events "
                                "WHERE kind = 'label' ORDER BY id").fetchall()
        assert rows == [(p, label, "browser") for p, label in given]

        driver.find_element(By.ID, "undo").click()
        _wait_labels(driver, 3)
        assert [(r["position"], r["label"]) for r in session.labels()] == given[:3]
        queue_after_undo = _queue_ids(driver)
        stop_server(server, thread)
        session.close()

        # A new server from the database alone: nothing was lost.
        session = DurableSession(from_db)
        server, thread = start_server(session, annotator="browser")
        driver.get(server.url)
        _wait_labels(driver, 3)
        assert _queue_ids(driver) == queue_after_undo
        assert "last: clip %d" % given[2][0] in driver.find_element(By.ID, "last").text
        driver.find_element(By.CSS_SELECTOR, 'li.clip.current button.label').click()
        _wait_labels(driver, 4)
        assert len(session.labels()) == 4
        assert [(r["position"], r["label"]) for r in session.labels()][:3] == given[:3]
    finally:
        driver.quit()
        stop_server(server, thread)
        session.close()


def test_browser_sends_the_token_of_its_address_with_every_request(clips, cache, tmp_path):
    paths, _ = clips
    session = DurableSession.create(tmp_path / "web.sqlite", paths, CLASSES, random_state=0,
                                    cache=cache)
    server, thread = start_server(session, "0.0.0.0", annotator="browser")
    driver = _chromium_driver()
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        page = f"http://127.0.0.1:{server.port}/"
        driver.get(page + "?token=" + server.token)
        _wait_labels(driver, 0)
        driver.find_element(By.CSS_SELECTOR, "li.clip.current button.label").click()
        _wait_labels(driver, 1)
        driver.find_element(By.TAG_NAME, "body").send_keys("2")
        _wait_labels(driver, 2)
        # The browser's own requests for the audio and the CSV carry the token too.
        driver.execute_script(
            "const a = document.querySelector('.clip.current audio');"
            "a.preload = 'auto'; a.load();")
        WebDriverWait(driver, 20).until(lambda d: d.execute_script(
            "return document.querySelector('.clip.current audio').readyState >= 1"))
        href = driver.find_element(By.ID, "export").get_attribute("href")
        assert href == page + "labels.csv?token=" + server.token
        status = driver.execute_async_script(
            "fetch(arguments[0]).then((r) => arguments[1](r.status));", href)
        assert status == 200
        driver.find_element(By.ID, "undo").click()
        _wait_labels(driver, 1)
        assert len(session.labels()) == 1

        # Without the token the page loads, and says what is missing.
        driver.get(page)
        WebDriverWait(driver, 20).until(
            lambda d: "?token=" in d.find_element(By.ID, "status").text)
        assert len(session.labels()) == 1
    finally:
        driver.quit()
        stop_server(server, thread)
        session.close()


def test_browser_says_loading_until_the_state_arrives_and_retries_a_lost_server(served):
    server, session = served
    driver = _chromium_driver()
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        # The state waits for the session's lock: the page has loaded, its state has not.
        with server.lock:
            driver.get(server.url)
            loading = driver.find_element(By.ID, "loading")
            assert loading.is_displayed() and loading.text.startswith("Loading")
            assert not driver.find_element(By.ID, "counts").is_displayed()
            text = driver.find_element(By.TAG_NAME, "body").text
            assert "labels of" not in text and "0 clips" not in text
            assert driver.execute_script("return document.body.dataset.ready") == "false"
        _wait_labels(driver, 0)
        assert not driver.find_element(By.ID, "loading").is_displayed()
        assert driver.find_element(By.ID, "counts").text.startswith("0 labels of 12 clips")

        # No answer at all (as when skaloe label was stopped): the page says so and
        # asks again until the server answers.
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/state*"]})
        driver.refresh()
        WebDriverWait(driver, 20).until(
            lambda d: "Cannot reach the skaloe label server" in d.find_element(
                By.ID, "loading").text)
        assert "Is skaloe label still running?" in driver.find_element(By.ID, "loading").text
        assert driver.execute_script("return document.body.dataset.ready") == "false"
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        _wait_labels(driver, 0)  # retried by itself
        assert not driver.find_element(By.ID, "loading").is_displayed()
        # A label that cannot reach the server says it was not saved.
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/api/label*"]})
        driver.find_element(By.CSS_SELECTOR, "li.clip.current button.label").click()
        WebDriverWait(driver, 20).until(
            lambda d: d.find_element(By.ID, "status").text.startswith(
                "Not saved. Cannot reach the skaloe label server"))
        assert session.labels() == []
        _wait_labels(driver, 0)
    finally:
        driver.quit()


# Each element's text must fit its box, with no horizontal scrolling; buttons and
# the CSV link are at least 44 px high (a finger's target); Undo's text on one line.
_LAYOUT_PROBLEMS = """
const problems = [];
if (document.documentElement.scrollWidth > window.innerWidth)
  problems.push("page scrolls sideways: " + document.documentElement.scrollWidth);
for (const e of document.body.querySelectorAll("*")) {
  if (e.tagName === "AUDIO" || e.tagName === "SCRIPT" || e.clientWidth === 0) continue;
  if (e.scrollWidth > e.clientWidth + 1)
    problems.push("overflow " + e.tagName + "#" + e.id + "." + e.className + " "
                  + e.scrollWidth + " > " + e.clientWidth);
}
for (const e of document.querySelectorAll("button, #export")) {
  const height = e.getBoundingClientRect().height;
  if (height < 44) problems.push("small target " + e.textContent + " " + height);
}
const range = document.createRange();
range.selectNodeContents(document.getElementById("undo"));
const tops = Array.from(range.getClientRects()).map((r) => r.top);  // a line is ~22 px
if (Math.max(...tops) - Math.min(...tops) > 10) problems.push("Undo wraps: " + tops);
return problems;
"""


def test_browser_shows_durations_and_fits_desktop_and_phone(tmp_path):
    import soundfile as sf

    folder = tmp_path / "field recordings, spring session"
    folder.mkdir()
    lengths = [0.3, 0.8, 2.4, 12.0, 75.0, 1.6]
    paths = []
    for i, length in enumerate(lengths):
        path = folder / (f"site-{i:02d}_2023-04-01T12-00-00_microphone-array-channel-07_"
                         "segment-000123.wav")
        sf.write(path, np.zeros(int(length * 8000), dtype=np.int16), 8000)
        paths.append(str(path))
    classes = ["dog", "vocalization_with_background_noise_and_reverberation",
               "a class name of several words, wrapped on a phone"]
    embeddings = np.random.default_rng(0).normal(size=(len(paths), 4)).astype(np.float32)
    session = DurableSession.create(tmp_path / "s.sqlite", paths, classes,
                                    embeddings=embeddings, batch_size=6, random_state=0)
    session.label(session.next_batch()[0], "dog")  # Undo enabled, a "last" line shown
    server, thread = start_server(session)
    driver = _chromium_driver()
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        for width, height in ((1280, 900), (390, 844)):
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1,
                "mobile": width < 600})
            driver.get(server.url)
            _wait_labels(driver, 1)
            assert driver.execute_script("return window.innerWidth") == width
            items = driver.find_elements(By.CSS_SELECTOR, "li.clip")
            assert len(items) == 5
            expected = {"0.3 s", "0.8 s", "2.4 s", "12 s", "1:15", "1.6 s"}
            for item in items:
                position = int(item.get_attribute("data-id"))
                shown = item.find_element(By.CLASS_NAME, "duration").text
                assert shown in expected and shown != "0.0 s"
                assert float(shown[:-2]) if shown.endswith(" s") else shown == "1:15"
            # The players read the clips' headers: their own durations are right too.
            WebDriverWait(driver, 20).until(lambda d: d.execute_script(
                "return Array.from(document.querySelectorAll('audio'))"
                ".every((a) => a.readyState >= 1)"))
            durations = driver.execute_script(
                "return Array.from(document.querySelectorAll('li.clip')).map((li) => "
                "[Number(li.dataset.id), li.querySelector('audio').duration])")
            for position, duration in durations:
                assert duration == pytest.approx(lengths[position], abs=0.01)
            assert driver.execute_script(_LAYOUT_PROBLEMS) == [], (width, height)
    finally:
        driver.quit()
        stop_server(server, thread)
        session.close()


def test_browser_blind_page_names_no_file(tmp_path):
    session, paths, _ = _blind_session(tmp_path)
    server, thread = start_server(session, annotator="browser")
    driver = _chromium_driver()
    try:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        driver.get(server.url)
        _wait_labels(driver, 0)
        names = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "li.clip .name")]
        assert names == ["Clip 1", "Clip 2", "Clip 3", "Clip 4"]
        assert driver.find_element(By.ID, "blind").is_displayed()
        assert driver.find_elements(By.CSS_SELECTOR, "li.clip .id") == []
        driver.find_element(By.CSS_SELECTOR, 'li.clip.current button[data-label="sneeze"]'
                            ).click()
        _wait_labels(driver, 1)
        assert driver.find_element(By.ID, "last").text.startswith("last: Clip 1 \u2192 sneeze")
        WebDriverWait(driver, 20).until(lambda d: d.execute_script(
            "return Array.from(document.querySelectorAll('audio'))"
            ".every((a) => a.readyState >= 1)"))
        csv_text = driver.execute_async_script(
            "fetch(arguments[0]).then((r) => r.text()).then(arguments[1]);",
            driver.find_element(By.ID, "export").get_attribute("href"))
        assert csv_text.splitlines()[0] == "position,label,annotator,time"
        # Everything the page holds or fetched: its DOM, attributes, addresses.
        seen = "\n".join([
            driver.page_source, csv_text,
            driver.execute_script("return document.documentElement.outerHTML"),
            json.dumps(driver.execute_script(
                "return Array.from(document.querySelectorAll('*')).flatMap((e) => "
                "Array.from(e.attributes).map((a) => a.value).concat([e.src || '']))")),
            json.dumps(driver.execute_script(
                "return performance.getEntriesByType('resource').map((r) => r.name)")),
        ])
        assert "/clip/" in seen  # the audio was fetched, by random id
        for path in paths:
            assert os.path.splitext(os.path.basename(path))[0] not in seen
        for secret in (str(tmp_path), ".wav", "cough_", "sneeze_", "-take-"):
            assert secret not in seen, secret
    finally:
        driver.quit()
        stop_server(server, thread)
        session.close()
