"""Loading and calling TensorFlow SavedModels (TF-Hub, Kaggle, local folders).

This is the only module of skaloe that imports TensorFlow, and it does so
lazily, the first time a model has to run. Models are loaded with
``tensorflow_hub.load`` and called eagerly, never through ``hub.KerasLayer``
(a tf_keras layer that breaks inside Keras 3 models, tensorflow/hub#903).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
import threading
import urllib.parse

import numpy as np

from ._registry import CALL_CONVENTIONS, MODEL_SAMPLE_RATE, is_url, looks_like_kaggle_id

_LOADED = {}
_LOAD_LOCK = threading.Lock()


class ModelUnavailableError(OSError):
    """A model could not be downloaded or found locally.

    Raised within seconds when a TF-Hub or Kaggle handle cannot be reached;
    the message says how to use a local copy instead.
    """


def import_tensorflow():
    """Import TensorFlow and tensorflow_hub with errors that say what to install."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError as exc:  # pragma: no cover - tensorflow is a dependency
        raise ImportError(
            "Running a TF-Hub or SavedModel encoder needs TensorFlow: pip install tensorflow "
            f"tensorflow-hub ({exc})."
        ) from exc
    try:
        hub = _import_tensorflow_hub()
    except ImportError as exc:
        raise ImportError(
            f"Loading TF-Hub models needs tensorflow_hub: pip install tensorflow-hub ({exc})."
        ) from exc
    return tf, hub


def _import_tensorflow_hub():
    """``tensorflow_hub``, also where setuptools 82+ has removed ``pkg_resources``.

    tensorflow_hub 0.16 imports ``pkg_resources`` for one function,
    ``parse_version``, to compare TensorFlow's version with its minimum
    (tensorflow/hub#934). Where ``pkg_resources`` is missing, a module holding
    only ``packaging.version.parse`` under that name stands in while
    tensorflow_hub is imported, and is removed from ``sys.modules`` right
    after, so nothing else ever sees it. The user's setuptools is left as it is.
    """
    import importlib.util
    import sys
    import types
    import warnings

    try:
        missing = importlib.util.find_spec("pkg_resources") is None
    except ImportError:  # an import hook that refuses it outright
        missing = True
    stand_in = None
    if "pkg_resources" not in sys.modules and missing:
        from packaging.version import parse

        stand_in = types.ModuleType("pkg_resources")
        stand_in.parse_version = parse
        sys.modules["pkg_resources"] = stand_in
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
            import tensorflow_hub
    finally:
        if stand_in is not None and sys.modules.get("pkg_resources") is stand_in:
            del sys.modules["pkg_resources"]
    return tensorflow_hub


def tfhub_cache_dir():
    """The folder tensorflow_hub caches downloads in (``TFHUB_CACHE_DIR``)."""
    return os.environ.get("TFHUB_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "tfhub_modules"
    )


def cached_module_dir(handle):
    """Where tensorflow_hub keeps (or would keep) the download of ``handle``."""
    return os.path.join(tfhub_cache_dir(), hashlib.sha1(handle.encode("utf8")).hexdigest())


def _has_saved_model(path):
    return os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(
        os.path.join(path, "saved_model.pbtxt")
    )


def _offline_help(handle):
    return (
        "To work offline, either (a) on a machine with internet run it once with "
        "TFHUB_CACHE_DIR=/some/folder set, copy that folder here and set TFHUB_CACHE_DIR "
        f"to it (the model is read from $TFHUB_CACHE_DIR/{os.path.basename(cached_module_dir(handle))}), "
        "or (b) download and unpack the SavedModel yourself and pass its folder as model=..."
    )


