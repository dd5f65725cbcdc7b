"""What every reader does after decoding: bring pixels to 8 bits, drop a colour layout that holds
no colour, check the frame count, and build the Clip with the facts a user may be shown."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from echo import limits
from echo.clip import Clip, ClipError

DEFAULT_FPS = 30.0  # used, and recorded as meta["fps_source"] = "default", when a file has none
# what the page and report.html say after a DEFAULT_FPS frame rate
ASSUMED_FPS_WORDS = " (assumed: the file gives no frame rate, so times and heart rate are only as right as this guess)"
# Largest channel spread (in 8-bit levels) still counted as grey: lossy codecs can leave the
# channels of a grey image a few levels apart (OpenCV's MPEG-4 'mp4v' and XVID: 3, from the YUV round trip)
MONO_TOLERANCE = 4


def depth_error(name: str, depth: str) -> ClipError:
    """The message for pixels deeper than 8 bits, shared by every reader."""
    return ClipError(
        f"'{name}' stores {depth} pixels; EchoLens reads 8-bit cine loops. Export the clip with "
        "8-bit pixels (the usual setting for echo cine loops), or have its own darkest-to-brightest range "
        "mapped onto 0-255 (in the app: tick 'Stretch 16-bit or float pixels' under the upload box and upload "
        "it again; on the command line: --rescale; in Python: rescale=True)"
        + ("; a float clip's pixels must also all be numbers: no NaN or infinite value can be stretched."
           if depth == "floating-point" else ".")
    )


def check_depth(dtype: np.dtype, name: str, rescale: bool) -> None:
    """Refuse values that are not pixels, and pixels deeper than 8 bits unless rescale is set: what to_uint8
    refuses, said from a dtype alone, so a reader can refuse from a file's header before loading its values."""
    if dtype == np.uint8:
        return
    if dtype.kind not in "iuf":
        raise ClipError(f"'{name}' stores {dtype} values, not image pixels.")
    depth = "floating-point" if dtype.kind == "f" else f"{dtype.itemsize * 8}-bit"
    if dtype.kind == "i" and dtype.itemsize == 1:
        depth = "signed 8-bit"
    if not rescale:
        raise depth_error(name, depth)


def to_uint8(pixels: np.ndarray, name: str, rescale: bool) -> np.ndarray:
    """8-bit pixels unchanged; deeper integer or float pixels refused unless rescale is set, in
    which case the clip's min..max maps linearly onto 0..255 (the same mapping for every frame), through one
    float32 working copy (STRETCH_BYTES a value beside the stored ones)."""
    if pixels.dtype.kind == "f":                   # said first: stretched or not, such a clip is no image
        bad = ~np.isfinite(pixels)
        if bad.any():
            raise ClipError(f"'{name}' contains {int(bad.sum())} missing (NaN) or infinite pixel values, the first in "
                            f"frame {int(np.flatnonzero(bad.any(axis=tuple(range(1, bad.ndim))))[0])}: no stretch maps "
                            "them onto 0-255; replace them (with 0, or the clip's lowest value) and save the clip again.")
    check_depth(pixels.dtype, name, rescale)
    if pixels.dtype == np.uint8:
        return pixels
    lo, hi = float(pixels.min()), float(pixels.max())
    if hi == lo:                                   # stretched, it would read as 0 everywhere: say the value it holds
        raise ClipError(f"'{name}' holds no image: every pixel of every frame is {lo:g}, so there is no range to "
                        "stretch. Check that the export kept the frames' content.")
    scaled = pixels.astype(np.float32)
    scaled -= np.float32(lo)
    scaled *= np.float32(255.0 / (hi - lo))
    return np.rint(scaled, out=scaled).astype(np.uint8)


# Bytes a value of deeper pixels takes beside its stored bytes while to_uint8 stretches it: a float32 working copy,
# the 8-bit result, and a float clip's finiteness mask
STRETCH_BYTES = 4 + 1 + 1


def stack_frames(frames: list[np.ndarray]) -> np.ndarray:
    """One array of equally shaped frames, each list entry let go once copied: np.stack held the list and the
    array at once, twice the clip (decoding a large clip peaked near seven times its grey size). Empties the list."""
    out = np.empty((len(frames), *frames[0].shape), frames[0].dtype)      # (T, H, W[, 3])
    for i in range(len(frames)):
        out[i], frames[i] = frames[i], None
    frames.clear()
    return out


def frame_is_grey(frame: np.ndarray) -> bool:
    """Whether an (H, W, 3) frame's channels agree within MONO_TOLERANCE everywhere."""
    return int((frame.max(axis=-1) - frame.min(axis=-1)).max(initial=0)) <= MONO_TOLERANCE


def collapse_gray(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) whose channels agree within MONO_TOLERANCE -> (T, H, W); anything else as is."""
    if frames.ndim != 4:
        return frames
    if not all(frame_is_grey(frame) for frame in frames):   # frame by frame: no clip-sized temporary
        return frames
    return frames[..., 1].copy()  # green carries most of the luminance and equals the others here


def finish(frames: np.ndarray, fps: float | None, path: Path, fmt: str, meta: dict,
           rescale: bool) -> Clip:
    """Build the Clip from decoded (T, H, W) or (T, H, W, 3) pixels of any depth."""
    name = path.name
    limits.check_frame_count(int(frames.shape[0]), name)
    frames = collapse_gray(to_uint8(frames, name, rescale))
    fps_source = "file"
    if fps is None or not np.isfinite(fps) or fps <= 0:
        fps, fps_source = DEFAULT_FPS, "default"
    facts = {"format": fmt, "n_frames": int(frames.shape[0]), "height": int(frames.shape[1]),
             "width": int(frames.shape[2]), "colour": "rgb" if frames.ndim == 4 else "gray",
             "fps": float(fps), "fps_source": fps_source}
    return Clip(frames=frames, fps=float(fps), source=str(path), meta={**facts, **meta})
