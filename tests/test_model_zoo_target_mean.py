"""A centred JEPA ships the mean target its predictor learnt around; the latent views compare its
predictions with targets built as in training (centred, top-K), or say why they cannot."""
import json
import shutil

import pytest
import torch
from safetensors.torch import save_file

import model_zoo
from model_zoo import ship
from model_zoo.checkpoint import export
from model_zoo.data import PhantomBatches
from model_zoo.jepa import JEPA, target_embeddings
from model_zoo.masks import gather_tokens
from model_zoo.recipes import get_recipe, recipe_from_card
from model_zoo.target_mean import TARGET_MEAN, fit_target_mean
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
    """Targets of training batches it was not measured on are centred by it: their mean over clips is
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


def test_recipe_from_card_round_trips_and_keeps_defaults_for_fields_it_predates():
    r = get_recipe("small_centered_frozen_patch_jitter_top3")
    card = json.loads(json.dumps({"recipe": r.name, "recipe_settings": r.to_dict()}))
    assert recipe_from_card(card) == r
    del card["recipe_settings"]["jepa_target_layers"]
    assert recipe_from_card(card).jepa_target_layers == 1
