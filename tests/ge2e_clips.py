"""Deterministic speech-like clips for the GE2E golden values (tests and tools share them).

``tools/make_ge2e_golden.py`` embeds these clips with the original
Resemblyzer 0.1.4 network (torch) and writes ``tests/data/ge2e_golden.json``;
``tests/test_ge2e.py`` embeds the same clips with skaloe's numpy network and
compares. numpy's ``default_rng`` streams are stable across platforms and
versions, so both sides build identical samples.
"""

import numpy as np

SAMPLE_RATE = 16000

#: name -> (seed, duration in seconds, peak amplitude)
GOLDEN_CLIPS = {
    "short-0.3s": (0, 0.3, 0.3),
    "1.0s": (1, 1.0, 0.3),
    "1.7s": (2, 1.7, 0.3),
    "2.5s": (3, 2.5, 0.3),
    "3.0s": (4, 3.0, 0.3),
    "7.0s": (5, 7.0, 0.3),
    "quiet-1.2s": (6, 1.2, 0.002),
    "loud-2.0s": (7, 2.0, 0.95),
    "ten-samples": (8, 10 / SAMPLE_RATE, 0.3),
}


def golden_clip(name):
    """A voiced, vowel-like float32 waveform at 16 kHz: harmonics of a gliding pitch,
    shaped by three formants, with a syllable envelope and a little noise."""
    seed, seconds, peak = GOLDEN_CLIPS[name]
    rng = np.random.default_rng(seed)
    n = max(1, int(round(seconds * SAMPLE_RATE)))
    t = np.arange(n) / SAMPLE_RATE
    f0 = rng.uniform(90, 220) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    formants = rng.uniform([300, 900, 2200], [800, 2000, 3200])
    wave = np.zeros(n)
    for k in range(1, 40):
        freq = k * f0.mean()
        if freq > 7000:
            break
        gain = sum(np.exp(-((freq - f) / 120.0) ** 2) for f in formants) + 0.02
        wave += gain / k * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    envelope = 0.55 - 0.45 * np.cos(2 * np.pi * rng.uniform(1.5, 3.5) * t)
    wave = wave * envelope + 0.01 * rng.standard_normal(n)
    wave *= peak / max(np.abs(wave).max(), 1e-12)
    return wave.astype(np.float32)
