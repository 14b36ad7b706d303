"""What skaloe knows about each pretrained audio encoder it can name.

The facts (handles, call conventions, output structures, dimensions and
minimum lengths) come from the models' TF-Hub documentation pages
(``tensorflow/tfhub.dev``, ``assets/docs/google/models/...``) and the issues
cited next to each entry; ``shared/reference/encoders-and-aloe.md`` section 2
collects them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

#: Sample rate every encoder in skaloe consumes, in Hz.
MODEL_SAMPLE_RATE = 16000

#: How a model is called with audio (all float32 in [-1, 1] at 16 kHz):
#: ``"batch"``        ``m(x)`` with ``x`` of shape ``[batch, time]`` -> one row per clip
#: ``"keywords"``     ``m(samples=x, sample_rate=16000)`` with ``x`` of shape ``[time]``
#: ``"batch-of-one"`` ``m(x[None])`` with shape ``[1, time]`` -> per-frame rows
#: ``"waveform"``     ``m(x)`` with ``x`` of shape ``[time]`` -> per-frame rows (or one row)
CALL_CONVENTIONS = ("batch", "keywords", "batch-of-one", "waveform")

POOLINGS = ("mean", "max", "mean+std")


@dataclass(frozen=True)
class ModelSpec:
    """Static description of a named encoder.

    Attributes
    ----------
    name : str
        The alias users type.
    kind : {"tfhub", "embedded", "spectral"}
        Where the model comes from: TF-Hub, weights shipped inside skaloe, or
        no weights at all.
    handles : tuple of str
        TF-Hub handles, the current form first; any of them selects this spec.
        Kaggle model URLs for the same model are listed too.
    kaggle : str or None
        The ``kagglehub.model_download`` identifier, when one is known.
    call : str
        One of :data:`CALL_CONVENTIONS`.
    outputs : dict
        Output key (dict key, tuple index or ``None`` for a bare tensor) ->
        embedding dimension. The first entry is the default.
    min_length : int
        Shortest input, in samples at 16 kHz, that the model accepts or that
        yields at least one frame; shorter clips are padded to it.
    pools_inside : bool
        True when the model returns one vector per clip (no pooling to do).
    default_pooling : str
        Pooling used when ``pooling="auto"``.
    """

    name: str
    kind: str
    call: str
    outputs: dict
    handles: tuple = ()
    kaggle: str | None = None
    min_length: int = 0
    pools_inside: bool = False
    default_pooling: str = "mean"
    description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def default_output(self):
        return next(iter(self.outputs))


def _trillsson(n):
    return ModelSpec(
        name=f"trillsson{n}",
        kind="tfhub",
        call="batch",
        outputs={"embedding": 1024},
        handles=(
            f"https://tfhub.dev/google/nonsemantic-speech-benchmark/trillsson{n}/1",
            f"https://tfhub.dev/google/trillsson{n}/1",
            f"https://www.kaggle.com/models/google/trillsson/TensorFlow2/{n}/1",
        ),
        kaggle=f"google/trillsson/tensorFlow2/{n}",
        # TRILLsson pads short audio (mirror padding to 2 s) inside the model.
        min_length=0,
        pools_inside=True,
        description=f"TRILLsson{n}, distilled paralinguistic speech encoder (1024-d, clip level)",
    )


_NSSB = "https://tfhub.dev/google/nonsemantic-speech-benchmark"

MODEL_SPECS = {
    **{f"trillsson{n}": _trillsson(n) for n in range(1, 6)},
    "trill": ModelSpec(
        name="trill",
        kind="tfhub",
        call="keywords",
        # The TRILL page says layer19 was better on every downstream task tried.
        outputs={"layer19": 12288, "embedding": 512},
        handles=(f"{_NSSB}/trill/3",),
        kaggle="google/nonsemantic-speech-benchmark/tensorFlow2/trill",
        description="TRILL v3, ResNet triplet-loss speech encoder (per frame; layer19 12288-d or embedding 512-d)",
    ),
    "trill-distilled": ModelSpec(
        name="trill-distilled",
        kind="tfhub",
        call="keywords",
        outputs={"embedding": 2048},
        handles=(f"{_NSSB}/trill-distilled/3",),
        description="TRILL-distilled v3, MobileNet student of TRILL (per frame, 2048-d)",
    ),
    "frill": ModelSpec(
        name="frill",
        kind="tfhub",
        call="batch-of-one",
        outputs={"embedding": 2048},
        handles=(
            f"{_NSSB}/frill/1",
            "https://kaggle.com/models/google/nonsemantic-speech-benchmark/frameworks/"
            "TensorFlow2/variations/frill/versions/1",
        ),
        # Model card: "Audio must be at least 960 ms long".
        min_length=15360,
        description="FRILL v1, fast MobileNetV3 speech encoder (per frame, 2048-d)",
    ),
    "yamnet": ModelSpec(
        name="yamnet",
        kind="tfhub",
        call="waveform",
        # (scores, embeddings, log_mel_spectrogram): index 1 is the embedding.
        outputs={1: 1024},
        handles=(
            "https://tfhub.dev/google/yamnet/1",
            "https://www.kaggle.com/models/google/yamnet/TensorFlow2/yamnet/1",
        ),
        description="YAMNet v1, MobileNetV1 AudioSet event classifier (per 0.96 s frame, 1024-d)",
    ),
    "vggish": ModelSpec(
        name="vggish",
        kind="tfhub",
        call="waveform",
        outputs={None: 128},
        handles=(
            "https://tfhub.dev/google/vggish/1",
            "https://www.kaggle.com/models/google/vggish/TensorFlow2/vggish/1",
        ),
        # Shorter clips give a (0, 128) output (tensorflow/models#9585).
        min_length=15600,
        description="VGGish v1, VGG-like AudioSet encoder (per 0.96 s frame, 128-d)",
    ),
    "ge2e": ModelSpec(
        name="ge2e",
        kind="embedded",
        call="batch",
        # Readouts of skaloe.encoders._ge2e: pooled hidden states of all three
        # LSTM layers (default), of one layer, or the speaker vector (d-vector).
        outputs={"hidden": 1536, "layer1": 512, "layer2": 512, "layer3": 512, "speaker": 256},
        pools_inside=True,
        description="built-in, offline: GE2E pretrained speech LSTM (Resemblyzer 0.1.4 weights "
                    "ship with skaloe), hidden-state statistics 1536-d or speaker vector 256-d "
                    "(no download)",
    ),
    "logmel": ModelSpec(
        name="logmel",
        kind="spectral",
        call="batch",
        outputs={None: 128},
        min_length=400,
        default_pooling="mean+std",
        description="built-in, offline: 64-band log-mel spectrogram statistics (no download)",
        extra={"n_mels": 64, "n_mfcc": 0, "deltas": 0},
    ),
    "mfcc": ModelSpec(
        name="mfcc",
        kind="spectral",
        call="batch",
        outputs={None: 80},
        min_length=400,
        default_pooling="mean+std",
        description="built-in, offline: mean and std of 20 MFCCs from a 64-band log-mel, "
                    "std of their deltas and delta-deltas (no download)",
        extra={"n_mels": 64, "n_mfcc": 20, "deltas": 2},
    ),
}


def normalize_handle(handle):
    """Canonical form of a URL handle for matching (no query, no trailing slash)."""
    handle = str(handle).strip()
    handle = handle.split("?", 1)[0].rstrip("/")
    scheme, sep, rest = handle.partition("://")
    if not sep:
        return handle
    host, _, path = rest.partition("/")
    host = host.lower()
    if host.startswith("www."):
        host = host[4:]
    return f"{scheme.lower()}://{host}/{path}"


_HANDLE_TO_SPEC = {
    normalize_handle(h): spec for spec in MODEL_SPECS.values() for h in spec.handles
}
_KAGGLE_TO_SPEC = {
    spec.kaggle.lower(): spec for spec in MODEL_SPECS.values() if spec.kaggle
}


def is_url(handle):
    return isinstance(handle, str) and handle.lower().startswith(("http://", "https://"))


def looks_like_kaggle_id(handle):
    """``owner/model/framework/variation[/version]`` with no scheme."""
    if not isinstance(handle, str) or is_url(handle) or os.path.exists(handle):
        return False
    parts = handle.strip("/").split("/")
    return len(parts) in (4, 5) and parts[2].lower() == "tensorflow2"


def spec_for_handle(handle):
    """The :class:`ModelSpec` a handle or Kaggle id stands for, or None."""
    if is_url(handle):
        return _HANDLE_TO_SPEC.get(normalize_handle(handle))
    if looks_like_kaggle_id(handle):
        parts = handle.strip("/").split("/")
        return _KAGGLE_TO_SPEC.get("/".join(parts[:4]).lower())
    return None


def available_models():
    """Names and one-line descriptions of the encoders skaloe knows by name.

    Returns
    -------
    models : dict
        Alias -> description. Aliases of kind ``tfhub`` download their model
        from TF-Hub on first use (or read it from ``TFHUB_CACHE_DIR``); the
        ``ge2e`` network (its weights ship with skaloe) and the ``logmel`` and
        ``mfcc`` statistics are built in and work offline.

    Examples
    --------
    >>> from skaloe.encoders import available_models
    >>> "trillsson5" in available_models() and "ge2e" in available_models()
    True
    """
    return {name: spec.description for name, spec in MODEL_SPECS.items()}
