"""Synthetic speech-like data: sustained vowels from varied synthetic speakers."""

import numbers

import numpy as np
from sklearn.utils import Bunch, check_random_state

__all__ = ["make_vowels"]

# Twelve American-English vowels with approximate average F1/F2/F3 (Hz) of
# adult male speakers, after Hillenbrand, Getty, Clark & Wheeler (1995),
# "Acoustic characteristics of American English vowels", JASA 97(5),
# 3099-3111. Values are rounded approximations, not the published table.
# Columns: ASCII name, IPA symbol, F1, F2, F3.
_VOWELS = (
    ("i", "i", 342, 2322, 3000),
    ("ih", "ɪ", 427, 2034, 2684),
    ("ey", "e", 476, 2089, 2691),
    ("eh", "ɛ", 580, 1799, 2605),
    ("ae", "æ", 588, 1952, 2601),
    ("aa", "ɑ", 768, 1333, 2522),
    ("ao", "ɔ", 652, 997, 2538),
    ("ow", "o", 497, 910, 2459),
    ("uh", "ʊ", 469, 1122, 2434),
    ("uw", "u", 378, 997, 2343),
    ("ah", "ʌ", 623, 1200, 2550),
    ("er", "ɝ", 474, 1379, 1710),
)
_FORMANTS = np.array([v[2:] for v in _VOWELS], dtype=float)
_F4 = 3500.0  # roughly constant across vowels for adult males
# Typical formant bandwidths (Hz) of F1..F4.
_BANDWIDTHS = np.array([70.0, 100.0, 140.0, 220.0])

_MIN_DURATION = 0.05  # seconds


def _check_int(value, name, minimum):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}.")
    return int(value)


def _check_duration(duration):
    """Return ``(low, high, fixed)`` for a float or a ``(low, high)`` pair."""
    if isinstance(duration, numbers.Real) and not isinstance(duration, bool):
        low = high = float(duration)
        fixed = True
    else:
        try:
            low, high = (float(d) for d in duration)
        except (TypeError, ValueError):
            raise ValueError(
                "duration must be a number of seconds or a (low, high) pair, "
                f"got {duration!r}."
            ) from None
        fixed = False
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"duration must be finite, got {duration!r}.")
    if low < _MIN_DURATION:
        raise ValueError(
            f"duration must be at least {_MIN_DURATION} s, got {duration!r}; "
            "pass a longer duration."
        )
    if low > high:
        raise ValueError(
            f"duration=(low, high) needs low <= high, got {duration!r}; swap "
            "the two values."
        )
    return low, high, fixed


def _draw_speakers(rng, n_speakers, n_classes):
    """Draw the voice parameters of each synthetic speaker."""
    # Low (adult male-like), mid (adult female-like) and high (child-like) voices.
    group = rng.choice(3, size=n_speakers, p=[0.45, 0.4, 0.15])
    f0 = rng.normal([118.0, 205.0, 240.0], [14.0, 18.0, 12.0])[group]
    f0 = np.clip(f0, 90.0, 260.0)
    # Vocal-tract-length scale of the formants: shorter tracts (higher
    # formants) go with higher voices, with individual spread on top.
    vtl = 0.97 + 0.25 * np.log(f0 / 100.0) / np.log(2.5)
    vtl = np.clip(vtl + rng.normal(0.0, 0.045, n_speakers), 0.85, 1.25)
    return {
        "f0": f0,
        "vtl": vtl,
        "jitter": rng.uniform(0.002, 0.015, n_speakers),
        "shimmer": rng.uniform(0.02, 0.10, n_speakers),
        "breathiness": rng.uniform(0.0, 0.35, n_speakers),
        # One-pole low-pass coefficient: larger means a steeper spectral tilt.
        "tilt": rng.uniform(0.0, 0.6, n_speakers),
        # Rosenberg pulse shape: open quotient and speed quotient (open/close).
        "open_quotient": rng.uniform(0.45, 0.75, n_speakers),
        "speed_quotient": rng.uniform(1.5, 3.5, n_speakers),
        # Speaker-specific (accent-like) shift of every vowel's formants.
        "accent": rng.normal(0.0, 0.035, (n_speakers, n_classes, 4)),
    }


