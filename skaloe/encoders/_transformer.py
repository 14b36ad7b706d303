"""EncoderTransformer: audio clips in, one embedding per clip out."""

from __future__ import annotations

import difflib
import hashlib
import os
import sys
import warnings
from dataclasses import dataclass, field, replace
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import FrozenStepMixin
from ._audio import as_clip_list, clip_key, load_clips
from ._cache import EmbeddingStore, memory_location
from ._registry import (
    CALL_CONVENTIONS,
    MODEL_SPECS,
    POOLINGS,
    is_url,
    looks_like_kaggle_id,
    normalize_handle,
    spec_for_handle,
)
from ._runners import GE2ERunner, ModelRunner, SpectralRunner, _parallel_map
from ._segments import Segment, SegmentReader, describe_segment

_CHUNK = 2048  # clips decoded and embedded at a time (and written as one cache shard)
_CHUNK_SECONDS = 192.0  # and at most this much audio of segments (12 MB at 16 kHz)


@dataclass(frozen=True)
class EncoderInfo:
    """What an :class:`EncoderTransformer` resolved its ``model`` to (``encoder_``).

    Holds no TensorFlow object: loaded models live in a per-process cache.
    """

    name: str
    kind: str  # "embedded", "spectral", "savedmodel" or "callable"
    source: object
    call: str
    output_key: object
    pooling: object  # None when the model pools over time inside
    min_length: int
    dim: object  # int; None until a model of undeclared size has run once
    identity: dict = field(repr=False, compare=False)


def _code_signature(code):
    """The parts of a code object that define what it computes, nested code included."""
    consts = tuple(
        _code_signature(c) if hasattr(c, "co_code") else c for c in code.co_consts
    )
    return (code.co_name, code.co_code, consts, code.co_names)


def _callable_fingerprint(func):
    """A stable content hash of a callable for the cache, or None.

    Functions are hashed by their source text (when available), bytecode,
    defaults and closure; a change inside another function they call is not
    seen, so clear the cache (or use a new folder) after such a change.
    """
    import inspect

    import joblib

    code = getattr(func, "__code__", None)
    try:
        if code is not None:
            try:
                source = inspect.getsource(func)
            except (OSError, TypeError):
                source = None
            closure = tuple(c.cell_contents for c in (func.__closure__ or ()))
            return joblib.hash(
                (func.__module__, func.__qualname__, source, _code_signature(code),
                 func.__defaults__, closure)
            )
        return joblib.hash(func)
    except Exception:
        return None


