"""Long recordings: embedding the windows of hours of audio, memory and time, side by side.

For each recording it generates (synthetic, in a scratch folder removed at the
end):

(a) one hour of 16 kHz mono 16-bit WAV,
(b) two hours of 44.1 kHz stereo 16-bit WAV,

it embeds every window of ``--window`` seconds every ``--hop`` seconds with the
default encoder (``ge2e``) two ways, each in a fresh child process that reports
its time and peak resident memory (``VmHWM``):

- **segments**: ``segment_recordings`` then ``EncoderTransformer().transform``
  of the table, which reads the file once, in order, from a rolling buffer;
- **decode whole**: the way before segments, decoding the whole file to 16 kHz
  mono (as ``read_audio_file`` does, with ``MAX_DURATION`` lifted) and
  embedding the windows cut from it in memory.

Usage::

    python benchmarks/bench_long_recordings.py
    python benchmarks/bench_long_recordings.py --hours 0.25 --skip-whole   # quick

Peak memory is that of the whole child process (Python, numpy, scikit-learn,
the encoder's weights and the work); ``baseline`` is the child's peak after its
imports, before any audio. Timings on a shared machine are noisy: compare the
ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np

    def vm_hwm():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    mode, path, window, hop, n_jobs, out = sys.argv[1:7]
    window, hop, n_jobs = float(window), float(hop), int(n_jobs)
    from skaloe import EncoderTransformer
    from skaloe.datasets import segment_recordings
    from skaloe.encoders import _ge2e

    _ge2e.load_weights()
    baseline = vm_hwm()
    start = time.perf_counter()
    table = segment_recordings(path, window=window, hop=hop, as_frame=False)
    encoder = EncoderTransformer(n_jobs=n_jobs).fit(table)
    if mode == "segments":
        emb = encoder.transform(table)
    else:
        from skaloe.encoders import _audio
        from skaloe.encoders._segments import frame_at

        _audio.MAX_DURATION = float("inf")
        wave = _audio.read_audio_file(path, 0)  # the whole file, 16 kHz mono
        clips = [wave[frame_at(s, 16000):frame_at(e, 16000)]
                 for s, e in zip(table.start, table.end)]
        emb = encoder.transform(clips)
    seconds = time.perf_counter() - start
    if out != "-":
        np.save(out, emb)
    print(json.dumps({"seconds": seconds, "peak": vm_hwm(), "baseline": baseline,
                      "rows": len(emb)}))
    """
)


def write_recording(path, hours, rate, channels, rng):
    """Speech-like vowels, tones and silences over low noise, written block by block."""
    import soundfile as sf

    from skaloe.datasets import make_vowels

    vowels = make_vowels(48, random_state=0).data  # 1 s clips at 16 kHz
    if rate != 16000:
        import librosa

        vowels = librosa.resample(vowels, orig_sr=16000, target_sr=rate, res_type="soxr_hq")
    block = 60 * rate
    with sf.SoundFile(path, "w", samplerate=rate, channels=channels, subtype="PCM_16") as f:
        for _ in range(int(round(hours * 60))):
            x = 0.003 * rng.standard_normal(block).astype(np.float32)
            for at in rng.integers(0, block - vowels.shape[1], size=30):
                x[at : at + vowels.shape[1]] += vowels[rng.integers(len(vowels))]
            silent = rng.integers(0, block - 5 * rate)
            x[silent : silent + 5 * rate] = 0.0  # a stretch of digital silence
            if channels > 1:
                x = np.stack([x, 0.8 * x], axis=1)
            f.write(x)


def run_child(mode, path, window, hop, n_jobs, out):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = here + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, mode, path, str(window), str(hop), str(n_jobs), out],
        capture_output=True, text=True, env=env,
    )
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def mb(n):
    return f"{n / 2**20:8.0f} MB"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0,
                        help="length of recording (a); (b) is twice as long")
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--hop", type=float, default=0.5)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--skip-whole", action="store_true",
                        help="skip the decode-whole baseline (it needs gigabytes for (b))")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temp dir)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    work = tempfile.mkdtemp(prefix="skaloe-bench-long-", dir=args.workdir)
    try:
        recordings = [
            ("(a)", f"{args.hours:g} h, 16 kHz mono", args.hours, 16000, 1),
            ("(b)", f"{2 * args.hours:g} h, 44.1 kHz stereo", 2 * args.hours, 44100, 2),
        ]
        print(f"windows of {args.window:g} s every {args.hop:g} s, encoder ge2e, "
              f"n_jobs={args.n_jobs}\n")
        header = (f"{'recording':28s} {'way':13s} {'windows':>8s} {'time':>9s} "
                  f"{'peak RSS':>11s} {'baseline':>11s} {'increase':>11s}")
        print(header)
        print("-" * len(header))
        ratios = []
        for tag, name, hours, rate, channels in recordings:
            path = os.path.join(work, f"recording-{rate}-{channels}ch.wav")
            t0 = time.perf_counter()
            write_recording(path, hours, rate, channels, rng)
            size = os.path.getsize(path)
            decoded = int(hours * 3600 * rate) * 4
            label = f"{tag} {name}"
            results = {}
            for mode in ("segments", "decode whole"):
                if mode == "decode whole" and args.skip_whole:
                    continue
                out = os.path.join(work, f"{tag}-{mode.split()[0]}.npy") if tag == "(a)" else "-"
                r = run_child(mode.split()[0], path, args.window, args.hop, args.n_jobs, out)
                results[mode] = r
                if "error" in r:
                    print(f"{label:28s} {mode:13s} failed: {r['error']}")
                    continue
                print(f"{label:28s} {mode:13s} {r['rows']:8d} {r['seconds']:8.1f}s "
                      f"{mb(r['peak'])}  {mb(r['baseline'])}  {mb(r['peak'] - r['baseline'])}")
                label = ""
            print(f"{'':28s} (file {size / 2**20:.0f} MB on disk, {decoded / 2**20:.0f} MB "
                  f"as float32 mono at its rate; written in {time.perf_counter() - t0:.0f} s)")
            seg, whole = results.get("segments"), results.get("decode whole")
            if seg and whole and "error" not in seg and "error" not in whole:
                ratios.append((tag, whole["seconds"] / seg["seconds"],
                               (whole["peak"] - whole["baseline"])
                               / max(seg["peak"] - seg["baseline"], 1),
                               whole["peak"] / seg["peak"]))
            if tag == "(a)" and len(results) == 2:
                a = np.load(os.path.join(work, "(a)-segments.npy"))
                b = np.load(os.path.join(work, "(a)-decode.npy"))
                print(f"{'':28s} embeddings of the two ways identical: {np.array_equal(a, b)}")
            os.remove(path)
        if ratios:
            print("\nratios, decode whole / segments:")
            for tag, time_ratio, increase_ratio, peak_ratio in ratios:
                print(f"  {tag} time {time_ratio:.2f}x, memory increase {increase_ratio:.1f}x, "
                      f"peak RSS {peak_ratio:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