def _envelope(n, sample_rate, on, off, rise, fall):
    """Silence, raised-cosine rise, plateau, raised-cosine fall, silence.

    ``on`` and ``off`` are the start and end of the sound and ``rise`` and
    ``fall`` the ramp lengths, all in seconds, with ``rise + fall < off - on``.
    """
    t = np.arange(n) / sample_rate
    linear = np.interp(t, [on, on + rise, off - fall, off], [0.0, 1.0, 1.0, 0.0])
    return 0.5 - 0.5 * np.cos(np.pi * linear)


def _resonator_filter(formants, bandwidths, tilt, sample_rate):
    """IIR coefficients of tilt, formant cascade and lip radiation."""
    T = 1.0 / sample_rate
    b = np.array([1.0 - tilt, -(1.0 - tilt)])  # tilt gain, then first difference
    a = np.array([1.0, -tilt])
    for freq, bw in zip(formants, bandwidths):
        if freq >= 0.45 * sample_rate:
            continue  # resonances above Nyquist cannot be represented
        c = -np.exp(-2.0 * np.pi * bw * T)
        bb = 2.0 * np.exp(-np.pi * bw * T) * np.cos(2.0 * np.pi * freq * T)
        b = b * (1.0 - bb - c)  # unit gain at 0 Hz
        a = np.convolve(a, [1.0, -bb, -c])
    return b, a


def _glottal_source(
    rng,
    n,
    sample_rate,
    *,
    f0,
    declination,
    vibrato,
    open_quotient,
    speed_quotient,
    jitter,
    shimmer,
    breathiness,
):
    """Glottal flow: Rosenberg pulses plus pitch-synchronous aspiration noise.

    ``f0`` is the starting pitch in Hz, lowered linearly by the fraction
    ``declination`` over the clip and modulated by ``vibrato``, a
    ``(depth, rate_hz, phase)`` triple.
    """
    duration = n / sample_rate
    vib_depth, vib_rate, vib_phase = vibrato

    def f0_at(t):
        return (
            f0
            * (1.0 - declination * t / duration)
            * (1.0 + vib_depth * np.sin(2.0 * np.pi * vib_rate * t + vib_phase))
        )

    # Pulse onsets: accumulate periods, evaluating the F0 contour at the
    # (approximate, then refined) pulse times.
    n_pulses = int(np.ceil(duration * f0 * 1.3)) + 2
    start = rng.uniform(0.0, 1.0 / f0)
    times = start + np.arange(n_pulses) / f0
    for _ in range(2):
        periods = 1.0 / f0_at(times)
        times = start + np.concatenate(([0.0], np.cumsum(periods[:-1])))
    periods = periods * (1.0 + jitter * rng.standard_normal(n_pulses))
    times = start + np.concatenate(([0.0], np.cumsum(periods[:-1])))
    amplitudes = np.maximum(1.0 + shimmer * rng.standard_normal(n_pulses), 0.0)

    # Index of the pulse each sample belongs to (-1 before the first pulse)
    # and the sample's phase within that pulse's period.
    first_sample = np.ceil(times * sample_rate).astype(np.int64)
    k = np.cumsum(np.bincount(first_sample[first_sample < n], minlength=n)) - 1
    voiced = k >= 0
    k = np.maximum(k, 0)
    t = np.arange(n) / sample_rate
    phase = np.where(voiced, np.maximum(t - times[k], 0.0) / periods[k], 1.0)

    # Rosenberg pulse: raised-cosine opening, quarter-cosine closing, then a
    # closed phase with no flow.
    t_open = open_quotient * speed_quotient / (1.0 + speed_quotient)
    t_close = open_quotient / (1.0 + speed_quotient)
    flow = np.zeros(n)
    opening = phase < t_open
    flow[opening] = 0.5 - 0.5 * np.cos((np.pi / t_open) * phase[opening])
    closing = ~opening & (phase < t_open + t_close)
    flow[closing] = np.cos((0.5 * np.pi / t_close) * (phase[closing] - t_open))
    flow *= amplitudes[k]
    aspiration = breathiness * rng.standard_normal(n) * (0.25 + flow)
    return flow + aspiration


