"""The phantom's scanner: the sector fan and image formation from tissue to 8-bit B-mode frames.

Physics, kept cheap enough for on-the-fly training data: complex scatterers weighted by tissue
echogenicity and attached to the moving tissue (an AR(1) field in material coordinates, so speckle
moves with the muscle and decorrelates with time), a Gaussian point-spread function (axial shorter
than lateral, widening with depth), envelope, residual depth attenuation and time-gain error, gain
and log compression. The noise-free image is the expected envelope of the same chain.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from echo.anatomy import LABEL_IDS as L_ID
from echo.phantom.params import PhantomParams

# Echogenicity (power, dB below the pericardium) per anatomy label.
ECHOGENICITY_DB = {
    "outside_sector": -200.0, "extracardiac_tissue": -47.0,
    "lv_cavity": -62.0, "rv_cavity": -62.0, "la_cavity": -62.0, "ra_cavity": -62.0,
    "myocardium": -17.0, "septum": -16.0, "rv_atrial_wall": -20.0,
    "mitral_valve": -7.0, "tricuspid_valve": -8.0, "pericardium": 0.0,
}
_POWER_BY_ID = np.zeros(256, np.float32)
for _name, _db in ECHOGENICITY_DB.items():
    _POWER_BY_ID[L_ID[_name]] = 10.0 ** (_db / 10.0)


@dataclass
class Fan:
    """The sector on a size x size pixel grid, apex at the top centre; coordinates in cm.

    The arrays cover the rows down to the fan's arc only (rows x size); full_height pads back.
    """

    size: int
    cm_per_px: float
    x: np.ndarray        # (rows, W) lateral position
    y: np.ndarray        # (H, W) depth below the probe
    depth: np.ndarray    # (H, W) distance from the apex / imaging depth (0 at apex, 1 at the arc)
    mask: np.ndarray     # (H, W) bool, inside the fan

    @classmethod
    def of(cls, p: PhantomParams) -> "Fan":
        half = np.deg2rad(p.sector_deg) / 2
        span = max(2 * p.depth_cm * np.sin(half), p.depth_cm)
        cm_per_px = span / p.size
        centres = (np.arange(p.size, dtype=np.float32) + 0.5) * cm_per_px
        # Rows below the arc are black in every frame: the grid stops at the fan's last row.
        rows = min(p.size, int(np.ceil(p.depth_cm / cm_per_px)) + 1)
        y, x = np.meshgrid(centres[:rows], centres - span / 2, indexing="ij")
        r = np.hypot(x, y)
        mask = (r <= p.depth_cm) & (np.abs(np.arctan2(x, y)) <= half)
        return cls(p.size, float(cm_per_px), x, y, (r / p.depth_cm).astype(np.float32), mask)

    def full_height(self, a: np.ndarray) -> np.ndarray:
        """(T, rows, W) -> (T, size, W): the black rows below the fan put back."""
        return np.pad(a, ((0, 0), (0, self.size - a.shape[1]), (0, 0)))

    def to_px(self, x_cm, y_cm) -> tuple[np.ndarray, np.ndarray]:
        """cm -> (column, row) in pixel units (pixel centres at integers)."""
        col = np.asarray(x_cm) / self.cm_per_px + self.size / 2 - 0.5
        row = np.asarray(y_cm) / self.cm_per_px - 0.5
        return col, row


def _psf_sigmas(p: PhantomParams) -> tuple[float, float, float]:
    """PSF sigmas in output pixels (defined at 112 px, scaled with the output size)."""
    k = p.size / 112.0
    return p.psf_axial_px * k, p.psf_lateral_px[0] * k, p.psf_lateral_px[1] * k


def _white_gain(sigma: float) -> float:
    """Variance a unit white field keeps after a normalised Gaussian of this sigma: sum(g^2)."""
    return 1.0 / (2.0 * sigma * np.sqrt(np.pi))


def _speckle_field(rng: np.random.Generator, shape: tuple[int, int, int], rho: float) -> np.ndarray:
    """Complex Gaussian scatterers (T, H, W), unit power, correlation `rho` from frame to frame."""
    z = rng.standard_normal(shape + (2,), dtype=np.float32).view(np.complex64)[..., 0]
    z *= np.float32(np.sqrt(0.5))
    innovation = np.float32(np.sqrt(max(0.0, 1 - rho * rho)))
    for t in range(1, shape[0]):
        z[t] = rho * z[t - 1] + innovation * z[t]
    return z


def _bilinear(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]):
    """Flat indices of the 4 grid cells around each (row, col) and their bilinear weights, (T, H*W) each."""
    T = rows.shape[0]
    r = np.clip(rows, 0, shape[0] - 1.001).reshape(T, -1)
    c = np.clip(cols, 0, shape[1] - 1.001).reshape(T, -1)
    r0, c0 = np.floor(r).astype(np.int32), np.floor(c).astype(np.int32)
    fr, fc = (r - r0).astype(np.float32), (c - c0).astype(np.float32)
    cells = [r0 * shape[1] + c0, r0 * shape[1] + c0 + 1, (r0 + 1) * shape[1] + c0, (r0 + 1) * shape[1] + c0 + 1]
    weights = [(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc]
    return cells, weights


def _depth_curve(p: PhantomParams, depth: np.ndarray) -> np.ndarray:
    """dB added at each normalised depth: residual attenuation plus the time-gain error."""
    near, mid, far = p.tgc_db
    d = np.clip(depth, 0, 1)
    tgc = near * (1 - d) * (1 - 2 * d) + mid * 4 * d * (1 - d) + far * d * (2 * d - 1)
    return tgc + 20 * np.log10(np.exp(-p.attenuation_rate * d))


def form_image(
    p: PhantomParams, fan: Fan, labels: np.ndarray, material_rc: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """B-mode frames and their noise-free counterparts, both (T, H, W) uint8.

    labels: (T, H, W) anatomy ids; material_rc: (T, H, W) rows and columns (pixels, float) where
    each point's tissue sat at end-diastole, so the scatterers travel with it.
    """
    T, H, W = labels.shape
    margin = max(4, H // 20)
    grid = (T, H + 2 * margin, W + 2 * margin)
    cells, weights = _bilinear(material_rc[0] + margin, material_rc[1] + margin, grid[1:])
    rho = float(np.clip(p.speckle_corr, 0, 0.9999)) ** (50.0 / p.fps)
    field = _speckle_field(rng, grid, rho).reshape(T, -1)
    # Variance-preserving interpolation: sub-pixel tissue motion shifts the speckle smoothly.
    scatter = sum(np.take_along_axis(field, c, 1) * w for c, w in zip(cells, weights))
    scatter = (scatter / np.sqrt(sum(w * w for w in weights))).reshape(T, H, W)
    # Tissue microstructure: a smooth log-normal texture fixed to the tissue (unit std field).
    # Tissue around the heart is dark grey with sparse bright clusters, not a uniform field.
    texture = gaussian_filter(rng.standard_normal(grid[1:], dtype=np.float32), 1.5 * p.size / 112)
    texture = (texture / texture.std()).reshape(-1)
    around_heart = (10.0 ** (0.5 * texture) + 40.0 * (texture > 1.7))[cells[0]].reshape(T, H, W)
    in_heart = (10.0 ** (0.3 * texture))[cells[0]].reshape(T, H, W)  # smooth: nearest cell will do

    tissue = labels == L_ID["extracardiac_tissue"]
    power = _POWER_BY_ID[labels] * np.where(tissue, around_heart, in_heart)   # (T, H, W)
    clutter = 10 ** (p.clutter_db / 10) * np.exp(-fan.y / 0.4)
    noise = 10 ** (p.noise_db / 10) * 10 ** (1.0 * fan.depth)          # receiver noise grows with TGC
    power = (power + clutter + noise) * fan.mask

    sig_ax, sig_near, sig_far = _psf_sigmas(p)
    field = np.sqrt(power) * scatter
    parts = np.concatenate([field.real, field.imag])                    # (2T, H, W) float32
    parts = gaussian_filter1d(parts, sig_ax, axis=1, mode="constant")
    lateral_w = np.clip(fan.depth, 0, 1)[None]
    near = gaussian_filter1d(parts, sig_near, axis=2, mode="constant") / np.sqrt(_white_gain(sig_near))
    far = gaussian_filter1d(parts, sig_far, axis=2, mode="constant") / np.sqrt(_white_gain(sig_far))
    parts = ((1 - lateral_w) * near + lateral_w * far) / np.sqrt(_white_gain(sig_ax))
    envelope = np.hypot(parts[:T], parts[T:])

    expected = gaussian_filter1d(power, sig_ax / np.sqrt(2), axis=1, mode="constant")
    expected = gaussian_filter1d(expected, (sig_near + sig_far) / 2 / np.sqrt(2), axis=2, mode="constant")
    offset = _depth_curve(p, fan.depth) + p.gain_db
    return _log_compress(envelope, offset, p, fan), _log_compress(np.sqrt(expected), offset, p, fan)


def _log_compress(envelope: np.ndarray, offset_db: np.ndarray, p: PhantomParams, fan: Fan) -> np.ndarray:
    """Envelope -> 8-bit display: 0 dB (pericardium) near white, -dynamic range black."""
    db = 20 * np.log10(envelope + 1e-7) + offset_db
    grey = 255.0 * (db + p.dynamic_range_db) / p.dynamic_range_db
    return (np.clip(grey, 0, 255) * fan.mask).astype(np.uint8)
