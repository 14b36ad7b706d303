"""Golden GE2E outputs from the original Resemblyzer 0.1.4 network, for skaloe's tests.

Run once in a scratch environment that has torch and the Resemblyzer wheel
(never in the project's environment, nor in CI)::

    python -m venv /tmp/ge2e-golden && . /tmp/ge2e-golden/bin/activate
    pip install "setuptools<82" torch librosa scipy webrtcvad
    pip install --no-deps resemblyzer==0.1.4
    python tools/make_ge2e_golden.py            # writes tests/data/ge2e_golden.json

For each clip of ``tests/ge2e_clips.py`` it records:

- ``speaker``: ``VoiceEncoder("cpu").embed_utterance`` of the clip after
  Resemblyzer's own volume normalisation (``normalize_volume(wav, -30,
  increase_only=True)``), without its webrtcvad silence trimming;
- ``layer_means``: for the first partial (the first 160 mel frames), the mean
  over frames of each LSTM layer's hidden states (3 x 256), from torch LSTM
  layers that carry the same weights;
- the number of partials.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from resemblyzer import VoiceEncoder, audio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from ge2e_clips import GOLDEN_CLIPS, golden_clip  # noqa: E402

OUTPUT = ROOT / "tests" / "data" / "ge2e_golden.json"


def layer_means(encoder, mels):
    """Mean over frames of each layer's hidden states, for the first partial."""
    x = torch.from_numpy(mels[:1])
    means = []
    with torch.no_grad():
        for k in range(3):
            layer = torch.nn.LSTM(40 if k == 0 else 256, 256, 1, batch_first=True)
            for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(layer, f"{part}_l0").copy_(getattr(encoder.lstm, f"{part}_l{k}"))
            x, _ = layer(x)
            means.append(x[0].mean(dim=0).numpy())
    return np.concatenate(means)


def main():
    torch.set_num_threads(1)
    encoder = VoiceEncoder("cpu", verbose=False)
    out = {"source": "Resemblyzer 0.1.4 VoiceEncoder('cpu'), torch " + torch.__version__,
           "clips": {}}
    for name in GOLDEN_CLIPS:
        wav = audio.normalize_volume(golden_clip(name), -30, increase_only=True)
        wav = wav.astype(np.float32)
        embed, partials, wav_slices = encoder.embed_utterance(wav, return_partials=True)
        padded = np.pad(wav, (0, max(0, wav_slices[-1].stop - len(wav))))
        mel = audio.wav_to_mel_spectrogram(padded)
        _, mel_slices = encoder.compute_partial_slices(len(wav), 1.3, 0.75)
        mels = np.array([mel[s] for s in mel_slices])
        out["clips"][name] = {
            "n_partials": len(partials),
            "speaker": [float(f"{v:.9g}") for v in embed],
            "layer_means": [float(f"{v:.9g}") for v in layer_means(encoder, mels)],
        }
        print(f"{name}: {len(partials)} partials")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    # one line per clip: float32 values with 9 significant digits (exact round trip)
    lines = [f' {json.dumps(name)}: {json.dumps(value)}' for name, value in out["clips"].items()]
    OUTPUT.write_text('{"source": %s,\n"clips": {\n%s\n}}\n'
                      % (json.dumps(out["source"]), ",\n".join(lines)))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