def make_vowels(
    n_samples=600,
    *,
    n_classes=12,
    n_speakers=40,
    duration=1.0,
    sample_rate=16000,
    noise=0.02,
    directory=None,
    return_X_y=False,
    random_state=None,
):
    """Generate sustained vowels spoken by synthetic speakers.

    An offline, speech-like classification dataset: each clip is a sustained
    American-English vowel made by source-filter synthesis. The class is the
    vowel. Speakers differ in pitch, vocal-tract length (which shifts all
    formants), accent-like formant offsets, jitter, shimmer, breathiness and
    spectral tilt, so that vowels with neighbouring formants get confused and
    the task is learnable but not trivial.

    The glottal source is a train of Rosenberg flow pulses with a declining,
    slightly vibrato F0 contour, plus pitch-synchronous aspiration noise. It is
    filtered by a one-pole spectral-tilt low-pass, a cascade of four
    second-order formant resonators and a first difference (lip radiation).
    Each clip then gets an onset/offset envelope, a random peak level in
    [0.1, 0.9] and white background noise.

    Parameters
    ----------
    n_samples : int, default=600
        Number of clips; at least ``n_classes``.
    n_classes : int, default=12
        Number of vowels, 2 to 12; the first ``n_classes`` of
        ``"i", "ih", "ey", "eh", "ae", "aa", "ao", "ow", "uh", "uw", "ah",
        "er"`` are used. Classes are balanced (counts differ by at most one).
    n_speakers : int, default=40
        Number of synthetic speakers; each clip's speaker is drawn uniformly.
    duration : float or (float, float), default=1.0
        Clip length in seconds (at least 0.05). A pair ``(low, high)`` draws
        each clip's length uniformly in that range.
    sample_rate : int, default=16000
        Sample rate in Hz, at least 8000.
    noise : float, default=0.02
        Standard deviation of the white background noise, relative to the
        clip's peak level. 0 means no noise.
    directory : str or path-like, default=None
        If given, the clips are also written as 16-bit WAV files to
        ``directory/<vowel>/<vowel>_<index>.wav`` with
        :func:`save_audio_folder`.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    random_state : int, RandomState instance or None, default=None
        Seed or generator; the same integer seed gives identical clips.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of float32, shape (n_samples, n_frames), or list
            Clips in [-1, 1]. A 2-D array with
            ``n_frames = round(duration * sample_rate)`` when ``duration`` is
            a number, a list of 1-D float32 arrays when it is a pair.
        target : ndarray of int64, shape (n_samples,)
            Vowel index of each clip.
        target_names : list of str
            ASCII vowel names indexed by ``target``.
        speaker : ndarray of int64, shape (n_samples,)
            Speaker id of each clip, e.g. for speaker-disjoint splits with
            :class:`~sklearn.model_selection.GroupKFold`.
        sample_rate : int
            Sample rate in Hz.
        filenames : ndarray of str, shape (n_samples,)
            Paths of the written WAV files; only when ``directory`` is given.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple
        Returned instead when ``return_X_y=True``.

    Notes
    -----
    Formant targets are approximate adult-male averages after Hillenbrand et
    al. (1995), "Acoustic characteristics of American English vowels", JASA
    97(5). No global random state is used.

    Examples
    --------
    >>> from skaloe.datasets import make_vowels
    >>> vowels = make_vowels(24, n_classes=4, duration=0.5, random_state=0)
    >>> vowels.data.shape, vowels.data.dtype
    ((24, 8000), dtype('float32'))
    >>> vowels.target_names
    ['i', 'ih', 'ey', 'eh']
    >>> [int((vowels.target == k).sum()) for k in range(4)]
    [6, 6, 6, 6]
    >>> X, y = make_vowels(6, n_classes=3, duration=(0.2, 0.4),
    ...                    return_X_y=True, random_state=0)
    >>> type(X), len(X), all(3200 <= len(x) <= 6400 for x in X)
    (<class 'list'>, 6, True)
    """
    n_classes = _check_int(n_classes, "n_classes", 2)
    if n_classes > len(_VOWELS):
        raise ValueError(
            f"n_classes must be between 2 and {len(_VOWELS)}, got {n_classes}."
        )
    n_samples = _check_int(n_samples, "n_samples", 1)
    if n_samples < n_classes:
        raise ValueError(
            f"n_samples={n_samples} is smaller than n_classes={n_classes}; ask "
            "for at least one clip per class."
        )
    n_speakers = _check_int(n_speakers, "n_speakers", 1)
    sample_rate = _check_int(sample_rate, "sample_rate", 8000)
    low, high, fixed = _check_duration(duration)
    if (
        not isinstance(noise, numbers.Real)
        or isinstance(noise, bool)
        or not np.isfinite(noise)
        or noise < 0
    ):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}.")

    from scipy.signal import lfilter

    rng = check_random_state(random_state)
    spk = _draw_speakers(rng, n_speakers, n_classes)

    # Balanced classes in random order, uniform speakers.
    target = rng.permutation(np.arange(n_samples) % n_classes).astype(np.int64)
    speaker = rng.randint(n_speakers, size=n_samples).astype(np.int64)
    if fixed:
        lengths = np.full(n_samples, int(round(low * sample_rate)))
    else:
        lengths = np.rint(rng.uniform(low, high, n_samples) * sample_rate).astype(int)

    # Per-clip parameters, drawn in one go.
    f0 = spk["f0"][speaker] * np.exp(rng.normal(0.0, 0.05, n_samples))
    # Formants: vowel target, scaled by the speaker's vocal-tract length,
    # shifted by the speaker's accent and perturbed per utterance.
    base = np.column_stack([_FORMANTS[target], np.full(n_samples, _F4)])
    formants = (
        base
        * spk["vtl"][speaker, None]
        * (1.0 + spk["accent"][speaker, target])
        * (1.0 + rng.normal(0.0, 0.025, (n_samples, 4)))
    )
    bandwidths = _BANDWIDTHS * rng.uniform(0.8, 1.4, (n_samples, 4))
    declination = rng.uniform(0.0, 0.15, n_samples)
    vib_depth = rng.uniform(0.0, 0.012, n_samples)
    vib_rate = rng.uniform(4.0, 6.5, n_samples)
    vib_phase = rng.uniform(0.0, 2.0 * np.pi, n_samples)
    onset = rng.uniform(0.0, 0.08, n_samples)  # fraction of the clip
    offset = rng.uniform(0.0, 0.08, n_samples)
    rise = rng.uniform(0.02, 0.08, n_samples)  # seconds
    fall = rng.uniform(0.03, 0.12, n_samples)
    peak = rng.uniform(0.1, 0.9, n_samples)

    clips = []
    for i in range(n_samples):
        n = lengths[i]
        s = speaker[i]
        dur = n / sample_rate
        on, off = onset[i] * dur, dur * (1.0 - offset[i])
        envelope = _envelope(
            n,
            sample_rate,
            on,
            off,
            min(rise[i], 0.4 * (off - on)),
            min(fall[i], 0.4 * (off - on)),
        )
        source = _glottal_source(
            rng,
            n,
            sample_rate,
            f0=f0[i],
            declination=declination[i],
            vibrato=(vib_depth[i], vib_rate[i], vib_phase[i]),
            open_quotient=spk["open_quotient"][s],
            speed_quotient=spk["speed_quotient"][s],
            jitter=spk["jitter"][s],
            shimmer=spk["shimmer"][s],
            breathiness=spk["breathiness"][s],
        )
        source *= envelope
        b, a = _resonator_filter(formants[i], bandwidths[i], spk["tilt"][s], sample_rate)
        clip = lfilter(b, a, source)
        clip *= peak[i] / max(np.max(np.abs(clip)), 1e-12)
        if noise > 0:
            clip += (noise * peak[i]) * rng.standard_normal(n)
        clips.append(np.clip(clip, -1.0, 1.0).astype(np.float32))

    data = np.stack(clips) if fixed else clips
    target_names = [v[0] for v in _VOWELS[:n_classes]]

    filenames = None
    if directory is not None:
        from ._folder import save_audio_folder

        filenames = save_audio_folder(
            directory, data, target, sample_rate=sample_rate, target_names=target_names
        )

    if return_X_y:
        return data, target

    length = f"{low:g} s" if fixed else f"between {low:g} and {high:g} s"
    descr = (
        "Synthetic sustained vowels\n"
        "--------------------------\n"
        f"{n_samples} clips of {length} at {sample_rate} Hz, {n_classes} "
        f"vowel classes ({', '.join(target_names)}), {n_speakers} synthetic "
        "speakers.\n"
        "Source-filter synthesis: Rosenberg glottal pulses with jitter, "
        "shimmer, aspiration noise and an F0 contour, filtered by four formant "
        "resonators and lip radiation. Formant targets are approximate "
        "adult-male averages after Hillenbrand et al. (1995), JASA 97(5), "
        "scaled per speaker by a vocal-tract-length factor correlated with F0. "
        f"Background noise level: {noise:g} of the clip's peak.\n"
    )
    bunch = Bunch(
        data=data,
        target=target,
        target_names=target_names,
        speaker=speaker,
        sample_rate=sample_rate,
        DESCR=descr,
    )
    if filenames is not None:
        bunch.filenames = filenames
    return bunch
