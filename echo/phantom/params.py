"""Per-clip phantom parameters: the heart, the acquisition and the rendering, drawn from a seed.

One flat frozen dataclass so a caller can pin any field (`sample_params(seed, ef=35.0)`), and two
populations whose ranges follow adult and pediatric apical 4-chamber echocardiography.
Lengths are in cm, angles in degrees, levels in dB.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from echo.clip import ClipError

POPULATIONS = ("adult", "pediatric")
# EchoNet-Dynamic's EF distribution (mean 55.78, std 12.41), the z-scoring convention of the field.
ADULT_EF_MEAN, ADULT_EF_STD = 55.78, 12.41
HR_RANGES = {"adult": (50.0, 105.0), "pediatric": (80.0, 150.0)}     # bpm, drawn uniformly


@dataclass(frozen=True)
class PhantomParams:
    seed: int
    population: str
    # Clip
    n_frames: int
    fps: float
    size: int                  # output frames are size x size pixels
    overlay: bool              # burn in text and an ECG trace outside the fan, like a scanner export
    # Heart (end-diastolic dimensions)
    ef: float                  # LV ejection fraction, %
    hr_bpm: float
    lv_length_cm: float        # apex to mitral annulus midpoint at ED
    lv_halfwidth_cm: float     # widest LV cavity half-width at ED
    wall_cm: float             # LV wall thickness at ED
    rv_width_ratio: float      # RV cavity half-width / LV's
    rv_length_ratio: float     # RV long axis / LV's
    rv_fac: float              # RV fractional area change, 0..1
    atrium_ratio: float        # atrial half-width / LV's
    systole_fraction: float    # share of the cycle from ED to ES
    rv_delay: float            # RV timing lag, fraction of a cycle
    phase0: float              # cardiac phase of frame 0, 0 = ED
    apex_x_cm: float
    apex_depth_cm: float
    tilt_deg: float            # long-axis tilt, base towards the image right when positive
    # Acquisition
    depth_cm: float
    sector_deg: float
    gain_db: float
    dynamic_range_db: float
    tgc_db: tuple[float, float, float]   # residual time-gain error at near, mid and far depth
    attenuation_rate: float    # residual depth attenuation (1-a_min)exp(-rate d), d normalised depth
    psf_axial_px: float        # speckle point-spread sigma along the beam, output pixels at 112 px
    psf_lateral_px: tuple[float, float]  # across the beam, at the apex and at full depth
    speckle_corr: float        # frame-to-frame correlation of the scatterer field at 50 fps; 0 = independent
    clutter_db: float          # near-field clutter level at the apex
    noise_db: float            # receiver noise floor relative to the brightest tissue


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def sample_params(seed: int, population: str = "adult", **overrides) -> PhantomParams:
    """Draw one clip's parameters from `seed`; any field may be pinned through `overrides`."""
    if population not in POPULATIONS:
        raise ClipError(f"Population must be one of {', '.join(POPULATIONS)}; got {population!r}.")
    unknown = set(overrides) - {f.name for f in dataclasses.fields(PhantomParams)}
    if unknown:
        raise TypeError(f"unknown phantom parameter(s): {sorted(unknown)}")
    rng = np.random.default_rng([int(seed), POPULATIONS.index(population)])
    adult = population == "adult"
    if adult:
        ef = float(np.clip(rng.normal(ADULT_EF_MEAN, ADULT_EF_STD), 12.0, 85.0))
        hr = _u(rng, *HR_RANGES["adult"])
        scale = _u(rng, 0.88, 1.12)
        lv_len, lv_hw = 8.4 * scale, 2.35 * scale * _u(rng, 0.92, 1.1)
        wall = _u(rng, 0.75, 1.25)
        depth = lv_len + _u(rng, 7.5, 9.5)
        apex_depth = _u(rng, 1.6, 3.0)
        atrium = _u(rng, 0.8, 1.0)
    else:  # smaller, rounder hearts with relatively larger atria, beating faster, imaged shallower
        ef = float(np.clip(rng.normal(62.0, 8.0), 25.0, 80.0))
        hr = _u(rng, *HR_RANGES["pediatric"])
        scale = _u(rng, 0.45, 0.75)
        lv_len, lv_hw = 8.4 * scale, 2.35 * scale * _u(rng, 1.1, 1.3)
        wall = _u(rng, 0.45, 0.75)
        depth = lv_len + _u(rng, 4.5, 6.5)
        apex_depth = _u(rng, 0.9, 1.8)
        atrium = _u(rng, 0.95, 1.15)
    # Systole takes a larger share of the cycle at faster heart rates.
    systole = float(np.clip(0.33 + 0.0016 * (hr - 60) + rng.normal(0, 0.015), 0.3, 0.48))
    values = dict(
        seed=int(seed), population=population,
        n_frames=32, fps=float(rng.choice([30.0, 40.0, 50.0])), size=112, overlay=False,
        ef=ef, hr_bpm=hr, lv_length_cm=lv_len, lv_halfwidth_cm=lv_hw, wall_cm=wall,
        rv_width_ratio=_u(rng, 0.6, 0.85), rv_length_ratio=_u(rng, 0.68, 0.82), rv_fac=_u(rng, 0.3, 0.5),
        atrium_ratio=atrium, systole_fraction=systole, rv_delay=_u(rng, 0.0, 0.04),
        phase0=_u(rng, 0.0, 1.0), apex_x_cm=_u(rng, 0.0, 1.0), apex_depth_cm=apex_depth,
        tilt_deg=_u(rng, 8.0, 20.0),
        depth_cm=depth, sector_deg=_u(rng, 72.0, 90.0),
        gain_db=_u(rng, -4.0, 4.0), dynamic_range_db=_u(rng, 50.0, 60.0),
        tgc_db=(_u(rng, -3, 3), _u(rng, -3, 3), _u(rng, -3, 3)),
        attenuation_rate=_u(rng, 0.0, 1.0),
        psf_axial_px=_u(rng, 1.15, 1.35), psf_lateral_px=(_u(rng, 1.1, 1.3), _u(rng, 1.6, 1.9)),
        speckle_corr=0.975, clutter_db=_u(rng, -22.0, -14.0), noise_db=_u(rng, -70.0, -62.0),
    )
    values.update(overrides)
    params = PhantomParams(**values)
    if not {"tilt_deg", "apex_x_cm", "sector_deg"} & set(overrides):
        params = _fit_lv_in_sector(params)
    return params


def _fit_lv_in_sector(p: PhantomParams) -> PhantomParams:
    """Straighten and centre the heart until the whole LV cavity lies inside the fan (a truth must be visible)."""
    from echo.phantom.heart import BASE_CUT, from_heart_frame

    c = p.lv_length_cm / BASE_CUT
    v = np.linspace(0, BASE_CUT * c, 40)
    w = p.lv_halfwidth_cm * np.sqrt(np.clip(1 - ((v - c) / c) ** 2, 0, 1))
    for _ in range(40):
        x, y = from_heart_frame(p, np.concatenate([w, -w]), np.concatenate([v, v]))
        if np.all(np.abs(np.degrees(np.arctan2(x, y))) < p.sector_deg / 2 - 2) and np.all(np.hypot(x, y) < p.depth_cm):
            return p
        p = dataclasses.replace(p, tilt_deg=max(0.0, p.tilt_deg - 1.0), apex_x_cm=p.apex_x_cm * 0.9,
                                sector_deg=min(90.0, p.sector_deg + 1.0))
    return p
