"""VideoMAE's pixel targets (norm-pix and plain) and our reconstruction, checked by hand on a tiny clip."""
from dataclasses import replace

import pytest
import torch
from transformers import VideoMAEConfig

from model_zoo.mae import MAE, mae_config, patchify, pixel_targets, reconstruct, unpatchify
from model_zoo.recipes import get_recipe

MEAN = torch.tensor([0.485, 0.456, 0.406])
STD = torch.tensor([0.229, 0.224, 0.225])


def tiny_mae(norm_pix_loss=True, **recipe):
    """2 frames x 4 px, patch 2, tubelet 2: 4 tokens of 2 * 2 * 2 * 3 = 24 values. Decoder head
    outputs its bias only, so its prediction for every hidden patch is known."""
    config = VideoMAEConfig(image_size=4, patch_size=2, num_frames=2, tubelet_size=2, hidden_size=12,
                            num_hidden_layers=1, num_attention_heads=3, intermediate_size=24,
                            decoder_hidden_size=6, decoder_num_hidden_layers=1, decoder_num_attention_heads=3,
                            decoder_intermediate_size=12, use_mean_pooling=False,
                            norm_pix_loss=norm_pix_loss)
    model = MAE(get_recipe("smoke", **recipe), config).eval()
    bias = torch.linspace(-1, 1, 24)
    with torch.no_grad():
        model.net.decoder.head.weight.zero_()
        model.net.decoder.head.bias.copy_(bias)
    return model, bias


def raw_clip():
    g = torch.Generator().manual_seed(0)
    return torch.rand(1, 2, 3, 4, 4, generator=g)            # (B, T, C, H, W) pixels in [0, 1]


def hand_target(raw, token):
    """Norm-pix target of one token, by loops: values ordered (t, y, x, channel)."""
    i, j = divmod(token, 2)
    out = []
    for t in range(2):
        for y in range(2):
            for x in range(2):
                for c in range(3):
                    out.append(raw[0, t, c, 2 * i + y, 2 * j + x].item())
    v = torch.tensor(out).view(8, 3)
    return ((v - v.mean(0)) / (v.std(0, unbiased=True) + 1e-6)).flatten(), v


def test_norm_pix_targets_by_hand():
    model, bias = tiny_mae()
    raw = raw_clip()
    x = (raw - MEAN[None, None, :, None, None]) / STD[None, None, :, None, None]  # ImageNet-normalised
    mask = torch.tensor([[False, True, False, True]])
    with torch.no_grad():
        loss = model.loss(x, mask)[0]
    expected = torch.stack([(bias - hand_target(raw, k)[0]) ** 2 for k in (1, 3)]).mean()
    assert torch.allclose(loss, expected, atol=1e-5)
    assert torch.allclose(loss, model.net(x, bool_masked_pos=mask).loss, atol=1e-6)     # VideoMAE's own loss


def test_reconstruct_unnormalises_with_the_true_patch_statistics():
    model, bias = tiny_mae()
    raw = raw_clip()
    x = (raw - MEAN[None, None, :, None, None]) / STD[None, None, :, None, None]
    mask = torch.tensor([[False, True, False, False]])
    out = reconstruct(model.net, x, mask)
    assert out.shape == x.shape
    _, v = hand_target(raw, 1)                                 # (8, 3) true pixels of token 1
    pixels = bias.view(8, 3) * (v.std(0, unbiased=True) + 1e-6) + v.mean(0)   # back to [0, 1]
    got = patchify(out * STD[None, None, :, None, None] + MEAN[None, None, :, None, None], 2, 2)  # (1, 4, 8, 3)
    assert torch.allclose(got[0, 1], pixels, atol=1e-5)
    visible = [0, 2, 3]
    assert torch.allclose(got[0, visible], patchify(raw, 2, 2)[0, visible], atol=1e-5)


