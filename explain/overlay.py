"""Heat map on the grayscale frames with a colour bar, written as H.264 MP4 and as a PNG frame strip.

The heat (T, H, W) in [0, 1] (explain.maps.to_frames: normalised over the clip) is shown against the
clip's 98th percentile (Captum's visualiser's outlier_perc=2): maps of ViTs are peaked, and a plain
0-1 scale leaves all but a few pixels of them too faint to see. The shown value is coloured in one of
COLOUR_SCALES (by default turbo, a rainbow-like perceptual map: blue, green, yellow, red; EVEN_SCALES,
viridis and plasma, rise evenly in lightness and read the same to red-green colour-blind eyes) and blended over the
frame with opacity alpha * value, so cold regions show the echo underneath untouched. A colour bar (the top 2% of the
clip's map and above at the top, 0 at the bottom) is drawn on the right of every frame, since the
scale is the same for the whole clip.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from echo.clip import luminance
from echo.writers import write_frame_strip, write_mp4

# the colour scales a map can be shown in: name -> (OpenCV's colour map, its colours from low to top); no grey in
# any (cividis, the scale made for colour-blind eyes, is grey in its middle, unseen on a grey echo)
COLOUR_SCALES = {"turbo": (cv2.COLORMAP_TURBO, "blue, green, yellow, red"),
                 "viridis": (cv2.COLORMAP_VIRIDIS, "purple, teal, yellow"),
                 "plasma": (cv2.COLORMAP_PLASMA, "blue, purple, orange, yellow")}
EVEN_SCALES = ("viridis", "plasma")   # rise evenly in lightness, and read the same to red-green colour-blind eyes
COLOURS = "turbo"           # the default scale
OUTLIER_PCT = 2.0           # the top 2% of a clip's map all show in the top colour


def _gray(frames: np.ndarray) -> np.ndarray:
    """(T, H, W) or (T, H, W, 3) uint8 -> (T, H, W) float32."""
    f = np.asarray(frames)
    if f.dtype != np.uint8 or f.ndim not in (3, 4) or (f.ndim == 4 and f.shape[-1] != 3):
        raise ValueError(f"Frames must be (T, H, W) or (T, H, W, 3) uint8; got {f.shape} {f.dtype}.")
    return luminance(f)


def check_colours(colours: str) -> str:
    """colours itself if it names a colour scale; else a ValueError naming the ones there are."""
    if colours not in COLOUR_SCALES:
        raise ValueError(f"Unknown colour scale {colours!r}; choose one of: {', '.join(COLOUR_SCALES)}.")
    return colours


def colorize(values: np.ndarray, colours: str = COLOURS) -> np.ndarray:
    """[0, 1] values (...) -> RGB uint8 (..., 3) in the colour scale `colours` (COLOUR_SCALES)."""
    v = np.clip(np.asarray(values, np.float32), 0, 1)
    code = COLOUR_SCALES[check_colours(colours)][0]
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], code)[:, 0, ::-1]   # (256, 3) RGB
    return lut[np.rint(v * 255).astype(np.uint8)]


def colour_bar(height: int, width: int = 0, colours: str = COLOURS) -> np.ndarray:
    """(height, width, 3) uint8: a vertical colour bar, 1 at the top and 0 at the bottom, labelled "top" and "low"."""
    width = width or max(24, height // 4)
    bar = np.full((height, width, 3), 255, np.uint8)
    stripe = max(6, width // 3)
    ramp = np.linspace(1.0, 0.0, max(height - 8, 2))[:, None].repeat(stripe, 1)   # (h, stripe)
    bar[4:4 + ramp.shape[0], 2:2 + stripe] = colorize(ramp, colours)
    scale = max(0.25, height / 400)
    for text, y in (("top", 4 + int(10 * scale / 0.3)), ("low", height - 5)):   # "0": Hershey draws it slashed, Ø
        cv2.putText(bar, text, (stripe + 4, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def display_scale(heat: np.ndarray) -> float:
    """The heat value shown in the top colour: the map's 98th percentile (its maximum where that is 0)."""
    heat = np.asarray(heat, np.float32)
    top = float(np.percentile(heat, 100 - OUTLIER_PCT))
    return top if top > 0 else max(float(heat.max()), 1e-12)


def overlay(frames: np.ndarray, heat: np.ndarray, alpha: float = 0.6, bar: bool = True,
            scale: float | None = None, colours: str = COLOURS) -> np.ndarray:
    """frames (T, H, W[, 3]) uint8 + heat (T, H, W) in [0, 1] -> (T, H, W + bar width, 3) RGB uint8.
    scale: the heat shown in the top colour (default display_scale(heat)); a few frames of a clip are
    given the clip's, so they look as they do in its video. colours: a COLOUR_SCALES name."""
    check_colours(colours)
    gray = _gray(frames)                                                   # (T, H, W)
    heat = np.asarray(heat, np.float32)
    if heat.shape != gray.shape:
        raise ValueError(f"Heat map {heat.shape} does not match the frames {gray.shape}.")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1]; got {alpha}.")
    if not np.isfinite(heat).all() or heat.min() < 0 or heat.max() > 1:
        raise ValueError("The heat map must hold finite values in [0, 1] (use explain.maps.to_frames).")
    shown = np.clip(heat / (scale or display_scale(heat)), 0, 1)          # (T, H, W)
    w = (alpha * shown)[..., None]                                         # (T, H, W, 1)
    out = (1 - w) * gray[..., None] + w * colorize(shown, colours).astype(np.float32)
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)                   # (T, H, W, 3)
    if bar:
        b = colour_bar(out.shape[1], colours=colours)
        out = np.concatenate([out, np.broadcast_to(b, (len(out), *b.shape))], axis=2)
    return out


def write_overlay_mp4(path: str | os.PathLike, frames: np.ndarray, heat: np.ndarray, fps: float,
                      alpha: float = 0.6, colours: str = COLOURS) -> Path:
    """The overlay as an H.264 MP4 that browsers play."""
    return write_mp4(path, overlay(frames, heat, alpha, colours=colours), fps)


def write_overlay_strip(path: str | os.PathLike, frames: np.ndarray, heat: np.ndarray, n: int = 8,
                        alpha: float = 0.6, colours: str = COLOURS) -> Path:
    """n evenly spaced overlay frames side by side as a PNG (each with its colour bar)."""
    return write_frame_strip(path, overlay(frames, heat, alpha, colours=colours), n)
