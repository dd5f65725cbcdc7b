"""Degradations a sonographer sees, as seeded, composable per-clip transforms with a severity knob.

Each degradation maps severity in [0, 1] to its physical parameter, changes pixels inside the
sector only, and never touches the ground truth. The first two follow the EchoJEPA robustness
benchmark exactly (usaugment's formulas, see ../shared/DESIGN.md):

- depth attenuation: map = (1 - a_min) exp(-rate d) + a_min with a_min = 0 and d the normalised
  distance from the image's top centre, where usaugment puts the probe, d = sqrt((x - 0.5)^2 + y^2), x, y =
  linspace(0, 1) over width and height; rate = 2.15 * severity (0.75, 1.50, 2.15 are the benchmark's rates).
  On the square copy the models read (echo.preprocess.crop_to_sector pads a fan wider than it is tall above
  and below) the apex sits some 12-15 rows of 112 below that point, so the apex itself keeps 0.75-0.78 at
  rate 2.15, as a frame with a margin above its apex does under usaugment. Haze and probe motion take the
  same top centre for the probe.
- Gaussian shadow: 1 - s exp(-((x-mx)^2 / 2sx^2 + (y-my)^2 / 2sy^2)) in pixels, sigma a fraction
  of width/height; s = 0.2 + 0.6 severity, sigma = 0.10 + 0.15 severity, so severity 1/3, 2/3, 1
  give the presets low (0.4, 0.15), med (0.6, 0.20), high (0.8, 0.25); the centre is drawn from
  U(0.2, 0.8) of width and height once per clip and fixed over frames.

usaugment itself is not a dependency: its transforms draw from the global random state (not
seedable per clip), draw the shadow centre anywhere in the image rather than U(0.2, 0.8), and pull
in albumentations and scikit-image. The formulas are implemented here and tested against
hand-computed values.
"""
from __future__ import annotations

import dataclasses
import zlib
from typing import Callable

import cv2
import numpy as np

from echo.clip import Clip, ClipError
from echo.image_stats import sector_mask_of
from echo.preprocess import Sector, crop_to_sector

DYNAMIC_RANGE_DB = 55.0  # display grey levels per dB of gain: 255 / DYNAMIC_RANGE_DB
# Degraded copies are made at most this many times the model's input side: degrading holds float32 copies of about
# 16 times a grey clip's bytes (a 2 GiB clip's some 32 GiB; fourteen copies of a 680-frame 1024-px clip held 22 GB),
# and a model sees each copy at its own input size anyway
WORK_SCALE = 2


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """usaugment's normalised coordinates: x, y = linspace(0, 1) over width and height, (H, W) each."""
    return np.meshgrid(np.linspace(0, 1, w), np.linspace(0, 1, h))


def depth_attenuation_map(h: int, w: int, rate: float, min_attenuation: float = 0.0) -> np.ndarray:
    """(H, W) multiplicative map (1 - a_min) exp(-rate d) + a_min."""
    x, y = _grid(h, w)
    d = np.sqrt((x - 0.5) ** 2 + y ** 2)
    return (1 - min_attenuation) * np.exp(-rate * d) + min_attenuation


def shadow_map(h: int, w: int, strength: float, sigma_x: float, sigma_y: float, mx: float, my: float) -> np.ndarray:
    """(H, W) map 1 - s exp(-(...)); centre (mx, my) and sigmas as fractions of width and height."""
    x, y = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    sx, sy = sigma_x * w, sigma_y * h
    return 1 - strength * np.exp(-((x - mx * w) ** 2 / (2 * sx ** 2) + (y - my * h) ** 2 / (2 * sy ** 2)))


# Each transform: (frames (T, H, W) float32 0..255, severity, rng) -> frames; compose keeps pixels outside the sector.
def _depth_attenuation(f, s, rng):
    return f * depth_attenuation_map(*f.shape[1:], rate=2.15 * s)[None]


def _shadow(f, s, rng):
    mx, my = rng.uniform(0.2, 0.8, size=2)
    sigma = 0.10 + 0.15 * s
    return f * shadow_map(*f.shape[1:], strength=0.2 + 0.6 * s, sigma_x=sigma, sigma_y=sigma, mx=mx, my=my)[None]


def _haze(f, s, rng):
    """Reverberation clutter: a static band of haze near the apex (usaugment HazeArtifact's form)."""
    x, y = _grid(*f.shape[1:])
    r = np.sqrt((x - 0.5) ** 2 + y ** 2)
    sigma = 0.04 + 0.12 * s
    haze = rng.uniform(0, 1, r.shape) * np.exp(-((r - 0.1) ** 2) / (2 * sigma ** 2))
    return f + (0.5 + 0.5 * s) * 255 * haze[None]


def _gain(f, s, rng):
    """Gain turned down by up to 12 dB on a log-compressed display (255 / 55 grey levels per dB)."""
    return f - 12.0 * s * 255.0 / DYNAMIC_RANGE_DB


