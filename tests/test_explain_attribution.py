"""Captum attributions and the app's entry point: the occlusion window is exactly one tubelet,
FeatureAblation with a tubelet mask equals it, IntegratedGradients is exact on a linear function,
the pretext losses match the training losses, and every error path says what is wrong."""
import numpy as np
import pytest
import torch
from torch import nn

from builders import tiny_probe, tiny_wrapper
from explain.attention_maps import METHODS, clip_map
from explain.attribution.baseline import black_like
from explain.attribution.feature_ablation import feature_ablation, group_mask, n_features
from explain.attribution.integrated_gradients import integrated_gradients
from explain.attribution.noise_tunnel import smoothgrad_ig
from explain.attribution.occlusion import occlusion
from explain.attribution.pretext import jepa_loss_fn, mae_loss_fn, pretext_attribution
from explain.ef_forward import EFForward
from model_zoo.jepa import JEPA
from model_zoo.recipes import get_recipe

GRID, TUBELET, PATCH = (4, 4, 4), 2, 16


class OnePixel(nn.Module):
    """EF = 2 x the value of one input pixel (frame 3, channel 1, row 37, column 50)."""
    def forward(self, x):
        return 2.0 * x[:, 3, 1, 37, 50]


class Linear(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = w

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1)


def clip(n=1, seed=1):
    return torch.randn(n, 8, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def test_occlusion_window_is_exactly_one_tubelet():
    x = clip()
    attr, info = occlusion(OnePixel(), x, TUBELET, PATCH)
    assert info["window"] == info["strides"] == [2, 3, 16, 16]
    nonzero = attr[0].abs().sum(1) > 0                           # (T, H, W)
    expected = torch.zeros(8, 64, 64, dtype=torch.bool)
    expected[2:4, 32:48, 48:64] = True                           # tubelet t'=1, h=2, w=3 holds (3, 37, 50)
    assert torch.equal(nonzero, expected)
    change = 2.0 * (x[0, 3, 1, 37, 50] - black_like(x)[0, 3, 1, 37, 50])
    assert torch.allclose(attr[0, 2:4, :, 32:48, 48:64], change.expand(2, 3, 16, 16))


def test_feature_ablation_with_tubelet_mask_equals_occlusion():
    wrapper, probe = tiny_wrapper("mae"), tiny_probe()
    f, x = EFForward(wrapper, probe), clip()
    occ, _ = occlusion(f, x, TUBELET, PATCH)
    abl, info = feature_ablation(f, x, GRID, TUBELET, PATCH)
    assert info["features"] == 64
    assert torch.allclose(occ, abl, atol=1e-5)
    assert occ.abs().sum() > 0
    coarse = group_mask(x.shape, GRID, TUBELET, PATCH, cells=(4, 2, 2))   # 4 spatial quadrants over all time
    assert coarse.max().item() == 3 and coarse[0, 7, 0, 63, 0].item() == 2
    assert n_features(GRID) == 64 and n_features(GRID, (4, 2, 2)) == 4
    odd = group_mask((1, 16, 3, 112, 112), (8, 7, 7), 2, 16, cells=(1, 2, 2))  # the shipped grid: last regions 1 wide
    assert odd.max().item() + 1 == n_features((8, 7, 7), (1, 2, 2)) == 128


def test_integrated_gradients_is_exact_on_a_linear_function():
    x = clip()
    w = torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    attr, info = integrated_gradients(Linear(w), x, n_steps=4, internal_batch_size=2)
    assert torch.allclose(attr, w * (x - black_like(x)), atol=1e-4)
    assert abs(info["convergence_delta"][0]) < 1e-2
    assert info["ef_change"][0] == pytest.approx(float((w * (x - black_like(x))).sum()), rel=1e-4)


def test_smoothgrad_reports_its_integrals_convergence_as_integrated_gradients_does():
    """Linear EF: every noisy copy's integral is exact, so the delta is ~0 and the EF change is what the
    averaged attributions add up to; a bumpy EF at one step leaves a delta the page can flag."""
    x = clip()
    w = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    attr, info = smoothgrad_ig(Linear(w), x, nt_samples=3, n_steps=4)
    assert info["convergence_delta"][0] < 1e-2 and info["ef_change"][0] == pytest.approx(float(attr.sum()), rel=1e-3)
    f = EFForward(tiny_wrapper("mae"), tiny_probe())
    state = torch.get_rng_state()
    first, bumpy = smoothgrad_ig(f, x, nt_samples=2, n_steps=1)
    assert bumpy["convergence_delta"][0] > 0 and len(bumpy["ef_change"]) == 1
    assert torch.equal(torch.get_rng_state(), state)                   # its noise is seeded apart from the caller's
    again, _ = smoothgrad_ig(f, x, nt_samples=2, n_steps=1)
    assert torch.equal(first, again)                                   # the same clip, the same map
    assert not torch.equal(first, smoothgrad_ig(f, x, nt_samples=2, n_steps=1, seed=1)[0])



def test_smoothgrad_gives_each_clip_its_own_deltas_and_noise_a_share_of_the_clips_range():
    """Captum joins the noisy copies' deltas copy by copy, so two clips' deltas were mixed when read as rows; and
    the fixed noise std of 0.2 was about 4% of a clip's range, where SmoothGrad's authors advise 10-20%."""
    f = EFForward(tiny_wrapper("mae"), tiny_probe())
    x = torch.randn(2, *clip().shape[1:], generator=torch.Generator().manual_seed(5))
    x[1] *= 0.3                                                        # two clips far apart: their deltas differ
    _, both = smoothgrad_ig(f, x, nt_samples=3, n_steps=1, stdev=0.0)
    for i in range(2):
        _, alone = smoothgrad_ig(f, x[i:i + 1], nt_samples=3, n_steps=1, stdev=0.0)
        assert both["convergence_delta"][i] == pytest.approx(alone["convergence_delta"][0], rel=1e-4, abs=1e-6)
        assert both["ef_change"][i] == pytest.approx(alone["ef_change"][0], rel=1e-4, abs=1e-6)
    one = clip()
    assert smoothgrad_ig(f, one, nt_samples=1, n_steps=1)[1]["stdev"] == pytest.approx(
        0.15 * float(one.max() - one.min()), abs=1e-4)

def test_pretext_losses_equal_the_training_losses():
    torch.manual_seed(0)
    jepa = JEPA(get_recipe("smoke")).eval()
    from model_zoo.wrapper import EncoderWrapper
    wrapper = EncoderWrapper("jepa", jepa.net, jepa.context_encoder, device="cpu")
    x = clip(2)
    loss, hidden = jepa_loss_fn(wrapper, torch.Generator().manual_seed(5), 2)
    masks = jepa.sample_masks(2, torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert float(loss(x)) == pytest.approx(float(jepa.loss(x, masks)[0]), rel=1e-5)
    union = torch.zeros(2, 64, dtype=torch.bool)
    for _, tgt in masks:
        union.scatter_(1, tgt, True)
    assert torch.equal(hidden, union)
    mae = tiny_wrapper("mae")
    loss, hidden = mae_loss_fn(mae, torch.Generator().manual_seed(5), 2)
    with torch.no_grad():
        assert float(loss(x)) == pytest.approx(float(mae.net(x, bool_masked_pos=hidden).loss), rel=1e-5)
    x[:, :, :, :32, :32] = black_like(x)[:, :, :, :32, :32]              # flat (black) tubelets, as outside a fan
    attr, _ = pretext_attribution(mae, x[:1], n_masks=2)
    assert torch.isfinite(attr).all() and attr.abs().sum() > 0


@pytest.mark.parametrize("family", ["jepa", "mae"])
def test_every_method_gives_a_finite_non_negative_grid_map(family):
    wrapper, probe, x = tiny_wrapper(family), tiny_probe(), clip()
    for method in METHODS:
        params = {"n_steps": 2} if method == "integrated_gradients" else \
                 {"nt_samples": 2, "n_steps": 2} if method == "smoothgrad" else {}
        m = clip_map(wrapper, x, method, probe=probe, **params)
        assert m.values.shape == GRID and m.method == method
        assert np.isfinite(m.values).all() and (m.values >= 0).all() and m.values.sum() > 0
        heat = m.frames((8, 64, 64))
        assert heat.shape == (8, 64, 64) and heat.min() == 0.0 and heat.max() == 1.0
    ig = clip_map(wrapper, x, "integrated_gradients", probe=probe, n_steps=2)
    assert len(ig.info["convergence_delta"]) == 1
    assert clip_map(wrapper, x, "rollout", probe=probe).info["readout"] == "probe"
    assert clip_map(wrapper, x, "rollout").info["readout"] == "mean"
    pre = clip_map(wrapper, x, "pretext", n_masks=1)
    assert 0.0 < pre.info["hidden_share"] < 1.0


def test_error_paths_name_the_problem():
    wrapper, x = tiny_wrapper("jepa"), clip()
    with pytest.raises(ValueError, match="Unknown method 'gradcam'"):
        clip_map(wrapper, x, "gradcam")
    for method in ("occlusion", "feature_ablation", "integrated_gradients", "smoothgrad"):
        with pytest.raises(ValueError, match="needs an EF probe"):
            clip_map(wrapper, x, method)
    with pytest.raises(ValueError, match="needs an EF probe"):
        clip_map(wrapper, x, "rollout", readout="probe")
    with pytest.raises(ValueError, match="query token"):
        clip_map(wrapper, x, "rollout", readout="token")
    with pytest.raises(ValueError, match="Unknown read-out"):
        clip_map(wrapper, x, "rollout", readout="max")
    with pytest.raises(ValueError, match=r"needs one clip shaped \(1, 8, C, 64, 64\)"):
        clip_map(wrapper, clip(2), "rollout")
    with pytest.raises(ValueError, match="needs one clip"):
        clip_map(wrapper, torch.zeros(1, 8, 3, 48, 48), "rollout")
    with pytest.raises(ValueError, match="1 or 3 channels"):
        black_like(torch.zeros(1, 8, 2, 64, 64))
    with pytest.raises(ValueError, match="whole number"):
        occlusion(OnePixel(), torch.zeros(1, 7, 3, 64, 64), TUBELET, PATCH)


def test_a_pretext_map_reports_its_hidden_area_and_how_well_two_halves_of_its_draws_agree():
    """'share of the attribution on the hidden boxes: 67%' was shown without the boxes' own share (about 90% of the
    tokens: an even map's), and two seeds' maps of the shipped MAE at 2 draws correlated at 0.15, read as one."""
    wrapper, x = tiny_wrapper("mae"), clip()
    _, info = pretext_attribution(wrapper, x, n_masks=4, seed=0)
    r = info["draw_agreement"]
    assert 0.0 < info["hidden_area"] < 1.0 and -1.0 <= r <= 1.0 and info["reliability"] == pytest.approx(2 * r / (1 + r))
    assert "draw_agreement" not in pretext_attribution(wrapper, x, n_masks=1)[1]        # one draw: no halves
    from explain.analysis.attention import TRUSTED_AGREEMENT, convergence_warning
    low = convergence_warning("pretext", {"draw_agreement": 0.09, "reliability": 0.17, "n_masks": 2})
    assert low.startswith("Unreliable: the map changes with the mask draws (the two halves of its 2 draws correlate at "
                          "0.09, the whole map's reliability 0.17")
    assert convergence_warning("pretext", {"draw_agreement": 0.42, "reliability": TRUSTED_AGREEMENT + 0.09}) is None


def test_a_rollout_or_the_papers_view_of_a_clip_of_another_size_is_refused_by_name():
    """attention_rollout of a clip 100 px high came back over 336 tokens, not the model's grid."""
    from explain.paper_attention import paper_attention
    from explain.rollout import attention_rollout
    wrapper = tiny_wrapper("jepa")
    t, h, w = wrapper.grid
    wrong = torch.zeros(2, t * wrapper.tubelet, 3, h * wrapper.patch - 4, w * wrapper.patch)
    for fn in (attention_rollout, paper_attention):
        with pytest.raises(ValueError, match=r"needs clips shaped \(B, "):
            fn(wrapper, wrong)
    assert attention_rollout(wrapper, clip(2)).shape == (2, t * h * w, t * h * w)        # a batch of the right size
