"""Encoders compared on label efficiency: full-data linear probe, and margin vs random sampling.

Three speech tasks that can be made on this machine, without a download:

- ``vowels``: 1200 synthetic sustained vowels, 12 classes, 40 synthetic
  speakers (:func:`skaloe.datasets.make_vowels`);
- ``keywords``: 10 command words (Speech Commands' ten) spoken by espeak-ng
  in 4 English accents x 30 voice variants at random rate and pitch, placed
  at a random offset in a 1 s clip with background noise at 10-30 dB SNR;
- ``language``: strings of 5-8 digits read by espeak-ng in 8 languages, with
  the same voice variants, rates, pitches and noise (2-4 s clips).

The test set holds voices not in the pool (the voice variant for the
espeak-ng tasks, the speaker for the vowels), so a probe must generalise to
new speakers. For every encoder: the embedding time, the test accuracy of
``StandardScaler + LogisticRegression`` trained on the whole pool, and ALOE's
loop (:func:`skaloe.experiment.simulate`: one label per class to start, then
class-aware rounds of one label per predicted class, ``--runs`` seed sets)
with smallest-margin and with random queries, reported at a budget of
``--budget`` of the pool: test accuracy (mean +- std over runs) and as a
share of the full-data probe.

Encoders: skaloe's ``ge2e`` readouts (``hidden``, the default, pooled over
the frames that hold audio; the same pooled over every frame of each partial,
zero padding included, as Resemblyzer's partials hold it; ``layer2``;
``speaker``), skaloe's spectral ``mfcc`` and ``logmel``, and a plain
reference computed here with librosa: log-mel (64 bands) and 20 MFCCs with
their deltas and delta-deltas, mean and standard deviation over frames
("Mel / MFCC" statistics, as in Shor et al. 2020, Table 2).

Needs espeak-ng (``apt-get install espeak-ng``) for ``keywords`` and
``language``; without it those tasks are skipped, with a note.

Usage::

    python benchmarks/bench_label_efficiency.py                     # all tasks
    python benchmarks/bench_label_efficiency.py --tasks keywords --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SR = 16000
KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-029"]
LANGUAGES = ["en-us", "de", "fr-fr", "es", "it", "pt", "nl", "pl"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt",
            "klatt2", "klatt3", "klatt4", "adam", "Alex", "Andy", "annie", "belinda", "boris",
            "david", "ed", "john", "linda", "max", "michel", "paul", "steph"]


# -- the tasks ------------------------------------------------------------------------


def _espeak(text, voice, variant, rate, pitch):
    import librosa
    import soundfile as sf

    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", f"{voice}+{variant}", "-s", str(rate), "-p", str(pitch),
                        "-w", f.name, text], check=True, capture_output=True)
        wav, sr = sf.read(f.name, dtype="float32")
    return librosa.resample(wav, orig_sr=sr, target_sr=SR)


def _with_noise(wav, rng, snr_db):
    noise = rng.standard_normal(len(wav)).astype(np.float32)
    power = float(np.mean(wav**2)) or 1e-8
    noise *= np.sqrt(power / 10 ** (snr_db / 10)) / max(float(np.std(noise)), 1e-8)
    out = wav + noise
    return (out * (rng.uniform(0.1, 0.8) / max(np.abs(out).max(), 1e-8))).astype(np.float32)


def make_espeak_task(task, n_per_class, random_state):
    """Clips, labels, class names and voice groups of ``keywords`` or ``language``."""
    rng = np.random.default_rng(random_state)
    classes = KEYWORDS if task == "keywords" else LANGUAGES
    jobs = []
    for label in range(len(classes)):
        for _ in range(n_per_class):
            variant = int(rng.integers(len(VARIANTS)))
            if task == "keywords":
                voice, text = ACCENTS[int(rng.integers(len(ACCENTS)))], classes[label]
            else:
                voice = classes[label]
                text = " ".join(str(d) for d in rng.integers(0, 10, int(rng.integers(5, 9))))
            jobs.append((label, variant, voice, text, int(rng.integers(120, 220)),
                         int(rng.integers(20, 80)), float(rng.uniform(10, 30)),
                         int(rng.integers(2**31))))

    def make(job):
        label, variant, voice, text, rate, pitch, snr, seed = job
        wav = _espeak(text, voice, VARIANTS[variant], rate, pitch)
        local = np.random.default_rng(seed)
        if task == "keywords":  # a 1 s clip, the word at a random offset
            wav = np.trim_zeros(wav)[:SR]
            clip = np.zeros(SR, np.float32)
            start = int(local.integers(0, SR - len(wav) + 1))
            clip[start:start + len(wav)] = wav
            wav = clip
        return _with_noise(wav, local, snr)

    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        clips = list(pool.map(make, jobs))
    y = np.array([j[0] for j in jobs])
    groups = np.array([j[1] for j in jobs])
    return clips, y, list(classes), groups


def make_vowel_task(n_samples, random_state):
    from skaloe.datasets import make_vowels

    data = make_vowels(n_samples, random_state=random_state)
    clips = [np.asarray(c, np.float32) for c in data.data]
    return clips, np.asarray(data.target), list(data.target_names), np.asarray(data.speaker)


# -- the encoders -----------------------------------------------------------------------


def reference_statistics(clips):
    """Plain log-mel + MFCC (+ deltas) statistics with librosa, the classical baseline."""
    import librosa

    rows = []
    for wav in clips:
        mel = librosa.feature.melspectrogram(y=wav, sr=SR, n_fft=512, win_length=400,
                                             hop_length=160, n_mels=64)
        logmel = np.log(mel + 1e-6)
        mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=20)
        feats = np.concatenate([logmel, mfcc, librosa.feature.delta(mfcc, mode="nearest"),
                                librosa.feature.delta(mfcc, order=2, mode="nearest")])
        rows.append(np.concatenate([feats.mean(axis=1), feats.std(axis=1)]))
    return np.asarray(rows, dtype=np.float32)


def encoders(n_jobs):
    from skaloe import EncoderTransformer
    from skaloe.encoders import _ge2e

    def transformer(**params):
        return lambda clips: EncoderTransformer(n_jobs=n_jobs, **params).fit_transform(clips)

    return {
        "ge2e hidden (default)": transformer(model="ge2e"),
        "ge2e hidden, all frames": lambda clips: _ge2e.embed(
            clips, "hidden", n_jobs=n_jobs, pool_real_frames=False),
        "ge2e layer2": transformer(model="ge2e", output_key="layer2"),
        "ge2e speaker": transformer(model="ge2e", output_key="speaker"),
        "mfcc": transformer(model="mfcc"),
        "logmel": transformer(model="logmel"),
        "reference mel+mfcc+deltas": reference_statistics,
    }


# -- the measurements -------------------------------------------------------------------


def evaluate(X, y, groups, budget, runs, random_state):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupShuffleSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skaloe.experiment import simulate

    split = GroupShuffleSplit(n_splits=1, test_size=0.3, random_state=random_state)
    pool, test = next(split.split(X, y, groups))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    n_classes = len(np.unique(y))
    n_rounds = max(1, int(round((budget * len(pool) - n_classes) / n_classes)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = simulate(X[pool], y[pool], X[test], y[test], estimator=model,
                           strategies=("margin", "random"), selections=("class-aware",),
                           n_per_class=1, n_rounds=n_rounds, n_runs=runs,
                           random_state=random_state)
    curves = results.curves()
    labels, margin, margin_std = curves[("margin", "class-aware")]
    _, random_, random_std = curves[("random", "class-aware")]
    return {
        "full": results.upper_bound["val_score"], "n_pool": len(pool), "n_test": len(test),
        "labels": int(round(labels[-1])), "margin": (margin[-1], margin_std[-1]),
        "random": (random_[-1], random_std[-1]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["vowels", "keywords", "language"],
                        choices=["vowels", "keywords", "language"])
    parser.add_argument("--n-per-class", type=int, default=150,
                        help="clips per class of the espeak-ng tasks (default: 150)")
    parser.add_argument("--budget", type=float, default=0.1,
                        help="labels as a share of the pool for the AL comparison (default: 0.1)")
    parser.add_argument("--runs", type=int, default=5, help="seed sets (default: 5)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--encoders", nargs="+", default=None, help="a subset, by name")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)

    import sklearn

    import skaloe

    rows = []
    for task in args.tasks:
        if task != "vowels" and shutil.which("espeak-ng") is None:
            print(f"{task}: skipped, espeak-ng is not installed (apt-get install espeak-ng)")
            continue
        t0 = time.perf_counter()
        if task == "vowels":
            clips, y, names, groups = make_vowel_task(1200, args.random_state)
        else:
            clips, y, names, groups = make_espeak_task(task, args.n_per_class, args.random_state)
        seconds = sum(len(c) for c in clips) / SR
        print(f"{task}: {len(clips)} clips ({seconds / len(clips):.1f} s each on average), "
              f"{len(names)} classes, made in {time.perf_counter() - t0:.0f} s", flush=True)
        for name, encode in encoders(args.n_jobs).items():
            if args.encoders and name not in args.encoders:
                continue
            t0 = time.perf_counter()
            X = encode(clips)
            embed_time = time.perf_counter() - t0
            r = evaluate(X, y, groups, args.budget, args.runs, args.random_state)
            rows.append((task, name, X.shape[1], len(clips) / embed_time, r))
            print(f"  {name}: done ({embed_time:.1f} s to embed)", flush=True)

    print()
    print(f"Label efficiency: budget {args.budget:.0%} of the pool, {args.runs} runs, test "
          "set of unseen voices")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, scikit-learn "
          f"{sklearn.__version__}, skaloe {skaloe.__version__}, n_jobs {args.n_jobs}")
    print(f"{'task':9s} {'encoder':26s} {'dim':>5s} {'clips/s':>8s} {'full':>6s} "
          f"{'labels':>6s} {'margin':>13s} {'random':>13s} {'margin/full':>11s} "
          f"{'margin-random':>13s}")
    for task, name, dim, speed, r in rows:
        (m, ms), (q, qs) = r["margin"], r["random"]
        print(f"{task:9s} {name:26s} {dim:5d} {speed:8.0f} {r['full']:6.3f} {r['labels']:6d} "
              f"{m:6.3f}+-{ms:5.3f} {q:6.3f}+-{qs:5.3f} {m / r['full']:10.0%} "
              f"{100 * (m - q):+12.1f}")


if __name__ == "__main__":
    main()
