"""A centred JEPA ships the mean target its predictor learnt around; the latent views compare its
predictions with targets built as in training (centred, top-K), or say why they cannot."""
import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import model_zoo
from model_zoo import ship
from model_zoo.checkpoint import export
from model_zoo.data import PhantomBatches
from model_zoo.gain_norm import blur_frames, gain_normalise
from model_zoo.jepa import JEPA, emphasise_beat, target_embeddings
from model_zoo.masks import gather_tokens
from model_zoo.recipes import get_recipe, recipe_from_card
from model_zoo.checkpoint import TARGET_MEAN
from model_zoo.target_mean import fit_target_mean
from model_zoo.train import train

CENTRED = get_recipe("smoke", jepa_center_targets=True)    # grid (4, 4, 4): 64 tokens, 48-d


@pytest.fixture(scope="module")
def centred_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("centred")
    train("jepa", CENTRED, root, progress=False)
    return root / "model"


def clip(n=2):
    return torch.randn(n, 8, 3, 64, 64, generator=torch.Generator().manual_seed(3))


def test_training_a_centred_jepa_writes_its_target_mean_and_loading_subtracts_it(centred_folder):
    assert (centred_folder / TARGET_MEAN).exists()
    m = model_zoo.load(centred_folder, device="cpu")
    assert m.target_mean.shape == (64, 48)
    x = clip()
    with torch.no_grad():
        plain, _ = target_embeddings(m.net.encoder, x, 1)
        assert torch.allclose(m.latent_targets(x), plain - m.target_mean, atol=1e-6)
        idx = torch.arange(1, 64, 2).expand(2, -1)
        _, truth = m.predict_latents(x, torch.arange(0, 64, 2).expand(2, -1), idx)
        assert torch.allclose(truth, gather_tokens(plain - m.target_mean, idx), atol=1e-6)


def test_the_mean_is_the_training_batches_expectation(centred_folder):
    """Targets of other training batches (the smoke pool's same 8 clips under other crops) are centred by it: their mean over clips is
    much closer to zero than the uncentred targets' mean is."""
    m = model_zoo.load(centred_folder, device="cpu")
    data = PhantomBatches(CENTRED, 0)
    with torch.no_grad():
        plain = torch.cat([target_embeddings(m.net.encoder, data.batch(b), 1)[0] for b in range(8, 16)])  # (32, N, D)
    before = plain.mean(0).norm()
    after = (plain - m.target_mean).mean(0).norm()
    assert after < 0.5 * before


