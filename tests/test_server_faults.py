"""The labeling server under connection bursts, idle sockets and hostile bodies.

Every test talks to a server on 127.0.0.1 with its own threads, bounded
loops and short time-outs: a regression shows up as a failed assertion,
never as a hung suite.
"""

import json
import socket
import struct
import threading
import time
from http.client import HTTPConnection

import numpy as np
import pytest

from server_support import start_server, stop_server
from skaloe.labeling import DurableSession, LabelServer

CLASSES = ["a", "b", "c"]
N_POOL = 80


@pytest.fixture
def session(tmp_path):
    """A session over an .npz pool of random embeddings (no audio)."""
    rng = np.random.default_rng(0)
    pool = tmp_path / "pool.npz"
    np.savez(pool, embeddings=rng.normal(size=(N_POOL, 8)).astype(np.float32))
    session = DurableSession.create(tmp_path / "s.sqlite", str(pool), CLASSES,
                                    random_state=0, annotator="burst")
    yield session
    session.close()


@pytest.fixture
def serve(session):
    """``serve(**kwargs)`` starts a LabelServer on 127.0.0.1; stopped after the test."""
    started = []

    def start(**kwargs):
        started.append(start_server(session, **kwargs))
        return started[-1][0]

    yield start
    for server, thread in started:
        stop_server(server, thread)


def _request(port, method, path, body=None, timeout=30):
    """One request on a new connection: (status, JSON or bytes), or the exception raised."""
    headers = {"Host": f"127.0.0.1:{port}", "Connection": "close"}
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn = HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, data
    except OSError as exc:  # reset, refused, timed out
        return None, exc
    finally:
        conn.close()


def _burst(calls, timeout=60):
    """Run every call at once, one thread each; their results, in order."""
    results = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(k):
        try:
            start.wait(timeout=timeout)
        except threading.BrokenBarrierError:
            pass
        results[k] = calls[k]()

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(len(calls))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "the burst did not finish"
    return results


def _failures(results):
    return [(k, data) for k, (status, data) in enumerate(results) if status is None]


# -- bursts ---------------------------------------------------------------------------


def test_burst_of_200_concurrent_gets_is_answered(serve):
    server = serve()
    paths = ["/api/state", "/", "/static/app.js", "/labels.csv"]
    calls = [lambda path=paths[k % 4]: _request(server.port, "GET", path, timeout=20)
             for k in range(200)]
    results = _burst(calls)
    assert _failures(results) == []
    assert [status for status, _ in results] == [200] * 200


def test_burst_of_50_concurrent_posts_is_answered(serve, session):
    server = serve()
    calls = [lambda k=k: _request(server.port, "POST", "/api/label",
                                  {"id": k, "label": CLASSES[k % 3]}, timeout=30)
             for k in range(50)]
    results = _burst(calls)
    assert _failures(results) == []
    assert [status for status, _ in results] == [200] * 50
    assert sorted(row["position"] for row in session.labels()) == list(range(50))


def test_server_defaults_bound_the_connections():
    assert LabelServer.request_queue_size >= 128
    import inspect

    parameters = inspect.signature(LabelServer).parameters
    assert parameters["connection_timeout"].default == 30
    assert parameters["max_connections"].default == 64


# -- idle and slow connections ----------------------------------------------------------


def _open_idle(port, n):
    """n connected sockets that send nothing."""
    sockets = []
    for _ in range(n):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sockets.append(sock)
    return sockets


def _wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_idle_sockets_do_not_each_get_a_thread(serve):
    server = serve(max_connections=6, connection_timeout=20)
    before = threading.active_count()
    sockets = _open_idle(server.port, 60)
    try:
        # Give the server time to accept all it will accept.
        _wait_until(lambda: threading.active_count() - before >= 60, timeout=1.5)
        assert threading.active_count() - before <= 6
    finally:
        for sock in sockets:
            sock.close()
    # Closed by their clients, the idle connections free their threads at once.
    assert _wait_until(lambda: threading.active_count() - before <= 0, timeout=10)
    assert _request(server.port, "GET", "/api/state", timeout=10)[0] == 200


