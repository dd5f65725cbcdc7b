"""V-JEPA eval attentive probes -> ProbeHead: same output as the native AttentiveClassifier written by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

import model_zoo
from model_zoo.convert.probe import convert
from model_zoo.convert.infer import strip_prefixes
from tests.builders import vjepa2_checkpoint, vjepa_probe_checkpoint


def native_probe(state: dict, x: torch.Tensor, heads: int) -> torch.Tensor:
    """AttentiveClassifier: query + xattn(query, norm1(x)), + mlp(norm2(.)), linear. (B, N, D) -> (B, C)"""
    s = {k.removeprefix("pooler.cross_attention_block."): v for k, v in strip_prefixes(state).items()}
    b, n, d = x.shape
    hd = d // heads
    q = s["pooler.query_tokens"].expand(b, 1, d)
    y = F.layer_norm(x, (d,), s["norm1.weight"], s["norm1.bias"])
    qh = (q @ s["xattn.q.weight"].T + s["xattn.q.bias"]).reshape(b, 1, heads, hd).transpose(1, 2)
    k, v = (y @ s["xattn.kv.weight"].T + s["xattn.kv.bias"]).reshape(b, n, 2, heads, hd).permute(2, 0, 3, 1, 4)
    o = (torch.softmax(qh @ k.transpose(-1, -2) / math.sqrt(hd), -1) @ v).transpose(1, 2).reshape(b, 1, d)
    q = q + o @ s["xattn.proj.weight"].T + s["xattn.proj.bias"]
    m = F.gelu(F.layer_norm(q, (d,), s["norm2.weight"], s["norm2.bias"]) @ s["mlp.fc1.weight"].T + s["mlp.fc1.bias"])
    q = q + m @ s["mlp.fc2.weight"].T + s["mlp.fc2.bias"]
    return (q[:, 0] @ s["linear.weight"].T + s["linear.bias"])


def test_probe_output_equals_native_classifier():
    ckpt = vjepa_probe_checkpoint()
    probe, info = convert(ckpt, heads=2, overrides={"ef_mean": 55.78, "ef_std": 12.41})
    tokens = torch.randn(3, 8, 32, generator=torch.Generator().manual_seed(0))
    z = native_probe(ckpt["classifier"], tokens, heads=2)[:, 0]
    with torch.no_grad():
        assert torch.allclose(probe(tokens), z, atol=1e-5)                 # the key bias drops out exactly
        assert torch.allclose(probe.ef(tokens), z * 12.41 + 55.78, atol=1e-4)
    assert probe.attention(tokens).shape == (3, 8)
    second, _ = convert(vjepa_probe_checkpoint(many=True), heads=2, overrides={"probe_index": 1})
    assert torch.equal(second.query, probe.query) and info["heads"] == 2
    with pytest.raises(ValueError, match="out of range"):
        convert(vjepa_probe_checkpoint(many=True), heads=2, overrides={"probe_index": 2})


def test_probes_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="3 outputs"):
        convert(vjepa_probe_checkpoint(outputs=3), heads=2)
    with pytest.raises(ValueError, match="2 queries"):                  # V-JEPA 2's blocks: tests/test_probe_blocks.py
        ckpt = vjepa_probe_checkpoint()
        ckpt["classifier"]["module.pooler.query_tokens"] = torch.zeros(1, 2, 32)
        convert(ckpt, heads=2)
    with pytest.raises(ValueError, match="head count"):
        convert(vjepa_probe_checkpoint())


def test_probe_attaches_to_a_loaded_encoder(tmp_path):
    torch.save(vjepa2_checkpoint(predictor=False), tmp_path / "enc.pt")
    torch.save(vjepa_probe_checkpoint(), tmp_path / "probe.pth.tar")
    m = model_zoo.load(tmp_path / "enc.pt", device="cpu", overrides={"frames": 4, "size": 32, "heads": 2},
                       probe=tmp_path / "probe.pth.tar")
    x = torch.randn(1, 4, 3, 32, 32)
    tokens = m.tokens(x)
    with torch.no_grad():
        assert torch.allclose(m.probe(tokens), native_probe(vjepa_probe_checkpoint()["classifier"], tokens, 2)[:, 0],
                              atol=1e-5)
    with pytest.raises(ValueError, match="probe, not an encoder"):
        model_zoo.load(tmp_path / "probe.pth.tar")
    torch.save(vjepa_probe_checkpoint(width=48), tmp_path / "wide_probe.pt")
    with pytest.raises(ValueError, match="48-d tokens"):
        model_zoo.load(tmp_path / "enc.pt", device="cpu", overrides={"frames": 4, "size": 32, "heads": 2, "probe_heads": 2},
                       probe=tmp_path / "wide_probe.pt")


def test_a_probe_loaded_from_python_refuses_an_ef_scale_that_is_not_in_percent(tmp_path):
    """Only the export checked the EF scale: model_zoo.load(..., probe=) took a fraction or a negative std and read
    its output as EF %."""
    torch.save(vjepa2_checkpoint(predictor=False), tmp_path / "enc.pt")
    torch.save(vjepa_probe_checkpoint(), tmp_path / "probe.pt")
    shape = {"frames": 4, "size": 32, "heads": 2}
    for scale, words in (({"ef_mean": 0.5578, "ef_std": 0.1241}, "as a fraction"),
                         ({"ef_mean": 55.0, "ef_std": -12.0}, "not an EF scale"),
                         ({"ef_mean": 55.0}, "needs the EF mean and std")):
        with pytest.raises(ValueError, match=words):
            model_zoo.load(tmp_path / "enc.pt", device="cpu", overrides={**shape, **scale}, probe=tmp_path / "probe.pt")
    m = model_zoo.load(tmp_path / "enc.pt", device="cpu", overrides={**shape, "ef_mean": 55.0, "ef_std": 12.0},
                       probe=tmp_path / "probe.pt")
    assert float(m.probe.ef_mean) == 55.0 and float(m.probe.ef_std) == 12.0