def _noise(f, s, rng):
    """Additive Gaussian (electronic) noise, std up to 40 grey levels, fresh each frame."""
    return f + rng.normal(0, 40.0 * s, f.shape)


def _speckle(f, s, rng):
    """Extra multiplicative speckle: Rayleigh-distributed gain of unit mean, fresh each frame, its grain about 2 px
    across both axes (each frame's complex noise blurred by a Gaussian of 1 px). Drawn a frame at a time, the same
    draws in the same order as one draw for the clip, whose float64 noise took six times the frames' bytes beside
    them (bench/speckle_memory.py)."""
    T, H, W = f.shape
    env = np.empty(f.shape, np.float32)                                        # (T, H, W)
    for t in range(T):
        z = rng.normal(size=(H, W, 2)).astype(np.float32)                      # (H, W, 2): real, imaginary
        z = cv2.GaussianBlur(z, (0, 0), 1.0)                                    # each channel blurred on its own
        env[t] = np.hypot(z[..., 0], z[..., 1])
    env /= env.mean()
    env *= s                                                                    # 1 - s + s * env, in place
    env += 1 - s
    return f * env


def _probe_motion(f, s, rng):
    """Per-frame jitter of the image about the top centre (the probe): shifts and a rotation drawn fresh each frame,
    normal with std 2 px per axis and 2 degrees at severity 1 (so within 4 px and 4 degrees in about 19 frames of
    20)."""
    T, H, W = f.shape
    out = np.empty_like(f)
    for t in range(T):
        dx, dy = rng.normal(0, 2.0 * s, 2)
        angle = rng.normal(0, 2.0 * s)
        m = cv2.getRotationMatrix2D((W / 2, 0), angle, 1.0)
        m[:, 2] += (dx, dy)
        out[t] = cv2.warpAffine(f[t], m, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
    return out


def _resolution_loss(f, s, rng):
    """Down-sample by up to 4x and back: lost lateral and axial resolution."""
    T, H, W = f.shape
    k = 1 + 3 * s
    small = (max(2, round(W / k)), max(2, round(H / k)))
    return np.stack([cv2.resize(cv2.resize(x, small, interpolation=cv2.INTER_AREA), (W, H),
                                interpolation=cv2.INTER_LINEAR) for x in f])


def _dropped_frames(f, s, rng):
    """Up to half the frames lost and replaced by the last good one (frame count and timing kept)."""
    out = f.copy()
    drop = rng.random(len(f)) < 0.5 * s
    drop[0] = False
    for t in np.flatnonzero(drop):
        out[t] = out[t - 1]
    return out


def _compression(f, s, rng):
    """JPEG blocking at quality 60 (mild) down to 5 (severe), frame by frame."""
    quality = int(round(60 - 55 * s))
    out = []
    for x in np.clip(f, 0, 255).astype(np.uint8):
        ok, buf = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, quality])
        out.append(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE))
    return np.stack(out).astype(np.float32)


DEGRADATIONS: dict[str, Callable] = {
    "depth_attenuation": _depth_attenuation,
    "shadow": _shadow,
    "haze": _haze,
    "gain": _gain,
    "noise": _noise,
    "speckle": _speckle,
    "probe_motion": _probe_motion,
    "resolution_loss": _resolution_loss,
    "dropped_frames": _dropped_frames,
    "compression": _compression,
}

# Named conditions: the EchoJEPA benchmark's six, then one moderate setting of every other degradation.
BENCHMARK_CONDITIONS: dict[str, tuple[str, float]] = {
    "depth_attenuation_0.75": ("depth_attenuation", 0.75 / 2.15),
    "depth_attenuation_1.50": ("depth_attenuation", 1.50 / 2.15),
    "depth_attenuation_2.15": ("depth_attenuation", 1.0),
    "shadow_low": ("shadow", 1 / 3),
    "shadow_med": ("shadow", 2 / 3),
    "shadow_high": ("shadow", 1.0),
}
CONDITIONS: dict[str, tuple[str, float]] = {
    **BENCHMARK_CONDITIONS,
    **{f"{name}_med": (name, 0.5) for name in DEGRADATIONS if name not in ("depth_attenuation", "shadow")},
}


NAMED_TOLERANCE = 0.005  # a severity this near a named condition's is that condition (a slider's 0.67 is 2/3)


def named_condition(name: str, severity: float) -> str | None:
    """The named condition (CONDITIONS) of this degradation within NAMED_TOLERANCE of `severity`, or None."""
    return next((c for c, (n, s) in CONDITIONS.items() if n == name and abs(s - severity) < NAMED_TOLERANCE), None)


def named_severity(name: str, severity: float) -> float:
    """The severity of the named condition of this degradation within NAMED_TOLERANCE of `severity`, else it."""
    condition = named_condition(name, severity)
    return severity if condition is None else CONDITIONS[condition][1]


