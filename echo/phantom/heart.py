"""The beating heart of the phantom: cardiac timing, chamber shapes over time, label maps, LV tracings.

Geometry lives in a heart frame (u lateral, v along the LV long axis from the apex, cm). The LV
cavity is the apical part of an ellipse with semi-axes (a, c), cut at the mitral plane v = L = 1.6 c,
so the single-plane area-length volume 8 A^2 / (3 pi L) scales exactly as a^2 c and the prescribed
EF is the one the masks measure. The apex stays put; the base descends in systole (MAPSE).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from echo.anatomy import LABEL_IDS as L_ID
from echo.phantom.params import PhantomParams

BASE_CUT = 1.6  # L / c: the mitral plane cuts the LV ellipse at 60% of its far half


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


IVC, IVR = 0.1, 0.12  # isovolumic contraction (share of systole) and relaxation (share of diastole)


def _diastole_clock(phase: np.ndarray, systole: float) -> np.ndarray:
    """0 at the end of isovolumic relaxation (AV valves open), 1 at the next ED; < 0 before."""
    return ((phase - systole) / (1 - systole) - IVR) / (1 - IVR)


def lv_filling(phase: np.ndarray, systole: float) -> np.ndarray:
    """LV volume fraction between ES (0) and ED (1) over the cycle; phase 0 = ED, `systole` = ES.

    Isovolumic contraction, ejection, isovolumic relaxation, early filling (E), diastasis, atrial kick (A).
    """
    phase = np.mod(phase, 1.0)
    ejecting = 0.5 * (1 + np.cos(np.pi * np.clip((phase / systole - IVC) / (1 - IVC), 0, 1)))
    x = np.clip(_diastole_clock(phase, systole), 0, 1)
    filling = 0.75 * (1 - np.exp(-x / 0.1)) / (1 - np.exp(-10.0)) + 0.25 * smoothstep((x - 0.7) / 0.3)
    return np.where(phase <= systole, ejecting, np.clip(filling, 0, 1))


def valve_opening(phase: np.ndarray, systole: float) -> np.ndarray:
    """AV valve opening 0 (closed) .. 1 (wide): closed in systole, E wave, diastasis, A wave."""
    phase = np.mod(phase, 1.0)
    x = _diastole_clock(phase, systole)
    envelope = smoothstep(x / 0.08) * (1 - smoothstep((x - 0.9) / 0.1))
    shape = 0.5 + 0.5 * np.exp(-(((x - 0.15) / 0.12) ** 2)) + 0.4 * np.exp(-(((x - 0.82) / 0.06) ** 2))
    return np.where((x > 0) & (phase > systole), np.clip(envelope * shape, 0, 1), 0.0)


def area_length_volume(area_cm2: np.ndarray | float, length_cm: np.ndarray | float) -> np.ndarray:
    """Single-plane area-length LV volume (mL): V = 8 A^2 / (3 pi L)."""
    return 8.0 * np.asarray(area_cm2) ** 2 / (3.0 * np.pi * np.asarray(length_cm))


def lv_cavity_area(a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Area of the ellipse (a, c) from its apex to v = 1.6 c (cm^2), in closed form."""
    # Area of an ellipse cap from -c to z along the c axis: a c (asin(z/c) + (z/c) sqrt(1-(z/c)^2) + pi/2)
    z = BASE_CUT - 1.0
    return a * c * (np.arcsin(z) + z * np.sqrt(1 - z * z) + np.pi / 2)


@dataclass
class HeartState:
    """Chamber dimensions per frame; every field is a (T,) array in cm (angles in radians)."""

    lv_a: np.ndarray
    lv_c: np.ndarray
    wall: np.ndarray
    rv_a: np.ndarray
    rv_c: np.ndarray
    atrium_scale: np.ndarray
    mitral_open: np.ndarray
    tricuspid_open: np.ndarray


def contraction_factors(ef: float) -> tuple[float, float]:
    """Width and length factors (ka, kc) at ES with ka^2 kc = 1 - EF; the long axis shortens less."""
    ratio = 1.0 - ef / 100.0
    kc = ratio ** 0.2
    return float(np.sqrt(ratio / kc)), float(kc)


