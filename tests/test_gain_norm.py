"""Local gain normalisation (model_zoo.gain_norm): it cancels smooth gain fields, keeps the input's
layout, carries gradients, and every loaded copy of a model trained with it applies it, once."""
import numpy as np
import pytest
import torch

import model_zoo
from echo.degrade import depth_attenuation_map, shadow_map
from echo.preprocess import IMAGENET_MEAN, IMAGENET_STD
from model_zoo.checkpoint import export
from model_zoo.data import PhantomBatches
from model_zoo.evaluate.run import _encoders
from model_zoo.features import random_encoder
from explain.attribution.pretext import mae_loss_fn
from model_zoo import gain_norm
from model_zoo.gain_norm import blur_frames, gain_normalise
from model_zoo.jepa import JEPA, encode_context
from model_zoo.mae import MAE
from model_zoo.recipes import get_recipe

SIGMA = 0.05
MEAN = torch.tensor(IMAGENET_MEAN)[None, None, :, None, None]
STD = torch.tensor(IMAGENET_STD)[None, None, :, None, None]


def tissue(t=8, size=64, seed=0) -> torch.Tensor:
    """(1, T, H, W) grey on [0, 1]: speckle-like texture over bright tissue and a dark (blood) cavity."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    anatomy = 0.35 - 0.32 * ((x ** 2 + y ** 2) < 0.2).float()                      # (H, W)
    return (anatomy * (0.6 + 0.8 * torch.rand(t, size, size, generator=g)))[None]


def model_input(grey: torch.Tensor) -> torch.Tensor:
    """(B, T, H, W) on [0, 1] -> (B, T, 3, H, W) ImageNet-normalised, as echo.preprocess makes it."""
    return (grey[:, :, None].expand(-1, -1, 3, -1, -1) - MEAN) / STD


def unit(x: torch.Tensor) -> torch.Tensor:
    return (x * STD + MEAN).mean(2)


@pytest.mark.parametrize("field", ["depth", "shadow"])
def test_a_smooth_gain_field_cancels(field):
    grey = tissue()
    h, w = grey.shape[-2:]
    gain = depth_attenuation_map(h, w, rate=1.5) if field == "depth" else shadow_map(h, w, 0.6, 0.2, 0.2, 0.3, 0.3)
    dimmed = grey * torch.from_numpy(gain).float()
    before = (grey - dimmed).abs()[..., 8:-8, 8:-8].mean()
    clean, degraded = (unit(gain_normalise(model_input(g), SIGMA)) for g in (grey, dimmed))
    after = (clean - degraded).abs()[..., 8:-8, 8:-8].mean() / clean[..., 8:-8, 8:-8].mean() * grey.mean()
    assert before > 0.03                      # the field changed the clip by a lot
    assert after < 0.25 * before              # and the normalised clips hardly differ
    # a dark cavity stays darker than tissue (EPS keeps near-black from being raised to the local level)
    assert clean[..., 28:36, 28:36].mean() < 0.7 * clean[..., :, 2:10].mean()


def test_layout_channels_and_gradients():
    x = model_input(tissue()).requires_grad_()
    y = gain_normalise(x, SIGMA)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert torch.allclose(y[:, :, 0] * STD[0, 0, 0] + MEAN[0, 0, 0], y[:, :, 2] * STD[0, 0, 2] + MEAN[0, 0, 2], atol=1e-5)
    y.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    grey = model_input(tissue())[:, :, :1]                                         # one channel
    assert gain_normalise(grey, SIGMA).shape == grey.shape


@pytest.mark.parametrize("x, sigma, match", [(torch.zeros(1, 4, 3, 16, 16), 0.0, "sigma > 0"),
                                             (torch.zeros(4, 3, 16, 16), 0.05, r"\(B, T, C, H, W\)"),
                                             (torch.zeros(1, 4, 2, 16, 16), 0.05, "1 or 3 channels")])
def test_bad_arguments_are_named(x, sigma, match):
    with pytest.raises(ValueError, match=match):
        gain_normalise(x, sigma)


@pytest.fixture(scope="module")
def gain_folders(tmp_path_factory):
    torch.manual_seed(0)
    recipe = get_recipe("smoke", input_gain_norm=SIGMA)
    root = tmp_path_factory.mktemp("gain")
    jepa, mae = JEPA(recipe).eval(), MAE(recipe).eval()
    for name, net in (("jepa", jepa), ("mae", mae)):
        export(net, root / name, {"name": name, "method": name, "recipe": "smoke",
                                  "recipe_settings": recipe.to_dict(), "steps": 0})
    return root


@pytest.mark.parametrize("family", ["jepa", "mae"])
def test_a_loaded_model_normalises_every_clip_it_reads_once(gain_folders, family):
    x = model_input(tissue(seed=1).expand(2, -1, -1, -1).contiguous())
    m = model_zoo.load(gain_folders / family, device="cpu")
    plain = model_zoo.load(gain_folders / family, device="cpu")
    for handle in [plain.encoder.embeddings._gain_norm_hook] + (
            [plain.context_encoder.embeddings._gain_norm_hook] if family == "jepa" else []):
        handle.remove()
    expected = plain.tokens(gain_normalise(x, SIGMA))
    assert m.input_gain_norm == SIGMA and plain.input_gain_norm == SIGMA
    assert torch.allclose(m.tokens(x), expected, atol=1e-5)
    assert not torch.allclose(plain.tokens(x), expected, atol=1e-3)          # the hook did the work
    # loading again does not stack a second normalisation onto the same modules
    model_zoo.wrapper.EncoderWrapper(m.family, m.net, m.context_encoder, card=m.card)
    assert torch.allclose(m.tokens(x), expected, atol=1e-5)
    # the untrained baseline of this architecture reads the same normalised input
    rnd = random_encoder(m, 0)
    assert rnd.input_gain_norm == SIGMA
    if family == "jepa":                      # the masked context pass goes through the same embedding
        keep = torch.arange(0, 64, 2).expand(2, -1)
        with torch.no_grad():
            ours = encode_context(m.context_encoder, x, keep)
            ref = encode_context(plain.context_encoder, gain_normalise(x, SIGMA), keep)
        assert torch.allclose(ours, ref, atol=1e-5)


def test_a_model_without_the_option_reads_clips_as_given(gain_folders, tmp_path):
    m = model_zoo.load(gain_folders / "jepa", device="cpu")
    off = model_zoo.wrapper.EncoderWrapper("jepa", JEPA(get_recipe("smoke")).net, card=None)
    assert off.input_gain_norm == 0 and getattr(off.encoder.embeddings, "_gain_norm_hook", None) is None
    assert m.input_gain_norm == SIGMA
    x = model_input(tissue())
    assert off.seen(x) is x and torch.equal(m.seen(x), gain_normalise(x, SIGMA))


def test_pretraining_views_are_normalised_as_the_loaded_model_normalises():
    recipe = get_recipe("smoke", acq_jitter=0.5)
    off = PhantomBatches(recipe, views=2).sample(0)                               # (views, T, C, H, W)
    on = PhantomBatches(get_recipe("smoke", acq_jitter=0.5, input_gain_norm=SIGMA), views=2).sample(0)
    assert on.shape == off.shape
    assert torch.allclose(on, gain_normalise(off, SIGMA), atol=1e-5)
    assert not np.allclose(on.numpy(), off.numpy(), atol=1e-2)


def test_the_mae_pretext_loss_is_paid_on_the_clip_the_encoder_sees(gain_folders):
    x = model_input(tissue(seed=2).expand(2, -1, -1, -1).contiguous())
    m = model_zoo.load(gain_folders / "mae", device="cpu")
    assert torch.equal(m.seen(x), gain_normalise(x, SIGMA))
    loss_fn, mask = mae_loss_fn(m, torch.Generator().manual_seed(0), 2)
    m.encoder.embeddings._gain_norm_hook.remove()                # the bare network, fed what training fed it
    with torch.no_grad():
        trained_on = m.net(gain_normalise(x, SIGMA), bool_masked_pos=mask).loss
        raw_targets = m.net(x, bool_masked_pos=mask).loss
    gain_norm.attach([m.encoder.embeddings], SIGMA)
    with torch.no_grad():
        paid = loss_fn(x)
    # an untrained decoder pays about 1 on any unit-variance targets, so compare the gaps, not the losses
    assert abs(paid - trained_on) < 1e-5 and abs(paid - raw_targets) > 20 * abs(paid - trained_on) + 1e-5


def test_the_evaluation_adds_gain_normalised_pixels_beside_raw_ones(gain_folders):
    encoders, families, _ = _encoders([str(gain_folders / "jepa"), str(gain_folders / "mae")], 0, "cpu")
    assert list(encoders) == ["jepa", "mae", "random", "pixels", "pixels_gain_norm_0.05"]
    assert families["pixels_gain_norm_0.05"] == families["pixels"] == "pixels"
    assert encoders["random"].input_gain_norm == SIGMA and encoders["pixels"].gain_norm == 0
    x = model_input(tissue())
    assert torch.equal(encoders["pixels_gain_norm_0.05"].tokens(x), encoders["pixels"].tokens(gain_normalise(x, SIGMA)))


def test_a_lower_floor_cancels_more_of_a_deep_shadow_and_a_floor_must_be_positive():
    """The floor added to the local mean (eps) keeps a share of a deep gain field: tissue darkened to a fifth keeps
    about 0.3 * 0.2 / (0.3 * 0.2 + eps) of its level against 0.3 / (0.3 + eps) clean."""
    grey = tissue()
    h, w = grey.shape[-2:]
    dimmed = grey * torch.from_numpy(shadow_map(h, w, 0.8, 0.25, 0.25, 0.5, 0.5)).float()
    residual = {}
    for eps in (gain_norm.EPS, 0.005):
        clean, degraded = (unit(gain_normalise(model_input(g), SIGMA, eps)) for g in (grey, dimmed))
        centre = (slice(None), slice(None), slice(8, 56), slice(8, 56))
        residual[eps] = ((clean - degraded).abs()[centre].mean() / clean[centre].mean()).item()
    assert residual[0.005] < 0.8 * residual[gain_norm.EPS]            # 0.073 against 0.102 on this clip
    with pytest.raises(ValueError, match="floor eps > 0"):
        gain_normalise(model_input(grey), SIGMA, 0.0)


def test_a_recipes_floor_reaches_every_reader_of_its_clips(tmp_path):
    """Recipe.input_gain_eps: the training views, the loaded model (hooks and seen), its untrained baseline and
    the evaluation's gain-normalised pixels all divide by the same floor; a card that predates the field keeps
    model_zoo.gain_norm.EPS, the floor it trained with."""
    from model_zoo.recipes import Recipe
    assert Recipe(name="x").input_gain_eps == gain_norm.EPS
    recipe = get_recipe("smoke", acq_jitter=0.5, input_gain_norm=SIGMA, input_gain_eps=0.005)
    plain = PhantomBatches(get_recipe("smoke", acq_jitter=0.5), views=2).sample(0)
    assert torch.allclose(PhantomBatches(recipe, views=2).sample(0), gain_normalise(plain, SIGMA, 0.005), atol=1e-5)
    torch.manual_seed(0)
    settings = recipe.to_dict()
    export(JEPA(recipe).eval(), tmp_path / "low", {"name": "low", "method": "jepa", "recipe": "smoke",
                                                   "recipe_settings": settings, "steps": 0})
    del settings["input_gain_eps"]
    export(JEPA(recipe).eval(), tmp_path / "old", {"name": "old", "method": "jepa", "recipe": "smoke",
                                                   "recipe_settings": settings, "steps": 0})
    x = model_input(tissue(seed=3).expand(2, -1, -1, -1).contiguous())
    m = model_zoo.load(tmp_path / "low", device="cpu")
    assert m.input_gain_eps == 0.005 and torch.equal(m.seen(x), gain_normalise(x, SIGMA, 0.005))
    hooked = m.tokens(x)
    m.encoder.embeddings._gain_norm_hook.remove()
    assert torch.allclose(hooked, m.tokens(gain_normalise(x, SIGMA, 0.005)), atol=1e-5)
    assert random_encoder(m, 0).input_gain_eps == 0.005
    assert model_zoo.load(tmp_path / "old", device="cpu").input_gain_eps == gain_norm.EPS
    encoders, families, _ = _encoders([str(tmp_path / "low")], 0, "cpu")
    assert list(encoders) == ["low", "random", "pixels", "pixels_gain_norm_0.05_eps_0.005"]
    pixels = encoders["pixels_gain_norm_0.05_eps_0.005"]
    assert families[pixels.name] == "pixels"
    assert torch.equal(pixels.tokens(x), encoders["pixels"].tokens(gain_normalise(x, SIGMA, 0.005)))


def test_blur_frames_smooths_each_frame_keeps_a_flat_one_and_refuses_no_width():
    flat = torch.full((1, 2, 3, 16, 16), 0.7)
    assert torch.allclose(blur_frames(flat, 2.0), flat, atol=1e-6)
    x = torch.randn(1, 2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    blurred = blur_frames(x, 2.0)
    assert blurred.shape == x.shape and blurred.std() < 0.5 * x.std()
    assert torch.equal(blur_frames(x[:, :1], 2.0), blurred[:, :1])             # frame by frame
    with pytest.raises(ValueError, match="sigma > 0"):
        blur_frames(x, 0.0)
