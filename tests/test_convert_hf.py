"""Hugging Face folders: weights come back in float32 whatever dtype a folder stores, as native checkpoints' do, so
every model runs alike; a JEPA folder without a predictor loads with it marked absent, one that lost its predictor's
weights is still refused."""
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import VideoMAEConfig, VideoMAEForPreTraining, VJEPA2Config, VJEPA2Model

import model_zoo
from model_zoo.checkpoint import load_nets
from tests.builders import videomae_checkpoint, vjepa2_checkpoint

FRAMES, SIZE = 4, 32


def tiny_videomae() -> VideoMAEForPreTraining:
    torch.manual_seed(0)
    return VideoMAEForPreTraining(VideoMAEConfig(
        image_size=SIZE, patch_size=16, num_frames=FRAMES, tubelet_size=2, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64, decoder_hidden_size=16, decoder_num_hidden_layers=1,
        decoder_num_attention_heads=2, decoder_intermediate_size=32)).eval()


def tiny_vjepa2(**kw) -> VJEPA2Model:
    torch.manual_seed(0)
    return VJEPA2Model(VJEPA2Config(**{"crop_size": SIZE, "frames_per_clip": FRAMES, "hidden_size": 32,
                                       "num_hidden_layers": 1, "num_attention_heads": 2, "pred_hidden_size": 16,
                                       "pred_num_hidden_layers": 1, "pred_num_attention_heads": 2, **kw})).eval()


def clip() -> torch.Tensor:
    return torch.randn(1, FRAMES, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(3))   # (B, T, C, H, W)


def half(ckpt: dict, dtype: torch.dtype) -> dict:
    """A native checkpoint with every tensor of its state dicts stored in dtype."""
    return {k: {n: t.to(dtype) for n, t in v.items()} if isinstance(v, dict) and k != "opt" else v
            for k, v in ckpt.items()}


@pytest.mark.parametrize("family, dtype", [("mae", torch.float16), ("jepa", torch.bfloat16)])
def test_a_half_precision_folder_loads_and_runs_in_float32(tmp_path, family, dtype):
    """A float16 VideoMAE folder loaded, then its first forward raised 'Input type (float) and bias type (c10::Half)
    should be the same'; a bfloat16 V-JEPA 2 folder ran in bfloat16."""
    net = tiny_videomae() if family == "mae" else tiny_vjepa2()
    net.to(dtype).save_pretrained(tmp_path / "half")
    reference = net.float()                                 # the stored (rounded) weights, widened
    w = model_zoo.load(tmp_path / "half", device="cpu")
    assert {p.dtype for p in w.net.parameters()} == {torch.float32} and w.net.config.dtype == torch.float32
    x = clip()
    with torch.no_grad():
        tokens = w.tokens(x)                                # (1, 8, 32)
        ref = (reference.videomae if family == "mae" else reference.encoder)(x).last_hidden_state
    assert tokens.dtype == torch.float32 and torch.allclose(tokens, ref, atol=1e-5)
    assert w.attentions(x, fuse_heads="mean")[0].dtype == torch.float32
    if family == "mae":
        assert w.reconstruct(x, torch.arange(8) < 4).dtype == torch.float32
    assert {p.dtype for p in load_nets(tmp_path / "half")[1].parameters()} == {torch.float32}


@pytest.mark.parametrize("family, dtype", [("jepa", torch.float16), ("mae", torch.bfloat16)])
def test_a_half_precision_native_checkpoint_loads_in_float32_too(tmp_path, family, dtype):
    ckpt = vjepa2_checkpoint(width=64) if family == "jepa" else videomae_checkpoint(width=64, dec=64)
    torch.save(half(ckpt, dtype), tmp_path / "half.pt")
    w = model_zoo.load(tmp_path / "half.pt", device="cpu", overrides={"frames": FRAMES, "size": SIZE})
    assert {p.dtype for p in w.net.parameters()} == {torch.float32}
    assert w.tokens(clip()).dtype == torch.float32


def test_a_jepa_folder_without_a_predictor_loads_one_that_lost_its_predictor_weights_is_refused(tmp_path):
    """No predictor: config pred_num_hidden_layers 0 and no predictor weights (what export writes for a target encoder
    alone). A folder whose config has a predictor but whose weights lost it is not that: refused, naming the keys."""
    net = tiny_vjepa2(pred_num_hidden_layers=0)
    net.save_pretrained(tmp_path / "bare")
    weights = tmp_path / "bare" / "model.safetensors"
    save_file({k: v for k, v in load_file(weights).items() if not k.startswith("predictor.")}, str(weights))
    w = model_zoo.load(tmp_path / "bare", device="cpu")
    with torch.no_grad():
        assert torch.allclose(w.tokens(clip()), net.encoder(clip()).last_hidden_state, atol=1e-6)
    assert "predict_latents unavailable: bare holds no predictor" in w.card["conversion"]["notes"][0]
    with pytest.raises(ValueError, match="no JEPA predictor to predict latents with"):
        w.predict_hidden(clip(), torch.tensor([[0, 1]]), torch.tensor([[2, 3]]))
    tiny_vjepa2().save_pretrained(tmp_path / "lost")
    weights = tmp_path / "lost" / "model.safetensors"
    save_file({k: v for k, v in load_file(weights).items() if not k.startswith("predictor.")}, str(weights))
    with pytest.raises(ValueError, match=r"lost: missing keys \['predictor\."):
        model_zoo.load(tmp_path / "lost", device="cpu")


