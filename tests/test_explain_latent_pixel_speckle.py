"""The speckle test: the statistic on embeddings with a known ratio, and 'same heart, fresh speckle'."""
import numpy as np
import pytest
import torch

from builders import smoke_wrappers
from explain.latent_pixel.figures import speckle_figure
from explain.latent_pixel.speckle import same_heart, speckle_seed, speckle_statistic, speckle_test


def test_statistic_on_planted_embeddings_with_a_known_ratio():
    # 3 hearts at 0, 2, 4 on axis 0; two draws at +-0.5 on axis 1
    hearts = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]])
    noise = np.array([[0.0, 0.5], [0.0, -0.5]])
    e = hearts[:, None, :] + noise[None, :, :]                            # (3 hearts, 2 draws, 2)
    s = speckle_statistic(e)
    assert s["within"] == pytest.approx(0.5)                              # var([0.5, -0.5], ddof 1)
    assert s["between"] == pytest.approx(4.0)                             # var([0, 2, 4], ddof 1)
    assert s["ratio"] == pytest.approx(0.125)
    with pytest.raises(ValueError, match="hearts"):
        speckle_statistic(e[:1])
    with pytest.raises(ValueError, match="draws >= 2"):                  # one draw has no spread over draws
        speckle_statistic(e[:, :1])
    louder = e.copy()
    louder[0] = hearts[0] + 3 * noise                                     # heart 0's draws spread 3x: variance 4.5
    assert speckle_statistic(louder)["within"] == pytest.approx((4.5 + 0.5 + 0.5) / 3)    # the mean over hearts


def test_every_heart_and_draw_gets_speckle_of_its_own():
    seeds = [speckle_seed(h, k) for h in range(50) for k in range(9)]
    assert len(set(seeds)) == len(seeds) and speckle_seed(7, 0) == 7     # draw 0: the heart's own clip


def test_fresh_speckle_keeps_the_heart():
    a, b = same_heart(11, 2, frames=8, size=64)
    assert np.array_equal(a.truth.labels, b.truth.labels) and np.array_equal(a.truth.phase, b.truth.phase)
    assert a.truth.ef == b.truth.ef and a.fps == b.fps
    assert (a.frames != b.frames).mean() > 0.2                            # new grain everywhere in the fan


def test_every_speckle_draw_of_a_heart_is_cropped_to_one_fan(monkeypatch):
    """Each draw's fan was found afresh in its own pixels: for some hearts the crop moved 3-4 px from draw to draw,
    a shifted or zoomed heart that made about half the speckle ratio. Every draw now gets the first draw's crop."""
    import explain.latent_pixel.speckle as speckle
    from echo.preprocess import find_sector
    import model_zoo
    from model_zoo.features import input_shape
    torch.set_num_threads(1)
    jepa = model_zoo.load("jepa-small", device="cpu")
    heart, (frames, size) = 4_000_003, input_shape(jepa)                  # one of the page's hearts whose fan moves
    assert len({tuple(find_sector(c).bbox) for c in same_heart(heart, 4, frames=frames, size=size)}) > 1
    seen = []
    real = speckle.to_model_input
    monkeypatch.setattr(speckle, "to_model_input", lambda clips, **kw: seen.append(clips) or real(clips, **kw))
    speckle.speckle_embeddings({"j": jepa}, [heart], 4)
    assert len(seen[0]) == 4 and len({tuple(c.meta["sector_bbox"]) for c in seen[0]}) == 1


def test_speckle_test_on_tiny_models_and_its_figure():
    torch.set_num_threads(1)
    jepa, mae = smoke_wrappers()
    out = speckle_test({"JEPA target": jepa, "MAE": mae}, hearts=[1, 2, 3], draws=2)
    for v in out.values():
        assert v["ratio"] == pytest.approx(v["within"] / v["between"]) and v["within"] > 0
    fig, caption = speckle_figure(out)
    assert list(fig.data[0].y) == pytest.approx([out["JEPA target"]["ratio"], out["MAE"]["ratio"]])
    assert "speckle" in caption
    mixed = {"jepa target": out["JEPA target"], "mae": out["MAE"], "jepa context": out["JEPA target"]}
    fig, _ = speckle_figure(mixed, {"jepa target": "jepa", "mae": "mae", "jepa context": "jepa"})
    assert list(fig.data[0].x) == ["jepa target", "jepa context", "mae"]      # a JEPA's encoders side by side
    from explain.latent_pixel.figures import _moved
    assert [_moved(0.43, 0.105), _moved(0.08, 0.117), _moved(0.11, 0.117)] == [
        "training raised it 4.1x", "training lowered it 1.5x", "about where it began"]
    assert "untrained" not in speckle_figure(mixed)[1]                    # no reference measured: none said


