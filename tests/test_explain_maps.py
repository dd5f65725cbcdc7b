"""Tokens to frames and back: token order checked by a planted single-token attention, whole-clip
normalisation, tubelet ids, and the overlay writers."""
import av
import numpy as np
import pytest
import torch

from explain.maps import pixels_to_tokens, to_frames, tokens_to_pixels, tubelet_ids
from explain.overlay import overlay, write_overlay_mp4, write_overlay_strip
from explain.readout import mean_readout
from explain.rollout import rollout

GRID, TUBELET, PATCH = (4, 3, 5), 2, 4          # non-square so a swapped h / w cannot pass


def planted_map(t, h, w):
    """Every query of every layer attends only to token (t, h, w): the rollout without residual
    mixing sends all mass there, and the mean read-out is one-hot."""
    n = int(np.prod(GRID))
    k = t * GRID[1] * GRID[2] + h * GRID[2] + w
    a = torch.zeros(1, 2, n, n)
    a[..., k] = 1.0
    return mean_readout(rollout([a, a], identity=0.0))[0], k


@pytest.mark.parametrize("t, h, w", [(0, 0, 0), (1, 2, 3), (3, 1, 4)])
def test_planted_single_token_lands_on_its_tubelet(t, h, w):
    values, k = planted_map(t, h, w)
    assert values.argmax().item() == k and values[k].item() == pytest.approx(1.0)
    heat = to_frames(values.numpy(), GRID, TUBELET, (8, 12, 20), mode="nearest")
    expected = np.zeros((8, 12, 20), np.float32)
    expected[t * 2:t * 2 + 2, h * 4:h * 4 + 4, w * 4:w * 4 + 4] = 1.0
    assert np.array_equal(heat, expected)
    smooth = to_frames(values.numpy(), GRID, TUBELET, (8, 12, 20))   # bilinear: peak stays in the tubelet
    for frame in smooth[t * 2:t * 2 + 2]:
        y, x = np.unravel_index(frame.argmax(), frame.shape)
        assert h * 4 <= y < h * 4 + 4 and w * 4 <= x < w * 4 + 4
    assert smooth[t * 2:t * 2 + 2].max() == 1.0


def test_normalised_over_the_clip_not_per_frame():
    values = np.zeros(GRID, np.float32)
    values[0] = 1.0
    values[1] = 3.0
    heat = to_frames(values, GRID, TUBELET, (8, 6, 10), mode="nearest")
    assert heat.dtype == np.float32 and heat.min() == 0.0 and heat.max() == 1.0
    assert np.allclose(heat[0:2], 1 / 3) and np.allclose(heat[2:4], 1.0) and np.allclose(heat[4:], 0.0)
    assert np.allclose(to_frames(values, GRID, TUBELET, (8, 6, 10), "nearest", scale="max")[0], 1 / 3)
    assert np.array_equal(to_frames(np.ones(60), GRID, TUBELET, (8, 6, 10)), np.zeros((8, 6, 10), np.float32))
    # other frame counts: frame t shows slot t * T' // T
    assert np.allclose(to_frames(values, GRID, TUBELET, (4, 6, 10), "nearest")[:, 0, 0], [1 / 3, 1, 0, 0])


def test_to_frames_rejects_bad_shapes():
    with pytest.raises(ValueError, match="token map"):
        to_frames(np.zeros(59), GRID, TUBELET, (8, 12, 20))
    with pytest.raises(ValueError, match="resize mode"):
        to_frames(np.zeros(60), GRID, TUBELET, (8, 12, 20), mode="cubic")
    with pytest.raises(ValueError, match="shape"):
        to_frames(np.zeros(60), GRID, TUBELET, (8, 12))


def test_tubelet_ids_and_pixel_token_round_trip():
    ids = tubelet_ids((1, 8, 3, 12, 20), GRID, TUBELET, PATCH)
    assert ids.shape == (1, 8, 1, 12, 20)
    assert ids[0, 3, 0, 9, 17].item() == 1 * 15 + 2 * 5 + 4          # t'=1, h=2, w=4
    v = torch.arange(60, dtype=torch.float32)[None]
    pix = tokens_to_pixels(v, GRID, TUBELET, PATCH)                   # (1, 8, 1, 12, 20)
    back = pixels_to_tokens(pix.expand(1, 8, 3, 12, 20), GRID, TUBELET, PATCH)
    assert torch.allclose(back, v * (2 * 4 * 4 * 3))
    with pytest.raises(ValueError, match="does not match grid"):
        tubelet_ids((1, 8, 3, 12, 21), GRID, TUBELET, PATCH)


