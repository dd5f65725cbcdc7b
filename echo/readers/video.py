"""AVI and MP4/MOV video (EchoNet's MJPEG AVIs, H.264 exports) decoded with PyAV (FFmpeg).

Before decoding, the file's own length fields are checked so a truncated download is named as
such, and the frame size and count the header declares are checked against echo.limits; after it, an AVI
must reach the last frame its header counts (a file cut short whose length field was rewritten stops early; a
variable-rate capture's skipped timestamps, empty 'drop frame' chunks the header counts, do not).
"""
from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import av
import numpy as np

from echo import limits
from echo.clip import Clip, ClipError, GroundTruth
from echo.provenance import from_comment
from echo.readers.common import finish, frame_is_grey, stack_frames

_FORMATS = {"avi": "AVI", "mp4": "MP4"}


def _truncated(name: str, fmt: str) -> ClipError:
    return ClipError(
        f"'{name}' is truncated: the {fmt} file ends before its own header says it should, "
        "as happens when a copy or download stops early. Copy or export the clip again."
    )


def check_avi_complete(path: Path) -> None:
    """The RIFF header declares the file's length; a shorter file was cut off."""
    with open(path, "rb") as fh:
        declared = struct.unpack("<I", fh.read(8)[4:8])[0] + 8
    if declared > path.stat().st_size:
        raise _truncated(path.name, "AVI")


def check_mp4_complete(path: Path) -> None:
    """Walk the top-level boxes: none may run past the end, and the index ('moov') must exist."""
    size, offset, boxes = path.stat().st_size, 0, set()
    with open(path, "rb") as fh:
        while offset + 8 <= size:
            fh.seek(offset)
            header = fh.read(16)  # length, type[, 64-bit length]
            length, kind = struct.unpack(">I4s", header[:8])
            if length == 1:  # 64-bit length follows the type
                length = struct.unpack(">Q", header[8:16])[0] if len(header) == 16 else 0
            elif length == 0:  # box runs to the end of the file
                length = size - offset
            if length < 8 or offset + length > size:
                raise _truncated(path.name, "MP4")
            boxes.add(kind)
            offset += length
    if b"moov" not in boxes:
        raise ClipError(
            f"'{path.name}' is an incomplete MP4: it has no index ('moov' box), as happens when a "
            "recording or copy was interrupted. Copy or export the clip again."
        )


def _frame_rate(stream) -> float | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return None


def read_video(path: Path, kind: str, rescale: bool) -> Clip:
    """Decode every frame of the first video track; grey clips are kept as (T, H, W), colour ones as RGB.

    Frames are collapsed to grey as they decode, so a grey clip never holds its RGB frames at once (a third of the
    memory); the first frame with colour in it starts the decoding again, keeping every frame's RGB."""
    fmt, name = _FORMATS[kind], path.name
    (check_avi_complete if kind == "avi" else check_mp4_complete)(path)
    damaged = ClipError(
        f"'{name}' looks like an {fmt} video but could not be decoded: the file is damaged. "
        "Copy or export the clip again."
    )
    for grey in (True, False):                  # the second pass only for a clip with colour in it
        try:
            container = av.open(str(path), metadata_errors="ignore")
        except (av.FFmpegError, OSError) as exc:
            raise damaged from exc
        with container:
            stream = _video_stream(container, name, damaged)
            frames, last = _decode(container, stream, name, damaged, grey)
            if frames is None:
                continue
            if kind == "avi" and stream.frames and last + 1 < stream.frames:   # AVI headers count frames exactly
                raise ClipError(f"'{name}' ends at frame {last + 1} of the {stream.frames} its AVI header declares: "
                                "the file was cut short or is damaged. Copy or export the clip again.")
            meta = {"codec": stream.codec_context.name,             # FFmpeg says which codecs may lose pixels (h264
                    "lossy": bool(stream.codec_context.codec.lossy),    # can be either: lossy); png, ffv1, zlib...
                    **from_comment(container.metadata.get("comment"), name)}     # a phantom clip's provenance
            ef = meta.pop("ef", None)                                            # ... and its true EF
            fps = _frame_rate(stream)
            break
    pixels = stack_frames(frames) if frames else np.zeros((0, 1, 1), np.uint8)  # (T, H, W[, 3])
    clip = finish(pixels, fps, path, fmt, meta, rescale)
    return clip if ef is None else dataclasses.replace(clip, truth=GroundTruth(ef=ef))


def _video_stream(container, name: str, damaged: ClipError):
    """The first video track, its declared frame size and count checked against echo.limits."""
    if not container.streams:  # the container's header did not parse into any track
        raise damaged
    if not container.streams.video:
        raise ClipError(f"'{name}' contains no video track (it may hold only audio).")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    height, width = stream.codec_context.height, stream.codec_context.width
    if height and width:
        limits.check_frame_size(height, width, name)
        if stream.frames:
            limits.check_max_frames(stream.frames, name)
            limits.check_clip_bytes(stream.frames, height, width, 3, name)
    return stream


def _decode(container, stream, name: str, damaged: ClipError, grey: bool) -> tuple[list | None, int]:
    """(frames, the last frame's index: AVI pts count frames). grey: each frame kept as (H, W), and None returned at
    the first frame with colour in it (echo.readers.common.frame_is_grey); else each kept as (H, W, 3)."""
    frames, last = [], -1
    try:
        for frame in container.decode(stream):
            last = max(last, frame.pts if frame.pts is not None else last + 1)
            if frames and frames[0].shape[:2] != (frame.height, frame.width):
                raise ClipError(f"'{name}' changes frame size part-way through; "
                                "EchoLens reads clips whose frames all have one size.")
            limits.check_frame_size(frame.height, frame.width, name)
            rgb = frame.to_ndarray(format="rgb24")                                # (H, W, 3)
            if grey and not frame_is_grey(rgb):
                return None, last
            frames.append(rgb[..., 1].copy() if grey else rgb)   # green: most of the luminance, the others' equal
            limits.check_max_frames(len(frames), name)
            limits.check_clip_bytes(len(frames), frame.height, frame.width, 3, name)
    except av.FFmpegError as exc:
        raise damaged from exc
    return frames, last
