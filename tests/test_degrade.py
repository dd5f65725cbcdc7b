"""Degradations: the benchmark's formulas by hand, determinism, sector-only changes, truth untouched."""
import numpy as np
import pytest

from echo.clip import ClipError
from echo.degrade import (
    BENCHMARK_CONDITIONS, CONDITIONS, DEGRADATIONS, apply_condition, compose, degrade,
    depth_attenuation_map, label_words, named_severity, sector_mask, shadow_map,
)
from echo.phantom import render_clip


@pytest.fixture(scope="module")
def clip():
    return render_clip(7, n_frames=8)


def test_depth_attenuation_matches_hand_computed_values():
    m = depth_attenuation_map(3, 5, rate=1.5)
    # Row 0, centre column: distance 0 from the top centre (the probe) -> 1. Bottom-left corner: d = sqrt(0.25 + 1).
    assert m[0, 2] == pytest.approx(1.0)
    assert m[2, 0] == pytest.approx(np.exp(-1.5 * np.sqrt(1.25)))
    assert m[1, 3] == pytest.approx(np.exp(-1.5 * np.sqrt(0.25 ** 2 + 0.5 ** 2)))
    floor = depth_attenuation_map(3, 5, rate=2.15, min_attenuation=0.2)
    assert floor[2, 0] == pytest.approx(0.8 * np.exp(-2.15 * np.sqrt(1.25)) + 0.2)


def test_shadow_matches_hand_computed_values():
    m = shadow_map(10, 20, strength=0.6, sigma_x=0.2, sigma_y=0.2, mx=0.5, my=0.5)
    assert m[5, 10] == pytest.approx(0.4)                      # centre: 1 - s
    sx, sy = 0.2 * 20, 0.2 * 10
    assert m[7, 13] == pytest.approx(1 - 0.6 * np.exp(-(9 / (2 * sx ** 2) + 4 / (2 * sy ** 2))))


def test_benchmark_presets_map_to_published_parameters(clip, monkeypatch):
    seen = []
    import echo.degrade as d
    monkeypatch.setattr(d, "shadow_map", lambda h, w, **kw: seen.append(kw) or np.ones((h, w)))
    for name in ("shadow_low", "shadow_med", "shadow_high"):
        apply_condition(clip, name, seed=1)
    assert [(round(k["strength"], 6), round(k["sigma_x"], 6)) for k in seen] == [(0.4, 0.15), (0.6, 0.2), (0.8, 0.25)]
    assert all(0.2 <= k["mx"] <= 0.8 and 0.2 <= k["my"] <= 0.8 for k in seen)
    rates = [2.15 * BENCHMARK_CONDITIONS[c][1] for c in ("depth_attenuation_0.75", "depth_attenuation_1.50", "depth_attenuation_2.15")]
    assert rates == pytest.approx([0.75, 1.5, 2.15])


def test_depth_attenuation_applied_to_a_clip_equals_the_map(clip):
    out = apply_condition(clip, "depth_attenuation_1.50")
    mask = sector_mask(clip)
    expected = np.clip(np.rint(clip.frames * depth_attenuation_map(112, 112, 1.5)[None]), 0, 255)
    np.testing.assert_array_equal(out.frames[:, mask], expected[:, mask])


@pytest.mark.parametrize("name", list(DEGRADATIONS))
def test_each_degradation_is_seeded_changes_only_the_sector_and_keeps_truth(clip, name):
    a, b = degrade(clip, name, 0.8, seed=3), degrade(clip, name, 0.8, seed=3)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert a.frames.shape == clip.frames.shape and a.frames.dtype == np.uint8
    outside = ~sector_mask(clip)
    np.testing.assert_array_equal(a.frames[:, outside], clip.frames[:, outside])
    assert np.abs(a.frames.astype(int) - clip.frames.astype(int)).mean() > 0.5     # it did something
    assert a.truth is clip.truth and a.fps == clip.fps
    assert degrade(clip, name, 0.0, seed=3) is clip     # severity 0 is the clean clip (the sweep's axis says so)


@pytest.mark.parametrize("name", ["depth_attenuation", "shadow", "noise", "resolution_loss", "compression", "haze",
                                  "speckle"])
def test_severity_is_monotone(clip, name):
    change = [np.abs(degrade(clip, name, s, seed=0).frames.astype(int) - clip.frames.astype(int)).mean()
              for s in (0.25, 0.5, 1.0)]
    assert change[0] < change[1] < change[2]