def test_overlay_blends_by_heat_and_adds_a_colour_bar(tmp_path):
    frames = np.full((4, 12, 20), 100, np.uint8)
    heat = np.zeros((4, 12, 20), np.float32)
    heat[:, :, 10:] = 1.0
    out = overlay(frames, heat, alpha=0.6)
    assert out.shape[:3] == (4, 12, 20 + 24) and out.dtype == np.uint8
    assert (out[:, :, :10] == 100).all()                              # cold: the echo untouched
    assert not (out[:, :, 10:20] == 100).all(-1).any()                # hot: coloured
    assert len(np.unique(out[0, :, 20:].reshape(-1, 3), axis=0)) > 3  # the bar has colours
    with pytest.raises(ValueError, match="does not match"):
        overlay(frames, heat[:, :6])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        overlay(frames, heat * 2)
    mp4 = write_overlay_mp4(tmp_path / "o.mp4", frames, heat, fps=10)
    with av.open(str(mp4)) as c:
        assert c.streams.video[0].codec_context.name == "h264" and c.streams.video[0].frames == 4
    png = write_overlay_strip(tmp_path / "o.png", frames, heat, n=2)
    assert png.stat().st_size > 0


def test_each_colour_scale_colours_the_map_and_its_bar_and_an_unknown_one_is_refused(tmp_path):
    """turbo, viridis and plasma: a hot region in that scale's top colour (blended at alpha), its bar drawn in the
    same scale, and no scale grey above its lowest quarter (a grey colour vanishes on a grey echo: why cividis is
    not offered). An unknown name is refused by name before any file is written."""
    from explain.overlay import COLOUR_SCALES, colorize, colour_bar
    frames = np.full((2, 12, 20), 100, np.uint8)
    heat = np.zeros((2, 12, 20), np.float32)
    heat[:, :, 10:] = 1.0
    bars = {}
    for name in COLOUR_SCALES:
        out = overlay(frames, heat, alpha=0.6, colours=name)
        top = colorize(np.ones(1), name)[0].astype(float)
        assert np.abs(out[0, 5, 15].astype(float) - np.rint(0.4 * 100 + 0.6 * top)).max() <= 1
        assert (out[:, :, :10] == 100).all()                                   # cold: the echo untouched
        bars[name] = colour_bar(40, colours=name)
        assert np.array_equal(out[0, :, 20:], colour_bar(12, colours=name))    # the frame's bar: this scale's
        rgb = colorize(np.linspace(0.25, 1, 64), name).astype(int)
        assert (rgb.max(1) - rgb.min(1)).min() >= 60                           # never grey on the grey echo
    assert len({b.tobytes() for b in bars.values()}) == len(COLOUR_SCALES)      # each bar its own
    assert list(COLOUR_SCALES) == ["turbo", "viridis", "plasma"]
    for call in (lambda: overlay(frames, heat, colours="jet"), lambda: colorize(np.ones(1), "jet"),
                 lambda: write_overlay_mp4(tmp_path / "o.mp4", frames, heat, fps=10, colours="jet")):
        with pytest.raises(ValueError, match="Unknown colour scale 'jet'; choose one of: turbo, viridis, plasma"):
            call()
    assert list(tmp_path.iterdir()) == []


def test_overlay_shows_a_peaked_map_against_its_98th_percentile_and_frames_keep_the_clips_colours():
    """A ViT map is peaked: with one pixel at 1 and the rest near 0.2, the rest would be faint on a 0-1
    scale; against the clip's 98th percentile (display_scale) they reach the top colour."""
    from explain.overlay import display_scale
    frames = np.full((4, 10, 10), 100, np.uint8)
    heat = np.full((4, 10, 10), 0.2, np.float32)
    heat[:, :5] = 0.0                                              # half the clip cold
    heat[0, 9, 9] = 1.0                                            # one peak
    assert display_scale(heat) == pytest.approx(0.2)
    out = overlay(frames, heat, bar=False)
    assert np.array_equal(out[1, 7, 7], out[0, 9, 9])              # 0.2 shows as the peak does
    assert (out[:, :5] == 100).all()                               # cold stays the echo
    faint = overlay(frames, heat, bar=False, scale=1.0)            # the plain 0-1 scale, for contrast
    assert np.abs(faint[1, 7, 7].astype(int) - 100).max() < np.abs(out[1, 7, 7].astype(int) - 100).max()
    one = overlay(frames[1:2], heat[1:2], bar=False, scale=display_scale(heat))
    assert np.array_equal(one[0], out[1])                          # a frame alone, in the clip's colours
    assert display_scale(np.zeros((2, 3, 3), np.float32)) > 0      # an empty map divides by no zero