def heart_state(p: PhantomParams, phase: np.ndarray) -> HeartState:
    """Chamber dimensions at each cardiac phase (T,)."""
    g = lv_filling(phase, p.systole_fraction)                   # 1 at ED, 0 at ES
    ka, kc = contraction_factors(p.ef)
    c_ed = p.lv_length_cm / BASE_CUT
    lv_a = p.lv_halfwidth_cm * (ka + (1 - ka) * g)
    lv_c = c_ed * (kc + (1 - kc) * g)
    # Myocardium thickens as the cavity shrinks: systolic thickening grows with EF.
    wall = p.wall_cm * (1 + (0.25 + 0.6 * p.ef / 100.0) * (1 - g))
    g_rv = lv_filling(phase - p.rv_delay, p.systole_fraction)
    k_rv = np.sqrt(1 - p.rv_fac)
    rv_a = p.rv_width_ratio * p.lv_halfwidth_cm * (k_rv + (1 - k_rv) * g_rv)
    rv_c = p.rv_length_ratio * c_ed * (0.92 + 0.08 * g_rv)
    # Atria fill while the ventricles eject and empty in early and late diastole.
    atrium = 0.82 + 0.28 * (1 - g)
    return HeartState(
        lv_a=lv_a, lv_c=lv_c, wall=wall, rv_a=rv_a, rv_c=rv_c, atrium_scale=atrium,
        mitral_open=valve_opening(phase, p.systole_fraction),
        tricuspid_open=valve_opening(phase - p.rv_delay - 0.01, p.systole_fraction),
    )