def test_a_videomae_folder_whose_config_names_no_architecture_is_read_from_its_weights(tmp_path):
    """A pretraining folder whose config.json lacks 'architectures' (older exports) was built as VideoMAEModel and
    refused for its decoder's keys; its decoder weights make it the pretraining model, so it reconstructs."""
    import json
    net = tiny_videomae()
    net.save_pretrained(tmp_path / "bare")
    config = json.loads((tmp_path / "bare" / "config.json").read_text())
    del config["architectures"]
    (tmp_path / "bare" / "config.json").write_text(json.dumps(config))
    w = model_zoo.load(tmp_path / "bare", device="cpu")
    assert isinstance(w.net, VideoMAEForPreTraining)
    assert any(n.startswith("VideoMAEForPreTraining read from the weights") for n in w.card["conversion"]["notes"])
    x = clip()
    with torch.no_grad():
        assert torch.allclose(w.tokens(x), net.videomae(x).last_hidden_state, atol=1e-5)
    assert w.reconstruct(x, torch.arange(8) < 4).shape == x.shape


def test_a_folder_normalised_otherwise_than_imagenet_says_so_among_its_assumptions(tmp_path):
    """EchoLens feeds every model ImageNet's mean and std; a folder whose preprocessor_config.json asks for others
    (0.5 / 0.5 here) loaded silently: its note now says so and shows beside the models line (assumed_notes)."""
    import json
    from model_zoo.registry import assumed_notes
    for name, mean, std in (("half", [0.5] * 3, [0.5] * 3), ("imagenet", [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])):
        tiny_videomae().save_pretrained(tmp_path / name)
        (tmp_path / name / "preprocessor_config.json").write_text(json.dumps({"image_mean": mean, "image_std": std}))
    said = assumed_notes(model_zoo.load(tmp_path / "half", device="cpu").card)
    assert said == ["ImageNet's normalisation assumed (mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]), not "
                    "its preprocessor_config.json's (mean [0.5, 0.5, 0.5], std [0.5, 0.5, 0.5]): inputs are scaled "
                    "otherwise than it was trained on"]
    assert assumed_notes(model_zoo.load(tmp_path / "imagenet", device="cpu").card) == []


def test_a_folder_of_sharded_pytorch_model_bin_files_loads(tmp_path):
    """Older transformers saved large models as pytorch_model-0000N-of-0000M.bin beside pytorch_model.bin.index.json:
    refused before ("no model.safetensors, shard index or pytorch_model.bin"); each shard is read weights-only and
    the folder loads as one file would."""
    import json
    net, folder = tiny_vjepa2(), tmp_path / "shards"
    net.config.save_pretrained(folder)
    state = net.state_dict()
    keys = list(state)
    shards = {"pytorch_model-00001-of-00002.bin": keys[: len(keys) // 2],
              "pytorch_model-00002-of-00002.bin": keys[len(keys) // 2:]}
    for name, part in shards.items():
        torch.save({k: state[k] for k in part}, folder / name)
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {k: name for name, part in shards.items() for k in part}}))
    w = model_zoo.load(folder, device="cpu")
    x = clip()
    with torch.no_grad():
        assert torch.allclose(w.tokens(x), net.encoder(x).last_hidden_state, atol=1e-6)


