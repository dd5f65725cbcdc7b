"""EF probes: the attentive probe is standard cross-attention, learns a planted signal, z-scores,
round-trips through its files, and the shipped probes reproduce their recorded predictions."""
import copy
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import model_zoo
from echo.preprocess import to_model_input
from model_zoo.checkpoint import export, read_card
from model_zoo.data import render_beat
from model_zoo.features import PixelEncoder, random_encoder
from model_zoo.jepa import JEPA
from model_zoo.probe_fit import ProbeTraining, fit_attentive, fit_linear
from model_zoo.probe_inputs import standardiser
from model_zoo.probe_io import (BEAT_PROBE, BEAT_PROBE_CARD, BEAT_PROBE_WEIGHTS, PROBE, PROBE_CARD, PROBE_WEIGHTS,
                                load_probe, save_probe)
from model_zoo.probes import BeatProbe, ProbeHead, predict_ef, predict_tokens, probe_heads
from model_zoo.recipes import get_recipe
from model_zoo.wrapper import EncoderWrapper
from model_zoo.registry import SHIPPED


def planted(n, seed, tokens=12, dim=16):
    """Noise tokens, three of them marked (feature 0) and carrying EF along a direction u orthogonal
    to the marker: (n, N, D) float16, EF (n,)."""
    rng = np.random.default_rng(seed)
    ef = np.clip(rng.normal(55.78, 12.41, n), 12, 85)
    x = rng.normal(size=(n, tokens, dim)).astype(np.float32)
    u = np.linspace(1, -1, dim - 1, dtype=np.float32)
    u /= np.linalg.norm(u)
    x[:, :3, 0] += 4.0
    x[:, :3, 1:] += ((ef - 55.78) / 12.41)[:, None, None].astype(np.float32) * 5 * u
    return torch.from_numpy(x).half(), ef


def reference_probe(p: ProbeHead, tokens: torch.Tensor, weights: bool = False) -> torch.Tensor:
    """The textbook computation: keys and values for every token, then attention; weights=True: the attention
    itself, (B, H, N)."""
    b, n, d = tokens.shape
    x = p.norm_tokens(tokens)
    q = p.q(p.query).view(1, p.heads, p.head_dim).transpose(0, 1)              # (H, 1, dh)
    k = p.k(x).view(b, n, p.heads, p.head_dim).transpose(1, 2)                 # (B, H, N, dh)
    v = p.v(x).view(b, n, p.heads, p.head_dim).transpose(1, 2)
    a = (q @ k.transpose(-1, -2) / math.sqrt(p.head_dim)).softmax(-1)          # (B, H, 1, N)
    if weights:
        return a.squeeze(2)
    h = p.query + p.proj((a @ v).transpose(1, 2).reshape(b, d))
    h = h + p.mlp(p.norm_query(h))
    return p.head(h).squeeze(-1)


def test_attentive_probe_is_standard_cross_attention():
    torch.manual_seed(0)
    p = ProbeHead(24, heads=4)
    with torch.no_grad():                      # a non-trivial layer norm, so the folding is exercised
        p.norm_tokens.weight.uniform_(0.5, 1.5)
        p.norm_tokens.bias.normal_()
    x = torch.randn(3, 10, 24)
    assert torch.allclose(p(x), reference_probe(p, x), atol=1e-5)


def test_attention_is_the_mean_over_heads_of_the_textbook_attention():
    torch.manual_seed(0)
    p = ProbeHead(24, heads=4)
    with torch.no_grad():
        p.norm_tokens.weight.uniform_(0.5, 1.5)
        p.norm_tokens.bias.normal_()
    x = torch.randn(3, 10, 24)
    per_head = reference_probe(p, x, weights=True)                                  # (B, H, N)
    assert not torch.allclose(per_head[:, 0], per_head.mean(1), atol=1e-3)        # the heads differ
    assert torch.allclose(p.attention(x), per_head.mean(1), atol=1e-5)


