"""A folder of PNG/JPEG frames, one image per frame, read with pillow.

Frames are the folder's .png/.jpg/.jpeg files in natural order (frame2 before frame10); other
files are ignored. The frame rate is the single number in an optional 'fps.txt' in the folder,
else 30 fps, recorded as meta["fps_source"] = "default". Grey and colour frames may be mixed (the
clip becomes RGB unless every frame is grey); 16-bit PNGs need rescale=True.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from echo import limits
from echo.clip import Clip, ClipError
from echo.readers.common import finish, stack_frames

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FPS_FILE = "fps.txt"
_DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "F")  # kept as they are so depth is refused/rescaled


def natural_key(name: str) -> list:
    """Sort key that orders the digit runs in a name by value: frame2 < frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def frame_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir()
             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def _damaged(path: Path, folder: str) -> ClipError:
    return ClipError(f"Frame '{path.name}' in folder '{folder}' could not be read: it is damaged "
                     "or not a PNG/JPEG image. Replace or remove it.")


def _size(path: Path, folder: str) -> tuple[int, int]:
    """(width, height) from the image header, without decoding pixels."""
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        raise _damaged(path, folder) from None


def _load(path: Path, folder: str) -> np.ndarray:
    """One frame: (H, W) grey, (H, W, 3) RGB, or (H, W) deeper than 8 bits."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("L", "RGB", *_DEEP_MODES):
                image = image.convert("L" if image.mode in ("1", "LA", "La") else "RGB")
            return np.asarray(image)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise _damaged(path, folder) from None


def _fps(folder: Path) -> float | None:
    fps_file = folder / FPS_FILE
    if not fps_file.is_file():
        return None
    try:
        fps = float(fps_file.read_text(encoding="utf-8").strip())
    except (ValueError, UnicodeDecodeError):
        fps = float("nan")
    if not np.isfinite(fps) or fps <= 0:
        raise ClipError(f"'{FPS_FILE}' in folder '{folder.name}' must hold one positive number, "
                        "the frame rate in frames per second (for example 50).")
    return fps


def read_folder(folder: Path, rescale: bool) -> Clip:
    name = folder.name
    files = frame_files(folder)
    if not files:
        raise ClipError(f"Folder '{name}' contains no PNG or JPEG frames. Put the clip's frames "
                        "in it as numbered .png or .jpg files.")
    limits.check_file_bytes(sum(p.stat().st_size for p in files), name)
    limits.check_frame_count(len(files), name)
    sizes = [_size(p, name) for p in files]  # T x (W, H)
    width, height = sizes[0]
    for path, size in zip(files, sizes):
        if size != sizes[0]:
            raise ClipError(f"Frame '{path.name}' in folder '{name}' is {size[0]} x {size[1]} "
                            f"pixels but '{files[0].name}' is {width} x {height}; all frames "
                            "must have one size.")
    limits.check_frame_size(height, width, name)
    limits.check_clip_bytes(len(files), height, width, 3, name)
    frames = [_load(p, name) for p in files]  # T x (H, W) or (H, W, 3)
    if any(f.ndim == 3 for f in frames):
        frames = [f if f.ndim == 3 else np.repeat(f[..., None], 3, axis=-1) for f in frames]
    lossy = any(p.suffix.lower() in (".jpg", ".jpeg") for p in files)          # JPEG frames: lossy-coded
    return finish(stack_frames(frames), _fps(folder), folder, "image folder", {"lossy": lossy}, rescale)