def test_a_centred_folder_without_its_mean_says_how_to_make_it(centred_folder, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(centred_folder, bare)
    (bare / TARGET_MEAN).unlink()
    m = model_zoo.load(bare, device="cpu")
    assert m.target_mean is None
    m.tokens(clip())                                       # everything else still works
    with pytest.raises(ValueError, match="centred targets.*python -m model_zoo.target_mean"):
        m.predict_latents(clip(), torch.arange(0, 64, 2).expand(2, -1), torch.arange(1, 64, 2).expand(2, -1))


def test_a_target_mean_of_the_wrong_shape_is_refused(centred_folder, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(centred_folder, bad)
    save_file({"target_mean": torch.zeros(10, 48)}, str(bad / TARGET_MEAN))
    with pytest.raises(ValueError, match=r"target_mean.safetensors .* \(10, 48\).*\(64, 48\)"):
        model_zoo.load(bad, device="cpu")


def test_ship_measures_the_mean_a_folder_was_trained_without(centred_folder, tmp_path, monkeypatch):
    old = tmp_path / "old"
    shutil.copytree(centred_folder, old)
    (old / TARGET_MEAN).unlink()
    monkeypatch.setattr(ship, "SHIPPED", tmp_path / "shipped")
    dest = ship.ship(old, name="centred")
    assert (dest / TARGET_MEAN).exists()
    assert torch.allclose(model_zoo.load(dest, device="cpu").target_mean,
                          model_zoo.load(centred_folder, device="cpu").target_mean, atol=1e-6)
    # a name that is a path would have the old folder replaced anywhere: refused before anything is touched
    (tmp_path / "keep").mkdir()
    for bad in ("../keep", "/tmp", "..", "Jepa Small"):
        with pytest.raises(ValueError, match="must be lower-case letters"):
            ship.ship(old, name=bad)
    assert (tmp_path / "keep").is_dir() and sorted(p.name for p in (tmp_path / "shipped").iterdir()) == ["centred"]


def test_uncentred_folders_have_no_mean_to_measure(tmp_path):
    export(JEPA(get_recipe("smoke")), tmp_path, {"name": "j", "method": "jepa", "recipe": "smoke",
                                                  "recipe_settings": get_recipe("smoke").to_dict()})
    with pytest.raises(ValueError, match="uncentred"):
        fit_target_mean(tmp_path)


def test_top_k_targets_are_what_the_latent_view_compares_with(tmp_path):
    r = get_recipe("smoke", jepa_target_layers=2)
    export(JEPA(r), tmp_path, {"name": "j", "method": "jepa", "recipe": "smoke", "recipe_settings": r.to_dict()})
    m = model_zoo.load(tmp_path, device="cpu")
    x = clip()
    with torch.no_grad():
        assert torch.allclose(m.latent_targets(x), target_embeddings(m.net.encoder, x, 2)[0], atol=1e-6)
        assert not torch.allclose(m.latent_targets(x), target_embeddings(m.net.encoder, x, 1)[0], atol=1e-3)


def test_beat_weighted_targets_are_what_the_latent_view_compares_with(tmp_path):
    """A JEPA trained with jepa_motion_weight is compared in the app with the targets it learnt to predict."""
    r = get_recipe("smoke", jepa_motion_weight=2.0)
    export(JEPA(r), tmp_path, {"name": "j", "method": "jepa", "recipe": "smoke", "recipe_settings": r.to_dict()})
    m = model_zoo.load(tmp_path, device="cpu")
    x = clip()
    with torch.no_grad():
        plain = target_embeddings(m.net.encoder, x, 1)[0]
        assert torch.allclose(m.latent_targets(x), emphasise_beat(plain, m.grid[0], 2.0), atol=1e-6)
        assert not torch.allclose(m.latent_targets(x), plain, atol=1e-3)


def test_blurred_targets_are_what_the_latent_view_compares_with(tmp_path):
    """A JEPA trained on blurred target views (jepa_target_blur) is compared with targets of the blurred clip,
    blurred before the gain normalisation as in training."""
    r = get_recipe("smoke", acq_jitter=1.0, jepa_target_blur=2.0, input_gain_norm=0.05)
    jepa = JEPA(r)                                     # no gain-normalisation hook: training's own encoder
    export(jepa, tmp_path, {"name": "j", "method": "jepa", "recipe": "smoke", "recipe_settings": r.to_dict()})
    m = model_zoo.load(tmp_path, device="cpu")        # normalises through a hook on its patch embedding
    x = clip()
    as_trained = lambda v: target_embeddings(jepa.net.encoder, v, 1)[0]
    with torch.no_grad():                              # training: crop, blur, then gain-normalise
        assert torch.allclose(m.latent_targets(x), as_trained(gain_normalise(blur_frames(x, 2.0), 0.05)), atol=1e-5)
        assert not torch.allclose(m.latent_targets(x), as_trained(blur_frames(gain_normalise(x, 0.05), 2.0)),
                                  atol=1e-3)           # the other order is another target
        assert not torch.allclose(m.latent_targets(x), as_trained(gain_normalise(x, 0.05)), atol=1e-3)


def test_recipe_from_card_round_trips_and_keeps_defaults_for_fields_it_predates():
    r = get_recipe("small_centered_frozen_patch_jitter_top3")
    card = json.loads(json.dumps({"recipe": r.name, "recipe_settings": r.to_dict()}))
    assert recipe_from_card(card) == r
    del card["recipe_settings"]["jepa_target_layers"]
    assert recipe_from_card(card).jepa_target_layers == 1


def test_each_export_drops_the_mean_and_a_resumed_run_measures_it_again(tmp_path):
    """The mean belongs to the weights it was measured on: extending a finished run removes it with the
    first new checkpoint, and the run writes it again when it finishes (or when resumed finished)."""
    train("jepa", CENTRED, tmp_path, progress=False)
    first = model_zoo.load(tmp_path / "model", device="cpu").target_mean
    longer = get_recipe("smoke", jepa_center_targets=True, steps=6)
    train("jepa", longer, tmp_path, resume=True, stop_after=5, progress=False)
    assert not (tmp_path / "model" / TARGET_MEAN).exists()
    train("jepa", longer, tmp_path, resume=True, progress=False)
    second = model_zoo.load(tmp_path / "model", device="cpu").target_mean
    assert not torch.allclose(first, second, atol=1e-4)
    (tmp_path / "model" / TARGET_MEAN).unlink()
    train("jepa", longer, tmp_path, resume=True, progress=False)            # finished already: only the mean
    assert torch.allclose(model_zoo.load(tmp_path / "model", device="cpu").target_mean, second, atol=1e-6)


def test_error_paths_name_the_problem(centred_folder, tmp_path, smoke_models):
    with pytest.raises(ValueError, match="not a JEPA folder"):
        fit_target_mean(smoke_models[1])                                    # an MAE
    with pytest.raises(ValueError, match="not a JEPA folder"):
        fit_target_mean(tmp_path)                                           # no card at all
    with pytest.raises(ValueError, match="not a JEPA"):
        model_zoo.load(smoke_models[1], device="cpu").latent_targets(clip())
    keyless = tmp_path / "keyless"
    shutil.copytree(centred_folder, keyless)
    save_file({"mean": torch.zeros(64, 48)}, str(keyless / TARGET_MEAN))
    with pytest.raises(ValueError, match="holds no 'target_mean'"):
        model_zoo.load(keyless, device="cpu")


def test_the_latent_view_of_a_centred_jepa_compares_with_centred_targets(centred_folder, tmp_path):
    """jepa_view's cosine and its visible-mean baseline both use the centred targets; without the mean
    the view refuses with the command that makes it."""
    from echo.phantom import render_clip
    from explain.latent_pixel.grid import clip_masks, token_grid
    from explain.latent_pixel.inputs import prepare
    from explain.latent_pixel.jepa_view import jepa_view
    m = model_zoo.load(centred_folder, device="cpu")
    c = render_clip(5, n_frames=20, size=64)                               # one beat (19 frames at 30 fps)
    ctx, tgt = clip_masks(m, None, seed=0).jepa[0]
    view = jepa_view(m, c, ctx, tgt)
    g = token_grid(m)
    with torch.no_grad():
        truth = m.latent_targets(prepare(c, g.frames, g.size).x)[0]          # (N, D), centred
    guess = truth[torch.as_tensor(ctx)].mean(0, keepdim=True)
    expected = torch.nn.functional.cosine_similarity(guess, truth[torch.as_tensor(tgt)], dim=-1).numpy()
    assert np.allclose(view.baseline, expected, atol=1e-5)
    bare = tmp_path / "bare"
    shutil.copytree(centred_folder, bare)
    (bare / TARGET_MEAN).unlink()
    with pytest.raises(ValueError, match="model_zoo.target_mean"):
        jepa_view(model_zoo.load(bare, device="cpu"), c, ctx, tgt)


def test_recipe_from_card_without_settings_is_the_default_recipe():
    assert recipe_from_card(None) == recipe_from_card({"recipe_settings": None}) == \
        dataclasses.replace(get_recipe("small"), name="unknown")


def test_a_centred_folder_loads_at_another_frame_count_without_its_mean(centred_folder):
    """The mean is per token at the folder's own frame count; at another (the app's frames box) the whole model was
    refused for its shape. It loads, without the mean, and only the latent-target views say why they cannot run."""
    frames = json.loads((centred_folder / "config.json").read_text())["frames_per_clip"]
    m = model_zoo.load(centred_folder, device="cpu", overrides={"frames": frames // 2})
    assert m.target_mean is None
    assert m.tokens(torch.randn(1, frames // 2, 3, 64, 64)).shape == (1, 32, 48)
    with pytest.raises(ValueError, match="centred targets.*another frame count"):
        m.latent_targets(torch.randn(1, frames // 2, 3, 64, 64))
    assert model_zoo.load(centred_folder, device="cpu", overrides={"frames": frames}).target_mean.shape == (64, 48)
