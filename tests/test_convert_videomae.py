"""VideoMAE native checkpoints (MCG-NJU): converted tokens equal a hand-written forward from the native
tensors (sinusoid positions regenerated, q_bias/v_bias with no key bias); the decoder reconstructs."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import model_zoo
from tests.builders import videomae_checkpoint

OVR = {"frames": 4, "size": 32, "heads": 2, "decoder_heads": 2}


def sinusoid(n: int, d: int) -> torch.Tensor:
    """VideoMAE's table: angle pos / 10000^(2 (j // 2) / d), sine on even j, cosine on odd j. (1, n, d)"""
    table = np.zeros((n, d))
    for pos in range(n):
        for j in range(d):
            angle = pos / 10000 ** (2 * (j // 2) / d)
            table[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return torch.tensor(table, dtype=torch.float32)[None]


def reference_tokens(state: dict, x: torch.Tensor, heads=2, final_norm=True, eps=1e-6) -> torch.Tensor:
    s = {k.removeprefix("encoder."): v for k, v in state.items()}
    w = s["patch_embed.proj.weight"]
    d, t, p = w.shape[0], w.shape[2], w.shape[3]
    h = F.conv3d(x.permute(0, 2, 1, 3, 4), w, s["patch_embed.proj.bias"], stride=(t, p, p)).flatten(2).transpose(1, 2)
    n, hd = h.shape[1], d // heads
    h = h + sinusoid(n, d)
    depth = len({k.split(".")[1] for k in s if k.startswith("blocks.")})
    for i in range(depth):
        b = f"blocks.{i}."
        y = F.layer_norm(h, (d,), s[b + "norm1.weight"], s[b + "norm1.bias"], eps)
        bias = torch.cat([s[b + "attn.q_bias"], torch.zeros(d), s[b + "attn.v_bias"]])   # VideoMAE: no key bias
        q, k, v = (y @ s[b + "attn.qkv.weight"].T + bias).reshape(1, n, 3, heads, hd).permute(2, 0, 3, 1, 4)
        o = (torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1) @ v).transpose(1, 2).reshape(1, n, d)
        h = h + o @ s[b + "attn.proj.weight"].T + s[b + "attn.proj.bias"]
        y = F.gelu(F.layer_norm(h, (d,), s[b + "norm2.weight"], s[b + "norm2.bias"], eps) @ s[b + "mlp.fc1.weight"].T
                   + s[b + "mlp.fc1.bias"])
        h = h + y @ s[b + "mlp.fc2.weight"].T + s[b + "mlp.fc2.bias"]
    return F.layer_norm(h, (d,), s["norm.weight"], s["norm.bias"], eps) if final_norm else h


def clip():
    return torch.randn(1, 4, 3, 32, 32, generator=torch.Generator().manual_seed(2))


def test_pretraining_checkpoint_tokens_and_reconstruction(tmp_path):
    ckpt = videomae_checkpoint()
    torch.save(ckpt, tmp_path / "videomae_pretrain.pth")
    m = model_zoo.load(tmp_path / "videomae_pretrain.pth", device="cpu", overrides=OVR)
    assert (m.family, m.grid, m.card["format"]) == ("mae", (2, 2, 2), "videomae-native")
    assert "decoder 16d x 1" in m.card["architecture"]
    x = clip()
    assert torch.allclose(m.tokens(x), reference_tokens(ckpt["model"], x), atol=1e-5)
    assert torch.equal(m.net.decoder.head.weight, ckpt["model"]["decoder.head.weight"])
    mask = torch.tensor([True, False] * 4)
    out = m.reconstruct(x, mask)
    assert out.shape == x.shape
    assert torch.allclose(out[:, 0:2, :, 0:16, 16:32], x[:, 0:2, :, 0:16, 16:32], atol=1e-5)   # token 1: visible
    assert not torch.allclose(out[:, 0:2, :, 0:16, 0:16], x[:, 0:2, :, 0:16, 0:16], atol=1e-3)  # token 0: decoded


def test_finetuned_checkpoint_is_an_encoder_without_final_norm(tmp_path):
    ckpt = videomae_checkpoint(finetuned=True)
    torch.save(ckpt, tmp_path / "videomae_ft.pth")
    m = model_zoo.load(tmp_path / "videomae_ft.pth", device="cpu", overrides=OVR)
    assert sorted(m.card["conversion"]["ignored"]) == ["fc_norm.bias", "fc_norm.weight", "head.bias", "head.weight"]
    assert "encoder only" in m.card["architecture"]
    assert torch.allclose(m.tokens(clip()), reference_tokens(ckpt["module"], clip(), final_norm=False), atol=1e-5)
    with pytest.raises(ValueError, match="no MAE decoder"):
        m.reconstruct(clip(), torch.tensor([True, False] * 4))


def test_learned_positions_are_refused(tmp_path):
    ckpt = videomae_checkpoint()
    ckpt["model"]["encoder.pos_embed"] = torch.zeros(1, 8, 32)
    torch.save(ckpt, tmp_path / "learned.pth")
    with pytest.raises(ValueError, match="learned pos_embed"):
        model_zoo.load(tmp_path / "learned.pth", device="cpu", overrides=OVR)


def test_a_training_checkpoint_with_its_arguments_loads_at_their_frames_and_size(tmp_path):
    """VideoMAE's save_model stores {'model', 'optimizer', 'epoch', 'scaler', 'args'} with args an argparse.Namespace:
    the weights-only load refused every such checkpoint for that one global. It is allowed (attributes only), and
    args.num_frames / args.input_size replace the assumed 16 x 224; any other global in it is still refused."""
    import argparse
    from model_zoo.convert.safety import UnsafeCheckpointError
    ckpt = {**videomae_checkpoint(), "epoch": 799, "scaler": {"scale": 65536.0},
            "args": argparse.Namespace(model="pretrain_videomae_small", mask_ratio=0.9, num_frames=4, input_size=32)}
    torch.save(ckpt, tmp_path / "checkpoint-799.pth")
    m = model_zoo.load(tmp_path / "checkpoint-799.pth", device="cpu", overrides={"heads": 2, "decoder_heads": 2})
    assert m.grid == (2, 2, 2)                                        # 4 frames of 32 px, as trained
    notes = m.card["conversion"]["notes"]
    assert "frames 4 from the checkpoint's training arguments (args.num_frames)" in notes
    assert "size 32 from the checkpoint's training arguments (args.input_size)" in notes
    assert not [n for n in notes if n.startswith(("frames", "size")) and "assumed" in n]
    assert torch.allclose(m.tokens(clip()), reference_tokens(ckpt["model"], clip()), atol=1e-5)
    ckpt["args"] = argparse.Namespace(num_frames=4, input_size=32, hook=print)       # a function among them
    torch.save(ckpt, tmp_path / "hooked.pth")
    with pytest.raises(UnsafeCheckpointError, match="print") as refused:
        model_zoo.load(tmp_path / "hooked.pth", device="cpu", overrides={"heads": 2, "decoder_heads": 2})
    assert "argparse.Namespace" not in str(refused.value)                      # allowed, so not named as refused



def test_a_videomae_is_refused_at_a_size_other_than_the_one_it_was_trained_at(tmp_path):
    """VideoMAE's sinusoid table runs over the flat token index: at another crop size each token read another
    place's position (at 112 px a token of row 1 got the row meant for column 7 at 224), and an override of the
    size was taken in silence; the training size is kept now, whether the checkpoint's arguments or an HF config
    give it, and where neither does the note says what an assumed size risks."""
    import argparse
    from tests.test_convert_hf import tiny_videomae
    ckpt = {**videomae_checkpoint(), "args": argparse.Namespace(num_frames=4, input_size=32)}
    torch.save(ckpt, tmp_path / "trained32.pth")
    with pytest.raises(ValueError, match="trained at 32 px .*args.input_size.* at 64 px .*load it at 32 px"):
        model_zoo.load(tmp_path / "trained32.pth", device="cpu", overrides={"heads": 2, "decoder_heads": 2, "size": 64})
    assert model_zoo.load(tmp_path / "trained32.pth", device="cpu",
                          overrides={"heads": 2, "decoder_heads": 2, "size": 32, "frames": 8}).grid == (4, 2, 2)
    tiny_videomae().save_pretrained(tmp_path / "hf")
    with pytest.raises(ValueError, match="trained at 32 px \\(its config.json's image_size\\)"):
        model_zoo.load(tmp_path / "hf", device="cpu", overrides={"size": 64})
    torch.save(videomae_checkpoint(), tmp_path / "bare.pth")                         # no arguments: 224 assumed
    notes = model_zoo.load(tmp_path / "bare.pth", device="cpu", overrides={"heads": 2, "decoder_heads": 2,
                                                                          "frames": 4}).card["conversion"]["notes"]
    assert any(n.startswith("size 224 assumed") and "--size N gives its own" in n for n in notes)

def test_a_pytorch_lightning_checkpoint_loads_from_its_state_dict(tmp_path):
    """Lightning saves {'state_dict': {'<attribute>.<key>'}, 'pytorch-lightning_version', 'epoch', ...}: refused as an
    unrecognised layout before; its state dict is read, the attribute's prefix removed and said."""
    state = videomae_checkpoint()["model"]
    torch.save({"state_dict": {f"model.{k}": v for k, v in state.items()}, "epoch": 10, "global_step": 1000,
                "pytorch-lightning_version": "2.4.0", "hyper_parameters": {"lr": 1e-4}}, tmp_path / "last.ckpt")
    m = model_zoo.load(tmp_path / "last.ckpt", device="cpu", overrides=OVR)
    assert m.family == "mae" and m.card["conversion"]["notes"][0] == (
        "a PyTorch Lightning checkpoint: its state_dict read, prefix 'model.' removed")
    assert torch.allclose(m.tokens(clip()), reference_tokens(state, clip()), atol=1e-5)


def test_decoder_heads_follow_videomaes_own_decoders():
    """VideoMAE-H's decoder is 640 wide with 8 heads (modeling_pretrain.py); 64-wide heads gave it 10."""
    from model_zoo.convert.videomae import DECODER_HEADS, make_config
    state = videomae_checkpoint(dec=640)["model"]
    state = {k[len("encoder."):] if k.startswith("encoder.") else k: v for k, v in state.items()}
    config, notes = make_config(state, {"frames": 4, "size": 32, "heads": 2})
    assert DECODER_HEADS[640] == config.decoder_num_attention_heads == 8
    assert "8 decoder heads assumed for width 640" in notes


def test_the_giants_head_counts_follow_their_family():
    """One table of width -> heads served both families: VideoMAE V2's giant (1408 wide, 16 heads) got V-JEPA 2's
    22, and V-JEPA 2's gigantic (1664 wide, 26 heads) got 16; a wrong count splits attention and RoPE otherwise."""
    from model_zoo.convert import videomae
    from model_zoo.convert.infer import heads_for
    meta = lambda *s: torch.empty(*s, device="meta")                                    # noqa: E731
    state = {"patch_embed.proj.weight": meta(1408, 3, 2, 14, 14), "patch_embed.proj.bias": meta(1408),
             "norm.weight": meta(1408), "norm.bias": meta(1408)}
    for i in range(2):
        b = f"blocks.{i}."
        state.update({b + "attn.qkv.weight": meta(3 * 1408, 1408), b + "attn.q_bias": meta(1408),
                      b + "attn.v_bias": meta(1408), b + "mlp.fc1.weight": meta(6144, 1408)})
    config, notes = videomae.make_config(state, {})
    assert config.num_attention_heads == 16 and "16 heads assumed for width 1408" in notes
    assert videomae.make_config(state, {"heads": 22})[0].num_attention_heads == 22            # the override rules
    assert heads_for(1408) == 22 and heads_for(1664) == 26                               # V-JEPA 2's giants


def test_a_videomae_frame_count_not_whole_tubelets_is_refused_with_the_loaders_own_words(tmp_path):
    torch.save(videomae_checkpoint(), tmp_path / "bare.pth")
    with pytest.raises(ValueError, match="frames 5 is not a whole number of 2-frame tubelets: type a multiple of 2"):
        model_zoo.load(tmp_path / "bare.pth", device="cpu", overrides={"heads": 2, "decoder_heads": 2, "frames": 5,
                                                                       "size": 32})


def test_a_patch_convolution_that_is_not_a_video_vits_or_not_the_overrides_is_refused_by_name(tmp_path):
    """An image ViT's 4-D patch conv failed with Python's 'not enough values to unpack', and patch / tubelet
    overrides that contradict the tensors were ignored; both are refused as V-JEPA 2's are."""
    ckpt = videomae_checkpoint(finetuned=True)
    ckpt["module"]["patch_embed.proj.weight"] = torch.randn(32, 3, 16, 16)
    torch.save(ckpt, tmp_path / "image_vit.pth")
    with pytest.raises(ValueError, match=r"patch_embed.proj.weight has shape \(32, 3, 16, 16\): an image \(2D\) ViT"):
        model_zoo.load(tmp_path / "image_vit.pth", device="cpu", overrides=OVR)
    torch.save(videomae_checkpoint(), tmp_path / "mae.pth")
    for key, value in (("patch", 8), ("tubelet", 1)):
        with pytest.raises(ValueError, match=f"override {key}={value} contradicts patch_embed.proj.weight"):
            model_zoo.load(tmp_path / "mae.pth", device="cpu", overrides={**OVR, key: value})
