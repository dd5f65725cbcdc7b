"""Cardiac phase per frame (0 = end-diastole, cycles in [0, 1)), from ground truth where it is known,
otherwise estimated, with end-diastole (ED) and end-systole (ES) frames; `source` says which.

Estimation follows the LV volume: from the LV cavity area of the label masks when a clip has them,
otherwise from the image itself, whose dominant change over a beat is the heart filling and
emptying: the first principal component of the frames (shrunk to 28 x 28) tracks the LV area
(correlation 0.99 with it on most phantom clips), signed so that it grows as the image darkens (bigger
blood pools), or over beats turned over where that puts ES past half the cycle (systole the longer part: the
brightness did not follow the pools). The period comes from the signal's autocorrelation; ED frames are its maxima, ES
frames its minima, and the phase runs linearly from one ED to the next (extrapolated with the
period before the first and after the last); the ED and ES markers are then the frames at phase 0
and at the ES frames' mean phase, in every beat. A clip of one beat or less has no autocorrelation
peak: its ED is a maximum that stands out inside it (not at its first or last frame, where the signal may
only be rising or falling), its ES such a minimum, and its period the ED-ES spacing with a typical
systolic share of SYSTOLE_SHARE, or a resting heart rate's (RESTING_BPM) where only one of them shows. A
clip with neither (a still image repeated, a few frames of one beat), with an ED-ES spacing no heartbeat has
(BEAT_SECONDS), or of SMOOTHNESS_FRAMES or more (the image's signal: SHORT_SMOOTHNESS) whose signal
does not change smoothly from frame to frame (MIN_SMOOTHNESS: the noise of a still image, which a threshold relative
to the signal's own range took for beats), has no heartbeat found: its colour runs with time, and nothing is marked or measured against
it. A beat too shallow to stand out (MIN_PROMINENCE) between two that do keeps its ED (its peak where an ED would
fall), so the phase does not spread one cycle over two beats; a long beat with no peak inside keeps its length.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from echo.anatomy import LABEL_IDS
from echo.clip import Clip, ClipError
from echo.phantom.render import frames_at_phase
from explain.analysis.beat import BEAT_SECONDS

SYSTOLE_SHARE = 0.35      # typical share of the cycle from ED to ES at rest
SIGNAL_SIDE = 28          # frames are shrunk to this side for the image signal
MIN_ACF_PEAK = 0.2        # an autocorrelation peak below this is no heartbeat
MIN_PROMINENCE = 0.3      # an ED/ES extreme stands out by this share of the signal's range
SHORT_PROMINENCE = 0.1    # under a beat: a turn inside the clip by this share (phantom clips cut short: true ED/ES
                          # 0.15-0.7, turns that were none up to 0.09)
RESTING_BPM = 75          # the period of a clip too short to show its own, where one extreme shows
MIN_SMOOTHNESS = 0.5      # a heartbeat moves the signal smoothly: its lag-1 autocorrelation 0.65-0.98 on phantom clips
                          # of 12-64 frames (clean, and under noise, speckle, compression or dropped frames); white noise
                          # over 16 frames passes 0.44 once in 100 draws, over 24 0.39
SMOOTHNESS_FRAMES = 16    # under this, a beat's few frames read as rough as noise does: the gate is not applied ...
SHORT_SMOOTHNESS = (10, 0.45)   # ... except to the image's signal from 10 frames, at 0.45: phantom cuts of 10-15
                          # frames read 0.46-0.90, a still image's noise at most 0.42 in 50 draws (label masks: no noise)


@dataclass
class PhaseEstimate:
    """phase (T,) float in [0, 1); ed_frames, es_frames; source 'truth' | 'estimated'; method in
    words, for the plot's caption; period in frames (None when unknown); beat_found False where the image showed
    no heartbeat (the phase then runs with time, with no marks: nothing to measure a model against)."""
    phase: np.ndarray
    ed_frames: list[int] = field(default_factory=list)
    es_frames: list[int] = field(default_factory=list)
    source: str = "estimated"
    method: str = ""
    period: float | None = None
    beat_found: bool = True

    @property
    def label(self) -> str:
        if self.source == "truth":
            return "phase from ground truth"
        return f"phase estimated ({self.method})" if self.beat_found else f"no heartbeat found ({self.method})"

    def to_dict(self) -> dict:
        """What report.json keeps of it: where the phase came from, whether a beat was found, and the marks."""
        return {"source": self.source, "beat_found": self.beat_found, "label": self.label,
                "ed_frames": [int(f) for f in self.ed_frames], "es_frames": [int(f) for f in self.es_frames],
                "frames_per_beat": None if self.period is None else round(float(self.period), 2)}


def image_volume_signal(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) grey frames -> (T,) signal that rises with the LV volume (see the module docstring)."""
    if len(frames) < 2:
        raise ClipError("A phase needs at least two frames.")
    small = np.stack([cv2.resize(f.astype(np.float32), (SIGNAL_SIDE, SIGNAL_SIDE), interpolation=cv2.INTER_AREA)
                      for f in frames]).reshape(len(frames), -1)               # (T, 784)
    centred = small - small.mean(0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    pc1 = u[:, 0] * s[0]                                                        # (T,)
    darkness = -small.mean(1)
    if np.std(darkness) > 0 and np.std(pc1) > 0 and np.corrcoef(pc1, darkness)[0, 1] < 0:
        pc1 = -pc1
    return pc1


def dominant_period(signal: np.ndarray) -> float | None:
    """Period in frames of a (T,) signal: the first autocorrelation peak after it turns negative,
    refined by a parabola; None when there is no clear peak (under about 1.2 beats)."""
    x = np.asarray(signal, np.float64) - np.mean(signal)
    n = len(x)
    if n < 6 or not np.any(x):
        return None
    acf = np.array([np.dot(x[:n - k], x[k:]) / (n - k) for k in range(n - 2)]) / np.dot(x, x) * n
    negative = np.flatnonzero(acf < 0)
    if not len(negative):
        return None
    for k in range(negative[0] + 1, len(acf) - 1):
        if acf[k] >= acf[k - 1] and acf[k] > acf[k + 1] and acf[k] > MIN_ACF_PEAK and n - k >= 3:
            a, b, c = acf[k - 1], acf[k], acf[k + 1]
            return float(k + 0.5 * (a - c) / (a - 2 * b + c))
    return None


def phase_from_volume(volume: np.ndarray, typical_period: float, sign_guessed: bool = False
                      ) -> tuple[np.ndarray, list[int], list[int], float, str]:
    """(T,) volume-like signal -> (phase (T,), ED frames, ES frames, period in frames, what was assumed: '' when
    nothing). typical_period: frames a beat at RESTING_BPM, for a clip too short to show its own (module docstring);
    no ED and no ES frames: no heartbeat found. sign_guessed: the signal's sign is the image's guess (darker =
    fuller), wrong where brightness barely follows the LV area (3 phantom clips in 60: ED and ES swapped); over
    beats the signal is then turned over where its ES falls past half the cycle, systole being the shorter part of
    a beat at rest (SYSTOLE_SHARE)."""
    n = len(volume)
    no_beat = np.mod(np.arange(n) / typical_period, 1.0), [], [], typical_period
    smoothness = (MIN_SMOOTHNESS if n >= SMOOTHNESS_FRAMES else
                  SHORT_SMOOTHNESS[1] if sign_guessed and n >= SHORT_SMOOTHNESS[0] else None)
    if smoothness is not None and np.ptp(volume) > 0 and lag1_autocorrelation(volume) < smoothness:
        return *no_beat, (f"the clip changes from frame to frame as noise does, not as a heartbeat: the colour runs "
                          f"with time, a beat at {RESTING_BPM} bpm")
    v = gaussian_filter1d(np.asarray(volume, np.float64), 1.0, mode="nearest")
    period, assumed = dominant_period(v), ""
    if period is None:            # at most about a beat: its one ED and ES, where they stand out inside it
        ed, es = (_inside_extreme(s * v, SHORT_PROMINENCE * float(np.ptp(v))) for s in (1, -1))
        if not ed and not es:
            return *no_beat, f"under one beat or none: the colour runs with time, a beat at {RESTING_BPM} bpm"
        if ed and es:
            period = period_from_turns(ed[0], es[0])
            if not _beat_like(period, typical_period * RESTING_BPM / 60.0):      # the turns of noise, not a beat
                return *no_beat, (f"under one beat, its turns {abs(es[0] - ed[0])} frames apart, no heartbeat's: the "
                                  f"colour runs with time, a beat at {RESTING_BPM} bpm")
        else:
            period, assumed = typical_period, f"under one beat: its period a heart at rest's, {RESTING_BPM} bpm"
        anchor = ed or [es[0] - SYSTOLE_SHARE * period]           # where only ES shows, ED a systole before it
        phase = _phase_from_eds(np.asarray(anchor, np.float64), period, n)
        return phase, ed, es, float(period), assumed
    phase, es_phase = _phase_over_beats(v, period)
    if sign_guessed and es_phase > 0.5:               # turned over: the period does not depend on the sign
        phase, es_phase = _phase_over_beats(-v, period)
    return phase, frames_at_phase(phase, 0.0), frames_at_phase(phase, es_phase), float(period), assumed


def _phase_over_beats(v: np.ndarray, period: float) -> tuple[np.ndarray, float]:
    """(phase (T,), the ES frames' mean phase) of a smoothed signal over beats: ED at its maxima, ES at its minima."""
    spacing, prominence = max(1, int(0.6 * period)), MIN_PROMINENCE * float(np.ptp(v))
    ed = _fill_missed_beats(find_peaks(v, distance=spacing, prominence=prominence)[0].tolist() or [int(np.argmax(v))],
                            period, v)
    es = find_peaks(-v, distance=spacing, prominence=prominence)[0].tolist() or [int(np.argmin(v))]
    phase = _phase_from_eds(np.asarray(ed, np.float64), period, len(v))
    return phase, circular_mean(phase[es])


def lag1_autocorrelation(signal: np.ndarray) -> float:
    """(T,) signal -> its frame-to-frame correlation, how smoothly it changes (0 for a constant one)."""
    x = np.asarray(signal, np.float64) - np.mean(signal)
    power = float(np.dot(x, x))
    return float(np.dot(x[:-1], x[1:]) / power) if power > 0 else 0.0


def period_from_turns(ed: float, es: float) -> float:
    """Frames a beat from one ED and one ES frame of the same beat, systole SYSTOLE_SHARE of the cycle (ES after
    ED) or diastole the rest (ES before ED)."""
    gap = es - ed
    return gap / SYSTOLE_SHARE if gap > 0 else -gap / (1 - SYSTOLE_SHARE)


def _fill_missed_beats(ed: list[int], period: float, v: np.ndarray) -> list[int]:
    """ED frames, with the peak of each shallow beat between two that stood out added: in a gap of about two
    periods or more, a local maximum of v within a fifth of a period of where an ED would fall (the phase had run
    one cycle over two beats there). A long beat with no peak inside (a pause, an irregular rhythm) keeps its gap."""
    out, reach = ed[:1], max(1, int(round(0.2 * period)))
    for a, b in zip(ed, ed[1:]):
        beats = max(1, round((b - a) / period))
        for j in range(1, beats):
            c = int(round(a + (b - a) * j / beats))
            lo, hi = max(out[-1] + 1, c - reach), min(b - 1, c + reach)
            if hi <= lo:
                continue
            i = lo + int(np.argmax(v[lo:hi + 1]))
            if lo < i < hi and v[i] >= v[i - 1] and v[i] >= v[i + 1]:      # a turn inside the window, not its edge
                out.append(i)
        out.append(b)
    return out


def _inside_extreme(v: np.ndarray, prominence: float) -> list[int]:
    """[the frame of v's highest maximum that stands out by `prominence` inside the clip], or [] (none: at an end
    the signal may only be rising or falling, not turning)."""
    peaks = find_peaks(v, prominence=max(prominence, 1e-12))[0]
    return [int(peaks[np.argmax(v[peaks])])] if len(peaks) else []


def _phase_from_eds(ed: np.ndarray, period: float, n: int) -> np.ndarray:
    """(n,) phase running linearly from one ED frame to the next, extrapolated with the period before the first
    and after the last."""
    t = np.arange(n, dtype=np.float64)
    cycles = np.interp(t, ed, np.arange(len(ed)))                               # between EDs: linear
    cycles = np.where(t < ed[0], (t - ed[0]) / period, cycles)
    cycles = np.where(t > ed[-1], len(ed) - 1 + (t - ed[-1]) / period, cycles)
    return np.mod(cycles, 1.0)


def clip_phase(clip: Clip) -> PhaseEstimate:
    """The clip's phase per frame: ground truth when the clip has it, else estimated (LV cavity area
    from label masks, else the image signal), counted from the traced ED frame where the clip has one (EchoNet's
    tracings), whose traced ED and ES frames are then the marks."""
    truth = clip.truth
    if truth is not None and truth.phase is not None and len(truth.phase) == clip.n_frames:
        phase = np.mod(np.asarray(truth.phase, np.float64), 1.0)
        return PhaseEstimate(phase, list(truth.ed_frames), list(truth.es_frames), "truth",
                             "ground-truth phase", truth.frames_per_beat())
    if truth is not None and truth.labels is not None and len(truth.labels) == clip.n_frames:
        volume = (np.asarray(truth.labels) == LABEL_IDS["lv_cavity"]).sum((1, 2)).astype(np.float64)
        method = "from the LV cavity area of the label masks"
    else:
        volume = image_volume_signal(clip.gray())
        method = "from the image's dominant periodic change"
    phase, ed, es, period, assumed = phase_from_volume(volume, clip.fps * 60.0 / RESTING_BPM,
                                                       sign_guessed=method.startswith("from the image"))
    method += f"; {assumed}" if assumed else ""
    beat_found = bool(ed or es)
    traced = lambda frames: [int(f) for f in frames if 0 <= f < clip.n_frames]          # noqa: E731
    traced_ed, traced_es = (traced(truth.ed_frames), traced(truth.es_frames)) if truth is not None else ([], [])
    traced_period = period_from_turns(traced_ed[0], traced_es[0]) if traced_ed and traced_es else 0.0
    if traced_ed and beat_found:                  # EchoNet's traced frames: the phase runs from their ED
        phase = np.mod(phase - circular_mean(phase[traced_ed]), 1.0)
        ed, es = traced_ed, traced_es or es
        method += ", from the traced ED frame; ED and ES at the traced frames' phase"
    elif _beat_like(traced_period, clip.fps):     # none in the image: the tracings' spacing gives one
        period = traced_period
        phase, ed, es, beat_found = _phase_from_eds(np.asarray(traced_ed, np.float64), period, clip.n_frames), \
            traced_ed, traced_es, True
        method = (f"from the traced ED frame, the clip itself showing no heartbeat; its period from the traced ED and "
                  f"ES frames' spacing, systole {SYSTOLE_SHARE:.0%} of a beat")
    return PhaseEstimate(phase, ed, es, "estimated", method, period, beat_found=beat_found)


def _beat_like(period: float, fps: float) -> bool:
    """Whether a period in frames is a heartbeat's (BEAT_SECONDS, 200 to 30 bpm): traced ED and ES frames of two
    beats, or side by side, give none."""
    return BEAT_SECONDS[0] <= period / fps <= BEAT_SECONDS[1]


def mark_positions(estimate: PhaseEstimate, indices: np.ndarray) -> dict[str, list[int]]:
    """{'ED' | 'ES': positions in `indices` (frames sampled from the clip)}: in each beat the sampled frame nearest in
    phase to the clip's ED (ES) frames, within half a sampling step of them (frames_at_phase). By phase, not time:
    the marked frames may lie outside the frames sampled (a long clip's stretch of a few beats, EchoNet's one traced
    beat), and the point nearest one in time was then the stretch's last, whatever its phase."""
    phases = phase_at(estimate, indices)                                  # (K,)
    return {name: frames_at_phase(phases, circular_mean(estimate.phase[frames]))
            for name, frames in (("ED", estimate.ed_frames), ("ES", estimate.es_frames)) if frames}


def marks_at(estimate: PhaseEstimate, indices: np.ndarray) -> dict[str, int]:
    """{'ED' | 'ES': position in `indices`} for frames sampled from the clip (a model's view of one beat): the
    sampled frame nearest in phase to the clip's ED (and ES) frames, where it lies within one sampling step (the
    median phase between neighbouring sampled frames) of them, so a frame scrubber can name it. A mark the estimate has no frames for, or no sampled frame near, is left out."""
    phases = phase_at(estimate, indices)                                  # (K,)
    # the sampled frames' own spacing in phase (a view of exactly one beat: 1/K cycle), not an assumed one
    step = float(np.median(circular_error(phases[1:], phases[:-1]))) if len(phases) > 1 else 1.0
    marks = {}
    for name, frames in (("ED", estimate.ed_frames), ("ES", estimate.es_frames)):
        if not frames:
            continue
        gaps = circular_error(phases, circular_mean(estimate.phase[frames]))
        if gaps.min() <= step:
            marks[name] = int(np.argmin(gaps))
    return marks


def phase_at(estimate: PhaseEstimate, frames: np.ndarray) -> np.ndarray:
    """The phase of the given frame indices (a trajectory's points). -> (K,)"""
    return estimate.phase[np.asarray(frames, dtype=int)]


def circular_mean(phases: np.ndarray) -> float:
    """The mean of phases in cycles, on the circle (0.95 and 0.05 average to 0.0, not 0.5). -> [0, 1)"""
    return float(np.angle(np.exp(2j * np.pi * np.asarray(phases)).mean()) / (2 * np.pi) % 1.0)


def circular_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute phase difference in cycles, wrapped to [0, 0.5]."""
    return np.abs((np.asarray(a) - np.asarray(b) + 0.5) % 1.0 - 0.5)
