"""Anatomy focus on synthetic maps with known answers, the structure masks, and the faithfulness curves
on a planted EF function."""
import numpy as np
import pytest
import torch
from torch import nn

from builders import lv_tracing
from echo.anatomy import LABEL_IDS
from explain.attribution.baseline import black_like
from explain.faithfulness import (BETTER, NOT_BETTER, auc, curve, faithfulness, importance_order, perturbed_clips,
                                  random_aucs, verdict)
from explain.focus import chamber_borders, focus_scores, structure_mask, tracing_structures


def test_focus_share_chance_ratio_and_pointing_games_by_hand():
    structures = np.zeros((2, 4, 8), bool)
    structures[:, :, :4] = True                          # left half: chance 0.5
    heat = np.ones((2, 4, 8))
    heat[:, :, :4] = 3.0                                 # 3 * 16 / (3 * 16 + 16) = 0.75 of the mass
    s = focus_scores(heat, structures)
    assert (s.focus_share, s.chance_share, s.ratio) == pytest.approx((0.75, 0.5, 1.5))
    assert s.energy_pointing_game == pytest.approx(0.75) and s.pointing_game == 1.0 and s.outside_share == 0
    heat[1, 0, 7] = 10.0                                 # frame 1's hottest pixel is off the structures
    s = focus_scores(heat, structures)
    assert s.pointing_game == 0.5
    assert s.energy_pointing_game == pytest.approx((0.75 + 48 / (48 + 15 + 10)) / 2)
    assert focus_scores(heat, structures, frames=[0]).pointing_game == 1.0
    near = focus_scores(heat, structures, tolerance=4)   # within 4 px of the structures counts
    assert near.pointing_game == 1.0


def test_domain_restricts_mass_and_area():
    structures = np.zeros((1, 4, 8), bool)
    structures[0, :, 0:2] = True
    domain = np.zeros((1, 4, 8), bool)
    domain[0, :, :4] = True                              # chance = 2 / 4 columns
    heat = np.zeros((1, 4, 8))
    heat[0, :, 0] = 1.0
    heat[0, :, 3] = 1.0
    heat[0, :, 6] = 2.0                                  # outside the domain: half the clip's mass
    s = focus_scores(heat, structures, domain)
    assert (s.focus_share, s.chance_share, s.ratio, s.outside_share) == pytest.approx((0.5, 0.5, 1.0, 0.5))
    assert s.outside_area == pytest.approx(0.5)          # half the frame lies outside: an even map puts half there


def test_focus_errors():
    m = np.zeros((1, 4, 4), bool)
    with pytest.raises(ValueError, match="No structure"):
        focus_scores(np.ones((1, 4, 4)), m)
    m[0, 0, 0] = True
    with pytest.raises(ValueError, match="non-negative"):
        focus_scores(-np.ones((1, 4, 4)), m)
    with pytest.raises(ValueError, match="share one"):
        focus_scores(np.ones((1, 4, 5)), m)
    with pytest.raises(ValueError, match="no mass"):
        focus_scores(np.zeros((1, 4, 4)), m)
    with pytest.raises(ValueError, match="Frames"):
        focus_scores(np.ones((1, 4, 4)), m, frames=[3])
    with pytest.raises(ValueError, match="Labels"):
        structure_mask(np.zeros((4, 4)))


def test_structure_mask_has_walls_valves_and_a_band_around_cavities():
    labels = np.full((1, 20, 20), LABEL_IDS["extracardiac_tissue"], np.int64)
    labels[0, 5:15, 2:8] = LABEL_IDS["lv_cavity"]
    labels[0, 5:15, 8:10] = LABEL_IDS["septum"]
    labels[0, 16, 2:8] = LABEL_IDS["mitral_valve"]
    band = chamber_borders(labels, band=1)
    assert band[0, 5, 4] and band[0, 4, 4] and band[0, 14, 4] and band[0, 15, 4]   # either side of the edge
    assert not band[0, 10, 4] and not band[0, 2, 4]                                # centre and far away
    s = structure_mask(labels, band=1)
    assert s[0, 10, 9] and s[0, 16, 5] and s[0, 10, 5 - 4] and not s[0, 10, 5]
    assert not s[0, 0, 0]


def test_tracing_structures_is_the_lv_border():
    band = tracing_structures(lv_tracing(15.0), 112, 112)
    assert band[23, 56] and band[22, 56]                     # apex chord of the traced LV (rows 23..87)
    assert band[55, 41] and not band[55, 56] and not band[55, 5]   # lateral edge, not the cavity