def test_each_degradation_moves_the_image_the_way_its_name_says(clip):
    """Speckle multiplies by a grain of unit mean (brightness kept), haze adds light, gain and depth attenuation take
    it away, dropped frames repeat the frame before, more of them the higher the severity."""
    inside = sector_mask(clip)
    mean = lambda c: c.frames[:, inside].astype(float).mean()
    # (speckle's bright grains clip at 255, so the mean falls a little: 11% on this clip; a grain without its unit
    # mean had darkened it by about two thirds)
    assert mean(degrade(clip, "speckle", 1.0, seed=0)) == pytest.approx(mean(clip), rel=0.2)
    assert mean(degrade(clip, "haze", 1.0, seed=0)) > mean(clip) > mean(degrade(clip, "gain", 1.0, seed=0))
    assert mean(degrade(clip, "depth_attenuation", 1.0, seed=0)) < mean(clip)
    long = render_clip(7, n_frames=60)
    repeats = [np.mean([np.array_equal(f[t], f[t - 1]) for t in range(1, len(f))])
               for f in (degrade(long, "dropped_frames", s, seed=0).frames for s in (0.2, 0.5, 1.0))]
    assert 0 < repeats[0] < repeats[1] < repeats[2] <= 0.75      # half the frames at severity 1, give or take the draw


def test_random_draws_differ_by_seed(clip):
    assert not np.array_equal(degrade(clip, "shadow", 1.0, seed=0).frames, degrade(clip, "shadow", 1.0, seed=1).frames)


def test_compose_and_conditions(clip):
    both = compose(clip, [("gain", 0.5), ("noise", 0.5)], seed=0)
    assert "gain" in both.meta["degradation"] and "noise" in both.meta["degradation"]
    assert set(BENCHMARK_CONDITIONS) <= set(CONDITIONS)
    assert {n.rsplit("_", 1)[0] for n in CONDITIONS} >= set(DEGRADATIONS) - {"depth_attenuation", "shadow"}
    assert apply_condition(clip, "clean") is clip
    mild = compose(clip, [("shadow", 0.0), ("gain", 0.5)], seed=0)        # a step at 0 is no step
    assert mild.meta["degradation"] == "gain 0.50"
    assert compose(mild, [("haze", 0.25)]).meta["degradation"] == "gain 0.50, haze 0.25"    # a degraded clip's kept
    # a label in words: each number is a severity, and a benchmark condition it matches is named
    assert label_words("shadow 0.67, depth_attenuation 0.70") == ("shadow at severity 0.67 (the benchmark's shadow_med), "
                                                                 "depth_attenuation at severity 0.70 (the benchmark's "
                                                                 "depth_attenuation_1.50)")
    assert label_words("gain 0.50") == "gain at severity 0.50 (EchoLens's condition gain_med)"
    assert label_words("gain 0.30") == "gain at severity 0.30"
    # a severity a slider can reach, near a named condition's, is that condition's exactly
    assert named_severity("shadow", 0.67) == CONDITIONS["shadow_med"][1] == 2 / 3
    assert named_severity("depth_attenuation", 0.35) == CONDITIONS["depth_attenuation_0.75"][1]
    assert named_severity("shadow", 0.66) == 0.66 and named_severity("haze", 0.67) == 0.67
    for odd in ("fog 0.5", "shadow strong", "someone's own words"):
        assert label_words(odd) == odd
    np.testing.assert_array_equal(mild.frames, degrade(clip, "gain", 0.5, seed=0).frames)


def test_bad_requests_raise_clip_error(clip):
    with pytest.raises(ClipError, match="Unknown degradation"):
        degrade(clip, "fog", 0.5)
    with pytest.raises(ClipError, match="between 0 and 1"):
        degrade(clip, "noise", 1.5)
    with pytest.raises(ClipError, match="Unknown condition"):
        apply_condition(clip, "shadow_extreme")


