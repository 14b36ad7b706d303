"""Embedding throughput: cold vs warm (cached) passes, side by side in one run.

Measures clips per second of ``EncoderTransformer`` over one-second clips:

1. the built-in encoders, the pretrained ``ge2e`` network (the default) and
   the spectral ``mfcc`` statistics, and a TRILLsson-shaped SavedModel
   (``[batch, time] -> {"embedding": [batch, 1024]}``, built here, loaded through
   tensorflow_hub from a local folder), each without a cache, cold (computing
   and writing the cache) and warm (reading it), on WAV files; the one-off
   load of the GE2E weights is timed apart;
2. the same warm read done the straightforward way, one ``joblib.Memory``
   cached call per clip, to show what the bulk store saves;
3. a warm pass over a large pool held in memory (int16 arrays, keyed by
   content hash), e.g. 100k clips.

Usage::

    python benchmarks/bench_encoder.py                   # 20k files, 100k pool
    python benchmarks/bench_encoder.py --n-clips 2000 --n-pool 10000   # quick

Prints a table and the ratios. Timings on shared machines are noisy: compare
the ratios within one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the test suite's tiny SavedModel builders


def distinct_clips(n, base, rng):
    """``n`` int16 one-second clips cycling through ``base`` with unique dither."""
    reps = base[np.arange(n) % len(base)].astype(np.int32)
    reps += rng.integers(-2, 3, size=reps.shape, dtype=np.int32)
    return np.clip(reps, -32768, 32767).astype(np.int16)


def timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-clips", type=int, default=20000, help="WAV files for the cold/warm passes")
    parser.add_argument("--n-pool", type=int, default=100000, help="in-memory clips for the large warm pass")
    parser.add_argument("--n-joblib", type=int, default=None,
                        help="clips for the per-clip joblib.Memory baseline (default: --n-clips)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--workdir", default=str(HERE / "_work"))
    args = parser.parse_args(argv)
    n_joblib = args.n_joblib or args.n_clips

    import joblib
    import soundfile as sf

    from skaloe import EncoderTransformer
    from skaloe.datasets import make_vowels

    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rng = np.random.default_rng(0)
    base = (make_vowels(500, random_state=0).data * 32767).astype(np.int16)

    print(f"Writing {args.n_clips} one-second WAV files ...", flush=True)
    clips = distinct_clips(args.n_clips, base, rng)
    files = []
    for i, clip in enumerate(clips):
        path = work / "audio" / f"{i // 1000:03d}" / f"clip{i:06d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, clip, 16000, subtype="PCM_16")
        files.append(str(path))
    del clips

    from savedmodels import build_trillsson_like

    model_dir = build_trillsson_like(str(work / "trillsson-like"))
    from skaloe.encoders import _ge2e

    t_weights, _ = timed(_ge2e.load_weights)  # once per process
    encoders = {
        "ge2e (offline, default)": dict(model="ge2e", n_jobs=args.n_jobs),
        "mfcc (offline)": dict(model="mfcc", n_jobs=args.n_jobs),
        "TRILLsson-shaped SavedModel": dict(model=model_dir, batch_size=64, n_jobs=args.n_jobs),
    }
    # Load TensorFlow and the model once, outside the timings.
    EncoderTransformer(model_dir).fit_transform(files[:2])

    rows = []
    for name, params in encoders.items():
        cache = work / f"cache-{len(rows)}"
        t_none, ref = timed(lambda: EncoderTransformer(**params).fit_transform(files))
        t_cold, cold = timed(lambda: EncoderTransformer(**params, memory=cache).fit_transform(files))
        t_warm, warm = timed(lambda: EncoderTransformer(**params, memory=cache).fit_transform(files))
        assert np.array_equal(ref, cold) and np.array_equal(cold, warm)
        rows.append((name, t_none, t_cold, t_warm))

    n = len(files)
    print()
    print(f"{n} one-second WAV files, n_jobs={args.n_jobs}")
    print(f"{'encoder':30s} {'no cache':>14s} {'cold (write)':>14s} {'warm (read)':>14s} {'warm speed-up':>14s}")
    for name, t_none, t_cold, t_warm in rows:
        print(f"{name:30s} {n / t_none:9.0f} c/s {n / t_cold:9.0f} c/s {n / t_warm:9.0f} c/s "
              f"{t_none / t_warm:13.0f}x")
    for name, t_none, t_cold, _ in rows:
        print(f"  {name}: cache write overhead on a cold pass: {t_cold / t_none:.2f}x the uncached time")
    print(f"  ge2e: loading and checking its weights, once per process: {t_weights:.2f} s")

    # The straightforward alternative: one joblib.Memory call per clip.
    memory = joblib.Memory(work / "joblib-per-clip", verbose=0)
    encoder = EncoderTransformer("mfcc").fit(files[:1])
    embed_one = memory.cache(lambda path: encoder.transform([path])[0])
    subset = files[:n_joblib]
    t_jl_cold, _ = timed(lambda: [embed_one(p) for p in subset])
    t_jl_warm, _ = timed(lambda: [embed_one(p) for p in subset])
    t_sk_warm, _ = timed(lambda: EncoderTransformer("mfcc", memory=work / "cache-1").fit_transform(subset))
    print()
    print(f"Warm read of {len(subset)} clips: one joblib.Memory call per clip vs skaloe's bulk store")
    print(f"  joblib.Memory per clip: cold {t_jl_cold:7.2f} s, warm {t_jl_warm:7.2f} s "
          f"({len(subset) / t_jl_warm:8.0f} clips/s)")
    print(f"  skaloe memory=        :           warm {t_sk_warm:7.2f} s "
          f"({len(subset) / t_sk_warm:8.0f} clips/s)")
    print(f"  ratio (joblib per clip / skaloe): {t_jl_warm / t_sk_warm:.0f}x")

    # A large pool held in memory (keys are content hashes of the samples).
    if args.n_pool:
        pool = distinct_clips(args.n_pool, base, rng)
        cache = work / "cache-pool"
        params = dict(model="mfcc", n_jobs=args.n_jobs, memory=cache)
        t_cold, cold = timed(lambda: EncoderTransformer(**params).fit_transform(pool))
        t_warm, warm = timed(lambda: EncoderTransformer(**params).fit_transform(pool))
        assert np.array_equal(cold, warm)
        print()
        print(f"In-memory pool of {args.n_pool} one-second int16 clips ({pool.nbytes / 1e9:.1f} GB), mfcc")
        print(f"  cold pass {t_cold:7.2f} s ({args.n_pool / t_cold:8.0f} clips/s)")
        print(f"  warm pass {t_warm:7.2f} s ({args.n_pool / t_warm:8.0f} clips/s); "
              f"cold/warm ratio {t_cold / t_warm:.1f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
