"""
=====================================================
Long recordings: from a folder to a labeled timeline
=====================================================

A field recorder or a microphone left running gives a few long files, not a
pool of clips. This example goes from such a folder to a timeline of what
happens when, offline:

1. write three synthetic recordings of 90 s, where three vowels are heard at
   known times between quiet stretches and bursts of background noise;
2. cut them into overlapping one-second windows with
   :func:`~skaloe.datasets.segment_recordings`, dropping the silent ones;
3. embed every window with :class:`~skaloe.encoders.EncoderTransformer`;
4. label a few windows, chosen by an :class:`~skaloe.active.ActiveLearner`;
5. predict every window, merge them into events with
   :func:`~skaloe.timeline.predict_events`, plot a recording's timeline with
   :class:`~skaloe.timeline.TimelineDisplay`, compare the events with the
   truth, and export them as a CSV table and as Audacity label tracks.

The vowels stand in for whatever you look for in your own recordings (a bird
call, a speaker, a machine starting). See :ref:`timeline` for how windows
become events.
"""

# %%
# Write a folder of long recordings
# ---------------------------------
#
# Each recording is a quiet hiss (about -80 dBFS) with sounds laid over it one
# after another: a vowel, /i/, /aa/ or /uw/, of 1.5 to 4 s from
# :func:`~skaloe.datasets.make_vowels`, or 2 to 5 s of rumbling background
# noise. Between two sounds there is either nothing or 1 to 4 s of quiet. What
# was laid where is kept in ``truth``, the answer we will compare with. Every
# random choice comes from one seeded generator.

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.signal import lfilter

from skaloe.datasets import make_vowels

workdir = tempfile.TemporaryDirectory(prefix="skaloe-example-")
root = Path(workdir.name)
(root / "recordings").mkdir()

sample_rate = 16_000
vowel_names = ["i", "aa", "uw"]
vowels = make_vowels(
    144, n_speakers=6, duration=(1.5, 4.0), sample_rate=sample_rate, random_state=0
)
clips = {
    name: [clip for clip, k in zip(vowels.data, vowels.target)
           if vowels.target_names[k] == name]
    for name in vowel_names
}
rng = np.random.default_rng(0)


def shown(table):
    """``table`` with each path cut to its file name, for printing."""
    return table.assign(path=[Path(path).name for path in table["path"]])


def background_noise(n_samples):
    """Low rumble: white noise through a one-pole low-pass, faded in and out."""
    rumble = lfilter([0.03], [1.0, -0.97], rng.normal(size=n_samples))
    fade = np.minimum(1.0, np.minimum(np.arange(n_samples), np.arange(n_samples)[::-1])
                      / (0.05 * sample_rate))
    return 0.03 * rumble / rumble.std() * fade


def make_recording(duration=90.0):
    audio = rng.normal(scale=1e-4, size=int(duration * sample_rate))  # the hiss
    events = []
    t = rng.uniform(1.0, 3.0)
    label = None
    while True:
        # Never the same sound twice in a row: each sound is one event.
        if label != "background" and rng.random() < 0.2:
            label = "background"
            sound = background_noise(int(rng.uniform(2.0, 5.0) * sample_rate))
        else:
            label = str(rng.choice([name for name in vowel_names if name != label]))
            sound = clips[label][rng.integers(len(clips[label]))]
        start = int(t * sample_rate)
        if start + len(sound) > len(audio) - sample_rate:
            return audio.astype(np.float32), events
        audio[start:start + len(sound)] += sound
        events.append((start / sample_rate, (start + len(sound)) / sample_rate, label))
        t = (start + len(sound)) / sample_rate
        if rng.random() < 0.7:  # else the next sound follows at once
            t += rng.uniform(1.0, 4.0)


rows = []
for n in range(1, 4):
    path = str(root / "recordings" / f"field-{n}.wav")
    audio, events = make_recording()
    sf.write(path, audio, sample_rate, subtype="PCM_16")
    rows += [(path, start, end, label) for start, end, label in events]
truth = pd.DataFrame(rows, columns=["path", "start", "end", "label"])
recordings = sorted(truth["path"].unique())
print(f"{len(recordings)} recordings of 90 s, {len(truth)} sounds laid in them:")
print(truth["label"].value_counts().to_string())

# %%
# Cut the recordings into windows
# -------------------------------
#
# One-second windows every quarter of a second: each window becomes one
# sample of the pool, and a change of sound can be placed to within about half
# a hop. ``skip_silence=True`` measures each window's level and drops those
# below -60 dBFS; it says what it dropped in a warning, shown here, and in
# ``attrs["n_silent"]`` (counts) and ``attrs["silent"]`` (the windows). Nothing has been embedded yet: the table only holds
# each window's file and bounds.