def test_a_colour_clips_copy_to_degrade_is_the_grey_image_the_degradations_act_on():
    """compose degrades the luminance, so a colour clip's degraded copies are grey; its clean copy must be too,
    or every change would carry the colour's loss beside the degradation's."""
    import dataclasses

    from echo.degrade import copy_to_degrade
    from echo.preprocess import crop_to_sector
    clip = render_clip(2, "adult", n_frames=12, size=112)
    rgb = np.stack([clip.frames, clip.frames // 2, clip.frames // 3], -1)                  # (T, H, W, 3)
    colour = dataclasses.replace(clip, frames=rgb)
    copy = copy_to_degrade(colour, 112)
    assert not copy.is_rgb and np.array_equal(copy.frames, crop_to_sector(colour).gray())
    assert degrade(copy, "gain", 0.0) is copy and not degrade(copy, "gain", 0.5).is_rgb
    assert np.array_equal(copy_to_degrade(clip, 112).frames, crop_to_sector(clip).frames)    # a grey clip: as before


def test_speckle_drawn_a_frame_at_a_time_is_the_draw_for_the_whole_clip(clip):
    """The extra speckle drew the whole clip's noise at once, float64 (six times the frames' bytes beside them,
    bench/speckle_memory.py); drawn a frame at a time it must be the same draws in the same order, each frame's
    noise blurred as a frame."""
    import cv2
    frames = clip.frames[:6].astype(np.float32)                                # (T, H, W)
    z = np.random.default_rng([4, 2]).normal(size=frames.shape + (2,)).astype(np.float32)
    z = np.stack([cv2.GaussianBlur(zi, (0, 0), 1.0) for zi in z])               # (T, H, W, 2)
    env = np.hypot(z[..., 0], z[..., 1])
    whole = frames * (1 - 0.6 + 0.6 * (env / env.mean()))
    assert np.array_equal(DEGRADATIONS["speckle"](frames, 0.6, np.random.default_rng([4, 2])), whole)


def test_speckle_grain_spans_both_axes_and_changes_every_frame():
    """Each frame's grain is a 2-D blob about 2 px across (the Gaussian of 1 px on each axis), as a scanner's speckle
    is: neighbours along the beam correlate as neighbours across it do. The noise blurred one image row at a time
    left rows independent (lag-1 correlation about 0 down the image), a grain of streaks, not of spots. Frames stay
    independent of each other (fresh each frame)."""
    flat = np.full((4, 96, 96), 100.0, np.float32)                             # (T, H, W): the envelope alone
    env = DEGRADATIONS["speckle"](flat, 1.0, np.random.default_rng(0)) / 100.0
    x = env - env.mean()

    def lag1(a, b):
        return float((a * b).mean() / np.sqrt((a * a).mean() * (b * b).mean()))

    across = lag1(x[:, :, :-1], x[:, :, 1:])                                  # along each row
    down = lag1(x[:, :-1, :], x[:, 1:, :])                                     # along the beam
    assert across > 0.4 and down > 0.4 and abs(across - down) < 0.1
    assert abs(lag1(x[:-1], x[1:])) < 0.05


def test_a_degradation_named_twice_draws_afresh_and_a_colour_clip_comes_back_labelled_grey(clip):
    """compose seeded every step by (seed, name): noise named twice added the same field twice (its std doubled, not
    grown by sqrt 2), and a colour clip came back as grey frames still labelled 'rgb'. One step keeps its stream."""
    import dataclasses
    flat = dataclasses.replace(clip, frames=np.full_like(clip.frames, 128), truth=None)   # a fan-less grey field
    once = compose(flat, [("noise", 0.5)], seed=3).frames.astype(float) - 128
    twice = compose(flat, [("noise", 0.5), ("noise", 0.5)], seed=3).frames.astype(float) - 128
    assert twice.std() == pytest.approx(np.sqrt(2) * once.std(), rel=0.05)
    np.testing.assert_array_equal(compose(flat, [("noise", 0.5)], seed=3).frames, degrade(flat, "noise", 0.5, seed=3).frames)
    rgb = dataclasses.replace(clip, frames=np.repeat(clip.frames[..., None], 3, -1), meta={**clip.meta, "colour": "rgb"})
    out = degrade(rgb, "gain", 0.5)
    assert out.frames.ndim == 3 and out.meta["colour"] == "gray"


def test_a_clip_without_labels_keeps_its_black_blood_pools_inside_the_sector():
    """The fallback sector (non-black in any frame) left out a cavity that reads 0 in every frame, so haze, the
    clutter that fills cavities first, never reached it on an upload; the image's black border stays untouched."""
    from echo.clip import Clip
    frames = np.zeros((4, 48, 48), np.uint8)
    frames[:, 8:40, 8:40] = 120                                       # tissue ...
    frames[:, 18:30, 18:30] = 0                                       # ... around a pool that is black in every frame
    upload = Clip(frames, 50.0)
    mask = sector_mask(upload)
    assert mask[24, 24] and mask[10, 10] and not mask[2, 2] and mask.sum() == 32 * 32
    hazy = degrade(upload, "haze", 1.0).frames
    assert hazy[:, 18:30, 18:30].mean() > 5 and (hazy[:, :8] == 0).all()       # the pool hazed, the border not