def test_plain_pixel_targets_by_hand():
    """norm_pix_loss off: the target is the hidden patch's own pixels in [0, 1], and reconstruction
    puts the decoder's output in place as it is."""
    model, bias = tiny_mae(norm_pix_loss=False)
    raw = raw_clip()
    x = (raw - MEAN[None, None, :, None, None]) / STD[None, None, :, None, None]
    mask = torch.tensor([[False, True, False, True]])
    with torch.no_grad():
        loss = model.loss(x, mask)[0]
    expected = torch.stack([(bias - hand_target(raw, k)[1].flatten()) ** 2 for k in (1, 3)]).mean()
    assert torch.allclose(loss, expected, atol=1e-5)
    assert torch.allclose(loss, model.net(x, bool_masked_pos=mask).loss, atol=1e-6)     # VideoMAE's own loss
    out = reconstruct(model.net, x, mask)
    got = patchify(out * STD[None, None, :, None, None] + MEAN[None, None, :, None, None], 2, 2)  # (1, 4, 8, 3)
    assert torch.allclose(got[0, 1], bias.view(8, 3), atol=1e-5)


def normalised(raw):
    return (raw - MEAN[None, None, :, None, None]) / STD[None, None, :, None, None]


def test_a_denoising_mae_reads_the_first_view_and_reconstructs_the_seconds_pixels():
    """acq_clean_targets: two views a clip; the encoder reads view 0 and the targets are view 1's hidden
    patches, computed as VideoMAE computes its own labels (equal to its loss when the views agree)."""
    for norm_pix in (True, False):
        model, bias = tiny_mae(norm_pix, acq_jitter=1.0, acq_clean_targets=True)
        assert model.views == 2 and tiny_mae(norm_pix, acq_jitter=1.0)[0].views == 1
        read, clean = raw_clip().flip(-1) ** 2, raw_clip()              # the view read, the clean one
        x = torch.stack([normalised(read), normalised(clean)], 1)       # (B, 2, T, C, H, W)
        mask = torch.tensor([[False, True, False, True]])
        seen = []
        hook = model.net.videomae.embeddings.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
        with torch.no_grad():
            loss = model.loss(x, mask)[0]
            own = model.net(x[:, 1], bool_masked_pos=mask).loss         # VideoMAE's loss on the clean view
        hook.remove()
        assert torch.equal(seen[0], x[:, 0])
        target = (lambda k: hand_target(clean, k)[0]) if norm_pix else (lambda k: hand_target(clean, k)[1].flatten())
        expected = torch.stack([(bias - target(k)) ** 2 for k in (1, 3)]).mean()
        assert torch.allclose(loss, expected, atol=1e-5) and torch.allclose(own, expected, atol=1e-5)
        with torch.no_grad():
            assert not torch.allclose(model.loss(x[:, [0, 0]], mask)[0], expected, atol=1e-3)
    with pytest.raises(ValueError, match="jepa_target_blur"):
        MAE(get_recipe("smoke", acq_jitter=1.0, acq_clean_targets=True, jepa_target_blur=3.0))
    grey = replace(mae_config(get_recipe("smoke")), num_channels=1, norm_pix_loss=False)
    with pytest.raises(ValueError, match="plain-pixel targets need 3 channels"):   # as VideoMAE refuses them
        pixel_targets(grey, torch.zeros(1, 2, 1, 4, 4), torch.ones(1, 4, dtype=torch.bool))


def test_the_recipe_sets_the_pixel_target():
    assert mae_config(get_recipe("smoke")).norm_pix_loss is True
    assert mae_config(replace(get_recipe("smoke"), mae_norm_pix_loss=False)).norm_pix_loss is False
    assert mae_config(get_recipe("small_frozen_patch_jitter_gain_norm_plain_pix")).norm_pix_loss is False


def test_patchify_round_trip():
    video = torch.randn(2, 8, 3, 64, 64)
    patches = patchify(video, 2, 16)
    assert patches.shape == (2, 64, 2 * 16 * 16, 3)
    assert torch.equal(unpatchify(patches, (4, 4, 4), 2, 16), video)


def test_tube_masking_ratio_from_the_recipe():
    model = MAE(get_recipe("smoke"))
    mask = model.sample_masks(3, torch.Generator().manual_seed(0))
    assert mask.shape == (3, 64) and (mask.sum(1) == 4 * int(0.9 * 16)).all()
