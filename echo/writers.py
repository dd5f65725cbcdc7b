"""Write clips to files: H.264 MP4 that browsers play, MJPEG AVI as EchoNet stores its videos,
and a PNG strip of evenly spaced frames.

Every writer takes (T, H, W) grey or (T, H, W, 3) RGB uint8 frames, or a Clip (whose fps is used
unless one is given), returns the path written, and raises ClipError for frames it cannot write
or a path it cannot write to (removing any partial file). The MP4 writer also takes (H, W[, 3]) frames
one at a time (any iterator), so a display copy of a long clip is never held whole.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from echo.clip import Clip, ClipError
from echo.provenance import fields_of, to_comment



def _clip(frames: np.ndarray | Clip, fps: float | None) -> Clip:
    """Validate frames and fps through Clip; fps falls back to the Clip's own."""
    if isinstance(frames, Clip):
        frames, fps = frames.frames, frames.fps if fps is None else fps
    if fps is None:
        raise ClipError("A frame rate (fps) is needed to write frames as a video.")
    clip = Clip(np.asarray(frames), float(fps))
    if clip.n_frames == 0:
        raise ClipError("There are no frames to write.")
    return clip


def _stream(frames: Iterator[np.ndarray], fps: float | None) -> tuple[Clip, Iterator[np.ndarray]]:
    """(the first frame as a one-frame Clip, validated as _clip does, every frame with each checked to match it)."""
    first = next(frames, None)
    if first is None:
        raise ClipError("There are no frames to write.")
    head = _clip(np.asarray(first)[None], fps)

    def checked() -> Iterator[np.ndarray]:
        yield head.frames[0]
        for i, frame in enumerate(frames, 1):
            frame = np.asarray(frame)
            if frame.shape != head.frames.shape[1:] or frame.dtype != head.frames.dtype:
                raise ClipError(f"Frame {i} is {frame.shape} {frame.dtype}; the first was "
                                f"{head.frames.shape[1:]} {head.frames.dtype}: every frame of a video must match.")
            yield frame
    return head, checked()


def _comment(frames: np.ndarray | Clip) -> str | None:
    """A phantom clip's provenance for the video's comment tag (echo.provenance), else None."""
    fields = fields_of(frames, ef=True) if isinstance(frames, Clip) else None
    return to_comment(fields) if fields else None


def _encode(path: Path, clip: Clip, fmt: str, codec: str, pix_fmt: str, codec_options: dict,
            container_options: dict, comment: str | None = None, even: bool = False,
            frames: Iterable[np.ndarray] | None = None) -> None:
    """Encode every frame with PyAV; grey frames go in as 'gray', colour as 'rgb24'; comment: the
    container's comment tag, when given; even: an odd height or width gains one black row or column, frame by frame
    (a padded copy of the whole clip was one more clip in memory). frames: the frames to encode when not clip's
    (clip then gives only their size, layout and rate)."""
    layout = "rgb24" if clip.is_rgb else "gray"
    height, width = clip.height, clip.width
    if even:
        height, width = height + height % 2, width + width % 2
    pad = [(0, height - clip.height), (0, width - clip.width)] + [(0, 0)] * (clip.frames.ndim - 3)
    padded = (height, width) != (clip.height, clip.width)
    with av.open(str(path), "w", format=fmt, options=container_options) as container:
        if comment:
            container.metadata["comment"] = comment
        stream = container.add_stream(codec, rate=Fraction(clip.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = codec_options
        for frame in clip.frames if frames is None else frames:  # (H, W) or (H, W, 3)
            frame = np.pad(frame, pad) if padded else frame
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format=layout)))
        container.mux(stream.encode())  # flush the encoder


def _write(path: str | os.PathLike, write) -> Path:
    """Run `write(path)`; turn file-system and encoder failures into ClipError, no partial file."""
    path = Path(path)
    try:
        write(path)
    except ClipError:                   # a frame that does not match the first, found mid-stream
        path.unlink(missing_ok=True)
        raise
    except (OSError, av.FFmpegError) as exc:
        path.unlink(missing_ok=True)
        raise ClipError(f"Could not write '{path}': check that its folder exists and can be "
                        "written to, and that there is free disk space.") from exc
    return path


def write_mp4(path: str | os.PathLike, frames: np.ndarray | Clip | Iterator[np.ndarray],
              fps: float | None = None) -> Path:
    """H.264 (libx264, yuv420p, 'faststart' index first) MP4 that Chromium, Firefox and Safari
    play. yuv420p needs even sizes, so an odd height or width gains one black row or column.
    frames: also an iterator of (H, W[, 3]) uint8 frames, all of one size, encoded as they come."""
    if isinstance(frames, Iterator):
        clip, stream = _stream(frames, fps)
    else:
        clip, stream = _clip(frames, fps), None
    return _write(path, lambda p: _encode(p, clip, "mp4", "libx264", "yuv420p",
                                          {"crf": "18", "preset": "medium"},
                                          {"movflags": "+faststart"}, _comment(frames), even=True, frames=stream))


def write_avi(path: str | os.PathLike, frames: np.ndarray | Clip, fps: float | None = None) -> Path:
    """MJPEG AVI, the container and codec of EchoNet-Dynamic's videos, at near-lossless quality."""
    clip = _clip(frames, fps)
    return _write(path, lambda p: _encode(p, clip, "avi", "mjpeg", "yuvj420p",
                                          {"qmin": "1", "qmax": "2"}, {}, _comment(frames)))


def strip_indices(n_frames: int, n: int) -> np.ndarray:
    """(min(n, n_frames),) indices evenly spaced from the first frame to the last."""
    return np.unique(np.rint(np.linspace(0, n_frames - 1, min(n, n_frames))).astype(int))


def write_frame_strip(path: str | os.PathLike, frames: np.ndarray | Clip, n: int = 8) -> Path:
    """PNG of n evenly spaced frames side by side, first to last: (H, n*W[, 3])."""
    if n < 1:
        raise ClipError("A frame strip needs at least one frame (n >= 1).")
    clip = _clip(frames, 1.0)  # a strip has no frame rate
    strip = np.concatenate(list(clip.frames[strip_indices(clip.n_frames, n)]), axis=1)
    return _write(path, lambda p: Image.fromarray(strip).save(p, format="PNG"))


def write_npz(path: str | os.PathLike, clip: Clip) -> Path:
    """Compressed NPZ of the frames, fps, whatever ground truth the clip has and, for a phantom clip, its
    population, seed and any degradation (read back by read_clip, so an uploaded phantom clip is known as one)."""
    arrays = {"frames": clip.frames, "fps": np.float64(clip.fps)}
    for key, value in (fields_of(clip) or {}).items():          # a phantom clip's provenance (echo.provenance)
        arrays[f"phantom_{key}"] = np.asarray(value)             # '<U' text or int64, never a pickle
    truth = clip.truth
    if truth is not None:
        for key in ("ef", "edv", "esv", "phase", "labels", "clean"):
            if getattr(truth, key) is not None:
                arrays[key] = np.asarray(getattr(truth, key))
        arrays.update(ed_frames=np.asarray(truth.ed_frames, np.int64), es_frames=np.asarray(truth.es_frames, np.int64))

    def save(p: Path) -> None:
        with open(p, "wb") as fh:  # a handle, so numpy does not append its own suffix
            np.savez_compressed(fh, **arrays)

    return _write(path, save)
