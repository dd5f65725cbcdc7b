"""The registry finds checkpoint files and HF folders; format_models prints them; HF folders load strictly;
model_zoo.cost estimates a forward pass and picks fewer frames for a budget."""
import pytest
import torch
from safetensors.torch import save_file
from transformers import VJEPA2Config, VJEPA2Model

import model_zoo
from model_zoo.cost import advice, estimate, forward_gflops, suggest_frames
from model_zoo.registry import format_models, list_models
from tests.builders import videomae_checkpoint, vjepa2_checkpoint, vjepa_probe_checkpoint


def tiny_hf(folder):
    torch.manual_seed(0)
    net = VJEPA2Model(VJEPA2Config(crop_size=32, frames_per_clip=4, hidden_size=32, num_hidden_layers=1,
                                   num_attention_heads=2, pred_hidden_size=16, pred_num_hidden_layers=1,
                                   pred_num_attention_heads=2)).eval()
    net.save_pretrained(folder)
    return net


def test_list_and_format_checkpoints(tmp_path):
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "echojepa.pt")            # 64 wide: 1 head by the table
    torch.save(vjepa2_checkpoint(), tmp_path / "odd.pt")                          # 32 wide: heads unknown
    torch.save(videomae_checkpoint(width=64, dec=64), tmp_path / "videomae.pth")
    torch.save(vjepa_probe_checkpoint(), tmp_path / "probe.pth.tar")
    enc = {k.removeprefix("module.backbone."): v for k, v in vjepa2_checkpoint(width=64)["target_encoder"].items()}
    save_file(enc, str(tmp_path / "bare.safetensors"))
    (tmp_path / "notes.txt").write_text("not a model")
    tiny_hf(tmp_path / "hf-jepa")
    entries = {e["name"]: e for e in list_models([tmp_path])}
    assert {"jepa-small", "mae-small", "echojepa", "videomae", "probe", "bare", "hf-jepa", "odd"} == set(entries)
    assert entries["echojepa"]["family"] == "jepa" and entries["echojepa"]["format"] == "vjepa2-native"
    assert entries["echojepa"]["architecture"].startswith("ViT 64d x 2 layers, 1 heads; 16 frames x 224 px")
    assert entries["odd"]["family"] == "jepa" and "heads" in entries["odd"]["architecture"]
    assert "predictor 16d x 1" in entries["echojepa"]["architecture"]
    assert "no predictor" in entries["bare"]["architecture"]
    assert entries["videomae"]["family"] == "mae" and "decoder 64d x 1" in entries["videomae"]["architecture"]
    assert entries["probe"]["family"] == "probe"
    assert entries["hf-jepa"]["format"] == "hf-folder" and entries["hf-jepa"]["source"] == "local"
    table = format_models(list(entries.values())).splitlines()
    assert table[0].split() == ["name", "family", "architecture", "source/format", "path"]
    row = next(line for line in table if line.startswith("echojepa "))
    assert "local/vjepa2-native" in row and row.endswith(str(tmp_path / "echojepa.pt"))
    assert len(table) == 2 + len(entries)
    assert format_models([]) == "no models found"
    from model_zoo.registry import SHIPPED                                 # a folder given twice is listed once
    again = [e["path"] for e in list_models([tmp_path, str(tmp_path) + "/", SHIPPED])]
    assert len(again) == len(set(again)) == len(entries)
    m = model_zoo.load("echojepa", extra_dirs=[tmp_path], device="cpu", overrides={"frames": 4, "size": 32})
    assert m.name == "echojepa" and m.family == "jepa"