import warnings

from skaloe.datasets import segment_recordings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    pool = segment_recordings(root / "recordings", window=1.0, hop=0.25, skip_silence=True)
for warning in caught:
    print("warning:", str(warning.message).replace(workdir.name, "<tmp>"))
print(f"{len(pool)} windows kept; dropped per recording:",
      {Path(path).name: n for path, n in pool.attrs["n_silent"].items()})
print(shown(pool.head(3)))

# %%
# Were the dropped windows really quiet? ``attrs["silent"]`` lists them as
# ``(path, start, end)``; counted here by what was laid at each window's
# centre, beside the windows kept:


def truth_at(paths, times, quiet="background"):
    """The sound laid at each ``(path, time)``; ``quiet`` where there is none."""
    labels = np.full(len(times), quiet, dtype=object)
    for path, start, end, label in truth.itertuples(index=False):
        labels[(paths == path) & (times >= start) & (times < end)] = label
    return labels


def centres(table):
    return ((table["start"] + table["end"]) / 2).to_numpy()


dropped = pd.DataFrame(pool.attrs["silent"], columns=["path", "start", "end"])
every = pd.concat([pool.assign(window="kept"), dropped.assign(window="dropped")])
every["at its centre"] = truth_at(every["path"].to_numpy(), centres(every), quiet="quiet")
print(pd.crosstab(every["at its centre"], every["window"]))

# %%
# Only quiet windows were dropped. Some windows centred in the quiet are kept,
# as they reach into a sound; asked about them, a person would answer
# "background", as for the noise, and so does ``y_true`` below, the answer of
# the person this example pretends to have.

y_true = truth_at(pool["path"].to_numpy(), centres(pool))

# %%
# Embed every window
# ------------------
#
# :class:`~skaloe.encoders.EncoderTransformer` takes the table as ``X``: it
# reads only each window's samples, each file once, and row ``i`` of ``X`` is
# window ``i``. ``"ge2e"``, a pretrained speech network whose weights ship with
# skaloe, runs offline; ``memory`` keeps the embeddings on disk, so that a new
# session (or a second labeling day) does not embed the recordings again.

import time

from skaloe.encoders import EncoderTransformer

encoder = EncoderTransformer("ge2e", memory=root / "cache")
tic = time.perf_counter()
X = encoder.fit_transform(pool)
print(f"embedded {X.shape[0]} windows into {X.shape[1]} dimensions "
      f"in {time.perf_counter() - tic:.1f} s")

# %%
# Label a few windows, chosen by the learner
# ------------------------------------------
#
# The :class:`~skaloe.active.ActiveLearner` holds the whole pool. Its first
# batch is spread over the pool (k-means, as nothing is labeled yet); after
# that it asks about the windows its classifier is least sure of.
#
# In practice a person listens to each window asked about, best with a little
# of what surrounds it, and answers; :func:`~skaloe.encoders.read_segment`
# reads just those samples from the long file, to play or to save. From the
# command line the same loop is ``skaloe embed recordings/ --window 1 --hop
# 0.25 --skip-silence -o windows.npz``, then ``skaloe label windows.npz --db
# session.sqlite --classes i,aa,uw,background --context 0.5`` in the browser,
# then ``skaloe timeline --db session.sqlite --out events/`` (:ref:`cli`). Here the answers come from ``y_true``, the oracle
# standing in for that person. Five rounds of eight windows label 40 of the
# windows.

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skaloe import ActiveLearner
from skaloe.encoders import read_segment

learner = ActiveLearner(
    make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    random_state=0,
).fit(X)

path, start, end = pool.iloc[learner.query(1)[0]]
samples, rate = read_segment(path, start, end, context=0.5)
print(f"to play: {Path(path).name} from {max(0, start - 0.5):g} to {end + 0.5:g} s, "
      f"{len(samples)} samples at {rate} Hz")

# %%
# The loop itself. A person would not know how right the classifier is on
# every window; the last column, printed from the truth, is only there to
# watch the loop work.

print("round  labeled  windows right")
for round_number in range(1, 6):
    asked = learner.query(8)
    learner.teach(asked, y_true[asked])  # a person listens and answers
    right = np.mean(learner.predict_pool() == y_true)
    print(f"{round_number:5d}  {learner.n_labels_:7d}  {right:13.1%}")