def test_attention_over_tokens_sums_to_one():
    torch.manual_seed(0)
    a = ProbeHead(16, heads=4).attention(torch.randn(5, 30, 16))
    assert a.shape == (5, 30)
    assert (a >= 0).all()
    assert torch.allclose(a.sum(-1), torch.ones(5), atol=1e-6)


def test_heads_split_the_dimension():
    assert [probe_heads(d) for d in (192, 48, 36, 35, 6)] == [4, 4, 4, 1, 3]
    with pytest.raises(ValueError):
        ProbeHead(10, heads=4)


def test_z_scoring_uses_the_train_split_and_round_trips():
    xt, yt = planted(64, 0)
    xv, yv = planted(32, 1)
    probe, _ = fit_attentive(xt, yt, xv, yv, seed=0, cfg=ProbeTraining(max_epochs=1))
    assert probe.ef_mean.item() == pytest.approx(yt.mean(), abs=1e-4)
    assert probe.ef_std.item() == pytest.approx(yt.std(ddof=1), abs=1e-4)
    ef = torch.tensor([20.0, 55.78, 80.0])
    assert torch.allclose(probe.from_z(probe.to_z(ef)), ef, atol=1e-5)
    assert torch.allclose(probe.ef(xv[:4].float()), probe.from_z(probe(xv[:4].float())))


def test_probes_learn_a_planted_signal():
    xt, yt = planted(400, 0)
    xv, yv = planted(100, 1)
    xs, ys = planted(200, 2)
    baseline = np.abs(ys - yt.mean()).mean()                       # predicting the train mean
    probe, info = fit_attentive(xt, yt, xv, yv, seed=0)
    assert np.abs(predict_tokens(probe, xs) - ys).mean() < 0.3 * baseline
    assert info["val"]["mae"] < 0.3 * baseline and 1 <= info["best_epoch"] <= info["epochs"]
    # the query favours the tokens that carry the signal (uniform attention would give them 3/12)
    assert probe.attention(xs[:50].float())[:, :3].sum(-1).mean() > 0.35
    linear, _ = fit_linear(xt.float().mean(1), yt, xv.float().mean(1), yv)
    assert np.abs(predict_tokens(linear, xs.float().mean(1)) - ys).mean() < 0.3 * baseline


def test_training_is_seeded():
    xt, yt = planted(64, 0)
    xv, yv = planted(32, 1)
    cfg = ProbeTraining(max_epochs=3)
    a, _ = fit_attentive(xt, yt, xv, yv, seed=5, cfg=cfg)
    b, _ = fit_attentive(xt, yt, xv, yv, seed=5, cfg=cfg)
    c, _ = fit_attentive(xt, yt, xv, yv, seed=6, cfg=cfg)
    assert torch.equal(a(xv.float()), b(xv.float()))
    assert not torch.equal(a(xv.float()), c(xv.float()))


