"""Model folders: save/load round trip, the shared interface, attention maps, registry, sizes."""
import copy

import pytest
import torch

import model_zoo
from model_zoo.checkpoint import export
from model_zoo.jepa import JEPA, encode_context, predict
from model_zoo.mae import MAE, reconstruct
from model_zoo.recipes import get_recipe

R = get_recipe("smoke")          # grid (4, 4, 4): 64 tokens, 48-d, 2 layers, 3 heads


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("models")
    jepa, mae = JEPA(R).eval(), MAE(R).eval()
    with torch.no_grad():        # make the context encoder differ from the target encoder
        for p in jepa.context_encoder.parameters():
            p.mul_(1.1)
    export(jepa, root / "jepa-smoke", {"name": "jepa-smoke", "method": "jepa", "recipe": "smoke", "steps": 0})
    export(mae, root / "mae-smoke", {"name": "mae-smoke", "method": "mae", "recipe": "smoke", "steps": 0})
    return root, jepa, mae


def clip(n=2):
    return torch.randn(n, 8, 3, 64, 64, generator=torch.Generator().manual_seed(3))


def test_jepa_round_trip_gives_identical_outputs(folders):
    root, jepa, _ = folders
    m = model_zoo.load(root / "jepa-smoke", device="cpu")
    assert (m.family, m.name, m.grid, m.device.type) == ("jepa", "jepa-smoke", (4, 4, 4), "cpu")
    x = clip()
    with torch.no_grad():
        expected = jepa.net.encoder(x).last_hidden_state                 # EMA target encoder
    assert torch.equal(m.tokens(x), expected)
    assert torch.equal(m.pooled(x), expected.mean(1))
    # the context encoder ships in float16
    ctx_ref = copy.deepcopy(jepa.context_encoder)
    with torch.no_grad():
        for p in ctx_ref.parameters():
            p.copy_(p.half().float())
        mc = model_zoo.load(root / "jepa-smoke", device="cpu", encoder="context")
        assert torch.equal(mc.tokens(x), ctx_ref(x).last_hidden_state)
    ctx_idx = torch.arange(0, 64, 2).expand(2, -1)
    tgt_idx = torch.arange(1, 64, 2).expand(2, -1)
    pred, target = m.predict_latents(x, ctx_idx, tgt_idx)
    assert pred.shape == target.shape == (2, 32, 48)
    with torch.no_grad():
        ref = predict(jepa.net.predictor, encode_context(ctx_ref, x, ctx_idx), ctx_idx, tgt_idx)
    assert torch.allclose(pred, ref, atol=1e-6)
    bool_ctx = torch.zeros(64, dtype=torch.bool)
    bool_ctx[::2] = True
    assert torch.allclose(m.predict_latents(x, bool_ctx, ~bool_ctx)[0], pred, atol=1e-6)
    assert torch.allclose(target.std(-1, unbiased=False), torch.ones(2, 32), atol=1e-3)  # layer-normed
    with pytest.raises(ValueError):
        m.reconstruct(x, torch.zeros(64, dtype=torch.bool))


def test_a_context_readout_recipe_loads_its_context_encoder_by_default(folders, tmp_path):
    root, jepa, _ = folders
    x = clip()
    target = model_zoo.load(root / "jepa-smoke", device="cpu").tokens(x)
    context = model_zoo.load(root / "jepa-smoke", device="cpu", encoder="context").tokens(x)
    assert not torch.allclose(target, context)
    readout = get_recipe("smoke", jepa_readout="context")
    export(jepa, tmp_path / "jepa-ctx", {"name": "jepa-ctx", "method": "jepa", "recipe": "smoke",
                                         "recipe_settings": readout.to_dict(), "steps": 0})
    m = model_zoo.load(tmp_path / "jepa-ctx", device="cpu")
    assert m.encoder is m.context_encoder and m.readout == "context" and torch.equal(m.tokens(x), context)
    as_target = model_zoo.load(tmp_path / "jepa-ctx", device="cpu", encoder="target")
    assert as_target.readout == "target" and torch.equal(as_target.tokens(x), target)
    with pytest.raises(ValueError, match="jepa_readout"):
        JEPA(get_recipe("smoke", jepa_readout="predictor"))