def _savedmodel_fingerprint(folder):
    h = hashlib.sha1()
    for name in ("saved_model.pb", "saved_model.pbtxt", "variables/variables.index"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()


def unknown_model_message(model, *, callables=True):
    """Why ``model`` names no encoder, with the closest names and every form that works.

    ``callables=False`` leaves out Python callables, for the command line.
    """
    names = list(MODEL_SPECS)
    close = difflib.get_close_matches(str(model).lower(), names, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return (
        f"Unknown model {model!r}.{hint} Use one of the names {', '.join(names)}; a "
        "tfhub.dev or kaggle.com/models URL; a Kaggle model id such as "
        "'google/trillsson/tensorFlow2/5'; "
        + ("the folder of a TensorFlow SavedModel; or a Python callable. "
           if callables else "or the folder of a TensorFlow SavedModel. ")
        + "See skaloe.encoders.available_models()."
    )


def names_a_model(text):
    """Whether a string names an encoder: a known name, a URL or Kaggle id, or a folder."""
    return (text.lower() in MODEL_SPECS or is_url(text) or looks_like_kaggle_id(text)
            or os.path.isdir(text))


def resolve_encoder(model, output_key, call_convention, pooling, min_length):
    """Turn the ``model`` parameter and its options into an :class:`EncoderInfo`."""
    spec, source, kind, identity = None, model, None, {}
    if callable(model) and not isinstance(model, (str, os.PathLike)):
        kind = "callable"
        name = getattr(model, "__qualname__", type(model).__name__)
        fingerprint = _callable_fingerprint(model)
        identity = {"name": "callable", "callable": f"{name}:{fingerprint}"} if fingerprint else None
    else:
        text = os.fspath(model)
        if text.lower() in MODEL_SPECS:
            spec = MODEL_SPECS[text.lower()]
            name = spec.name
        elif is_url(text) or looks_like_kaggle_id(text):
            spec = spec_for_handle(text)
            name = spec.name if spec else text
            source = text
            if spec is None:
                identity = {"name": "handle", "handle": normalize_handle(text)}
        elif os.path.isdir(text):
            kind, name = "savedmodel", text
            identity = {"name": "savedmodel", "savedmodel": _savedmodel_fingerprint(text)}
        elif os.sep in text or (os.altsep and os.altsep in text) or text.startswith("."):
            raise FileNotFoundError(
                f"model={text!r} looks like a folder but does not exist; pass the folder of a "
                "TensorFlow SavedModel (it holds saved_model.pb), or a model name."
            )
        else:
            raise ValueError(unknown_model_message(text))
        if spec is not None:
            kind = spec.kind if spec.kind in ("spectral", "embedded") else "savedmodel"
            identity = {"name": spec.name}
            if spec.kind == "embedded":
                from ._ge2e import cache_identity

                identity.update(cache_identity())
            elif spec.kind == "spectral":  # what the features are (mfcc gained deltas)
                identity.update(spec.extra)
            if spec.kind == "tfhub" and source == model and model.lower() == spec.name:
                source = spec.handles  # the alias: try each handle form
        elif kind is None:
            kind = "savedmodel"

    if spec is not None:
        if output_key is None:
            output_key = spec.default_output
        elif output_key not in spec.outputs:
            raise ValueError(
                f"output_key={output_key!r} is not an output of {spec.name}; its outputs are "
                f"{list(spec.outputs)}."
            )
        call = spec.call if call_convention == "auto" else call_convention
        base_dim = spec.outputs[output_key]
        pools_inside = spec.pools_inside
        default_pooling = spec.default_pooling
        min_len = spec.min_length if min_length == "auto" else min_length
    else:
        call = call_convention  # "auto" for SavedModels is read from the signature at load
        if call == "auto" and kind == "callable":
            call = "waveform"
        base_dim, pools_inside, default_pooling = None, False, "mean"
        min_len = 0 if min_length == "auto" else min_length

    if pools_inside:
        if pooling not in ("auto", "mean"):
            raise ValueError(
                f"Model {spec.name} returns one embedding per clip (it pools over time "
                f"inside), so pooling={pooling!r} does not apply; use pooling='auto'."
            )
        pool = None
    else:
        pool = default_pooling if pooling == "auto" else pooling
    dim = None
    if base_dim is not None:
        dim = base_dim * 2 if pool == "mean+std" and spec.kind != "spectral" else base_dim
        if spec.kind == "spectral":
            n_static = spec.extra["n_mfcc"] or spec.extra["n_mels"]
            n_all = n_static * (1 + spec.extra["deltas"])  # with the time derivatives
            # means of the static coefficients only (see SpectralRunner)
            dim = {"mean": n_static, "max": n_all, "mean+std": n_static + n_all}[pool]
    if identity is not None:
        identity = {
            **identity,
            "call": call,
            "output_key": output_key,
            "pooling": pool,
            "min_length": min_len,
        }
    return EncoderInfo(
        name=name,
        kind=kind,
        source=source,
        call=call,
        output_key=output_key,
        pooling=pool,
        min_length=min_len,
        dim=dim,
        identity=identity,
    )


class EncoderTransformer(
    FrozenStepMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Embed audio clips with a frozen pretrained encoder.

    Turns each clip (a file path, a segment ``(path, start, end)`` of a long
    recording, or a waveform) into one float32 vector, with
    the built-in pretrained speech network GE2E (the default: it runs offline,
    its weights ship with skaloe), a TF-Hub model such as TRILLsson (the
    encoder of ALOE), or the built-in log-mel / MFCC statistics. ``fit``
    learns nothing; it only checks the parameters. Embeddings can be cached on
    disk across processes with ``memory``.

    Read more in the :ref:`User Guide <encoders>`.

    Parameters
    ----------
    model : str, path-like or callable, default="ge2e"
        The encoder:

        - a name from :func:`~skaloe.encoders.available_models`: the built-in
          offline encoders ``"ge2e"`` (a pretrained speech LSTM whose weights
          ship with skaloe; no download, no torch) and the spectral baselines
          ``"mfcc"`` and ``"logmel"``; or ``"trillsson1"`` ... ``"trillsson5"``,
          ``"trill"``, ``"trill-distilled"``, ``"frill"``, ``"yamnet"``,
          ``"vggish"`` (downloaded from TF-Hub on first use, or read from
          ``TFHUB_CACHE_DIR``);
        - a tfhub.dev or kaggle.com/models URL (the known models are recognised
          under their current, legacy and Kaggle handles), or a Kaggle model id
          such as ``"google/trillsson/tensorFlow2/5"`` (needs ``kagglehub``);
        - the folder of a TensorFlow SavedModel;
        - a Python callable that maps a float32 waveform at 16 kHz to an
          embedding ``(dim,)`` or per-frame embeddings ``(n_frames, dim)``.

    output_key : str, int or None, default=None
        Which output holds the embedding: a dict key (``"embedding"``,
        ``"layer19"``), a tuple position (YAMNet: 1) or None for a bare tensor.
        None picks the named model's default (TRILL: ``"layer19"``; GE2E:
        ``"hidden"``), or for other models ``"embedding"`` or the only output.
        GE2E's readouts: ``"hidden"`` (mean and standard deviation over frames
        of the hidden states of its three LSTM layers, 1536 values),
        ``"layer1"``, ``"layer2"``, ``"layer3"`` (one layer, 512 values) and
        ``"speaker"`` (its 256-d speaker vector).

    call_convention : {"auto", "batch", "keywords", "batch-of-one", "waveform"}, \
            default="auto"
        How the model takes audio: ``"batch"`` ``m(x)`` with ``x`` of shape
        ``[batch, time]`` and one vector per clip out (TRILLsson);
        ``"keywords"`` ``m(samples=x, sample_rate=16000)`` with 1-D ``x`` (TRILL);
        ``"batch-of-one"`` ``m(x[None])`` (FRILL); ``"waveform"`` ``m(x)`` with
        1-D ``x`` (YAMNet, VGGish, callables). ``"auto"`` uses the named
        model's convention or reads it from the SavedModel's signature.

    pooling : {"auto", "mean", "max", "mean+std"}, default="auto"
        How per-frame embeddings become one vector per clip. ``"auto"`` is
        ``"mean"`` for frame-level models, ``"mean+std"`` for the spectral
        statistics encoders, and nothing for models that pool inside
        (TRILLsson, GE2E), which accept only ``"auto"`` or ``"mean"``.

    min_length : "auto" or int, default="auto"
        Clips shorter than this many samples (at 16 kHz) are mirror-padded to
        it. ``"auto"`` uses the model's minimum (VGGish 15600, FRILL 15360,
        spectral encoders 400, otherwise 0).

    sample_rate : int, default=16000
        Sample rate of waveforms given as arrays; they are resampled to
        16 kHz. Files carry their own rate.

    batch_size : int, default=32
        Clips per model call for ``call_convention="batch"``. Only clips of
        equal length share a batch, so results never depend on it.

    memory : str, path-like, joblib.Memory or None, default=None
        Folder of a persistent embedding cache (a ``joblib.Memory`` gives its
        ``location``). Entries are keyed by the model's identity, the encoder
        parameters and each clip's content (files: path, size, modification
        and change times and inode, one ``stat``), so a rewritten file is
        embedded again, even with its old size and modification time. Several processes may fill
        the same cache at once. A cache that cannot be written (read-only,
        full) or holds damaged files costs recomputation and a warning, never
        the results; see the :ref:`User Guide <encoders-cache>`.

    n_jobs : int or None, default=None
        Threads for decoding files, hashing clips and running the built-in
        encoders. None means 1, -1 all cores.

    timeout : float, default=10.0
        Seconds to wait for a TF-Hub or Kaggle server before failing with a
        message on how to work offline.

    verbose : int, default=0
        Show a progress bar on stderr when more than 0.

    Attributes
    ----------
    encoder_ : EncoderInfo
        What ``model`` resolved to: name, kind, call convention, output key,
        pooling, minimum length and embedding dimension (None until known).

    n_features_in_ : int
        Samples per clip, set only when fit on a 2-D array; clips of any length
        are accepted by ``transform``.

    See Also
    --------
    skaloe.encoders.available_models : The names ``model`` accepts.

    Notes
    -----
    TensorFlow is imported the first time a TF-Hub or SavedModel encoder has to
    run, never on ``import skaloe``. A loaded model is shared by all
    transformers of the process and is never part of a clone or a pickle.

    Examples
    --------
    >>> import numpy as np
    >>> from skaloe import EncoderTransformer
    >>> rng = np.random.default_rng(0)
    >>> clips = rng.uniform(-0.5, 0.5, size=(3, 16000)).astype(np.float32)
    >>> emb = EncoderTransformer(model="mfcc").fit_transform(clips)
    >>> emb.shape, emb.dtype
    ((3, 80), dtype('float32'))
    """

    _parameter_constraints: dict = {
        "model": [str, os.PathLike, callable],
        "output_key": [None, str, Interval(Integral, 0, None, closed="left")],
        "call_convention": [StrOptions({"auto", *CALL_CONVENTIONS})],
        "pooling": [StrOptions({"auto", *POOLINGS})],
        "min_length": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left")],
        "sample_rate": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "n_jobs": [None, Integral],
        "timeout": [Interval(Real, 0, None, closed="neither")],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        model="ge2e",
        *,
        output_key=None,
        call_convention="auto",
        pooling="auto",
        min_length="auto",
        sample_rate=16000,
        batch_size=32,
        memory=None,
        n_jobs=None,
        timeout=10.0,
        verbose=0,
    ):
        self.model = model
        self.output_key = output_key
        self.call_convention = call_convention
        self.pooling = pooling
        self.min_length = min_length
        self.sample_rate = sample_rate
        self.batch_size = batch_size
        self.memory = memory
        self.n_jobs = n_jobs
        self.timeout = timeout
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and resolve ``model``; nothing is learned.

        Parameters
        ----------
        X : list of paths, segments or waveforms, table of segments, or ndarray of shape (n_clips, n_samples)
            The clips (only their container is checked here).
        y : None
            Ignored.

        Returns
        -------
        self : EncoderTransformer
        """
        if isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "iuf" or (
            hasattr(X, "columns") and getattr(X, "shape", (0, 0))[1] > 1
            and not {"path", "start", "end"} <= set(map(str, X.columns))
        ):
            if isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.size:
                finite = np.isfinite(X).all(axis=1)
                if not finite.all():
                    bad = int(np.flatnonzero(~finite)[0])
                    raise ValueError(
                        f"X[{bad}] contains NaN or infinite samples; clean or drop this clip."
                    )
            validate_data(self, X, reset=True, dtype=None, ensure_all_finite=True)
        else:
            as_clip_list(X)
            for attr in ("n_features_in_", "feature_names_in_"):
                if hasattr(self, attr):
                    delattr(self, attr)
        self.encoder_ = resolve_encoder(
            self.model, self.output_key, self.call_convention, self.pooling, self.min_length
        )
        self._dim = self.encoder_.dim
        return self

    def transform(self, X):
        """Embed clips.

        Parameters
        ----------
        X : list of paths, segments or waveforms, table of segments, pandas Series, or ndarray
            File paths (any format soundfile or librosa reads, resampled to
            16 kHz mono), 1-D waveforms of any lengths, or a 2-D array of
            equal-length clips; int16/int32 waveforms are scaled to [-1, 1].
            Segments of recordings are ``(path, start, end)`` tuples (or
            :class:`~skaloe.encoders.Segment`), or the rows of a table with
            columns ``path``, ``start`` and ``end`` in seconds (a DataFrame or
            the Bunch of :func:`~skaloe.datasets.segment_recordings`); only
            their samples are read, and the 600 s limit applies to a segment,
            not to its recording. See :ref:`encoders-segments`.

        Returns
        -------
        X_emb : ndarray of shape (n_clips, dim), float32
        """
        check_is_fitted(self)
        clips = as_clip_list(X)
        return self._embed(clips)

    # -- internals -------------------------------------------------------

    def _runner(self):
        info = self.encoder_
        if info.kind == "spectral":
            spec = MODEL_SPECS[info.name]
            return SpectralRunner(
                spec.extra["n_mels"], spec.extra["n_mfcc"], info.pooling, info.min_length,
                n_jobs=self.n_jobs, deltas=spec.extra["deltas"],
            )
        if info.kind == "embedded":
            return GE2ERunner(info.output_key, info.min_length, n_jobs=self.n_jobs)
        if info.kind == "callable":
            return ModelRunner(
                lambda: info.source, info.call, info.output_key, info.pooling,
                info.min_length, self.batch_size, repr(info.name), dim=info.dim,
                tensorflow=False,
            )
        from . import _tfhub

        runner = ModelRunner(
            None, info.call, info.output_key, info.pooling, info.min_length,
            self.batch_size, repr(info.name), dim=info.dim,
        )

        def get_model():
            model = _tfhub.load_model(_pick_handle(info.source), timeout=self.timeout)
            if runner.call == "auto":
                call = _tfhub.infer_call_convention(model)
                if call is None:
                    raise ValueError(
                        f"Cannot tell how to call the SavedModel {info.name!r} from its "
                        "signature; set call_convention to one of "
                        f"{CALL_CONVENTIONS}."
                    )
                runner.call = call
                self.encoder_ = replace(self.encoder_, call=call)
            return model

        runner.get_model = get_model
        return runner

    def _store(self):
        location = memory_location(self.memory)
        if location is None:
            return None
        if self.encoder_.identity is None:
            warnings.warn(
                f"Embeddings of model {self.encoder_.name!r} are not cached: the callable "
                "cannot be fingerprinted. Pass a module-level function to cache them.",
                UserWarning,
                stacklevel=3,
            )
            return None
        return EmbeddingStore(location, self.encoder_.identity)

    def _embed(self, clips):
        n = len(clips)
        store = self._store()
        out = None
        todo = np.arange(n)
        keys = None
        if store is not None:
            # Hashing samples scales with threads; a file's key is one stat, cheaper
            # than handing it to a thread.
            hashing = any(not isinstance(c, (str, Segment)) for c in clips)
            keys = _parallel_map(
                lambda i: clip_key(clips[i], i, self.sample_rate), range(n),
                self.n_jobs if hashing else None,
            )
            first = {}
            for i, k in enumerate(keys):
                first.setdefault(k, i)
            unique_keys = list(first)
            found, rows = store.lookup(unique_keys)
            unique_pos = np.fromiter(first.values(), dtype=np.intp, count=len(first))
            if rows is not None:
                out = np.empty((n, rows.shape[1]), dtype=np.float32)
                out[unique_pos[found]] = rows
            todo = unique_pos[~found]
            if self.verbose:
                print(
                    f"[skaloe] {self.encoder_.name}: {int(found.sum())} of {len(unique_keys)} "
                    f"distinct clips read from the cache {store.folder}",
                    file=sys.stderr,
                )
        if len(todo):
            runner = self._runner()
            from tqdm.auto import tqdm

            with tqdm(
                total=len(todo), disable=not self.verbose, unit="clip",
                desc=f"Embedding with {self.encoder_.name}", file=sys.stderr,
            ) as bar, SegmentReader() as reader:
                for chunk in _chunks(clips, todo):
                    waves = load_clips(clips, chunk, self.sample_rate, self.n_jobs, reader)
                    emb = runner.embed(waves, chunk)
                    del waves
                    if out is None:
                        out = np.empty((n, emb.shape[1]), dtype=np.float32)
                    elif emb.shape[1] != out.shape[1]:
                        raise ValueError(
                            f"Model {self.encoder_.name!r} returned {emb.shape[1]}-d embeddings "
                            f"but the cache holds {out.shape[1]}-d ones for it; clear "
                            f"{store.folder if store else 'the cache'}."
                        )
                    out[chunk] = emb
                    if store is not None:  # a cache that cannot be written only warns
                        store.add([keys[i] for i in chunk], emb,
                                  [_clip_name(clips[i], i) for i in chunk])
                    bar.update(len(chunk))
        if keys is not None and len(first) < n:  # repeated clips: copy from first occurrence
            out[:] = out[[first[k] for k in keys]]
        self._dim = out.shape[1]
        if self.encoder_.dim is None:
            self.encoder_ = replace(self.encoder_, dim=self._dim)
        return out

    @property
    def _n_features_out(self):
        check_is_fitted(self)
        if getattr(self, "_dim", None) is None:
            # The dimension of this model is not declared: run it once on silence.
            self._dim = self._runner().embed([np.zeros(16000, np.float32)], [0]).shape[1]
            self.encoder_ = replace(self.encoder_, dim=self._dim)
        return self._dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.requires_fit = True
        return tags


