"""Starting and stopping a LabelServer in a thread, for the page and fault tests."""

import threading

from skaloe.labeling import LabelServer


def start_server(session, host="127.0.0.1", **kwargs):
    """A LabelServer on a free port, serving in a daemon thread: ``(server, thread)``."""
    server = LabelServer(session, host, 0, **kwargs)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread


def stop_server(server, thread):
    """Shut the server down, close its socket, and check its thread ended."""
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
    assert not thread.is_alive(), "serve_forever did not stop"