@pytest.fixture(scope="module")
def smoke_jepa(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "jepa-smoke"
    export(JEPA(get_recipe("smoke")).eval(), folder, {"name": "jepa-smoke", "method": "jepa", "results": {}})
    return folder


def test_save_load_round_trip_gives_identical_predictions(smoke_jepa):
    m = model_zoo.load(smoke_jepa, device="cpu")
    x = torch.randn(3, 8, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    probe = ProbeHead(48, heads=4, ef_mean=55.0, ef_std=12.0)
    save_probe(probe, smoke_jepa, {"seed": 0, "test": {"clean": {"mae": 1.0}}})
    meta = json.loads((smoke_jepa / PROBE_CARD).read_text())
    assert {"kind", "dim", "heads", "ef_mean", "ef_std", "seed", "test"} <= set(meta)
    assert (smoke_jepa / PROBE_WEIGHTS).is_file()
    loaded = load_probe(smoke_jepa)
    assert loaded.meta == meta and loaded.ef_mean.item() == 55.0 and loaded.ef_std.item() == 12.0
    expected = predict_ef(m, probe, x)
    assert expected.shape == (3,)
    assert torch.equal(predict_ef(m, loaded, x), expected)
    assert torch.equal(expected, probe.ef(m.tokens(x)))
    assert read_card(smoke_jepa)["results"] == {}                 # the card is not the probe's to change


def test_a_beat_probe_round_trips_with_its_input_statistics(smoke_jepa):
    """The beat view's probe saves its input stage's train statistics beside the head, loads as a BeatProbe
    under its own file names (the attentive probe's files untouched), and predicts identically."""
    m = model_zoo.load(smoke_jepa, device="cpu")
    x = torch.randn(3, 8, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    tokens = m.tokens(x)                                                       # (3, N, 48)
    torch.manual_seed(0)
    probe = BeatProbe(standardiser(tokens * 3 + 1, "beat", m.grid[0]), ProbeHead(96, 4, ef_mean=50.0, ef_std=10.0))
    before = sorted(p.name for p in smoke_jepa.iterdir())
    with pytest.raises(ValueError, match="cannot be saved as 'probe'"):
        save_probe(probe, smoke_jepa, {"seed": 2})                           # not over the attentive probe
    save_probe(probe, smoke_jepa, {"seed": 2}, stem=BEAT_PROBE)
    assert sorted(p.name for p in smoke_jepa.iterdir()) == sorted(before + [BEAT_PROBE_CARD, BEAT_PROBE_WEIGHTS])
    meta = json.loads((smoke_jepa / BEAT_PROBE_CARD).read_text())
    assert meta["kind"] == "beat" and meta["dim"] == 96 and meta["t_slots"] == m.grid[0] and meta["ef_std"] == 10.0
    loaded = load_probe(smoke_jepa, stem=BEAT_PROBE)
    assert isinstance(loaded, BeatProbe) and loaded.meta == meta
    assert torch.equal(loaded.inputs.scale.std, probe.inputs.scale.std)
    assert torch.equal(predict_ef(m, loaded, x), predict_ef(m, probe, x))
    with pytest.raises(ValueError, match="expected 'attentive'"):
        load_probe(_copied_as_probe(smoke_jepa))
    meta.pop("t_slots")
    (smoke_jepa / BEAT_PROBE_CARD).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="needs t_slots"):
        load_probe(smoke_jepa, stem=BEAT_PROBE)
    for name in (BEAT_PROBE_CARD, BEAT_PROBE_WEIGHTS):
        (smoke_jepa / name).unlink()                                           # the folder is shared


def _copied_as_probe(folder):
    """A folder whose probe.json is a beat probe's card: the attentive slot holding the wrong kind."""
    import shutil
    bad = folder.parent / "beat-as-attentive"
    bad.mkdir(exist_ok=True)
    shutil.copyfile(folder / BEAT_PROBE_CARD, bad / PROBE_CARD)
    shutil.copyfile(folder / BEAT_PROBE_WEIGHTS, bad / PROBE_WEIGHTS)
    return bad


def test_random_encoder_is_the_same_architecture_and_seeded(smoke_jepa):
    m = model_zoo.load(smoke_jepa, device="cpu")
    a, b, c = random_encoder(m, 0), random_encoder(m, 0), random_encoder(m, 1)
    x = torch.randn(2, 8, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    assert a.grid == m.grid and a.name == "random"
    assert torch.equal(a.tokens(x), b.tokens(x))
    assert not torch.equal(a.tokens(x), c.tokens(x)) and not torch.equal(a.tokens(x), m.tokens(x))


def test_probe_lr_warms_up_then_decays_to_zero_and_unknown_schedules_are_named():
    cosine = ProbeTraining(lr=2e-3, schedule="cosine", warmup_epochs=5, max_epochs=25)
    assert cosine.lr_at(0) == 0 and cosine.lr_at(2.5) == pytest.approx(1e-3)
    assert cosine.lr_at(5) == pytest.approx(2e-3) and cosine.lr_at(15) == pytest.approx(1e-3)
    assert cosine.lr_at(25) == pytest.approx(0, abs=1e-12)
    assert ProbeTraining(lr=2e-3).lr_at(17.3) == 2e-3
    with pytest.raises(ValueError, match="linear_ramp"):
        ProbeTraining(schedule="linear_ramp")


@pytest.mark.parametrize("family", ["jepa", "mae"])
def test_random_encoder_draw_ignores_the_predictor_and_decoder_size(family):
    """The untrained baseline repeats across recipes that differ only in predictor or decoder depth."""
    from tests.builders import smoke_wrappers
    jepa, mae = smoke_wrappers()
    like = jepa if family == "jepa" else mae
    config = copy.deepcopy(like.net.config)
    if family == "jepa":
        config.pred_num_hidden_layers += 3
    else:
        config.decoder_num_hidden_layers += 3
    deeper = EncoderWrapper(family, type(like.net)(config), name="deeper", device="cpu")
    x = torch.randn(2, 8, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    a, b = random_encoder(like, 0), random_encoder(deeper, 0)
    assert sum(p.numel() for p in a.net.parameters()) < sum(p.numel() for p in b.net.parameters())
    assert torch.equal(a.tokens(x), b.tokens(x))


def test_pixel_tokens_follow_the_encoder_token_order():
    enc = PixelEncoder(frames=16, size=112)
    x = torch.randn(2, 16, 3, 112, 112)
    tokens = enc.tokens(x)
    assert enc.grid == (8, 7, 7) and tokens.shape == (2, 392, 36)
    grey = F.avg_pool2d(x.mean(2).reshape(32, 1, 112, 112), 4).reshape(2, 16, 28, 28)
    t, h, w = 3, 5, 2                                               # token t * 49 + h * 7 + w
    patch = grey[:, 2 * t:2 * t + 2, 4 * h:4 * h + 4, 4 * w:4 * w + 4].reshape(2, -1)
    assert torch.allclose(tokens[:, t * 49 + h * 7 + w, :32], patch, atol=1e-6)
    assert torch.allclose(tokens[0, t * 49 + h * 7 + w, 32:35], torch.tensor([t / 7, h / 6, w / 6]))
    assert enc.pooled(x).shape == (2, 16 * 28 * 28)


SHIPPED_PROBES = sorted((p.parent, stem) for stem in (PROBE, BEAT_PROBE)
                        for p in SHIPPED.glob(f"*/{stem}.json")) if SHIPPED.is_dir() else []
CARD_KEY = {PROBE: "shipped_probe", BEAT_PROBE: "shipped_beat_probe"}
TOLERANCE = 0.01           # EF points per clip: the same clips, pipeline and batches; only thread counts may differ


@pytest.mark.slow
@pytest.mark.skipif(not SHIPPED_PROBES, reason="no shipped probe in model_zoo/checkpoints yet; the owner adds "
                    "them with python -m model_zoo.evaluate --out DIR --ship")
@pytest.mark.parametrize("folder,stem", SHIPPED_PROBES, ids=lambda p: getattr(p, "name", p))
def test_shipped_probe_reproduces_its_card(folder, stem):
    """Re-render the probe's check clips (the first clean test clips), predict through the shipped
    encoder and probe (the attentive probe, then the beat view's), and match the predictions and MAE
    recorded when the card's numbers were made."""
    m, probe = model_zoo.load(folder, device="cpu"), load_probe(folder, stem=stem)
    meta, card = probe.meta, read_card(folder)
    assert card["results"][CARD_KEY[stem]]["clean"] == meta["test"]["clean"]
    check, frames, size = meta["check"], meta["protocol"]["frames"], meta["protocol"]["size"]
    clips = [render_beat(s, "adult", frames, size) for s in check["clip_seeds"]]
    pred = torch.cat([predict_ef(m, probe, to_model_input(clips[i:i + 16], frames=frames, size=size))
                      for i in range(0, len(clips), 16)]).numpy()
    assert np.allclose([c.truth.ef for c in clips], check["ef_true"], atol=1e-3)
    assert np.abs(pred - np.array(check["ef_pred"])).max() < TOLERANCE
    assert abs(np.abs(pred - np.array(check["ef_true"])).mean() - check["mae"]) < TOLERANCE