def _chunks(clips, todo):
    """Split the positions ``todo`` into chunks decoded and embedded at a time.

    A chunk holds at most :data:`_CHUNK` clips and, of segments, at most
    :data:`_CHUNK_SECONDS` of audio, so that decoded audio stays bounded
    whatever the window length. Segments go in order of file and start, so
    that a file's overlapping windows are read in one pass (the order of the
    output does not change: rows go back to their positions).
    """
    segments = [i for i in todo if isinstance(clips[i], Segment)]
    if not segments:
        for start in range(0, len(todo), _CHUNK):
            yield todo[start : start + _CHUNK]
        return
    others = [i for i in todo if not isinstance(clips[i], Segment)]
    for start in range(0, len(others), _CHUNK):
        yield np.asarray(others[start : start + _CHUNK], dtype=np.intp)
    segments.sort(key=lambda i: (clips[i].path, clips[i].start, clips[i].end, i))
    chunk, seconds = [], 0.0
    for i in segments:
        length = clips[i].end - clips[i].start
        if chunk and (len(chunk) == _CHUNK or seconds + length > _CHUNK_SECONDS):
            yield np.asarray(chunk, dtype=np.intp)
            chunk, seconds = [], 0.0
        chunk.append(i)
        seconds += length
    if chunk:
        yield np.asarray(chunk, dtype=np.intp)


def _clip_name(clip, index):
    """How a warning names clip ``index``: its path, or its position in X."""
    if isinstance(clip, Segment):
        return describe_segment(clip, index)
    return f"{clip!r} (X[{index}])" if isinstance(clip, str) else f"X[{index}]"


def _pick_handle(source):
    """For an alias, the first handle form already in the TF-Hub cache, else the current one."""
    if isinstance(source, tuple):
        from ._tfhub import cached_module_dir

        from ._tfhub import _has_saved_model

        for handle in source:
            if _has_saved_model(cached_module_dir(handle)):
                return handle
        return source[0]
    return os.fspath(source)