class Planted(nn.Module):
    """EF = 50 + 10 x the mean of channel 0 over tokens 0 .. 3 (the first four tubelets of slot 0)."""
    def forward(self, x):
        return 50.0 + 10.0 * x[:, 0:2, 0, 0:16, 0:64].mean((1, 2, 3))

    @torch.no_grad()
    def batched(self, x):
        return self(x).float()


GRID, TUBELET, PATCH = (4, 4, 4), 2, 16


def test_perturbed_clips_and_auc():
    x = torch.randn(1, 8, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    fr, dele = perturbed_clips(x, np.arange(64), GRID, TUBELET, PATCH, "deletion", 4)
    assert fr.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert torch.equal(dele[0], x[0]) and torch.equal(dele[-1], black_like(x)[0])
    assert torch.equal(dele[1][:2, :, :16], black_like(x)[0, :2, :, :16]) and torch.equal(dele[1][2:], x[0, 2:])
    _, ins = perturbed_clips(x, np.arange(64), GRID, TUBELET, PATCH, "insertion", 4)
    assert torch.equal(ins[0], black_like(x)[0]) and torch.equal(ins[-1], x[0])
    assert auc(np.array([0, 0.5, 1]), np.array([0, 1, 1])) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="permutation"):
        perturbed_clips(x, np.arange(63), GRID, TUBELET, PATCH, "deletion", 4)
    with pytest.raises(ValueError, match="mode"):
        perturbed_clips(x, np.arange(64), GRID, TUBELET, PATCH, "erase", 4)


def test_faithful_map_beats_random_and_an_inverted_one_does_not():
    x = 1.0 + torch.rand(1, 8, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    f = Planted()
    good = np.zeros(64)
    good[:4] = [4, 3, 2, 1]
    rand = random_aucs(f.batched, x, GRID, TUBELET, PATCH, steps=16, seeds=(0, 1, 2, 3))
    res = faithfulness(f.batched, x, good, GRID, TUBELET, PATCH, steps=16, random=rand)
    assert res["deletion"]["verdict"] == BETTER and res["insertion"]["verdict"] == BETTER
    assert res["deletion"]["auc"] > res["deletion"]["random_mean"]
    bad = faithfulness(f.batched, x, -good, GRID, TUBELET, PATCH, steps=16, random=rand)
    assert bad["deletion"]["verdict"] == NOT_BETTER and bad["insertion"]["verdict"] == NOT_BETTER
    assert importance_order(good)[:4].tolist() == [0, 1, 2, 3]
    for m in ("deletion", "insertion"):                 # each mode's baseline from its own curve of each random order
        order = np.random.default_rng(2).permutation(64)
        assert rand[m][2] == pytest.approx(auc(*curve(f.batched, x, order, GRID, TUBELET, PATCH, m, 16)))
    assert rand["deletion"] != rand["insertion"]


def test_a_flat_map_ranks_no_token_by_its_place():
    """Ties are not broken by raster order: a constant map would otherwise delete the planted tokens (0 .. 3, the
    first slot's top row) first and be called faithful."""
    x = 1.0 + torch.rand(1, 8, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    flat = np.ones(64)
    order = importance_order(flat)
    assert sorted(order.tolist()) == list(range(64)) and order[:8].tolist() != list(range(8))
    assert np.array_equal(order, importance_order(flat.reshape(GRID)))                  # fixed: one order per size
    tied_top = np.zeros(64)
    tied_top[[40, 7, 20]] = [2.0, 1.0, 1.0]                 # the strict maximum first, then the tie among two
    assert importance_order(tied_top)[0] == 40 and set(importance_order(tied_top)[1:3].tolist()) == {7, 20}
    f = Planted()
    res = faithfulness(f.batched, x, flat, GRID, TUBELET, PATCH, steps=16, seeds=(0, 1, 2, 3))
    assert res["deletion"]["verdict"] == NOT_BETTER


def test_a_map_inside_the_random_spread_is_not_called_better():
    """Better than random means past the random mean by more than its spread, in each mode's direction: more EF
    change when deleting, less when inserting."""
    random = [0.9, 1.0, 1.1]                                                # mean 1.0, std 0.082
    assert verdict(1.05, random, "deletion") == NOT_BETTER and verdict(1.2, random, "deletion") == BETTER
    assert verdict(0.95, random, "insertion") == NOT_BETTER and verdict(0.8, random, "insertion") == BETTER
    assert verdict(0.8, random, "deletion") == NOT_BETTER and verdict(1.2, random, "insertion") == NOT_BETTER
