"""Get a clip ready for a model: find the ultrasound fan, crop to it, resample in time and space,
normalise.

find_sector: each frame is median-filtered (filling dark speckle) and thresholded, then opened
with a disk of about 1/50 of the frame, which removes thin strokes wherever they are drawn in that
frame: burned-in text, the moving ECG trace, calipers. The union over frames, closed to bridge dark
cavities, splits into regions; the fan is the largest region that is wide (MIN_SECTOR_WIDTH of
the frame) and moving (MIN_MOVING_SHARE of its pixels vary over time; waived for a still clip).
Dim pixels that still change from frame to frame (by DIM_MOTION_LEVEL) and connect to it join it, in the
half of the fan towards its wide end: a far field darkened by attenuation is still fan (its speckle
decorrelates however dim it is), and cutting it off would crop away the atria of an apical view; burned-in
text, even blurred by video compression, is still, so its faint halo stays out (a dim *level* let it in).
Only the far half, because compression makes still things flicker too: an MJPG export's text beside the
apex flickered, joined the fan through the ringing along its edges, and the box took in the text.
The fan is filled to its convex hull since a sector is convex. A blank clip gets the whole frame.

to_model_input: the layout and defaults V-JEPA and VideoMAE expect, (B, T, C, H, W) float32,
pixels scaled to [0, 1] then normalised with ImageNet mean/std (for one channel, the mean of the
three ImageNet values). Pass mean=0, std=1 for no normalisation.

Time: output frame k shows source frame round(start + k * clip.fps / fps) (k * 1 when fps is
None). A clip too short for that many frames is padded by repeating its last frame, never looped,
so no false jump from end-systole back to end-diastole appears; sample_indices shows which frames
were used.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

import cv2
import numpy as np
import torch

from echo.clip import Clip, ClipError, GroundTruth, lossy_coded, luminance

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
GRAY_MEAN, GRAY_STD = (0.449,), (0.226,)  # the means of the ImageNet values, for one channel
BRIGHT_LEVEL = 12.0  # median-filtered level above which a pixel is image, not background
DIM_MOTION_LEVEL = 1.5  # frame-to-frame change that still marks a dim part of the fan (a far field darkened at depth)
MOTION_LEVEL = 4.0  # median-filtered frame-to-frame change above which a pixel is moving
MIN_SECTOR_WIDTH = 0.25  # a fan spans at least this share of the frame's width
MIN_MOVING_SHARE = 0.1  # share of a region's pixels that must move for it to be the live fan
SECTOR_FRAMES = 64  # frames (evenly spaced) used to find the fan
SECTOR_SIDE = 128  # frames are shrunk by a whole factor to at least this short side to find the fan
CODEC_BLOCK = 8  # px: lossy codecs (MJPEG, H.264) code frames in blocks of 8; their ringing stays in a block with image


class Sector(NamedTuple):
    mask: np.ndarray  # (H, W) bool, True inside the fan
    bbox: tuple[int, int, int, int]  # (top, left, bottom, right), bottom/right exclusive


def disk(radius: int) -> np.ndarray:
    """A round structuring element of the given radius for OpenCV's morphology. -> (2r+1, 2r+1) uint8"""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _solid(values: np.ndarray, radius: int, *levels: float) -> list[np.ndarray]:
    """(H, W) uint8 masks, one per level: 1 where the median-filtered values exceed it, with thin
    strokes opened away. The median is taken once for all levels."""
    smooth = cv2.medianBlur(np.clip(values, 0, 255).astype(np.uint8), 2 * radius + 1)
    return [cv2.morphologyEx((smooth > level).astype(np.uint8), cv2.MORPH_OPEN, disk(radius)) for level in levels]