def test_a_request_behind_idle_sockets_is_answered_once_they_time_out(serve):
    server = serve(max_connections=4, connection_timeout=0.5)
    sockets = _open_idle(server.port, 12)  # three rounds of four, 0.5 s each
    try:
        t0 = time.monotonic()
        status, _ = _request(server.port, "GET", "/api/state", timeout=15)
        assert status == 200
        assert time.monotonic() - t0 < 10
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize("sent", [
    b"",  # connected, silent
    b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers never finished
    (b"POST /api/undo HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
     b"Content-Length: 2\r\n\r\n"),  # body never sent
], ids=["silent", "unfinished-headers", "missing-body"])
def test_an_idle_connection_is_closed_after_the_timeout(serve, sent):
    server = serve(connection_timeout=1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(sent.replace(b"{host}", f"127.0.0.1:{server.port}".encode()))
        t0 = time.monotonic()
        try:
            data = sock.recv(65536)
        except TimeoutError:
            pytest.fail("the server kept an idle connection open for 10 s")
        elapsed = time.monotonic() - t0
    assert data == b""  # closed without an answer
    assert 0.5 < elapsed < 5


def test_a_kept_alive_connection_is_closed_when_idle(serve):
    server = serve(connection_timeout=1)
    conn = HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/api/state", headers={"Host": f"127.0.0.1:{server.port}"})
        response = conn.getresponse()
        assert response.status == 200 and not response.will_close
        response.read()
        t0 = time.monotonic()
        assert conn.sock.recv(1) == b""  # the server closed the idle connection
        assert time.monotonic() - t0 < 5
    finally:
        conn.close()


def test_a_client_that_vanishes_mid_response_does_not_stop_the_server(serve, capfd):
    server = serve()
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(f"GET /static/app.js HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n"
                     .encode())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # reset, before reading the answer
    assert _request(server.port, "GET", "/api/state", timeout=10)[0] == 200
    assert "Traceback" not in capfd.readouterr().err


def test_a_slow_reader_gets_all_of_a_long_clip(tmp_path):
    import soundfile as sf

    # 10 million samples: 20 MB of WAV, more than the kernel buffers between the two.
    long_clip = tmp_path / "long.wav"
    sf.write(long_clip, np.zeros(10_000_000, dtype=np.int16), 16000, subtype="PCM_16")
    size = long_clip.stat().st_size
    paths = [str(long_clip)] * 3
    session = DurableSession.create(tmp_path / "long.sqlite", paths, CLASSES,
                                    embeddings=np.eye(3, dtype=np.float32))
    server, thread = start_server(session, connection_timeout=0.5)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.settimeout(10)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(f"GET /clip/0 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        received, t0 = bytearray(), time.monotonic()
        while time.monotonic() - t0 < 30:  # about 2 s at 10 MB/s
            chunk = sock.recv(64 * 1024)
            if not chunk:
                break
            received += chunk
            time.sleep(0.006)
        sock.close()
        elapsed = time.monotonic() - t0
        head, _, body = bytes(received).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert len(body) == size, f"{len(body)} of {size} bytes"
        assert elapsed > 1  # the transfer took longer than the timeout, as meant
    finally:
        stop_server(server, thread)
        session.close()


# -- hostile bodies ------------------------------------------------------------------------


@pytest.mark.parametrize("body, expected", [
    (b"[" * 10_000, 400),
    (b'{"id": ' + b"[" * 10_000, 400),
    (b'{"id": 1, "label": ' + b'{"x": ' * 2_000 + b"1" + b"}" * 2_000 + b"}", 400),
    (b"[" * 100_000, 413),  # larger than any request body the server reads
])
def test_deeply_nested_json_is_refused_with_400_not_500(serve, session, body, expected):
    server = serve()
    status, data = _request(server.port, "POST", "/api/label", body, timeout=10)
    assert status == expected, data
    message = json.loads(data)["error"]
    if expected == 400:
        assert "nested too deeply" in message
    assert session.labels() == []
    assert _request(server.port, "GET", "/api/state", timeout=10)[0] == 200
