"""Running an encoder over decoded clips: padding, batching, output checks, pooling.

Batching never changes a result: clips are batched only with clips of the
same length (no padding between clips), and frame pooling is done per clip.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np

from ._registry import MODEL_SAMPLE_RATE
from ._spectral import add_deltas, spectral_frames


def pad_to(x, min_length):
    """Mirror-pad a clip at its end up to ``min_length`` samples.

    Mirror (``symmetric``) padding is what Google's embedding pipelines use for
    a model's minimum input length (non_semantic_speech_benchmark,
    ``data_prep/beam_dofns.py``), and what TRILLsson does inside.
    """
    if len(x) >= min_length:
        return x
    return np.pad(x, (0, min_length - len(x)), mode="symmetric")


def pool_frames(frames, pooling, axis=0):
    """Pool per-frame rows into one vector per clip."""
    if pooling == "mean":
        return frames.mean(axis=axis)
    if pooling == "max":
        return frames.max(axis=axis)
    if pooling == "mean+std":
        return np.concatenate([frames.mean(axis=axis), frames.std(axis=axis)], axis=-1)
    raise ValueError(f"Unknown pooling {pooling!r}.")


def group_by_length(waveforms):
    groups = defaultdict(list)
    for i, w in enumerate(waveforms):
        groups[len(w)].append(i)
    return groups.values()


def _parallel_map(func, items, n_jobs):
    """``[func(x) for x in items]`` on ``n_jobs`` threads, in contiguous blocks.

    Decoding (libsndfile, soxr), hashing (hashlib) and numpy release the GIL,
    so threads scale; blocks keep the per-task overhead negligible even for
    100k cheap items.
    """
    items = list(items)
    from joblib import effective_n_jobs

    n_workers = min(effective_n_jobs(n_jobs), len(items))
    if n_workers <= 1:
        return [func(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    n_blocks = min(len(items), 4 * n_workers)
    bounds = np.linspace(0, len(items), n_blocks + 1).astype(int)
    blocks = [items[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    with ThreadPoolExecutor(n_workers) as pool:
        results = pool.map(lambda block: [func(item) for item in block], blocks)
        return [r for block in results for r in block]


def check_embeddings(emb, indices, name):
    """Refuse embeddings with NaN or infinite values, naming the first such clip.

    Every runner's output goes through here before it is returned (and so
    before it can be cached).
    """
    emb = np.asarray(emb, dtype=np.float32)
    finite = np.isfinite(emb).all(axis=1)
    if not finite.all():
        bad = [int(indices[row]) for row in np.flatnonzero(~finite)]
        more = f" (and {len(bad) - 1} more clips)" if len(bad) > 1 else ""
        raise ValueError(
            f"Model {name} returned NaN or infinite values for X[{bad[0]}]{more}; check that "
            "the clip holds audio in [-1, 1] (a warning names clips far outside it) and that "
            "the model is the one intended. Such embeddings are never returned or cached."
        )
    return emb


class Runner:
    """An encoder run over decoded clips; ``embed`` checks what ``_embed`` returns."""

    name = None  # how messages name the model, e.g. "'mfcc'"

    def embed(self, waveforms, indices):
        """Embed 16 kHz float32 clips; ``indices`` are their positions in X."""
        return check_embeddings(self._embed(waveforms, indices), indices, self.name)


class SpectralRunner(Runner):
    """The built-in log-mel / MFCC statistics encoder."""

    def __init__(self, n_mels, n_mfcc, pooling, min_length, n_jobs=None, block_frames=8192,
                 deltas=0):
        self.n_mels, self.n_mfcc, self.deltas = n_mels, n_mfcc, deltas
        self.pooling, self.min_length = pooling, min_length
        self.n_jobs, self.block_frames = n_jobs, block_frames
        self.name = repr("mfcc" if n_mfcc else "logmel")

    def _embed(self, waveforms, indices):
        waveforms = [pad_to(w, self.min_length) for w in waveforms]
        blocks = []
        for group in group_by_length(waveforms):
            # Blocks of about block_frames frames: 80 one-second clips, or one long clip.
            n_frames = 1 + (len(waveforms[group[0]]) - 400) // 160
            size = max(1, self.block_frames // n_frames)
            for start in range(0, len(group), size):
                blocks.append(group[start : start + size])

        n_static = self.n_mfcc or self.n_mels

        def features(block, dtype=np.float32):
            batch = np.stack([waveforms[i] for i in block])
            frames = spectral_frames(batch, self.n_mels, self.n_mfcc, dtype=dtype)
            frames = add_deltas(frames, self.deltas)
            if self.deltas and self.pooling in ("mean", "mean+std"):
                # The mean of a time derivative is near zero on any clip: only
                # the static coefficients contribute means, all contribute stds.
                mean = frames[:, :, :n_static].mean(axis=1)
                if self.pooling == "mean":
                    return mean
                return np.concatenate([mean, frames.std(axis=1)], axis=-1)
            return pool_frames(frames, self.pooling, axis=1)

        def run(block):
            with np.errstate(over="ignore", invalid="ignore"):
                emb = features(block)
            # A clip with samples around 1e17 and beyond overflows float32 spectra: it
            # alone is computed again in float64, where any float32 clip fits.
            for row in np.flatnonzero(~np.isfinite(emb).all(axis=1)):
                emb[row] = features(block[row : row + 1], np.float64)[0]
            return emb

        results = _parallel_map(run, blocks, self.n_jobs)
        out = np.empty((len(waveforms), results[0].shape[1]), dtype=np.float32)
        for block, emb in zip(blocks, results):
            out[block] = emb
        return out


class GE2ERunner(Runner):
    """The embedded GE2E network (``skaloe.encoders._ge2e``)."""

    name = "'ge2e'"

    def __init__(self, output_key, min_length=0, n_jobs=None):
        self.output_key, self.min_length, self.n_jobs = output_key, min_length, n_jobs

    def _embed(self, waveforms, indices):
        from . import _ge2e

        waveforms = [pad_to(w, self.min_length) for w in waveforms]
        return _ge2e.embed(waveforms, self.output_key, n_jobs=self.n_jobs)


def select_output(raw, output_key, name):
    """Pick the embedding out of what a model returned, or say what went wrong."""
    if isinstance(raw, Mapping):
        keys = list(raw.keys())
        if output_key is None:
            if "embedding" in raw:
                output_key = "embedding"
            elif len(keys) == 1:
                output_key = keys[0]
            else:
                raise ValueError(
                    f"Model {name} returned a dict with outputs {keys}; set output_key to the "
                    "one that holds the embedding."
                )
        if output_key not in raw:
            raise ValueError(
                f"Model {name} returned a dict with outputs {keys}, without {output_key!r}; "
                "set output_key to one of those (or check call_convention)."
            )
        return np.asarray(raw[output_key])
    if isinstance(raw, (tuple, list)):
        shapes = [tuple(np.shape(r)) for r in raw]
        if not isinstance(output_key, (int, np.integer)) or isinstance(output_key, bool):
            raise ValueError(
                f"Model {name} returned a tuple of {len(raw)} outputs with shapes {shapes}; "
                "set output_key to the position of the embedding (e.g. output_key=1)."
            )
        if not 0 <= output_key < len(raw):
            raise ValueError(
                f"output_key={output_key} is out of range: model {name} returned "
                f"{len(raw)} outputs with shapes {shapes}."
            )
        return np.asarray(raw[output_key])
    if output_key is not None:
        raise ValueError(
            f"Model {name} returned a single array of shape {tuple(np.shape(raw))}, not a dict "
            f"or tuple, so output_key={output_key!r} does not apply; use output_key=None."
        )
    return np.asarray(raw)


_TF_ERROR_NOISE = ("Graph execution error", "Detected at node", "<stack traces unavailable>")


def _error_summary(exc):
    """The line of an error message that says what went wrong.

    TensorFlow graph errors start with "Graph execution error:" and a stack
    trace; the cause (an assertion message, a shape mismatch) comes after.
    """
    lines = [line for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if line[0].isspace() or line.startswith(_TF_ERROR_NOISE):
            continue
        return line.strip()
    return lines[0].strip() if lines else type(exc).__name__


class ModelRunner(Runner):
    """A TensorFlow SavedModel or a Python callable with a call convention."""

    def __init__(
        self,
        get_model,
        call,
        output_key,
        pooling,
        min_length,
        batch_size,
        name,
        dim=None,
        tensorflow=True,
    ):
        self.get_model, self.call, self.output_key = get_model, call, output_key
        self.pooling, self.min_length, self.batch_size = pooling, min_length, batch_size
        self.name, self.dim, self.tensorflow = name, dim, tensorflow

    def _invoke(self, model, x, index):
        try:
            return self._call(model, x)
        except Exception as exc:
            first_line = _error_summary(exc)
            where = f"X[{index}]" if np.ndim(x) == 1 else f"a batch of clips starting at X[{index}]"
            raise ValueError(
                f"Model {self.name} failed on {where} ({np.shape(x)[-1]} samples, "
                f"call_convention={self.call!r}): {type(exc).__name__}: {first_line}. If the "
                "clip is too short for the model, set min_length; if the model expects another "
                "input layout, set call_convention."
            ) from exc

    def _call(self, model, x):
        if self.tensorflow:
            from ._tfhub import call_model

            return call_model(model, self.call, x)
        if self.call == "keywords":
            return model(samples=x, sample_rate=MODEL_SAMPLE_RATE)
        if self.call == "batch-of-one":
            return model(x[np.newaxis, :])
        return model(x)

    def _check_dim(self, emb):
        if self.dim is not None and emb.shape[-1] != self.dim:
            raise ValueError(
                f"Model {self.name} returned {emb.shape[-1]}-d embeddings, but {self.dim} were "
                "expected for it: the model behind this handle does not match its declared "
                "output (check output_key and call_convention)."
            )
        return emb

    def _pool(self, out, index, length):
        if out.ndim == 3 and out.shape[0] == 1:
            out = out[0]
        if out.ndim == 1:
            return out
        if out.ndim != 2:
            raise ValueError(
                f"Model {self.name} returned shape {out.shape} for X[{index}]; expected "
                "(n_frames, dim) or (dim,) with call_convention="
                f"{self.call!r}. Check call_convention and output_key."
            )
        if out.shape[0] == 0:
            raise ValueError(
                f"Model {self.name} returned no frames for X[{index}] ({length} samples at "
                f"16 kHz, {length / MODEL_SAMPLE_RATE:.3f} s); the clip is shorter than the "
                "model's input window. Set min_length (in samples) to pad short clips."
            )
        if self.pooling is None:
            raise ValueError(
                f"Model {self.name} returned {out.shape[0]} frames for X[{index}] but is "
                "declared to return one vector per clip; set call_convention or pooling."
            )
        return pool_frames(out, self.pooling)

    def _embed(self, waveforms, indices):
        model = self.get_model()
        waveforms = [pad_to(w, self.min_length) for w in waveforms]
        out = [None] * len(waveforms)
        if self.call == "batch":
            for group in group_by_length(waveforms):
                for start in range(0, len(group), self.batch_size):
                    block = group[start : start + self.batch_size]
                    batch = np.stack([waveforms[i] for i in block])
                    raw = self._invoke(model, batch, indices[block[0]])
                    emb = select_output(raw, self.output_key, self.name)
                    if emb.ndim == 3 and emb.shape[0] == len(block) and self.pooling:
                        emb = pool_frames(emb, self.pooling, axis=1)
                    if emb.ndim != 2 or emb.shape[0] != len(block):
                        raise ValueError(
                            f"Model {self.name} returned shape {emb.shape} for a batch of "
                            f"{len(block)} clips (call_convention='batch' expects "
                            f"({len(block)}, dim)); check call_convention and output_key."
                        )
                    for row, i in enumerate(block):
                        out[i] = emb[row]
        else:
            for i, w in enumerate(waveforms):
                raw = self._invoke(model, w, indices[i])
                emb = select_output(raw, self.output_key, self.name)
                out[i] = self._pool(emb, indices[i], len(w))
        return self._check_dim(np.asarray(np.stack(out), dtype=np.float32))