def test_the_speckle_view_names_the_encoder_a_context_readout_jepa_reads(tmp_path):
    from explain.analysis.latent_pixel import speckle_ratios, speckle_view
    from explain.analysis.pair import LoadedModel
    from model_zoo.checkpoint import export
    from model_zoo.jepa import JEPA
    from model_zoo.recipes import get_recipe
    import model_zoo

    torch.set_num_threads(1)
    recipe = get_recipe("smoke", jepa_readout="context")
    torch.manual_seed(0)
    jepa = JEPA(recipe).eval()
    with torch.no_grad():                      # the two encoders differ
        for p in jepa.context_encoder.parameters():
            p.mul_(1.1)
    folder = export(jepa, tmp_path / "jepa-ctx", {"name": "jepa-ctx", "method": "jepa", "recipe": "smoke",
                                                  "recipe_settings": recipe.to_dict(), "steps": 0})
    _, mae = smoke_wrappers()
    pair = {"jepa": LoadedModel("jepa", model_zoo.load(folder, device="cpu"), None, None, folder, True),
            "mae": LoadedModel("mae", mae, None, None, None, True)}
    ratios = speckle_ratios(pair)
    assert set(ratios) == {"jepa", "jepa_target", "mae", "jepa_untrained", "mae_untrained"}
    assert ratios["jepa"]["ratio"] != pytest.approx(ratios["jepa_target"]["ratio"])
    assert set(speckle_ratios(pair, untrained=False)) == {"jepa", "jepa_target", "mae"}
    # the reference: an untrained network of each model's shape (the evaluation's untrained baseline, seed 0)
    from explain.latent_pixel.speckle import UNTRAINED, UNTRAINED_SEED, speckle_test
    from explain.analysis.latent_pixel import SPECKLE_DRAWS, SPECKLE_HEARTS
    from model_zoo.features import random_encoder
    again = speckle_test({"u": random_encoder(mae, UNTRAINED_SEED)}, list(SPECKLE_HEARTS), SPECKLE_DRAWS)["u"]
    assert ratios["mae_untrained"]["ratio"] == pytest.approx(again["ratio"])
    view = speckle_view(pair)
    assert list(view.figure.data[0].x) == ["jepa-ctx (context)", "jepa-ctx (EMA target)", UNTRAINED.format("jepa-ctx"),
                                           "mae-smoke", UNTRAINED.format("mae-smoke")]
    assert list(view.figure.data[0].marker.color)[2::2] == ["#7f7f7f", "#7f7f7f"]            # the references in grey
    # each trained encoder read against its family's reference, in the caption
    assert (f"mae-smoke {ratios['mae']['ratio']:.2f} against {ratios['mae_untrained']['ratio']:.2f} untrained"
            in view.caption)
    assert (f"jepa-ctx (EMA target) {ratios['jepa_target']['ratio']:.2f} against "
            f"{ratios['jepa_untrained']['ratio']:.2f} untrained" in view.caption)


def test_a_jepa_exported_again_to_its_folder_has_its_new_context_encoder_tested(tmp_path):
    """The JEPA's other encoder was cached on its folder's path alone: a model exported again to the same folder (a
    retrained one) had its target encoder's ratio updated and its context encoder's left at the old files'."""
    import time

    from explain.analysis.latent_pixel import speckle_ratios
    from explain.analysis.pair import LoadedModel
    from model_zoo.checkpoint import export
    from model_zoo.jepa import JEPA
    from model_zoo.recipes import get_recipe
    import model_zoo

    torch.set_num_threads(1)
    recipe, folder = get_recipe("smoke"), tmp_path / "jepa-x"
    card = {"name": "jepa-x", "method": "jepa", "recipe": "smoke", "recipe_settings": recipe.to_dict(), "steps": 0}

    def context_ratio(scale: float) -> float:
        torch.manual_seed(0)
        jepa = JEPA(recipe).eval()
        with torch.no_grad():
            for p in jepa.context_encoder.parameters():
                p.mul_(scale)
        export(jepa, folder, card)
        loaded = LoadedModel("jepa-x", model_zoo.load(folder, device="cpu"), None, None, folder, True)
        return speckle_ratios({"jepa": loaded}, untrained=False)["jepa_context"]["ratio"]

    first = context_ratio(1.1)
    time.sleep(0.01)                                          # a later modification time, whatever the file system
    assert context_ratio(3.0) != pytest.approx(first)


def test_the_jepas_other_encoder_is_read_where_shipped_absent_where_not_and_refused_by_name_when_damaged(
        smoke_models, tmp_path):
    """A context encoder cut short had been dropped from the speckle test without a word (every ValueError read as
    'no context encoder'); a folder without one, or a checkpoint file, still goes on without it."""
    import shutil

    from explain.analysis.latent_pixel import _other_encoder
    from model_zoo.checkpoint import CONTEXT_ENCODER
    folder = tmp_path / "jepa"
    shutil.copytree(smoke_models[0], folder)
    assert _other_encoder("jepa-smoke", str(folder), "target") is not None       # the folder ships it
    assert _other_encoder("jepa-smoke", str(folder), "context") is not None      # its target beside a context read-out
    damaged = tmp_path / "damaged"
    shutil.copytree(folder, damaged)
    context = damaged / CONTEXT_ENCODER
    context.write_bytes(context.read_bytes()[: context.stat().st_size // 2])
    with pytest.raises(ValueError, match=CONTEXT_ENCODER):
        _other_encoder("jepa-smoke", str(damaged), "target")
    context.unlink()
    assert _other_encoder("jepa-smoke", str(damaged), "target") is None


def test_a_v_jepa_training_checkpoints_context_encoder_is_read_and_one_without_goes_on(tmp_path):
    """A V-JEPA 2 / EchoJEPA training checkpoint holds its context encoder ('encoder') beside 'target_encoder': the
    speckle test reads it from the file (a check for a folder's context_encoder.safetensors had dropped it)."""
    import torch

    from builders import vjepa2_checkpoint
    from explain.analysis.latent_pixel import _other_encoder
    both, target_only = tmp_path / "vjepa native.pt", tmp_path / "target only.pt"
    ckpt = vjepa2_checkpoint(predictor=False, width=64)                  # 64 wide: one head, told from the width
    torch.save(ckpt, both)
    torch.save({k: v for k, v in ckpt.items() if k != "encoder"}, target_only)
    assert _other_encoder("vjepa", str(both), "target").context_encoder is not None
    assert _other_encoder("vjepa", str(target_only), "target") is None
    from model_zoo.features import input_shape                 # at the frames the JEPA itself runs at
    assert input_shape(_other_encoder("vjepa", str(both), "target", 8))[0] == 8
    assert input_shape(_other_encoder("vjepa", str(both), "target"))[0] == 16