def to_heart_frame(p: PhantomParams, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scanner coordinates (cm; x lateral, y depth from the probe) to heart coordinates (u, v)."""
    psi = np.deg2rad(p.tilt_deg)
    dx, dy = x - p.apex_x_cm, y - p.apex_depth_cm
    v = dx * np.sin(psi) + dy * np.cos(psi)
    u = dx * np.cos(psi) - dy * np.sin(psi)
    return u, v


def from_heart_frame(p: PhantomParams, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    psi = np.deg2rad(p.tilt_deg)
    x = p.apex_x_cm + u * np.cos(psi) + v * np.sin(psi)
    y = p.apex_depth_cm - u * np.sin(psi) + v * np.cos(psi)
    return x, y


def _ellipse_r2(u, v, cu, cv, au, av) -> np.ndarray:
    """Squared normalised ellipse radius: <= 1 inside the ellipse centred (cu, cv) with semi-axes (au, av)."""
    return ((u - cu) / au) ** 2 + ((v - cv) / av) ** 2


def _near_segment(u, v, u0, v0, du, dv, half_width) -> np.ndarray:
    """True within `half_width` of the segment from (u0, v0) along (du, dv)."""
    t = np.clip(((u - u0) * du + (v - v0) * dv) / (du * du + dv * dv), 0, 1)
    return (u - u0 - t * du) ** 2 + (v - v0 - t * dv) ** 2 <= half_width ** 2


@dataclass
class Chambers:
    """Where each chamber sits at each frame, as (T, 1, 1) arrays ready to broadcast over a grid."""

    lv_a: np.ndarray
    lv_c: np.ndarray
    wall: np.ndarray
    base: np.ndarray       # v of the mitral plane
    rv_cu: np.ndarray
    rv_a: np.ndarray
    rv_c: np.ndarray
    rv_cv: np.ndarray
    rv_base: np.ndarray
    la: tuple              # (cu, cv, au, av)
    ra: tuple

    @classmethod
    def at(cls, p: PhantomParams, s: HeartState) -> "Chambers":
        e = lambda a: np.asarray(a, dtype=np.float32)[:, None, None]  # noqa: E731  (T,) -> (T, 1, 1)
        base = BASE_CUT * s.lv_c
        rv_cu = -(s.lv_a + s.wall + s.rv_a)
        rv_base = base - 0.06 * p.lv_length_cm   # the tricuspid annulus sits more apical
        rv_cv = rv_base - (BASE_CUT - 1) * s.rv_c
        la_a = p.atrium_ratio * p.lv_halfwidth_cm * 0.95 * s.atrium_scale
        la_b = la_a * 1.2
        ra_a = la_a * 0.92
        la_cu = np.full_like(s.lv_a, 0.1 * p.lv_halfwidth_cm)  # (T,): the LA sits just lateral of the LV axis
        ra_cu = la_cu - la_a - ra_a - 0.35 * p.wall_cm / 0.9
        return cls(
            lv_a=e(s.lv_a), lv_c=e(s.lv_c), wall=e(s.wall), base=e(base),
            rv_cu=e(rv_cu), rv_a=e(s.rv_a), rv_c=e(s.rv_c), rv_cv=e(rv_cv), rv_base=e(rv_base),
            la=(e(la_cu), e(base + la_b), e(la_a), e(la_b)),
            ra=(e(ra_cu), e(rv_base + la_b * 0.95), e(ra_a), e(la_b * 0.95)),
        )


def label_map(p: PhantomParams, s: HeartState, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Anatomy labels (T, H, W) uint8 for heart-frame coordinates u, v (H, W) at each state."""
    ch = Chambers.at(p, s)
    u, v = u[None].astype(np.float32), v[None].astype(np.float32)        # (1, H, W)
    wall_rv = 0.45 * ch.wall
    wall_atrium = 0.15  # cm
    above_mitral, above_tricuspid = v <= ch.base, v <= ch.rv_base

    lv_cav = (_ellipse_r2(u, v, 0, ch.lv_c, ch.lv_a, ch.lv_c) <= 1) & above_mitral
    lv_out = (_ellipse_r2(u, v, 0, ch.lv_c, ch.lv_a + ch.wall, ch.lv_c + 0.8 * ch.wall) <= 1) & above_mitral
    rv_cav = (_ellipse_r2(u, v, ch.rv_cu, ch.rv_cv, ch.rv_a, ch.rv_c) <= 1) & above_tricuspid
    rv_out = (_ellipse_r2(u, v, ch.rv_cu, ch.rv_cv, ch.rv_a + wall_rv, ch.rv_c + wall_rv) <= 1) & above_tricuspid
    la_r = _ellipse_r2(u, v, *ch.la)
    ra_r = _ellipse_r2(u, v, *ch.ra)
    la_cav = (la_r <= 1) & ~above_mitral
    ra_cav = (ra_r <= 1) & ~above_tricuspid
    la_out = (_ellipse_r2(u, v, ch.la[0], ch.la[1], ch.la[2] + wall_atrium, ch.la[3] + wall_atrium) <= 1) & (v >= ch.base - 0.1)
    ra_out = (_ellipse_r2(u, v, ch.ra[0], ch.ra[1], ch.ra[2] + wall_atrium, ch.ra[3] + wall_atrium) <= 1) & (v >= ch.rv_base - 0.1)

    # Pericardium: a thin bright band outside the ventricles and behind the atria.
    band = 0.12 + 0.08 * ch.wall
    peri = (_ellipse_r2(u, v, 0, ch.lv_c, ch.lv_a + ch.wall + band, ch.lv_c + 0.8 * ch.wall + band) <= 1) & (v <= ch.base + 0.2)
    peri |= (_ellipse_r2(u, v, ch.rv_cu, ch.rv_cv, ch.rv_a + wall_rv + band, ch.rv_c + wall_rv + band) <= 1) & (v <= ch.rv_base + 0.2)
    peri |= (_ellipse_r2(u, v, ch.la[0], ch.la[1], ch.la[2] + wall_atrium + band, ch.la[3] + wall_atrium + band) <= 1) & (v > ch.la[1])
    peri |= (_ellipse_r2(u, v, ch.ra[0], ch.ra[1], ch.ra[2] + wall_atrium + band, ch.ra[3] + wall_atrium + band) <= 1) & (v > ch.ra[1])

    lab = np.full(np.broadcast_shapes(lv_cav.shape, u.shape), L_ID["extracardiac_tissue"], np.uint8)
    lab[peri] = L_ID["pericardium"]
    lab[la_out | ra_out] = L_ID["rv_atrial_wall"]
    lab[la_out & ra_out] = L_ID["septum"]            # interatrial septum
    lab[rv_out] = L_ID["rv_atrial_wall"]
    lab[lv_out] = L_ID["myocardium"]
    lab[lv_out & (rv_out | (u < 0) & (u > ch.rv_cu))] = L_ID["septum"]  # interventricular septum
    lab[la_cav] = L_ID["la_cavity"]
    lab[ra_cav] = L_ID["ra_cavity"]
    lab[rv_cav] = L_ID["rv_cavity"]
    lab[lv_cav] = L_ID["lv_cavity"]
    _draw_valve(lab, u, v, s.mitral_open, ch.base, 0.8 * ch.lv_a, 0.0, 0.55, L_ID["mitral_valve"])
    rv_hw = ch.rv_a * np.sqrt(1 - (BASE_CUT - 1) ** 2)
    _draw_valve(lab, u, v, s.tricuspid_open, ch.rv_base, rv_hw, ch.rv_cu, 0.5, L_ID["tricuspid_valve"])
    return lab


def _draw_valve(lab, u, v, opening, base_v, half_width, centre_u, anterior_share, label) -> None:
    """Paint two leaflets hinged at the annulus; closed they meet mid-annulus, open they point apically."""
    opening = np.asarray(opening, np.float32)[:, None, None]
    span = 2 * half_width
    # Only pixels within reach of the annulus can hold a leaflet: work on that window alone.
    cu, cv = np.broadcast_to(centre_u, opening.shape), np.broadcast_to(base_v, opening.shape)
    reach = float((span * 1.05 + 0.3).max())
    near = (np.abs(u[0] - cu.mean()) < reach + np.ptp(cu)) & (np.abs(v[0] - cv.mean()) < reach + np.ptp(cv))
    rows, cols = np.flatnonzero(near.any(1)), np.flatnonzero(near.any(0))
    if rows.size == 0:
        return
    win = (slice(None), slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    lab, u, v = lab[win], u[win], v[win]
    for side, share in ((-1.0, anterior_share), (1.0, 1 - anterior_share)):
        angle = np.deg2rad(12.0 - 80.0 * opening)       # measured from "pointing across the annulus"
        length = span * share * 1.05
        du = -side * np.cos(angle) * length
        dv = np.sin(angle) * length
        hinge_u = centre_u + side * half_width
        lab[_near_segment(u, v, hinge_u, base_v, du, dv, 0.15)] = label


def lv_tracing(p: PhantomParams, s: HeartState, frame: int, n_chords: int = 20) -> np.ndarray:
    """EchoNet-style LV tracing at one frame: row 0 the long axis, then chords; (n+1, 4) x1,y1,x2,y2 in cm."""
    a, c = float(s.lv_a[frame]), float(s.lv_c[frame])
    length = BASE_CUT * c
    rows = [(0.0, length, 0.0, 0.0)]                       # base midpoint -> apex
    for vk in np.linspace(0, length, n_chords + 2)[1:-1]:
        w = a * np.sqrt(max(0.0, 1 - ((vk - c) / c) ** 2))
        rows.append((-w, vk, w, vk))
    rows = np.asarray(rows, np.float64)
    x1, y1 = from_heart_frame(p, rows[:, 0], rows[:, 1])
    x2, y2 = from_heart_frame(p, rows[:, 2], rows[:, 3])
    return np.stack([x1, y1, x2, y2], axis=1)


def material_coords(p: PhantomParams, s: HeartState, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each grid point's tissue sat at ED, so speckle moves with the muscle: (T, H, W) u, v."""
    ch = Chambers.at(p, s)
    u, v = u[None], v[None]
    a_ed, c_ed = float(s.lv_a.max()), float(s.lv_c.max())
    base_ed = BASE_CUT * c_ed
    # Ventricles: scale about the fixed apex. Atria: follow the annulus, scale with the atrium.
    vu, vv = u * (a_ed / ch.lv_a), v * (c_ed / ch.lv_c)
    atrium_ratio = float(s.atrium_scale.max()) / np.asarray(s.atrium_scale, np.float32)[:, None, None]
    au, av = u * atrium_ratio, base_ed + (v - ch.base) * atrium_ratio
    ventricular = v <= ch.base
    mu, mv = np.where(ventricular, vu, au), np.where(ventricular, vv, av)
    # Blend into static surroundings a little outside the heart.
    r = _ellipse_r2(u, v, -0.6 * a_ed, 0.65 * base_ed, 3.2 * a_ed, 1.05 * base_ed)
    w = np.clip(1.6 - np.sqrt(r), 0, 1)
    return u + w * (mu - u), v + w * (mv - v)
