"""V-JEPA 2 / EchoJEPA native checkpoints: the converted model's tokens equal a forward pass written
by hand from the native tensors (Conv3d patches, 3D RoPE, attention, MLP), and bad ones are refused."""
import math

import pytest
import torch
import torch.nn.functional as F

import model_zoo
from model_zoo.convert.infer import strip_prefixes
from tests.builders import vjepa2_checkpoint

HEADS, FRAMES, SIZE = 2, 4, 32          # width 32: head dim 16, 4 dims each for t, h, w, 4 left as they are
OVR = {"frames": FRAMES, "size": SIZE, "heads": HEADS}


def rope(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """V-JEPA 2's rotation, element by element: dimension i of a d-wide slice turns with frequency
    10000^-(i mod d/2)/(d/2) (its frequencies repeat, they are not interleaved), paired as
    (x_2k, x_2k+1) -> (x_2k cos - x_2k+1 sin, x_2k+1 cos + x_2k sin)."""
    d = x.shape[-1]
    out = torch.empty_like(x)
    for i in range(d):
        angle = pos * 10000.0 ** (-(i % (d // 2)) / (d / 2))
        partner = -x[..., i + 1] if i % 2 == 0 else x[..., i - 1]
        out[..., i] = x[..., i] * torch.cos(angle) + partner * torch.sin(angle)
    return out


def reference_tokens(state: dict, x: torch.Tensor, heads=HEADS, eps=1e-6) -> torch.Tensor:
    """The native V-JEPA 2 encoder forward, written out. x (B, T, C, H, W) -> (B, N, D)"""
    s = strip_prefixes(state)
    w = s["patch_embed.proj.weight"]
    d, t, p = w.shape[0], w.shape[2], w.shape[3]
    h = F.conv3d(x.permute(0, 2, 1, 3, 4), w, s["patch_embed.proj.bias"], stride=(t, p, p))  # (B, D, T', H', W')
    gh, gw = h.shape[3], h.shape[4]
    h = h.flatten(2).transpose(1, 2)                                                  # (B, N, D)
    n, hd = h.shape[1], d // heads
    ids = torch.arange(n)
    pos = [(ids // (gh * gw)).float(), ((ids % (gh * gw)) // gw).float(), (ids % gw).float()]
    k3 = 2 * ((hd // 3) // 2)
    depth = len({k.split(".")[1] for k in s if k.startswith("blocks.")})
    for i in range(depth):
        b = f"blocks.{i}."
        y = F.layer_norm(h, (d,), s[b + "norm1.weight"], s[b + "norm1.bias"], eps)
        qkv = (y @ s[b + "attn.qkv.weight"].T + s[b + "attn.qkv.bias"]).reshape(1, n, 3, heads, hd)
        q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))                    # (B, heads, N, hd)
        for j, ps in enumerate(pos):
            sl = slice(j * k3, (j + 1) * k3)
            q[..., sl], k[..., sl] = rope(q[..., sl].clone(), ps), rope(k[..., sl].clone(), ps)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1)
        o = (a @ v).transpose(1, 2).reshape(1, n, d)
        h = h + o @ s[b + "attn.proj.weight"].T + s[b + "attn.proj.bias"]
        y = F.layer_norm(h, (d,), s[b + "norm2.weight"], s[b + "norm2.bias"], eps)
        y = F.gelu(y @ s[b + "mlp.fc1.weight"].T + s[b + "mlp.fc1.bias"])
        h = h + y @ s[b + "mlp.fc2.weight"].T + s[b + "mlp.fc2.bias"]
    return F.layer_norm(h, (d,), s["norm.weight"], s["norm.bias"], eps)


@pytest.fixture(scope="module")
def ckpt_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("vjepa") / "vitl.pt"
    torch.save(vjepa2_checkpoint(), path)
    return path


def clip(frames=FRAMES):
    return torch.randn(1, frames, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(5))


def test_target_encoder_tokens_equal_a_hand_written_forward(ckpt_path):
    ckpt = vjepa2_checkpoint()
    m = model_zoo.load(ckpt_path, device="cpu", overrides=OVR)
    assert (m.family, m.grid, m.name) == ("jepa", (2, 2, 2), "vitl")
    native = strip_prefixes(ckpt["target_encoder"])
    layer0 = m.encoder.layer[0].attention
    assert torch.equal(layer0.query.weight, native["blocks.0.attn.qkv.weight"][:32])
    assert torch.equal(layer0.value.bias, native["blocks.0.attn.qkv.bias"][64:])
    x = clip()
    ref = reference_tokens(ckpt["target_encoder"], x)
    assert torch.allclose(m.tokens(x), ref, atol=1e-5)
    assert not torch.allclose(m.tokens(x), reference_tokens(ckpt["encoder"], x), atol=1e-2)
    assert m.card["format"] == "vjepa2-native" and m.card["conversion"]["encoder_key"] == "target_encoder"
    assert len(m.attentions(x, fuse_heads="mean")) == 2


def test_context_encoder_on_request_and_fewer_frames(ckpt_path):
    ckpt = vjepa2_checkpoint()
    mc = model_zoo.load(ckpt_path, device="cpu", encoder="context", overrides=OVR)
    assert torch.allclose(mc.tokens(clip()), reference_tokens(ckpt["encoder"], clip()), atol=1e-5)
    m2 = model_zoo.load(ckpt_path, device="cpu", overrides={**OVR, "frames": 2})   # RoPE: any frames
    assert m2.grid == (1, 2, 2)
    assert torch.allclose(m2.tokens(clip(2)), reference_tokens(ckpt["target_encoder"], clip(2)), atol=1e-5)


def test_predictor_converts_and_its_absence_is_a_clear_error(ckpt_path, tmp_path):
    ckpt = vjepa2_checkpoint()
    m = model_zoo.load(ckpt_path, device="cpu", overrides={**OVR, "pred_heads": 2})
    pred = strip_prefixes(ckpt["predictor"])
    emb = m.net.predictor.embeddings
    assert torch.equal(emb.mask_tokens[1, 0, 0], pred["mask_tokens.1"].reshape(-1))
    assert torch.equal(m.net.predictor.layer[0].attention.key.weight, pred["predictor_blocks.0.attn.qkv.weight"][16:32])
    out, target = m.predict_latents(clip(), torch.tensor([[0, 1, 2, 3]]), torch.tensor([[4, 5, 6, 7]]))
    assert out.shape == target.shape == (1, 4, 32)
    torch.save(vjepa2_checkpoint(predictor=False), tmp_path / "enc.pt")
    bare = model_zoo.load(tmp_path / "enc.pt", device="cpu", overrides=OVR)
    assert "predictor 0" not in bare.card["architecture"] and "no predictor" in bare.card["architecture"]
    with pytest.raises(ValueError, match="no JEPA predictor.*no 'predictor'"):
        bare.predict_latents(clip(), torch.tensor([[0, 1]]), torch.tensor([[2, 3]]))


def test_vjepa1_pos_embed_is_refused(tmp_path):
    ckpt = vjepa2_checkpoint()
    ckpt["target_encoder"]["module.backbone.pos_embed"] = torch.zeros(1, 8, 32)
    torch.save(ckpt, tmp_path / "vjepa1.pth.tar")
    with pytest.raises(ValueError, match="pos_embed.*RoPE"):
        model_zoo.load(tmp_path / "vjepa1.pth.tar", device="cpu", overrides=OVR)


def test_missing_and_mismatched_keys_are_named(tmp_path):
    ckpt = vjepa2_checkpoint(predictor=False)
    del ckpt["target_encoder"]["module.backbone.blocks.1.norm2.weight"]
    ckpt["target_encoder"]["module.backbone.blocks.1.extra.weight"] = torch.zeros(3)
    torch.save(ckpt, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match=r"missing keys \['layer.1.norm2.weight'\].*'layer.1.extra.weight'"):
        model_zoo.load(tmp_path / "broken.pt", device="cpu", overrides=OVR)
    with pytest.warns(UserWarning, match="layer.1.norm2.weight"):
        m = model_zoo.load(tmp_path / "broken.pt", device="cpu", overrides=OVR, strict=False)
    assert m.card["conversion"]["missing"] == ["layer.1.norm2.weight"]
    ckpt = vjepa2_checkpoint(predictor=False)
    ckpt["target_encoder"]["module.backbone.blocks.1.mlp.fc1.weight"] = torch.zeros(64, 32)
    torch.save(ckpt, tmp_path / "wide.pt")
    with pytest.raises(ValueError, match=r"layer.1.mlp.fc1.weight: checkpoint \(64, 32\) vs model \(128, 32\)"):
        model_zoo.load(tmp_path / "wide.pt", device="cpu", overrides=OVR)
    with pytest.raises(ValueError, match="heads"):
        model_zoo.load(tmp_path / "wide.pt", device="cpu", overrides={**OVR, "heads": 3})
    with pytest.raises(ValueError, match="contradicts"):
        model_zoo.load(tmp_path / "wide.pt", device="cpu", overrides={**OVR, "patch": 8})


def test_a_config_whose_layer_count_is_not_the_weights_is_refused_with_the_two_counts(tmp_path):
    """config.json saying 12 layers over 6 layers' weights listed eight missing keys and advised strict=False
    (the app has none, and following it gives six random layers), naming neither count."""
    import json
    import shutil
    from model_zoo.registry import SHIPPED
    folder = tmp_path / "jepa"
    shutil.copytree(SHIPPED / "jepa-small", folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 12}))
    with pytest.raises(ValueError, match=r"the config gives 12 blocks under 'encoder.layer', the weights hold 6: is "
                                         r"the config's layer count right\? \(96 missing keys"):
        model_zoo.load(folder)


def test_a_frame_count_not_whole_tubelets_is_refused_with_the_loaders_own_words(ckpt_path):
    """The converter and the loader said the same rule two ways ('3 frames x 32 px is not a whole number of 2x16
    tubelets', the loader's naming the frames box); both say it once now, with what to type."""
    with pytest.raises(ValueError, match="frames 3 is not a whole number of 2-frame tubelets: type a multiple of 2"
                                         r".*on the command line: --frames N; in Python: overrides=\{'frames': N\}"):
        model_zoo.load(ckpt_path, device="cpu", overrides={**OVR, "frames": 3})
    with pytest.raises(ValueError, match="size 40 px is not a whole number of 16-px patches"):
        model_zoo.load(ckpt_path, device="cpu", overrides={**OVR, "size": 40})


def test_a_predictor_of_none_is_no_predictor(tmp_path):
    """A checkpoint saved with predictor=None crashed (AttributeError); it is one without a predictor."""
    ckpt = vjepa2_checkpoint()
    ckpt["predictor"] = None
    torch.save(ckpt, tmp_path / "enc.pt")
    m = model_zoo.load(tmp_path / "enc.pt", device="cpu", overrides=OVR)
    with pytest.raises(ValueError, match="no JEPA predictor.*no 'predictor'"):
        m.predict_latents(clip(), torch.tensor([[0, 1]]), torch.tensor([[2, 3]]))
