"""Sector finding, cropping, temporal sampling and model input on synthetic echo screens."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from echo.clip import Clip, ClipError, GroundTruth
from echo.echonet import tracing_mask
from echo.phantom import render_clip
from echo.preprocess import (IMAGENET_MEAN, IMAGENET_STD, crop_to_sector, find_sector,
                             prepare_frames, sample_indices, to_model_input)
from builders import lv_tracing, write_with_opencv


def echo_screen(t=16, h=120, w=160, colour=False, seed=0):
    """A scanner screen: a speckled fan with a dark cavity, burned-in text, a grey-scale bar and a
    moving ECG trace below the fan. -> ((T, H, W[, 3]) uint8, (H, W) true fan mask)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:h, :w]
    radius, angle = np.hypot(y - 6, x - w // 2), np.degrees(np.arctan2(x - w // 2, y - 6))
    fan = (radius < 0.8 * h) & (np.abs(angle) < 40)
    cavity = ((y - 0.42 * h) / (0.15 * h)) ** 2 + ((x - w // 2) / (0.08 * w)) ** 2 < 1
    ecg_colour = (0, 255, 0) if colour else (255, 255, 255)
    frames = np.zeros((t, h, w, 3), np.uint8)
    for k in range(t):
        image = np.clip(rng.rayleigh(50, (h, w)), 0, 255).astype(np.uint8)
        image[cavity] = rng.integers(0, 12, cavity.sum())
        image[~fan] = 0
        frame = np.repeat(image[..., None], 3, axis=-1)
        cv2.putText(frame, "HR 72", (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255,) * 3, 1)
        cv2.rectangle(frame, (w - 6, 20), (w - 3, 80), (180,) * 3, -1)
        trace = np.stack([np.arange(w), 0.93 * h + 4 * np.sin(np.arange(w) / 6 + k)], axis=1)
        cv2.polylines(frame, [trace.astype(np.int32)], False, ecg_colour, 1)
        frames[k] = frame
    return (frames if colour else frames[..., 0]), fan


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / (a | b).sum()


@pytest.mark.parametrize("colour", [False, True])
def test_find_sector_keeps_fan_drops_text_bar_and_ecg(colour):
    frames, fan = echo_screen(colour=colour)
    sector = find_sector(frames)
    assert iou(sector.mask, fan) > 0.95
    assert not sector.mask[:14, :40].any()  # text
    assert not sector.mask[:, -8:].any()  # grey-scale bar
    lit = frames.reshape(frames.shape[:3] + (-1,)).max(axis=(0, 3)) > 0  # (H, W) ever non-black
    below_fan = np.arange(fan.shape[0])[:, None] > np.nonzero(fan.any(axis=1))[0].max()
    assert (lit & below_fan).sum() > 100 and not (sector.mask & lit & below_fan).any()  # ECG
    top, left, bottom, right = sector.bbox
    assert sector.mask[top:bottom, left:right].sum() == sector.mask.sum()


def test_find_sector_still_clip_and_blank_clip():
    frames, fan = echo_screen()
    assert iou(find_sector(np.repeat(frames[:1], 4, axis=0)).mask, fan) > 0.95
    blank = find_sector(np.zeros((3, 20, 30), np.uint8))
    assert blank.mask.all() and blank.bbox == (0, 0, 20, 30)


def test_crop_to_sector_zeroes_crops_and_squares_with_truth_aligned():
    frames, fan = echo_screen()
    labels = np.repeat(fan[None].astype(np.uint8), len(frames), axis=0)
    tracing = lv_tracing(12, top=30, bottom=80, centre=80)
    truth = GroundTruth(ef=60.0, labels=labels, lv_tracings={2: tracing})
    cropped = crop_to_sector(Clip(frames, 50.0, "screen", truth, {"height": 120}))
    t, s, s2 = cropped.frames.shape
    assert t == len(frames) and s == s2 and cropped.meta["height"] == s
    assert cropped.truth.labels.shape == cropped.frames.shape and cropped.truth.ef == 60.0
    outside = cropped.truth.labels == 0
    assert cropped.frames[:, outside[0]].max() == 0  # nothing survives outside the fan
    before = Clip(tracing_mask(tracing, 120, 160)[None].astype(np.uint8), 1.0)
    after = tracing_mask(cropped.truth.lv_tracings[2], s, s)
    assert np.array_equal(crop_to_sector(before, find_sector(frames)).frames[0] > 0, after)


def test_a_cropped_clip_keeps_its_crop_when_degraded():
    """The fan is found once, on the clean clip: a degraded copy of the crop is not cropped again,
    though its blackened edges alone would give a narrower fan (a zoom)."""
    from echo.degrade import degrade
    cropped = crop_to_sector(render_clip(0, n_frames=24, size=112, overlay=True))
    assert crop_to_sector(cropped) is cropped
    dark = degrade(cropped, "gain", 1.0)                             # 12 dB down: dim edges go black
    assert find_sector(dark).bbox != find_sector(cropped).bbox       # found again, the fan would shrink
    kept = prepare_frames(dark, frames=16, size=64).astype(int)       # (16, 64, 64)
    clean = prepare_frames(cropped, frames=16, size=64).astype(int)
    assert (kept <= clean + 1).all()                                  # the same pixels, only darker
    assert np.corrcoef(kept.ravel(), clean.ravel())[0, 1] > 0.8


@pytest.mark.parametrize("seed", [0, 1])
def test_find_sector_keeps_a_far_field_darkened_at_depth(seed):
    """An upload already dim at depth (strong attenuation, weak TGC) keeps its far field: its dim but
    flickering speckle joins the fan, so the atria at the bottom of an apical view are not cropped away."""
    from echo.degrade import apply_condition
    clip = render_clip(seed, n_frames=24, size=112, overlay=True)
    fan = clip.truth.labels.max(axis=0) > 0
    dark = apply_condition(clip, "depth_attenuation_2.15", seed=seed)
    assert (dark.frames[:, fan] < 12).mean() > 0.4                   # much of the fan is below BRIGHT_LEVEL
    sector = find_sector(dark)
    assert iou(sector.mask, fan) > 0.9                               # the bright-only finder before: 0.69 / 0.75
    assert iou(sector.mask, find_sector(clip).mask) > 0.95
    assert not (sector.mask & (dark.frames.max(axis=0) > 0) & ~fan).any()  # still no text, marks, ECG


def test_find_sector_keeps_a_far_field_drawn_apex_down():
    """Some scanners draw the apex at the bottom: the far field the flicker rule keeps is then at the top."""
    from echo.degrade import apply_condition
    clip = render_clip(0, n_frames=24, size=112, overlay=True)
    fan = clip.truth.labels.max(axis=0)[::-1] > 0                    # (H, W), apex down
    dark = apply_condition(clip, "depth_attenuation_2.15", seed=0).frames[:, ::-1]
    assert iou(find_sector(dark).mask, fan) > 0.9                    # far half taken as the lower: 0.69

def test_find_sector_on_phantom_scanner_export():
    clip = render_clip(3, n_frames=24, size=112, overlay=True)
    fan = clip.truth.labels.max(axis=0) > 0
    sector = find_sector(clip)
    assert iou(sector.mask, fan) > 0.9
    assert not (sector.mask & (clip.frames.max(axis=0) > 0) & ~fan).any()  # text, marks, ECG


def test_find_sector_keeps_compressed_text_out(tmp_path):
    """An H.264 scanner export: compression leaves a faint, still halo round the burned-in text beside
    the apex; it must not join the fan (a dim-level rule let it in, and the text with it)."""
    from echo.readers import read_clip
    from echo.writers import write_mp4
    clip = render_clip(104, n_frames=40, size=160, overlay=True)
    fan = clip.truth.labels.max(axis=0) > 0
    sector = find_sector(read_clip(write_mp4(tmp_path / "export.mp4", clip)))
    near_fan = cv2.dilate(fan.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0       # 3 px of slack
    assert not (sector.mask & ~near_fan).any()
    assert iou(sector.mask, fan) > 0.9

def test_find_sector_keeps_text_out_of_an_mjpg_export(tmp_path):
    """An MJPG re-encode (OpenCV's default quality) makes the still text beside the apex flicker; through the
    ringing along the fan's edges it joined the fan and the box took it in: (9, 0, 151, 200) against the
    original's (23, 43, 149, 197), 1515 text pixels inside. Dim flicker now joins only the fan's far half."""
    from echo.examples import load_example
    from echo.readers import read_clip
    clip = load_example("scanner_export")
    path = write_with_opencv(tmp_path / "export.avi", clip, "MJPG")
    fan = find_sector(clip).mask
    far_from_fan = ~cv2.dilate(fan.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    marks = (clip.gray().max(axis=0) > 0) & far_from_fan                 # text, depth marks, ECG
    sector = find_sector(read_clip(path))
    assert marks.sum() > 1000 and not (sector.mask & marks).any()
    assert iou(sector.mask, fan) > 0.88                                   # before: 0.52


@pytest.mark.parametrize("suffix", ["avi", "mp4"])
def test_a_lossy_round_trip_keeps_the_lossless_clips_fan_box(tmp_path, suffix):
    """MJPEG and H.264 ringing flickers in the dark rows beyond the fan's apex and far end, and the box grew by 1-3
    px there (seed 4,000,000: (2, 0, 93, 112) lossless, (2, 0, 95, 112) as AVI, (2, 0, 96, 112) as MP4); a
    lossy-coded clip's fan loses those rows, a lossless clip's is found as before (bare frames, an NPZ)."""
    from echo.readers import read_clip
    from echo.writers import write_avi, write_mp4
    for seed in (4_000_001, 4_000_002, 4_000_003):
        clip = render_clip(seed, n_frames=48, size=112)
        coded = read_clip((write_avi if suffix == "avi" else write_mp4)(tmp_path / f"c.{suffix}", clip))
        assert coded.meta["lossy"] and not clip.meta.get("lossy")
        assert find_sector(coded).bbox == find_sector(clip).bbox == find_sector(clip.frames).bbox
        assert find_sector(coded.frames).bbox != find_sector(clip).bbox        # the same pixels taken as lossless


def test_a_lossless_video_codec_is_read_as_lossless_and_keeps_its_fan(tmp_path):
    """Which codecs lose pixels is FFmpeg's to say: a zlib AVI is bit-exact, so its fan is the original's (a list of
    lossless codec names had missed zlib, and the ringing rule moved such a clip's box by a pixel)."""
    from builders import write_with_pyav
    from echo.readers import read_clip
    clip = render_clip(4_000_011, n_frames=24, size=112)
    coded = read_clip(write_with_pyav(tmp_path / "zlib.avi", clip.frames, "avi", "zlib", "bgr24"))
    assert np.array_equal(coded.frames, clip.frames) and not coded.meta["lossy"]
    assert find_sector(coded).bbox == find_sector(clip).bbox


def test_the_ringing_rule_holds_at_every_size(monkeypatch):
    """Frames are shrunk by a whole factor before the fan is found; half a codec block rounded at factor 8 (a
    1080-px export) was 0 px, which turned the rule off. It is at least one shrunk pixel at any size."""
    import echo.preprocess as preprocess
    radii, real = [], preprocess._fan_region
    monkeypatch.setattr(preprocess, "_fan_region", lambda lum, radius=0: radii.append(radius) or real(lum, radius))
    for side in (112, 480, 1088):
        frames = np.zeros((3, side, side), np.uint8)
        frames[:, side // 4: side // 2, side // 4: side // 2] = [[[60]], [[90]], [[120]]]
        find_sector(Clip(frames, 30.0, meta={"lossy": True}))
    assert radii == [4, 2, 1]                    # 8 / 2 px at 112 px, 480 (shrunk 3x) and 1088 (8x)


def test_lossy_transfer_syntaxes():
    from echo.readers.dicom import lossy_syntax
    lossy = ["JPEG Baseline (Process 1)", "JPEG Extended (Process 2 and 4)", "JPEG 2000 Image Compression",
             "JPEG-LS Lossy (Near-Lossless) Image Compression", "MPEG2 Main Profile / Main Level",
             "HEVC/H.265 Main Profile / Level 5.1"]
    kept = ["Explicit VR Little Endian", "Implicit VR Little Endian", "RLE Lossless",
            "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])",
            "JPEG 2000 Image Compression (Lossless Only)", "JPEG-LS Lossless Image Compression",
            "Deflated Explicit VR Little Endian"]
    assert [lossy_syntax(n) for n in lossy] == [True] * len(lossy)
    assert [lossy_syntax(n) for n in kept] == [False] * len(kept)


def test_sample_indices():
    assert list(sample_indices(100, 50.0, frames=4, fps=25.0)) == [0, 2, 4, 6]
    assert list(sample_indices(100, 30.0, frames=3, start=10)) == [10, 11, 12]
    assert list(sample_indices(5, 30.0, frames=7)) == [0, 1, 2, 3, 4, 4, 4]  # last frame repeated
    assert list(sample_indices(100, 25.0, frames=3, fps=50.0)) == [0, 1, 1]  # nearest, upsampled
    with pytest.raises(ClipError, match="outside"):
        sample_indices(5, 30.0, start=5)


def test_to_model_input_layout_and_imagenet_normalisation():
    frames = np.full((20, 40, 60), 128, np.uint8)
    x = to_model_input(Clip(frames, 30.0), frames=8, size=32, crop_sector=False)
    assert x.shape == (1, 8, 3, 32, 32) and x.dtype == torch.float32
    centre = x[0, 0, :, 16, 16]
    expected = (128 / 255 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(centre, expected, atol=1e-5)
    border = x[0, 0, :, 0, 0]  # padding above the landscape frame is black
    assert torch.allclose(border, -torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD))


def test_to_model_input_batch_one_channel_and_no_normalisation():
    grey, _ = echo_screen()
    colour, _ = echo_screen(colour=True, seed=1)
    x = to_model_input([Clip(grey, 50.0), Clip(colour, 50.0)], frames=4, size=48, channels=1,
                       fps=25.0, mean=0.0, std=1.0)
    assert x.shape == (2, 4, 1, 48, 48)
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_one_channel_input_is_the_luminance_under_the_grey_normalisation():
    """A colour clip to one channel is its luminance (Rec. 601), not a channel of it, normalised by default with the
    ImageNet values' means (0.449, 0.226)."""
    red = np.zeros((20, 40, 40, 3), np.uint8)
    red[..., 0] = 200
    x = to_model_input(Clip(red, 30.0), frames=4, size=40, channels=1, crop_sector=False)
    luma = round(0.299 * 200) / 255                                      # 60 grey levels, not 200
    assert torch.allclose(x[0, 0, 0, 20, 20], torch.tensor((luma - 0.449) / 0.226), atol=1e-3)


def test_prepare_frames_for_display():
    frames, _ = echo_screen()
    shown = prepare_frames(Clip(frames, 50.0), frames=6, size=64)
    assert shown.shape == (6, 64, 64) and shown.dtype == np.uint8
    colour, _ = echo_screen(colour=True)
    assert prepare_frames(Clip(colour, 50.0), frames=6, size=64).shape == (6, 64, 64, 3)


@pytest.mark.parametrize("kwargs, problem", [
    ({"channels": 2}, "channels"),
    ({"std": (1.0, 0.0, 1.0)}, "positive"),
    ({"mean": (0.5, 0.5)}, "needs 3 numbers"),
    ({"fps": -1.0}, "frame rate"),
    ({"size": 0}, "size"),
])
def test_bad_preprocessing_arguments(kwargs, problem):
    with pytest.raises(ClipError, match=problem):
        to_model_input(Clip(np.zeros((4, 16, 16), np.uint8), 30.0), **kwargs)


def test_no_clips():
    with pytest.raises(ClipError, match="No clips"):
        to_model_input([])



def test_a_colour_clips_grey_and_fan_are_found_a_frame_at_a_time():
    """luminance, Clip.gray and find_sector hold one frame's float RGB at a time: over the whole clip at once the
    float copy was 12 bytes a pixel (a 150-frame 1024-px colour clip: 1.8 GB while its fan was found). The results
    are the whole-clip formula's to the bit."""
    import tracemalloc
    from echo.clip import REC601, luminance
    frames, fan = echo_screen(t=24, h=240, w=320, colour=True)
    frames = np.ascontiguousarray(np.repeat(np.repeat(frames, 2, axis=1), 2, axis=2))    # (24, 480, 640, 3)
    whole = frames.astype(np.float32) @ REC601
    clip = Clip(frames, 30.0)
    tracemalloc.start()
    try:
        grey = clip.gray()
        grey_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        sector = find_sector(clip)
        sector_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(luminance(frames), whole)
    assert np.array_equal(grey, np.clip(np.rint(whole), 0, 255).astype(np.uint8))
    pixels = frames.shape[0] * frames.shape[1] * frames.shape[2]
    assert grey_peak < 2 * pixels                 # the uint8 grey clip and a frame's temporaries; whole: 12+ a pixel
    assert sector_peak < 4 * pixels     # a frame of float RGB and the shrunk frames' search; whole: over 15 a pixel
    assert sector.mask[::2, ::2].sum() == pytest.approx(fan.sum(), rel=0.1)    # still the fan


def test_cropping_to_the_fan_writes_straight_into_the_square():
    """crop_to_sector held a masked copy and its padded square at once (twice the cropped clip); now the square only,
    with the same pixels as the fan's box masked then padded."""
    import tracemalloc
    frames, _ = echo_screen(t=24, h=240, w=320, colour=True)
    clip = Clip(frames, 30.0)
    sector = find_sector(clip)
    top, left, bottom, right = sector.bbox
    masked = frames[:, top:bottom, left:right] * sector.mask[top:bottom, left:right, None]
    side = max(bottom - top, right - left)
    tracemalloc.start()
    try:
        cropped = crop_to_sector(clip, sector).frames
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cropped.shape == (24, side, side, 3) and peak < 1.3 * cropped.nbytes
    rows, cols = (side - masked.shape[1]) // 2, (side - masked.shape[2]) // 2
    assert np.array_equal(cropped[:, rows:rows + masked.shape[1], cols:cols + masked.shape[2]], masked)
    assert cropped.sum() == masked.sum()                                  # black around the box


def test_cropping_with_a_largest_side_shrinks_a_frame_at_a_time_as_the_full_crop_shrunk():
    """A degraded copy is made at most twice the models' side (echo.degrade.copy_to_degrade); it cropped the whole clip
    first, a full-size copy of a large clip. Now each frame is cropped and shrunk in turn: the same pixels, truth and
    meta as the full crop shrunk, without the full crop ever held; a clip cropped already is only shrunk."""
    import tracemalloc

    from echo.preprocess import is_cropped, resize_frames, resize_truth
    clip = render_clip(0, n_frames=24, size=320, overlay=True)
    full = crop_to_sector(clip)
    assert full.height > 200 and full.truth.labels is not None and full.truth.lv_tracings
    small, truth = crop_to_sector(clip, max_side=96), resize_truth(full.truth, full.height, 96)
    assert np.array_equal(small.frames, resize_frames(full.frames, 96)) and small.frames.shape[1:3] == (96, 96)
    assert np.array_equal(small.truth.labels, truth.labels) and np.array_equal(small.truth.clean, truth.clean)
    assert all(np.array_equal(small.truth.lv_tracings[k], v) for k, v in truth.lv_tracings.items())
    assert small.meta == {**full.meta, "height": 96, "width": 96} and is_cropped(small)
    bare, sector = dataclasses.replace(clip, truth=None), find_sector(clip)          # the crop's memory alone
    tracemalloc.start()
    try:
        crop_to_sector(bare, sector, max_side=96)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.3 * full.frames.nbytes                                          # 0.21; the full crop shrunk: 1.21
    again = crop_to_sector(full, max_side=96)                                       # cropped already: shrunk only
    assert np.array_equal(again.frames, small.frames) and again.meta == small.meta
    assert crop_to_sector(clip, max_side=full.height).meta == full.meta              # no larger: the crop as it was
    assert crop_to_sector(full, max_side=full.height) is full


def test_a_whole_clip_is_prepared_a_frame_at_a_time():
    """The trajectories give the models every frame of a clip (prepare_frames over its whole length); a copy of the
    sampled frames, then padded, held two more clips at full size. Now one frame at a time, the same pixels."""
    import tracemalloc
    frames, _ = echo_screen(t=40, h=240, w=320, colour=True)
    clip = Clip(frames, 30.0)
    sector = find_sector(clip)
    whole = crop_to_sector(clip, sector).frames                                  # (T, S, S, 3), as before
    expected = np.stack([cv2.resize(f, (112, 112), interpolation=cv2.INTER_AREA) for f in whole])
    assert np.array_equal(prepare_frames(clip, frames=40, size=112), expected)      # the fan found here
    cropped = crop_to_sector(clip, sector)                                           # ... and a clip cropped already
    tracemalloc.start()
    try:
        seen = prepare_frames(cropped, frames=40, size=112)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(seen, expected) and peak < 0.6 * whole.nbytes       # the small frames twice; was 2.4x