def label_words(label: str) -> str:
    """compose's label ('shadow 0.67, depth_attenuation 0.70') in words that say each number is a severity
    (0-1, not the benchmark's attenuation rate) and name the condition a step matches (the benchmark's six, or
    one of EchoLens's other conditions):
    'shadow at severity 0.67 (the benchmark's shadow_med), ...'. A label not in that form comes back as it is."""
    words = []
    for step in label.split(", "):
        name, _, severity = step.rpartition(" ")
        try:
            value = float(severity)
        except ValueError:
            return label
        if name not in DEGRADATIONS:
            return label
        same = named_condition(name, value)
        whose = "the benchmark's" if same in BENCHMARK_CONDITIONS else "EchoLens's condition"
        words.append(f"{name} at severity {value:.2f}" + (f" ({whose} {same})" if same else ""))
    return ", ".join(words)


def sector_mask(clip: Clip) -> np.ndarray:
    """(H, W) bool: the scan sector, from the phantom's labels when known, else the non-black area with the black
    cavities it encloses (image_stats.sector_mask_of: haze and noise reach a blood pool that reads 0)."""
    if clip.truth is not None and clip.truth.labels is not None:
        return clip.truth.labels.max(axis=0) > 0
    return sector_mask_of(clip.gray())


def check_degradation(name: str) -> None:
    """Refuse a degradation name echo.degrade does not know, naming the ones it does."""
    if name not in DEGRADATIONS:
        raise ClipError(f"Unknown degradation {name!r}; choose one of: {', '.join(DEGRADATIONS)}.")


def degrade(clip: Clip, name: str, severity: float = 0.5, seed: int = 0) -> Clip:
    """One degradation at `severity` in [0, 1]; the same seed gives the same result. Truth is untouched."""
    return compose(clip, [(name, severity)], seed)


def compose(clip: Clip, steps: list[tuple[str, float]], seed: int = 0) -> Clip:
    """Apply degradations in order, each with its own seeded stream (a degradation named twice draws afresh the
    second time); pixels outside the sector stay; a colour clip comes back grey (meta 'colour' says so); the label
    (meta['degradation']) adds the steps to the clip's own, where it was loaded degraded. A step at
    severity 0 is no step (some degradations' mildest setting still changes pixels: 0 means the clean clip,
    as the severity sweep's axis says); with none left the clip comes back as it is."""
    for name, severity in steps:
        check_degradation(name)
        if not 0.0 <= severity <= 1.0:
            raise ClipError(f"Degradation severity must lie between 0 and 1; got {severity}.")
    steps = [(name, severity) for name, severity in steps if severity > 0]
    if not steps:
        return clip
    mask = sector_mask(clip)
    grey = clip.gray()                                  # (T, H, W) uint8: a colour clip's made once
    frames = grey.astype(np.float32)
    for i, (name, severity) in enumerate(steps):
        repeat = sum(n == name for n, _ in steps[:i])    # 0 the first time: single steps keep their streams
        rng = np.random.default_rng([seed, zlib.crc32(name.encode()), *([repeat] if repeat else [])])
        frames = DEGRADATIONS[name](frames, float(severity), rng).astype(np.float32)
    out = np.where(mask[None], np.clip(np.rint(frames), 0, 255), grey).astype(np.uint8)
    label = ", ".join([*filter(None, [clip.meta.get("degradation")]), *(f"{n} {s:.2f}" for n, s in steps)])
    meta = dict(clip.meta, degradation=label, **({"colour": "gray"} if clip.is_rgb else {}))
    return dataclasses.replace(clip, frames=out, meta=meta)  # a clip's own steps kept


def copy_to_degrade(clip: Clip, model_side: int, sector: Sector | None = None) -> Clip:
    """The clip cropped to its sector (crop_to_sector; a clip cropped already is kept) at most WORK_SCALE x model_side
    px, for degrading; a large clip is cropped and shrunk a frame at a time, so its full-size crop is never held.
    Its ground truth comes along, resized as the frames (labels by nearest label, tracings scaled), so a degraded
    copy's focus can still be measured. sector: the clip's fan when the caller has found it (fan_to_crop).
    A colour clip's copy is its luminance: the degradations act on the grey image (compose), so the clean copy
    each degraded one is compared with is grey too, and a change is the degradation's, not the colour's loss."""
    copy = crop_to_sector(clip, sector, max_side=WORK_SCALE * model_side)
    return dataclasses.replace(copy, frames=copy.gray(), meta=dict(copy.meta, colour="gray")) if copy.is_rgb else copy


def apply_condition(clip: Clip, condition: str, seed: int = 0) -> Clip:
    """A named condition from CONDITIONS, e.g. 'depth_attenuation_1.50' or 'shadow_med'."""
    if condition == "clean":
        return clip
    if condition not in CONDITIONS:
        raise ClipError(f"Unknown condition {condition!r}; choose 'clean' or one of: {', '.join(CONDITIONS)}.")
    return degrade(clip, *CONDITIONS[condition], seed=seed)
