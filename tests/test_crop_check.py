"""explain.analysis.crop_check: each EF beside the EFs of its input shifted a couple of pixels, because the
shipped probes read position (a re-encode that moved the fan's box 6 px moved the JEPA's EF 15 points)."""
import numpy as np
import pytest
import torch

from echo.examples import load_example
from echo.preprocess import Sector, crop_to_sector, find_sector
from explain.analysis.crop_check import MOVES_POINTS, crop_efs, crop_words, moved, shift_pixels, shifted
from explain.analysis.pair import embed
from explain.analysis.window import model_view
from explain.attribution.baseline import black_like


def test_a_shift_moves_the_input_and_fills_the_gap_with_black():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(1, 2, 3, 5, 5)
    black = black_like(x)
    down, up = shifted(x, 2), shifted(x, -1)
    assert torch.equal(down[..., 2:, :], x[..., :3, :]) and torch.equal(down[..., :2, :], black[..., :2, :])
    assert torch.equal(up[..., :4, :], x[..., 1:, :]) and torch.equal(up[..., 4:, :], black[..., 4:, :])
    assert shifted(x, 0) is x and shift_pixels(112) == 2 and shift_pixels(224) == 4 and shift_pixels(16) == 1


def test_the_docstrings_re_encode_the_crop_not_the_pixels_moved_the_jepas_ef(shipped_pair):
    """The box an MJPG re-encode of adult_normal got, (0, 0, 95, 112), on the original clip's pixels."""
    clip = load_example("adult_normal")
    jepa = shipped_pair["jepa"]
    fan = find_sector(clip.frames)
    assert fan.bbox == (2, 0, 89, 112)
    as_found = embed(jepa, model_view(clip).x)[1]
    moved_box = embed(jepa, model_view(crop_to_sector(clip, Sector(fan.mask, (0, 0, 95, 112)))).x)[1]
    assert as_found == pytest.approx(62.0, abs=0.1) and moved_box == pytest.approx(52.1, abs=0.3)   # the shipped probe's


def test_crop_efs_give_each_probes_efs_and_the_words_warn_past_the_limit(shipped_pair):
    m = shipped_pair["jepa"]
    x = model_view(load_example("adult_reduced_ef")).x
    check = crop_efs(m, x)
    assert check["pixels"] == 2 and len(check["ef"]) == len(check["ef_beat"]) == 2
    assert check["ef"][1] == pytest.approx(embed(m, shifted(x, 2))[1], abs=0.01)
    ef = embed(m, x)[1]
    words = crop_words(ef, None, check)
    assert words.startswith("⚠️ Crop check: with the clip 2 px higher / lower") == (moved(ef, check["ef"]) > MOVES_POINTS)
    steady = crop_words(50.0, 40.0, {"pixels": 2, "ef": [51.0, 49.5], "ef_beat": [43.0, 40.0]})
    assert steady == "Crop check: with the clip 2 px higher / lower in the model's input, EF 51.0% / 49.5%, beat view 43.0% / 40.0%."
    loose = crop_words(50.0, 40.0, {"pixels": 2, "ef": [51.0, 49.5], "ef_beat": [46.0, 40.0]})
    assert loose.startswith("⚠️") and loose.endswith(
        "The beat view's EF moves up to 6.0 points with a crop 2 px off (the attentive probe's 1.0), and a re-encoded "
        "copy of the clip can get a crop further off still (an MJPG copy of adult_normal: its box 8 px taller): read "
        "that EF no closer than that.")
    both = crop_words(50.0, 40.0, {"pixels": 2, "ef": [57.0, 49.5], "ef_beat": [46.0, 40.0]})
    assert "The attentive probe's EF moves up to 7.0 points and the beat view's EF moves up to 6.0 points" in both
    assert crop_efs(type(m)(**{**m.__dict__, "probe": None, "beat_probe": None}), x) is None
    assert np.isclose(moved(None, [1.0]), 0.0) and moved(3.0, None) == 0.0


def test_a_check_too_slow_for_this_cpu_is_skipped_and_said(shipped_pair, monkeypatch):
    import explain.analysis.crop_check as cc
    monkeypatch.setattr(cc, "cpu_seconds", lambda m, passes: 36.0 * passes)      # a ViT-L at 16 x 224 here
    check = cc.crop_efs(shipped_pair["mae"], model_view(load_example("adult_normal")).x)
    assert check == {"pixels": 2, "skipped": "two more passes would take about 72 s on this CPU"}
    assert crop_words(60.0, None, check) == "Crop check skipped: two more passes would take about 72 s on this CPU."


def test_an_mjpg_re_encode_of_the_example_keeps_its_box(tmp_path):
    """The re-encode that moved adult_normal's box to (0, 0, 95, 112) (OpenCV's MJPG, its default quality): read as
    the lossy clip it is, its fan drops the codec's ringing and keeps the original's box."""
    from builders import write_with_opencv
    from echo.readers import read_clip
    clip = load_example("adult_normal")
    coded = read_clip(write_with_opencv(tmp_path / "adult_normal.avi", clip, "MJPG"))
    assert coded.meta["lossy"] and find_sector(coded).bbox == find_sector(clip).bbox == (2, 0, 89, 112)
    assert find_sector(coded.frames).bbox != (2, 0, 89, 112)                 # the same pixels taken as lossless