# %%
# The timeline
# ------------
#
# :func:`~skaloe.timeline.predict_events` predicts every window and merges
# consecutive windows of one class into events, each window owning the time
# around its centre. ``ignore="background"`` keeps the noise and the quiet
# out of the events.

from skaloe.timeline import TimelineDisplay, predict_events

events = predict_events(learner, X, pool, ignore="background")
print(f"{len(events)} events; the first ones:")
print(shown(events.head()))

# %%
# The first recording as the learner sees it. On top, the predicted events
# of each vowel and, in the lane above them, the windows that were labeled
# (black edge); the grey line is the probability of the predicted class of
# each window, broken where silent windows were dropped. Below, the truth,
# in the same colours. The background noise was labeled where the learner
# asked, but, ignored, it makes no event; the quiet stretches are empty in
# both.

import matplotlib.pyplot as plt

first = recordings[0]
fig, (ax, ax_truth) = plt.subplots(
    2, 1, figsize=(10, 4.6), sharex=True, height_ratios=[4, 1], layout="constrained"
)
display = TimelineDisplay.from_estimator(
    learner, X, pool, recording=first, ignore="background",
    labeled=learner.y_pool_, ax=ax,
)
ax.set_title(f"Predicted vowels in {Path(first).name}, after {learner.n_labels_} labels")
ax.set_xlabel("")
for name in vowel_names + ["background"]:
    mine = truth[(truth["path"] == first) & (truth["label"] == name)]
    ax_truth.broken_barh(
        list(zip(mine["start"], mine["end"] - mine["start"])), (0, 1),
        facecolors=display.colors_[name],
    )
ax_truth.set_ylim(0, 1)
ax_truth.set_yticks([0.5], ["true"])
ax_truth.set_title("The truth: what was laid into the recording, and when")
ax_truth.set_xlabel("time (s)")
plt.show()

# %%
# How close are the boundaries?
# -----------------------------
#
# Each true vowel is matched with the predicted event of the same vowel that
# overlaps it most. With a hop of 0.25 s, a boundary cannot be placed closer
# than about 0.125 s; the vowels' soft onsets and endings add a little more.

matches = []
for path, start, end, label in truth[truth["label"] != "background"].itertuples(
        index=False):
    same = events[(events["path"] == path) & (events["label"] == label)]
    overlap = (np.minimum(same["end"], end) - np.maximum(same["start"], start)).clip(0)
    if len(same) and overlap.max() > 0:
        best = same.iloc[int(np.argmax(overlap.to_numpy()))]
        matches.append((Path(path).name, label, start, end,
                        best["start"] - start, best["end"] - end))
    else:
        matches.append((Path(path).name, label, start, end, np.nan, np.nan))
matches = pd.DataFrame(
    matches, columns=["recording", "vowel", "start", "end", "start error", "end error"]
)
print(matches.head(8).round(2).to_string(index=False))
errors = matches[["start error", "end error"]].abs().stack()
print(f"{len(events)} events predicted for {len(matches)} true vowels, "
      f"{matches['start error'].notna().sum()} of which are found")
print(f"boundary error: median {errors.median():.2f} s, "
      f"90% within {errors.quantile(0.9):.2f} s")

# %%
# Time is a fairer score than counting events: on a 10 ms grid over every
# recording, the share of time where the timeline says what the truth says
# (a vowel, or nothing).

grid = np.arange(0, 90, 0.01)
said = []
for path in recordings:
    predicted = np.full(len(grid), "background", dtype=object)
    for _, event in events[events["path"] == path].iterrows():
        predicted[(grid >= event["start"]) & (grid < event["end"])] = event["label"]
    said.append(predicted == truth_at(np.full(len(grid), path), grid))
print(f"the timeline agrees with the truth on {np.mean(said):.1%} of the time")

# %%
# Export the events
# -----------------
#
# :func:`~skaloe.timeline.write_events_csv` writes one table for all the
# recordings; :func:`~skaloe.timeline.write_audacity_labels` writes one label
# track per recording, which Audacity opens next to the audio
# (*File > Import > Labels...*), to check and correct the events by ear.

from skaloe.timeline import write_audacity_labels, write_events_csv

write_events_csv(events, root / "events.csv")
tracks = write_audacity_labels(events, root / "labels")
print("\n".join((root / "events.csv").read_text().splitlines()[:3])
      .replace(workdir.name, "<tmp>"))
print(f"label tracks: {sorted(Path(file).name for file in tracks.values())}")
print("".join((root / "labels" / "field-1.txt").read_text().splitlines(keepends=True)[:4]))

# %%
# Clean up the temporary folder: the recordings, the embedding cache and the
# exported files.

workdir.cleanup()
