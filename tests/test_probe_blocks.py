"""V-JEPA 2 / EchoJEPA probes of depth > 1 (self-attention blocks before the query), EchoJEPA's regressor head and
V-JEPA 2's cross-attention without an output projection -> ProbeHead: the output of upstream's AttentivePooler +
head written out by hand from the raw tensors, through conversion, export and the app's loader; the probe
read-out refused for them; blocks that do not fit refused by name."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import model_zoo
from explain.analysis.pair import load_model
from explain.attention_maps import clip_map
from explain.ef_forward import EFForward
from model_zoo.convert.export import export
from model_zoo.convert.infer import strip_prefixes
from model_zoo.convert.probe import convert
from model_zoo.probe_io import load_probe, save_probe
from model_zoo.probes import ProbeHead
from tests.builders import vjepa2_checkpoint, vjepa_probe_checkpoint

P = "pooler.cross_attention_block."


def upstream_probe(state: dict, x: torch.Tensor, heads: int) -> torch.Tensor:
    """V-JEPA 2's AttentiveClassifier / EchoJEPA's AttentiveRegressor, from the raw tensors: each pooler.blocks.i
    (x + proj(attn(norm1 x)), + fc2(gelu(fc1(norm2 x)))) over the tokens, then q + xattn(q, norm1 x) (with
    xattn.proj only where the file has one), + mlp(norm2 q), then linear / regressor. (B, N, D) -> (B, C)"""
    s = strip_prefixes(state)
    b, n, d = x.shape
    hd = d // heads
    ln = lambda t, key: F.layer_norm(t, (d,), s[key + ".weight"], s[key + ".bias"])    # noqa: E731
    lin = lambda t, key: t @ s[key + ".weight"].T + s[key + ".bias"]                    # noqa: E731
    i = 0
    while f"pooler.blocks.{i}.norm1.weight" in s:
        blk = f"pooler.blocks.{i}."
        q, k, v = lin(ln(x, blk + "norm1"), blk + "attn.qkv").reshape(b, n, 3, heads, hd).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1)                 # (B, H, N, N)
        x = x + lin((a @ v).transpose(1, 2).reshape(b, n, d), blk + "attn.proj")
        x = x + lin(F.gelu(lin(ln(x, blk + "norm2"), blk + "mlp.fc1")), blk + "mlp.fc2")
        i += 1
    q = s["pooler.query_tokens"].expand(b, 1, d)
    qh = lin(q, P + "xattn.q").reshape(b, 1, heads, hd).transpose(1, 2)
    k, v = lin(ln(x, P + "norm1"), P + "xattn.kv").reshape(b, n, 2, heads, hd).permute(2, 0, 3, 1, 4)
    o = (torch.softmax(qh @ k.transpose(-1, -2) / math.sqrt(hd), -1) @ v).transpose(1, 2).reshape(b, 1, d)
    q = q + (lin(o, P + "xattn.proj") if P + "xattn.proj.weight" in s else o)
    q = q + lin(F.gelu(lin(ln(q, P + "norm2"), P + "mlp.fc1")), P + "mlp.fc2")
    out = "regressor" if "regressor.weight" in s else "linear"
    return lin(q[:, 0], out)


SWEEP = {"probe_index": 0, "probe_heads": 2}     # which of a sweep's classifiers, and its heads (these are built with 2)


def vjepa2_probe(blocks: int = 3, width: int = 32, seed: int = 0) -> dict:
    """A V-JEPA 2 / EchoJEPA LVEF probe as their evals save it: `classifiers` sweep, DDP prefix, depth blocks + 1,
    no xattn.proj (V-JEPA 2's CrossAttention has none), the output named `regressor` (AttentiveRegressor)."""
    state = vjepa_probe_checkpoint(seed=seed, width=width, extra_blocks=blocks)["classifier"]
    state = {k.replace("module.linear.", "module.regressor."): v for k, v in state.items()
             if ".xattn.proj." not in k}
    return {"classifiers": [state, state], "epoch": 20}


def test_probe_with_blocks_equals_upstream():
    tokens = torch.randn(3, 10, 32, generator=torch.Generator().manual_seed(1))
    for ckpt, state in ((vjepa_probe_checkpoint(extra_blocks=3), "classifier"), (vjepa2_probe(3), "classifiers")):
        raw = ckpt[state] if state == "classifier" else ckpt[state][0]
        probe, info = convert(ckpt, heads=2, overrides={"ef_mean": 55.78, "ef_std": 12.41, **SWEEP})
        z = upstream_probe(raw, tokens, heads=2)[:, 0]
        assert info["blocks"] == 3 and len(probe.blocks) == 3 and probe.config()["blocks"] == 3
        with torch.no_grad():
            assert torch.allclose(probe(tokens), z, atol=1e-5)
            assert torch.allclose(probe.ef(tokens), z * 12.41 + 55.78, atol=1e-4)
    # the blocks matter: without them the same tensors give another output
    no_blocks = {k: v for k, v in raw.items() if ".pooler.blocks." not in k}
    assert not torch.allclose(upstream_probe(no_blocks, tokens, 2)[:, 0], z, atol=1e-3)
    # depth 1 without xattn.proj and with a regressor (EchoJEPA's probe of depth 1) also equals upstream
    probe, info = convert(vjepa2_probe(0), overrides=SWEEP)
    assert info["blocks"] == 0 and probe.meta["xattn_proj"] is False
    with torch.no_grad():
        assert torch.allclose(probe(tokens), upstream_probe(vjepa2_probe(0)["classifiers"][0], tokens, 2)[:, 0],
                              atol=1e-5)


def test_blocks_that_do_not_fit_are_refused_by_name():
    ckpt = vjepa_probe_checkpoint(extra_blocks=2)
    bad = dict(ckpt["classifier"], **{"module.pooler.blocks.1.attn.qkv.weight": torch.zeros(3 * 32, 40)})
    with pytest.raises(ValueError, match=r"pooler\.blocks\.1\.attn\.qkv\.weight \(96, 40\), expected \(96, 32\)"):
        convert({"classifier": bad}, heads=2)
    narrow = dict(ckpt["classifier"], **{"module.pooler.blocks.0.mlp.fc1.weight": torch.zeros(64, 32),
                                         "module.pooler.blocks.0.mlp.fc1.bias": torch.zeros(64)})
    with pytest.raises(ValueError, match=r"128-wide MLP: pooler\.blocks\.0\.mlp\.fc1\.weight \(64, 32\)"):
        convert({"classifier": narrow}, heads=2)
    gone = {k: v for k, v in ckpt["classifier"].items() if k != "module.pooler.blocks.0.attn.proj.bias"}
    with pytest.raises(ValueError, match=r"pooler\.blocks\.0\.attn\.proj\.bias missing"):
        convert({"classifier": gone}, heads=2)
    gap = {k.replace("pooler.blocks.1.", "pooler.blocks.2."): v for k, v in ckpt["classifier"].items()}
    with pytest.raises(ValueError, match=r"not numbered 0\.\.2"):
        convert({"classifier": gap}, heads=2)
    with pytest.raises(ValueError, match="17 self-attention blocks .* at most 16"):
        convert(vjepa_probe_checkpoint(extra_blocks=17), heads=2)


def test_probe_read_out_is_refused_for_blocks_and_kept_without(tmp_path):
    tokens = torch.randn(2, 10, 32)
    blocked, _ = convert(vjepa2_probe(3), overrides=SWEEP)
    assert not blocked.attends_to_tokens
    with pytest.raises(ValueError, match="3 self-attention block.*'mean' or 'token' read-out"):
        blocked.attention(tokens)
    plain, _ = convert(vjepa_probe_checkpoint(), heads=2)
    assert plain.attends_to_tokens and plain.attention(tokens).shape == (2, 10)
    # through the encoder: rollout's probe read-out refused, the mean read-out and EF attributions work
    torch.save(vjepa2_checkpoint(predictor=False), tmp_path / "enc.pt")
    torch.save(vjepa2_probe(3), tmp_path / "probe.pt")
    m = model_zoo.load(tmp_path / "enc.pt", device="cpu", overrides={"frames": 4, "size": 32, "heads": 2, **SWEEP},
                       probe=tmp_path / "probe.pt")
    x = torch.randn(1, 4, 3, 32, 32)
    with pytest.raises(ValueError, match="self-attention block"):
        clip_map(m, x, "rollout", probe=m.probe, readout="probe")
    mean = clip_map(m, x, "rollout", probe=m.probe, readout="mean").values
    assert mean.shape == (2, 2, 2)                                  # the default read-out falls back to the mean:
    assert np.array_equal(clip_map(m, x, "rollout", probe=m.probe).values, mean)   # no probe weights per token
    xg = x.clone().requires_grad_(True)
    EFForward(m, m.probe)(xg).sum().backward()
    assert xg.grad.abs().sum() > 0                                   # gradients reach the clip through the blocks


def test_probe_with_blocks_exports_and_loads_as_the_apps_probe(tmp_path):
    torch.save(vjepa2_checkpoint(predictor=False), tmp_path / "enc.pt")
    torch.save(vjepa2_probe(3), tmp_path / "probe.pt")
    out = export(tmp_path / "enc.pt", tmp_path / "models" / "mine", tmp_path / "probe.pt", 55.78, 12.41,
                 overrides={"frames": 4, "size": 32, "heads": 2, **SWEEP})
    loaded = load_model(str(out), "jepa", "cpu")                    # what the app's model box does
    assert loaded.probe is not None and len(loaded.probe.blocks) == 3 and loaded.probe.meta["blocks"] == 3
    tokens = loaded.wrapper.tokens(torch.randn(2, 4, 3, 32, 32))
    raw = vjepa2_probe(3)["classifiers"][0]
    with torch.no_grad():
        assert torch.allclose(loaded.probe.ef(tokens), upstream_probe(raw, tokens, 2)[:, 0] * 12.41 + 55.78,
                              atol=1e-4)


def test_saved_probe_with_blocks_round_trips_and_a_wrong_file_is_refused(tmp_path):
    probe, _ = convert(vjepa2_probe(2), overrides={"ef_mean": 50.0, "ef_std": 10.0, **SWEEP})
    save_probe(probe, tmp_path, {"source": "test"})
    again = load_probe(tmp_path)
    tokens = torch.randn(2, 6, 32)
    with torch.no_grad():
        assert torch.equal(again(tokens), probe(tokens)) and len(again.blocks) == 2
    # a probe of ours has no blocks and loads as it did: same keys, same tensors
    ours = ProbeHead(32, 2)
    assert not any(k.startswith("blocks.") for k in ours.state_dict()) and "blocks" not in ours.config()
    # blocks of the wrong width in the weights: refused by the loader, naming the file and the key
    from safetensors.torch import load_file, save_file
    state = load_file(str(tmp_path / "probe.safetensors"))
    state["blocks.1.attn.qkv.weight"] = torch.zeros(96, 40)
    save_file(state, str(tmp_path / "probe.safetensors"))
    with pytest.raises(ValueError, match=r"probe\.safetensors does not fit probe\.json.*blocks\.1\.attn\.qkv\.weight"):
        load_probe(tmp_path)
    import json                                     # probe.json says how many blocks; weights with more are refused
    card = json.loads((tmp_path / "probe.json").read_text())
    save_probe(probe, tmp_path, {"source": "test"})
    (tmp_path / "probe.json").write_text(json.dumps({**card, "blocks": 0}))
    with pytest.raises(ValueError, match=r"does not fit probe\.json.*blocks\.0"):
        load_probe(tmp_path)
    (tmp_path / "probe.json").write_text(json.dumps({**card, "blocks": "3"}))
    with pytest.raises(ValueError, match="blocks '3' must be a whole number from 0 to 16"):
        load_probe(tmp_path)


def test_a_sweeps_probe_runs_with_the_evaluations_16_heads_and_says_so(tmp_path):
    """V-JEPA 2's and EchoJEPA's evaluations build their probes with 16 heads whatever the encoder's (ViT-g 22,
    ViT-B 12); the encoder's count was used, which loads without error and gives another EF. 16 is assumed now,
    written among the card's notes, and --probe-heads rules it."""
    tokens = torch.randn(2, 10, 32, generator=torch.Generator().manual_seed(3))
    raw = vjepa2_probe(1)["classifiers"][0]
    probe, info = convert(vjepa2_probe(1), heads=2, overrides={"probe_index": 0})
    assert info["heads"] == 16 and "16 probe heads assumed" in info["notes"][0]
    with torch.no_grad():
        assert torch.allclose(probe(tokens), upstream_probe(raw, tokens, 16)[:, 0], atol=1e-5)
        assert not torch.allclose(probe(tokens), upstream_probe(raw, tokens, 2)[:, 0], atol=1e-3)
    assert convert(vjepa_probe_checkpoint(), heads=2)[1] == {**convert(vjepa_probe_checkpoint(), heads=2)[1],
                                                            "heads": 2, "notes": []}   # V-JEPA's: the encoder's
    with pytest.raises(ValueError, match="40-wide probe cannot be split into 16 attention heads: .*--probe-heads N"):
        convert(vjepa2_probe(1, width=40), overrides={"probe_index": 0})
    torch.save(vjepa2_checkpoint(predictor=False), tmp_path / "enc.pt")
    torch.save(vjepa2_probe(1), tmp_path / "probe.pt")
    m = model_zoo.load(tmp_path / "enc.pt", device="cpu", overrides={"frames": 4, "size": 32, "heads": 2,
                                                                     "probe_index": 1}, probe=tmp_path / "probe.pt")
    assert m.probe.meta["heads"] == 16 and any("16 probe heads assumed" in n for n in m.card["conversion"]["notes"])


def test_a_sweep_of_classifiers_needs_its_index_and_export_takes_the_probes_heads(tmp_path, capsys):
    """A sweep holds one classifier per learning rate and weight decay, none marked best: the first was taken in
    silence; now the file's count is named and --probe-index chooses (0 included), --probe-heads sets the heads."""
    from model_zoo.convert.export import main
    with pytest.raises(ValueError, match="holds 2 classifiers .* --probe-index K"):
        convert(vjepa2_probe(1), heads=2)
    torch.save(vjepa2_checkpoint(predictor=False), tmp_path / "enc.pt")
    torch.save(vjepa2_probe(1), tmp_path / "probe.pt")
    base = [str(tmp_path / "enc.pt"), "--frames", "4", "--size", "32", "--heads", "2", "--probe",
            str(tmp_path / "probe.pt"), "--ef-mean", "55", "--ef-std", "12"]
    assert main(base + ["--out", str(tmp_path / "none")]) == 2
    assert "holds 2 classifiers" in capsys.readouterr().err and not (tmp_path / "none").exists()
    assert main(base + ["--probe-index", "0", "--probe-heads", "2", "--out", str(tmp_path / "two")]) == 0
    loaded = load_model(str(tmp_path / "two"), "jepa", "cpu")
    tokens = loaded.wrapper.tokens(torch.randn(2, 4, 3, 32, 32))
    with torch.no_grad():
        assert torch.allclose(loaded.probe.ef(tokens), upstream_probe(vjepa2_probe(1)["classifiers"][0], tokens, 2)[:, 0]
                              * 12 + 55, atol=1e-4)
    assert main([str(tmp_path / "enc.pt"), "--probe-heads", "2", "--out", str(tmp_path / "x")]) == 2
    assert "--probe-heads describes --probe's file" in capsys.readouterr().err