def test_mae_round_trip_gives_identical_outputs(folders):
    root, _, mae = folders
    m = model_zoo.load(root / "mae-smoke", device="cpu")
    assert (m.family, m.name, m.grid) == ("mae", "mae-smoke", (4, 4, 4))
    x = clip()
    with torch.no_grad():
        assert torch.equal(m.tokens(x), mae.net.videomae(x).last_hidden_state)
    mask = mae.sample_masks(2, torch.Generator().manual_seed(0))
    out = m.reconstruct(x, mask)
    assert out.shape == x.shape
    assert torch.equal(out, reconstruct(mae.net, x, mask))
    with pytest.raises(ValueError):
        m.predict_latents(x, mask, ~mask)
    with pytest.raises(ValueError):
        model_zoo.load(root / "mae-smoke", device="cpu", encoder="context")


@pytest.mark.parametrize("name", ["jepa-smoke", "mae-smoke"])
def test_attentions_shapes_and_head_fusion(folders, name):
    root = folders[0]
    m = model_zoo.load(root / name, device="cpu")
    x = clip(1)
    maps = m.attentions(x)
    assert len(maps) == 2 and all(a.shape == (1, 3, 64, 64) for a in maps)
    assert torch.allclose(maps[0].sum(-1), torch.ones(1, 3, 64), atol=1e-5)
    fused = m.attentions(x, fuse_heads="mean")
    assert all(a.shape == (1, 64, 64) for a in fused)
    assert torch.allclose(fused[1], maps[1].mean(1), atol=1e-6)
    assert torch.allclose(m.attentions(x, fuse_heads="max")[0], maps[0].amax(1), atol=1e-6)
    assert torch.allclose(m.attentions(x, fuse_heads="min")[0], maps[0].amin(1), atol=1e-6)
    assert m.net.config._attn_implementation == "sdpa"       # eager only while maps are taken
    with pytest.raises(ValueError):
        m.attentions(x, fuse_heads="median")


def test_registry_lists_shipped_and_user_folders(folders):
    root = folders[0]
    shipped = model_zoo.list_models()
    found = model_zoo.list_models(extra_dirs=[root])
    assert found[:len(shipped)] == shipped
    mine = {e["name"]: e for e in found[len(shipped):]}
    assert set(mine) == {"jepa-smoke", "mae-smoke"}
    assert mine["jepa-smoke"]["family"] == "jepa" and mine["mae-smoke"]["family"] == "mae"
    assert "48d x 2 layers" in mine["jepa-smoke"]["architecture"] and "grid 4x4x4" in mine["mae-smoke"]["architecture"]
    assert model_zoo.list_models(extra_dirs=[root / "mae-smoke"])[len(shipped):] == [mine["mae-smoke"]]
    assert model_zoo.load("mae-smoke", device="cpu", extra_dirs=[root]).family == "mae"
    with pytest.raises(FileNotFoundError):
        model_zoo.load("no-such-model")


def test_small_recipe_folders_fit_in_25_mb(tmp_path):
    r = get_recipe("small")
    for method in (JEPA, MAE):
        folder = export(method(r), tmp_path / method.family, {"name": method.family})
        size = sum(f.stat().st_size for f in folder.iterdir())
        assert size < 25 * 1024 * 1024, (method.family, size)


def test_ship_copies_the_folder_with_design_notes_and_refuses_big_ones(folders, tmp_path, monkeypatch):
    import json

    from model_zoo import ship
    root, jepa, _ = folders
    monkeypatch.setattr(ship, "SHIPPED", tmp_path / "shipped")
    dest = ship.ship(root / "jepa-smoke", name="my-jepa")
    card = json.loads((dest / "card.json").read_text())
    assert card["name"] == "my-jepa" and card["size_mb"] > 0 and card["method"] == "jepa"
    x = clip()
    a, b = model_zoo.load(dest, device="cpu"), model_zoo.load(root / "jepa-smoke", device="cpu")
    assert torch.equal(a.tokens(x), b.tokens(x))
    monkeypatch.setattr(ship, "MAX_SHIPPED_MB", 0.001)
    with pytest.raises(ValueError, match="under"):
        ship.ship(root / "mae-smoke")