def _fan_region(lum: np.ndarray, ringing_radius: int = 0) -> np.ndarray | None:
    """(T, H, W) float32 luminance -> (H, W) bool region of the fan, or None if there is none; ringing_radius > 0:
    a lossy-coded clip's, without its codec's ringing (_without_ringing)."""
    height, width = lum.shape[1:]
    radius = max(1, round(min(height, width) / 50))
    image = np.zeros((height, width), np.uint8)  # 1 where some frame is bright
    flicker = np.zeros((height, width), np.uint8)  # 1 where some frame differs, however faintly, from the one before
    moving = np.zeros((height, width), np.uint8)  # 1 where some frame differs from the one before
    for k, frame in enumerate(lum):  # (H, W): within one frame the ECG trace is a thin stroke
        image |= _solid(frame, radius, BRIGHT_LEVEL)[0]
        if k:
            moves, flickers = _solid(np.abs(frame - lum[k - 1]), radius, MOTION_LEVEL, DIM_MOTION_LEVEL)
            moving |= moves
            flicker |= flickers
    region = cv2.morphologyEx(image | moving, cv2.MORPH_CLOSE, disk(radius))  # bridge cavities
    n, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
    areas = np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
    moving_share = np.bincount(labels.ravel(), weights=moving.ravel(), minlength=n) / areas
    wide = [i for i in range(1, n) if stats[i, cv2.CC_STAT_WIDTH] >= MIN_SECTOR_WIDTH * width]
    live = [i for i in wide if moving_share[i] >= MIN_MOVING_SHARE] or wide  # still clip: any
    if not live:
        return None
    fan = labels == max(live, key=lambda i: areas[i])
    _, grown = cv2.connectedComponents(cv2.morphologyEx(flicker | region, cv2.MORPH_CLOSE, disk(radius)))
    fan = fan | (np.isin(grown, np.unique(grown[fan])) & _far_half(fan))  # the fan with its dim far field
    return _without_ringing(fan, image.astype(bool), ringing_radius) if ringing_radius else fan


def _without_ringing(fan: np.ndarray, image: np.ndarray, radius: int) -> np.ndarray:
    """The fan less its rows beyond the apex and the far end that hold only a band thinner than a codec block
    (2 * radius + 1 px) which motion or flicker, not brightness, put in it. A lossy codec's ringing flickers in the
    dark pixels of each block that holds image, up to a block beyond the image's edge, and the motion and
    dim-flicker rules took it in: an MJPEG round trip grew the fan's box at its far end and apex on nearly every
    phantom clip (bench/codec_crop.py). A dim far field is thicker and stays. Rows only: opening the whole mask also
    trimmed the thin dim corners where the fan meets the frame's sides, which the lossless clip keeps; and only for
    lossy-coded clips, so every lossless clip's fan (the shipped probes' training crops) is as it was."""
    dim = (fan & ~image).astype(np.uint8)
    thick = (fan & image) | cv2.morphologyEx(dim, cv2.MORPH_OPEN, disk(radius)).astype(bool)
    rows = np.nonzero(thick.any(axis=1))[0]
    if not len(rows):
        return fan
    kept = np.zeros_like(fan)
    kept[rows[0]:rows[-1] + 1] = fan[rows[0]:rows[-1] + 1]
    return kept


def _far_half(fan: np.ndarray) -> np.ndarray:
    """(H, 1) bool: the rows from the fan's middle to its wide end, where attenuation darkens the far field (a
    sector widens with depth, whichever way up the scanner draws it; a rectangle counts as drawn top down)."""
    rows = np.nonzero(fan.any(axis=1))[0]
    middle = (rows[0] + rows[-1]) / 2
    widths = fan.sum(axis=1)  # (H,)
    centre = (np.arange(len(fan)) * widths).sum() / widths.sum()  # the row the fan's area centres on
    row = np.arange(len(fan))[:, None]  # (H, 1)
    return row >= middle if centre >= middle else row <= middle