def test_a_vjepa2_classification_folders_head_reads_as_its_ef_probe(tmp_path):
    """A Hugging Face fine-tune (VJEPA2ForVideoClassification, one output) loaded as its encoder with the head
    ignored; given as the probe too, its attentive pooler (self-attention layers, then a cross-attention without an
    output projection) and classifier read EF as transformers computes them."""
    from transformers import VJEPA2ForVideoClassification
    torch.manual_seed(0)
    net = VJEPA2ForVideoClassification(VJEPA2Config(
        crop_size=SIZE, frames_per_clip=FRAMES, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        pred_hidden_size=16, pred_num_hidden_layers=1, pred_num_attention_heads=2, num_pooler_layers=2,
        num_labels=1)).eval()
    with torch.no_grad():                                          # random, not zero, so every tensor matters
        for p in net.pooler.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    net.save_pretrained(tmp_path / "ft")
    w = model_zoo.load(tmp_path / "ft", device="cpu", probe=tmp_path / "ft", overrides={"ef_mean": 55.0, "ef_std": 12.0})
    assert len(w.probe.blocks) == 2 and w.probe.meta["source"] == "V-JEPA eval classifier"
    assert any("export the folder with itself as the probe" in n for n in w.card["conversion"]["notes"])
    x = clip()
    with torch.no_grad():
        logits = net(pixel_values_videos=x).logits[:, 0]             # (B,)
        assert torch.allclose(w.probe.ef(w.tokens(x)), logits * 12.0 + 55.0, atol=1e-3)
    with pytest.raises(ValueError, match="holds no V-JEPA 2 attentive classification head"):
        model_zoo.load(tmp_path / "ft", device="cpu", probe=_plain_folder(tmp_path))


def _plain_folder(tmp_path):
    tiny_vjepa2().save_pretrained(tmp_path / "plain")
    return tmp_path / "plain"


def test_a_hugging_face_state_dict_without_its_config_is_named_so(tmp_path):
    """The shipped MAE's weights out of their folder were an 'unrecognised checkpoint layout' (only the first 8 keys,
    sorted, were looked at: all its decoder's), and a VJEPA2ForVideoClassification state dict was called a V-JEPA
    probe, whose advice then failed; both are Hugging Face state dicts wanting their config.json."""
    import shutil
    from transformers import VJEPA2ForVideoClassification
    from model_zoo.registry import SHIPPED
    shutil.copy(SHIPPED / "mae-small" / "model.safetensors", tmp_path / "mae.safetensors")
    torch.manual_seed(0)
    net = VJEPA2ForVideoClassification(VJEPA2Config(
        crop_size=SIZE, frames_per_clip=FRAMES, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        pred_hidden_size=16, pred_num_hidden_layers=1, pred_num_attention_heads=2, num_labels=1))
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp_path / "ft.safetensors")
    for name in ("mae.safetensors", "ft.safetensors"):
        with pytest.raises(ValueError, match="a Hugging Face state dict without its config.json"):
            model_zoo.load(tmp_path / name, device="cpu")
    tiny_vjepa2().save_pretrained(tmp_path / "enc")
    with pytest.raises(ValueError, match="VJEPA2ForVideoClassification state dict without its config.json.*folder"):
        model_zoo.load(tmp_path / "enc", device="cpu", probe=tmp_path / "ft.safetensors",
                       overrides={"ef_mean": 55.0, "ef_std": 12.0})


def test_a_videomae_folder_without_architectures_is_built_and_read_once(tmp_path, monkeypatch):
    """The class was found by building VideoMAEModel, reading the weights, and seeing decoder keys left over; then
    the pretraining model was built and the weights read again. The weight file's header names the decoder."""
    import json
    import shutil
    from transformers import VideoMAEModel
    from model_zoo.registry import SHIPPED
    folder = tmp_path / "mae"
    shutil.copytree(SHIPPED / "mae-small", folder)
    config = json.loads((folder / "config.json").read_text())
    del config["architectures"]
    (folder / "config.json").write_text(json.dumps(config))
    calls = []
    for cls in (VideoMAEForPreTraining, VideoMAEModel):
        read = cls.from_pretrained.__func__
        monkeypatch.setattr(cls, "from_pretrained", classmethod(
            lambda c, *a, read=read, **k: (calls.append(c.__name__), read(c, *a, **k))[1]))
    w = model_zoo.load(folder, device="cpu")
    assert calls == ["VideoMAEForPreTraining"]
    assert isinstance(w.net, VideoMAEForPreTraining) and w.net.decoder is not None


def test_a_folders_context_encoder_is_held_to_the_size_cap_the_weights_are(smoke_models, tmp_path):
    """context_encoder.safetensors was read whatever its size while model.safetensors beside it was capped
    (max_bytes): a file over the cap is now refused by name before it is read."""
    import shutil

    from model_zoo.checkpoint import CONTEXT_ENCODER
    from model_zoo.convert.hf import load_folder
    folder = tmp_path / "jepa"
    shutil.copytree(smoke_models[0], folder)
    cap = (folder / "model.safetensors").stat().st_size + 1
    context = load_file(str(folder / CONTEXT_ENCODER))
    save_file({**context, "padding": torch.zeros(cap // 4 + 1)}, str(folder / CONTEXT_ENCODER))
    with pytest.raises(ValueError, match=rf"{CONTEXT_ENCODER} is .* over the .* cap"):
        load_folder(folder, max_bytes=cap)
    save_file(context, str(folder / CONTEXT_ENCODER))
    assert load_folder(folder, max_bytes=cap)[2] is not None                     # within the cap: read