def _resolve_host(host, port, timeout):
    # getaddrinfo ignores socket timeouts: an unreachable DNS server would
    # block for tens of seconds, so the lookup runs in a thread we stop waiting for.
    result = {}

    def lookup():
        try:
            result["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            result["error"] = exc

    thread = threading.Thread(target=lookup, name="skaloe-dns-lookup", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"looking up {host} in DNS timed out")
    if "error" in result:
        raise result["error"]
    return result["addresses"]


def _check_reachable(url, timeout):
    parsed = urllib.parse.urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        _resolve_host(parsed.hostname, port, timeout)
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ModelUnavailableError(
            f"Cannot download model {url!r}: {parsed.hostname}:{port} is not reachable "
            f"({exc.__class__.__name__}: {exc or 'timed out'}; waited at most {timeout:g} s). "
            + _offline_help(url)
        ) from None


@contextlib.contextmanager
def _socket_timeout(seconds):
    # tensorflow_hub calls urllib.request.urlopen without a timeout, so a
    # server that accepts and never answers would hang it forever.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def resolve_location(handle, timeout):
    """What to hand to ``hub.load``, checking reachability of remote handles.

    Returns ``(load_arg, source)`` where ``source`` describes where the model
    is read from (for messages).
    """
    if os.path.isdir(handle):
        if not _has_saved_model(handle):
            raise ValueError(
                f"Folder {handle!r} is not a TensorFlow SavedModel (no saved_model.pb in it); "
                "pass the folder that holds saved_model.pb and variables/."
            )
        return os.path.abspath(handle), handle
    if is_url(handle):
        module_dir = cached_module_dir(handle)
        if os.path.isdir(module_dir) and os.listdir(module_dir):
            if not _has_saved_model(module_dir):
                raise ModelUnavailableError(
                    f"The TF-Hub cache folder {module_dir!r} for {handle!r} holds no "
                    "saved_model.pb (an interrupted download, or a temp folder cleaned by the "
                    "system). Delete that folder and try again, or point TFHUB_CACHE_DIR to a "
                    "folder with a complete copy."
                )
            return handle, module_dir
        _check_reachable(handle, timeout)
        return handle, handle
    if looks_like_kaggle_id(handle):
        try:
            import kagglehub
        except ImportError:
            raise ImportError(
                f"Model {handle!r} is a Kaggle model id; downloading it needs kagglehub: "
                "pip install 'skaloe[kaggle]', or pass its https://www.kaggle.com/models/... URL."
            ) from None
        _check_reachable("https://www.kaggle.com", timeout)
        with _socket_timeout(timeout):
            path = kagglehub.model_download(handle)
        return path, path
    raise ValueError(f"{handle!r} is neither a folder, a URL nor a Kaggle model id.")


def load_model(handle, timeout=10.0):
    """Load a SavedModel through tensorflow_hub, once per process."""
    with _LOAD_LOCK:
        model = _LOADED.get(handle)
        if model is not None:
            return model
        _, hub = import_tensorflow()
        location, source = resolve_location(handle, timeout)
        try:
            with _socket_timeout(timeout):
                model = hub.load(location)
        except (OSError, ValueError) as exc:
            if is_url(handle) and not _has_saved_model(cached_module_dir(handle)):
                raise ModelUnavailableError(
                    f"Downloading model {handle!r} failed: {exc}. " + _offline_help(handle)
                ) from exc
            raise ValueError(f"Could not load the SavedModel from {source!r}: {exc}") from exc
        _LOADED[handle] = model
        return model


def infer_call_convention(model):
    """Guess how a loaded SavedModel wants its audio from its input signature.

    Returns one of :data:`CALL_CONVENTIONS`, or None when it cannot tell.
    """
    fn = getattr(model, "__call__", None)
    concrete = list(getattr(fn, "concrete_functions", None) or [])
    for cf in concrete:
        args, kwargs = cf.structured_input_signature
        specs = [a for a in args if hasattr(a, "shape")]
        if "samples" in kwargs or (len(specs) == 2 and "sample_rate" in kwargs):
            return "keywords"
        if len(args) >= 2 and hasattr(args[1], "shape") and args[1].shape.rank == 0:
            names = [getattr(a, "name", None) for a in args]
            if "samples" in names or "sample_rate" in names:
                return "keywords"
        if specs:
            shape = specs[0].shape
            if shape.rank == 1:
                return "waveform"
            if shape.rank == 2:
                return "batch-of-one" if shape[0] == 1 else "batch"
    return None


def call_model(model, call, batch):
    """Run ``model`` on clips with the given convention; returns the raw output.

    ``batch`` is a float32 array ``(n, T)`` for ``"batch"`` and a 1-D array
    otherwise.
    """
    import tensorflow as tf

    if call == "batch":
        return model(tf.constant(batch))
    if call == "keywords":
        return model(samples=tf.constant(batch), sample_rate=MODEL_SAMPLE_RATE)
    if call == "batch-of-one":
        return model(tf.constant(batch[np.newaxis, :]))
    if call == "waveform":
        return model(tf.constant(batch))
    raise ValueError(f"call_convention must be one of {CALL_CONVENTIONS}, got {call!r}.")