def test_hf_folder_loads_equal_and_refuses_unexpected_keys(tmp_path):
    net = tiny_hf(tmp_path / "hf")
    x = torch.randn(1, 4, 3, 32, 32)
    m = model_zoo.load(tmp_path / "hf", device="cpu")
    with torch.no_grad():
        assert torch.equal(m.tokens(x), net.encoder(x).last_hidden_state)
    assert m.card["format"] == "hf-folder"
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    state["encoder.layer.0.surprise.weight"] = torch.zeros(2)
    save_file(state, str(tmp_path / "hf" / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="unexpected keys.*surprise"):
        model_zoo.load(tmp_path / "hf", device="cpu")
    with pytest.raises(ValueError, match="does not apply"):
        model_zoo.load(tmp_path / "hf", device="cpu", overrides={"decoder_heads": 2})


@pytest.mark.parametrize("change, rule", [
    ({"crop_size": 40}, "crop_size 40 px is not a whole number of 16-px patches"),
    ({"frames_per_clip": 5}, "frames_per_clip 5 is not a whole number of 2-frame tubelets"),
    ({"in_chans": 1}, "1 input channel"),
])
def test_a_model_whose_input_the_app_cannot_build_is_refused_at_load_by_its_rule(tmp_path, change, rule):
    """Before: it loaded, then each view failed its own way ('needs one clip shaped (1, 16, C, 32, 32)')."""
    torch.manual_seed(0)
    config = dict(crop_size=32, frames_per_clip=4, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                  pred_hidden_size=16, pred_num_hidden_layers=1, pred_num_attention_heads=2)
    VJEPA2Model(VJEPA2Config(**{**config, **change})).save_pretrained(tmp_path / "odd")
    with pytest.raises(ValueError, match=rule):
        model_zoo.load(tmp_path / "odd", device="cpu")


@pytest.mark.parametrize("change, rule", [
    ({"patch_size": 0}, "patch_size 0 is not a positive whole number"),
    ({"hidden_size": "big"}, "config.json does not describe a jepa model: .*hidden_size"),
    ({"num_hidden_layers": 20000}, "num_hidden_layers 20000 is beyond what EchoLens builds"),
    ({"pred_num_hidden_layers": 20000}, "pred_num_hidden_layers 20000 is beyond what EchoLens builds"),
    ({"pred_hidden_size": -4}, "pred_hidden_size -4 is not a non-negative whole number"),
    ({"num_attention_heads": 3}, "hf: hidden_size 32 is not a multiple of num_attention_heads 3"),
    ({"pred_num_attention_heads": 3}, "pred_hidden_size 16 is not a multiple of pred_num_attention_heads 3.*"
                                      "'pred_heads'"),
])
def test_a_config_json_that_cannot_describe_a_buildable_model_is_refused_before_building(tmp_path, change, rule):
    """A patch of 0 divided by zero in the model list (the server did not start); 'big' failed inside transformers;
    20,000 layers built for 75 s and ran out of memory."""
    import json
    tiny_hf(tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    (tmp_path / "hf" / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(ValueError, match=rule):
        model_zoo.load(tmp_path / "hf", device="cpu")


def test_weights_that_do_not_fit_the_config_name_the_tensors(tmp_path):
    import json
    tiny_hf(tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    (tmp_path / "hf" / "config.json").write_text(json.dumps({**config, "hidden_size": 48}))
    with pytest.raises(ValueError, match=r"do not fit config.json .*is \(32,?.*\) in the weights, \(48"):
        model_zoo.load(tmp_path / "hf", device="cpu")


def test_one_bad_entry_in_a_models_folder_is_listed_with_its_reason_and_the_rest_still_listed(tmp_path):
    tiny_hf(tmp_path / "good")
    (tmp_path / "cut.safetensors").write_bytes(b"\xff" * 100)
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text('{"model_type": "vjepa2", "crop_size": 100}')
    (tmp_path / "terse").mkdir()                                    # transformers' defaults fill the rest
    (tmp_path / "terse" / "config.json").write_text('{"model_type": "videomae", "image_size": 112}')
    save_file({"x": torch.zeros(1)}, str(tmp_path / "terse" / "model.safetensors"))   # a whole file: listed
    entries = {e["name"]: e for e in list_models([tmp_path])}
    assert entries["good"]["family"] == "jepa" and entries["terse"]["family"] == "mae"
    # a config that divided by zero, failed inside transformers, or asked for a model no machine here builds
    for name, config in (("patch0", '{"model_type": "videomae", "patch_size": 0}'),
                         ("big", '{"model_type": "videomae", "hidden_size": "big"}'),
                         ("deep", '{"model_type": "vjepa2", "num_hidden_layers": 20000}'),
                         ("wide", '{"model_type": "vjepa2", "crop_size": 16384}')):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(config)
    tiny_hf(tmp_path / "weightless")                   # weights gone, or cut short: listed as healthy before
    (tmp_path / "weightless" / "model.safetensors").unlink()
    tiny_hf(tmp_path / "halved")
    whole = (tmp_path / "halved" / "model.safetensors").read_bytes()
    (tmp_path / "halved" / "model.safetensors").write_bytes(whole[: len(whole) // 2])
    entries = {e["name"]: e for e in list_models([tmp_path])}
    for name, why in (("cut", "not a readable safetensors file"), ("bert", "unsupported model type 'bert'"),
                      ("odd", "crop_size 100 px is not a whole number of 16-px patches"),
                      ("patch0", "patch_size 0 is not a positive whole number"),
                      ("big", "config.json does not describe a mae model: Validation error for field 'hidden_size'"),
                      ("deep", "num_hidden_layers 20000 is beyond what EchoLens builds (64 at most)"),
                      ("wide", "crop_size 16384 is beyond what EchoLens runs (1024 at most)"),
                      ("weightless", "no model.safetensors, pytorch_model.bin or shard index of either beside config.json"),
                      ("halved", "model.safetensors is not a readable safetensors file")):
        assert entries[name]["family"] == "-" and entries[name]["architecture"].startswith("cannot load: ")
        assert why in entries[name]["architecture"]



def test_checkpoint_files_of_no_layout_the_converters_expect_are_listed_and_the_list_goes_on(tmp_path):
    """A .pt whose `classifier` is no attentive probe raised KeyError, and one with a number for a key
    AttributeError, through list_models: the whole list (the page's model boxes, built with it) was lost."""
    torch.save(vjepa2_checkpoint(predictor=False), tmp_path / "good.pt")
    torch.save({"classifier": {"weight": torch.zeros(2, 4), "bias": torch.zeros(2)}}, tmp_path / "head_only.pt")
    torch.save({0: torch.zeros(3)}, tmp_path / "int_keys.pt")
    torch.save({"classifiers": []}, tmp_path / "empty_sweep.pt")
    entries = {e["name"]: e for e in list_models([tmp_path])}
    assert entries["good"]["family"] == "jepa"
    for name, why in (("head_only", "attentive probe: key 'pooler.query_tokens' not found"),
                      ("int_keys", "a state dict key 0 is not a tensor name"),
                      ("empty_sweep", "holds 0 classifiers")):
        assert entries[name]["family"] == "-" and why in entries[name]["architecture"], entries[name]
    with pytest.raises(ValueError, match="key 0 is not a tensor name"):          # loading it says so too
        model_zoo.load(tmp_path / "int_keys.pt")

def test_cost_estimate_and_fewer_frames():
    config = VJEPA2Config(crop_size=32, frames_per_clip=4, hidden_size=32, num_hidden_layers=1,
                          num_attention_heads=2, patch_size=16, tubelet_size=2)
    # n = 2 * 2 * 2 = 8 tokens; embed 8*32*(3*2*16*16) = 393216; layer 8*(4*32*32 + 2*32*128) + 2*64*32 = 102400
    assert forward_gflops(config) == (8, 2 * (393216 + 102400) / 1e9)
    big = VJEPA2Config(crop_size=224, frames_per_clip=16, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16)
    est = estimate(big, gflops_per_s=100.0)
    assert est["tokens"] == 1568 and est["cpu_seconds"] == pytest.approx(est["gflops"] / 100.0, abs=0.01)
    half = estimate(big, frames=8, gflops_per_s=100.0)["cpu_seconds"]
    assert suggest_frames(big, budget_s=half + 0.01, gflops_per_s=100.0) == 8
    assert suggest_frames(big, budget_s=1e-6) == 2
    tip = advice(big, budget_s=half + 0.01, gflops_per_s=100.0)
    assert tip["slow"] and tip["suggested_frames"] == 8 and "8 frames" in tip["message"]
    assert not advice(config)["slow"]


def test_under_shipped_follows_links_to_and_from_the_shipped_folder(tmp_path, monkeypatch):
    """A model under the shipped folder is shipped whether the folder, or the path to the model, is a link."""
    from model_zoo import registry
    real = tmp_path / "checkpoints"
    (real / "jepa-small").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setattr(registry, "SHIPPED", tmp_path / "link")                  # the repo's folder is a link
    assert registry.under_shipped(real / "jepa-small") and registry.under_shipped(tmp_path / "link" / "jepa-small")
    assert not registry.under_shipped(tmp_path / "elsewhere") and not registry.under_shipped(real)


def test_a_pytorch_lightning_checkpoint_is_listed_as_it_loads(tmp_path):
    """model_zoo.load unwraps a Lightning .ckpt; the list did not, so it was 'cannot load: unrecognised checkpoint
    layout' there and offered in no model box."""
    state = videomae_checkpoint(width=64, dec=64)["model"]                     # 64 wide: 1 head by the table
    torch.save({"state_dict": {f"model.{k}": v for k, v in state.items()}, "epoch": 10, "global_step": 1000,
                "pytorch-lightning_version": "2.4.0"}, tmp_path / "last.ckpt")
    entry = next(e for e in list_models([tmp_path]) if e["name"] == "last")
    assert entry["family"] == "mae" and entry["format"] == "videomae-native", entry
    assert "decoder 64d x 1" in entry["architecture"]


def test_a_videomae_checkpoint_is_listed_at_the_frames_and_size_its_training_arguments_give(tmp_path):
    """The list assumed 16 frames x 224 px for a VideoMAE whose `args` say 8 x 64, the size it loads at."""
    import argparse
    from model_zoo.registry import architecture, describe_checkpoint
    ck = videomae_checkpoint(width=192, dec=192, depth=1)
    ck["args"] = argparse.Namespace(num_frames=8, input_size=64)
    torch.save(ck, tmp_path / "mae_args.pth")
    listed = describe_checkpoint(tmp_path / "mae_args.pth")["architecture"]
    assert "8 frames x 64 px" in listed and "frames 16" not in listed and "size 224" not in listed, listed
    assert listed.endswith("(3 heads assumed for width 192, 3 decoder heads assumed for width 192, norm_pix_loss "
                           "assumed)"), listed
    loaded = architecture(model_zoo.load(tmp_path / "mae_args.pth", device="cpu").config.to_dict())
    assert listed.startswith(loaded)


def test_a_probe_whose_query_tokens_are_not_3d_is_listed_with_the_problem(tmp_path):
    """A probe with 1-D query_tokens was listed as 'cannot load: tuple index out of range'."""
    p = vjepa_probe_checkpoint()
    p["classifier"]["module.pooler.query_tokens"] = torch.zeros(32)
    torch.save(p, tmp_path / "flat.pt")
    entry = next(e for e in list_models([tmp_path]) if e["name"] == "flat")
    assert entry["family"] == "-" and entry["architecture"].startswith(
        "cannot load: pooler.query_tokens has shape (32,), not (1, queries, width)"), entry


def test_resolve_finds_a_name_without_describing_every_model(tmp_path, monkeypatch):
    """resolve ran list_models, describing (reading) every shipped and found model, on each of the 4-5 calls a load
    makes; a shipped or found name is matched by name alone, and an unknown one still lists the names it knows."""
    from model_zoo import registry
    torch.save(videomae_checkpoint(), tmp_path / "mine.pth")
    tiny_hf(tmp_path / "hf-jepa")
    def no_describing(path):
        raise AssertionError(f"{path} described")
    monkeypatch.setattr(registry, "describe", no_describing)
    monkeypatch.setattr(registry, "describe_checkpoint", no_describing)
    assert registry.resolve("jepa-small") == (registry.SHIPPED / "jepa-small", "jepa-small")
    assert registry.resolve("mine", [tmp_path]) == (tmp_path / "mine.pth", "mine")
    assert registry.resolve("hf-jepa", [tmp_path]) == (tmp_path / "hf-jepa", "hf-jepa")
    with pytest.raises(FileNotFoundError, match=r"'nosuch' \(known: jepa-small, mae-small, hf-jepa, mine\)"):
        registry.resolve("nosuch", [tmp_path])


def test_listing_a_folder_reads_its_card_once(monkeypatch):
    """describe read card.json twice per folder (once for the name, once for the rest); the name and the listed
    method, recipe and steps come from the one read."""
    from model_zoo import registry
    reads = []
    real = registry.read_card
    monkeypatch.setattr(registry, "read_card", lambda folder: reads.append(folder) or real(folder))
    entry = registry.describe(registry.SHIPPED / "jepa-small")
    assert reads == [registry.SHIPPED / "jepa-small"]
    assert entry["name"] == "jepa-small" and entry["method"] == "jepa" and entry["steps"] > 0


def test_a_width_its_heads_do_not_divide_is_listed_as_not_loadable_with_the_rule(tmp_path):
    """transformers refused it at load without naming the folder, and the model list called it loadable."""
    import json
    tiny_hf(tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    (tmp_path / "hf" / "config.json").write_text(json.dumps({**config, "num_attention_heads": 3}))
    entry = next(e for e in list_models([tmp_path]) if e["name"] == "hf")
    assert entry["family"] == "-" and entry["architecture"] == (
        "cannot load: its config: hidden_size 32 is not a multiple of num_attention_heads 3: each attention head takes "
        "an equal share of the width (pass overrides={'heads': N} to model_zoo.load for a count N that divides it)")