def find_sector(frames: np.ndarray | Clip) -> Sector:
    """The ultrasound fan of (T, H, W[, 3]) frames, or of a Clip: its (H, W) mask and bounding box. A clip whose
    reader says it went through a lossy codec (echo.clip.lossy_coded) loses its codec's ringing first (see
    _without_ringing); bare frames and lossless clips are taken as they are."""
    lossy = isinstance(frames, Clip) and lossy_coded(frames)
    frames = frames.frames if isinstance(frames, Clip) else np.asarray(frames)
    if len(frames) == 0:
        raise ClipError("A clip without frames has no ultrasound sector to find.")
    height, width = frames.shape[1:3]
    picked = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), SECTOR_FRAMES)).astype(int))
    factor = max(1, min(height, width) // SECTOR_SIDE)  # whole factors keep thin strokes thin
    small = (max(1, width // factor), max(1, height // factor))  # (w, h) for cv2
    lum = np.stack([cv2.resize(luminance(frames[i:i + 1])[0], small, interpolation=cv2.INTER_AREA)
                    for i in picked])  # (T', h, w), one full-size frame at a time
    region = _fan_region(lum, max(1, math.ceil(CODEC_BLOCK / 2 / factor)) if lossy else 0)   # >= 1 px shrunk
    if region is None:
        return Sector(np.ones((height, width), bool), (0, 0, height, width))
    points = cv2.findNonZero(region.astype(np.uint8)).astype(np.float32)  # (N, 1, 2) x, y
    points = (points + 0.5) * np.array([width / small[0], height / small[1]], np.float32) - 0.5
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.rint(points).astype(np.int32)), 1)
    left, top, box_w, box_h = cv2.boundingRect(mask)
    return Sector(mask.astype(bool), (top, left, top + box_h, left + box_w))


def _square_offsets(height: int, width: int) -> tuple[int, int, int]:
    """(side, top pad, left pad) that centre an (height, width) image in a square."""
    side = max(height, width)
    return side, (side - height) // 2, (side - width) // 2


def _pad_square(frames: np.ndarray) -> np.ndarray:
    """(T, H, W[, 3]) -> (T, S, S[, 3]) with S = max(H, W), the image centred on black."""
    side, top, left = _square_offsets(*frames.shape[1:3])
    pad = [(0, 0), (top, side - frames.shape[1] - top), (left, side - frames.shape[2] - left)]
    return np.pad(frames, pad + [(0, 0)] * (frames.ndim - 3))


def _crop(frames: np.ndarray, sector: Sector) -> np.ndarray:
    """Zero outside the fan, crop to its box and pad (centred, black) to a square:
    (T, H, W[, 3]) -> (T, S, S[, 3]). Written straight into the square (a masked copy then padded was two)."""
    top, left, bottom, right = sector.bbox
    mask = sector.mask[top:bottom, left:right]
    side, pad_top, pad_left = _square_offsets(bottom - top, right - left)
    out = np.zeros((len(frames), side, side, *frames.shape[3:]), frames.dtype)      # (T, S, S[, 3])
    inside = out[:, pad_top:pad_top + bottom - top, pad_left:pad_left + right - left]
    np.multiply(frames[:, top:bottom, left:right], mask if frames.ndim == 3 else mask[..., None], out=inside)
    return out


def cropped_frames(frames: np.ndarray, sector: Sector | None,
                   indices: Sequence[int] | None = None) -> Iterator[np.ndarray]:
    """crop_to_sector's crop of (T, H, W[, 3]) frames (those at `indices`; default all), one (S, S[, 3]) frame at a
    time, for a reader that keeps none at full size (a cropped copy of a large clip, and its padding, were two more
    clips in memory). sector None: each frame only padded square."""
    for i in range(len(frames)) if indices is None else indices:
        one = frames[i:i + 1]
        yield (_pad_square(one) if sector is None else _crop(one, sector))[0]


def is_cropped(clip: Clip) -> bool:
    """Whether crop_to_sector made this clip (its meta records the crop, 'sector_bbox')."""
    return "sector_bbox" in clip.meta


def fan_to_crop(clip: Clip) -> Sector | None:
    """The fan crop_to_sector crops `clip` to when given none; None for a clip it made (never cropped twice)."""
    return None if is_cropped(clip) else find_sector(clip)


def crop_to_sector(clip: Clip, sector: Sector | None = None, max_side: int | None = None) -> Clip:
    """The clip zeroed outside its fan, cropped to the fan and padded square; ground-truth labels,
    clean images and LV tracings get the same crop so they stay aligned.

    A clip this made is returned as it is (unless a sector is given), and prepare_frames does not
    look for its fan again: a degraded copy of a cropped clip keeps the clean clip's crop, whatever
    the degradation did to the fan's edges (depth attenuation darkens them below BRIGHT_LEVEL, and
    a fan found again would be narrower: a zoom no scanner makes).

    max_side: at most this many px a side, shrunk as the model's input is (resize_frames; truth alike, resize_truth)
    a frame at a time as each is cropped, so a large clip's full-size crop is never held; a clip cropped already is
    only shrunk."""
    sector = fan_to_crop(clip) if sector is None else sector
    if sector is None:
        return clip if max_side is None or max(clip.height, clip.width) <= max_side else \
            _shrunk(clip, clip.frames, max(clip.height, clip.width), clip.truth, clip.meta, max_side)
    top, left, bottom, right = sector.bbox
    side, pad_top, pad_left = _square_offsets(bottom - top, right - left)
    truth = clip.truth
    if truth is not None:
        shift = np.array([pad_left - left, pad_top - top] * 2, np.float64)  # x1, y1, x2, y2
        tracings = {k: np.asarray(v, np.float64) + shift for k, v in truth.lv_tracings.items()}
        truth = dataclasses.replace(
            truth, labels=None if truth.labels is None else _crop(truth.labels, sector),
            clean=None if truth.clean is None else _crop(truth.clean, sector), lv_tracings=tracings)
    meta = {**clip.meta, "sector_bbox": list(sector.bbox), "height": side, "width": side}
    if max_side is not None and side > max_side:
        return _shrunk(clip, cropped_frames(clip.frames, sector), side, truth, meta, max_side)
    return Clip(_crop(clip.frames, sector), clip.fps, clip.source, truth, meta)       # (T, S, S[, 3])


def _shrunk(clip: Clip, square: np.ndarray | Iterable[np.ndarray], square_side: int, truth: GroundTruth | None,
            meta: dict, side: int) -> Clip:
    """The clip with its square frames (an array or (S, S[, 3]) frames one at a time, S = square_side) and truth,
    resized to `side` px as the model's input is."""
    return dataclasses.replace(clip, frames=resize_frames(square, side),              # (T, side, side[, 3])
                               truth=resize_truth(truth, square_side, side), meta={**meta, "height": side,
                                                                                    "width": side})


def sample_indices(n_frames: int, clip_fps: float, frames: int = 16, fps: float | None = None,
                   start: int = 0) -> np.ndarray:
    """(frames,) source indices: every clip_fps/fps-th frame from `start` (every frame when fps
    is None), nearest frame, the last frame repeated past the end of the clip."""
    if frames < 1:
        raise ClipError(f"At least one frame must be sampled; got {frames}.")
    if not 0 <= start < n_frames:
        raise ClipError(f"Start frame {start} is outside the clip's {n_frames} frames.")
    if fps is not None and not fps > 0:
        raise ClipError(f"The target frame rate must be a positive number; got {fps}.")
    step = 1.0 if fps is None else clip_fps / fps
    return nearest_frames(start + step * np.arange(frames), n_frames)


def nearest_frames(positions: np.ndarray, n_frames: int) -> np.ndarray:
    """(K,) fractional frame positions -> the nearest frames (halves up), the last frame past the clip's end: the one
    rounding rule of every frame sampler (training's beats, the models' view, the frame-rate resampling)."""
    return np.minimum(np.floor(np.asarray(positions) + 0.5).astype(int), n_frames - 1)


def resize_frames(frames: np.ndarray | Iterable[np.ndarray], size: int, nearest: bool = False) -> np.ndarray:
    """(T, S, S[, 3]) -> (T, size, size[, 3]) as the model's input is resized: area averaging when shrinking,
    linear when enlarging; nearest: for label masks (ids, not intensities). frames: an array or any iterable of
    (S, S[, 3]) frames, so frames made one at a time are never all held at full size."""
    def resize(frame: np.ndarray) -> np.ndarray:
        interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA if frame.shape[0] > size else cv2.INTER_LINEAR
        return cv2.resize(frame, (size, size), interpolation=interp)
    return np.stack([resize(f) for f in frames])


def resize_truth(truth: GroundTruth | None, height: int, size: int) -> GroundTruth | None:
    """The ground truth of a square clip `height` px high, resized as its frames are to `size` (resize_frames):
    labels by nearest label, the clean image as the frames, LV tracings scaled."""
    if truth is None:
        return None
    scale = size / height
    resize = lambda a, nearest=False: None if a is None else resize_frames(np.asarray(a), size, nearest)  # noqa: E731
    return dataclasses.replace(truth, labels=resize(truth.labels, True), clean=resize(truth.clean),
                               lv_tracings={f: np.asarray(seg, np.float64) * scale
                                            for f, seg in truth.lv_tracings.items()})


def prepare_frames(clip: Clip, frames: int = 16, size: int = 112, fps: float | None = None,
                   start: int = 0, crop_sector: bool = True) -> np.ndarray:
    """The uint8 frames a model sees, before normalisation, for display: (frames, size, size)
    for grey clips, (frames, size, size, 3) for colour ones. Without crop_sector the whole frame
    is padded square, so the aspect ratio is kept either way; a clip crop_to_sector made is not
    cropped again."""
    if size < 1:
        raise ClipError(f"The model input size must be a positive number of pixels; got {size}.")
    indices = sample_indices(clip.n_frames, clip.fps, frames, fps, start)
    sector = fan_to_crop(clip) if crop_sector else None
    # a frame at a time: the trajectories sample every frame of a clip, and a copy of it (then padded) was two more
    return resize_frames(cropped_frames(clip.frames, sector, indices), size)


def _with_channels(frames: np.ndarray, channels: int) -> np.ndarray:
    """(T, H, W[, 3]) uint8 -> (T, H, W, channels) uint8."""
    if frames.ndim == 3:
        return np.repeat(frames[..., None], channels, axis=-1)
    if channels == 3:
        return frames
    return np.rint(luminance(frames))[..., None].astype(np.uint8)


def _stat(value: float | Sequence[float] | None, default: Sequence[float], channels: int,
          what: str) -> torch.Tensor:
    """Per-channel mean or std (one value is used for every channel) as (1, 1, C, 1, 1)."""
    values = np.asarray(default if value is None else value, np.float32).reshape(-1)  # (C,)
    if values.size == 1:
        values = np.repeat(values, channels)
    if values.size != channels or not np.isfinite(values).all():
        raise ClipError(f"The normalisation {what} needs {channels} numbers; got {value}.")
    if what == "std" and (values <= 0).any():
        raise ClipError(f"The normalisation std must be positive; got {value}.")
    return torch.from_numpy(values).view(1, 1, channels, 1, 1)


def to_model_input(clip_or_clips: Clip | Sequence[Clip], frames: int = 16, size: int = 112,
                   channels: int = 3, fps: float | None = None, start: int = 0,
                   mean: float | Sequence[float] | None = None,
                   std: float | Sequence[float] | None = None,
                   crop_sector: bool = True) -> torch.Tensor:
    """One clip or several -> (B, frames, channels, size, size) float32, normalised."""
    clips = [clip_or_clips] if isinstance(clip_or_clips, Clip) else list(clip_or_clips)
    if not clips:
        raise ClipError("No clips were given to prepare for the model.")
    if channels not in (1, 3):
        raise ClipError(f"A model takes 1 (grey) or 3 (colour) channels; got {channels}.")
    mean_t = _stat(mean, IMAGENET_MEAN if channels == 3 else GRAY_MEAN, channels, "mean")
    std_t = _stat(std, IMAGENET_STD if channels == 3 else GRAY_STD, channels, "std")
    batch = np.stack([_with_channels(prepare_frames(c, frames, size, fps, start, crop_sector),
                                     channels) for c in clips])  # (B, T, H, W, C) uint8
    x = torch.from_numpy(batch).permute(0, 1, 4, 2, 3).float().div_(255.0)  # (B, T, C, H, W)
    return ((x - mean_t) / std_t).contiguous()
