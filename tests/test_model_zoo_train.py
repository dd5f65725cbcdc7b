"""Pretraining data and runs: deterministic batches, one-beat frames, falling loss, exact resume.

The clip source and preprocessing are stand-ins (a pulsing ring in speckle), injected as the data
module allows, so these tests do not depend on the phantom's rendering.
"""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import model_zoo
from echo.clip import Clip, GroundTruth
from model_zoo.data import PhantomBatches, data_card, make_loader, one_beat, random_resized_crop
from model_zoo.gain_norm import blur_frames, gain_normalise
from model_zoo.jepa import JEPA
from model_zoo.mae import MAE
from model_zoo.optim import make_optimizer, set_lr
from model_zoo.recipes import get_recipe
from model_zoo.train import main, run_name, train, train_step

R = get_recipe("smoke")
MEAN = torch.tensor([0.485, 0.456, 0.406])[None, :, None, None]
STD = torch.tensor([0.229, 0.224, 0.225])[None, :, None, None]


def fake_clip(seed: int) -> Clip:
    """A 24-frame 64 px clip: a ring pulsing once per beat (10 to 16 frames) in fresh speckle."""
    rng = np.random.default_rng(seed)
    period = rng.uniform(10, 16)
    phase = np.mod(rng.uniform() + np.arange(24) / period, 1.0)
    yy, xx = np.mgrid[:64, :64]
    cy, cx = rng.uniform(24, 40, 2)
    radius = 12 + 6 * np.cos(2 * np.pi * phase)[:, None, None]              # (T, 1, 1)
    ring = np.abs(np.hypot(yy - cy, xx - cx)[None] - radius) < 3              # (T, H, W)
    frames = np.clip(160 * ring + rng.rayleigh(30, (24, 64, 64)), 0, 255).astype(np.uint8)
    return Clip(frames=frames, fps=30.0, source=f"fake:{seed}", truth=GroundTruth(phase=phase.astype(np.float32)))


def fake_input(clip: Clip) -> torch.Tensor:
    """(1, T, 3, 64, 64), ImageNet-normalised like echo.preprocess.to_model_input."""
    x = torch.from_numpy(clip.frames).float().div(255)[:, None].expand(-1, 3, -1, -1)
    x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)
    return ((x - MEAN) / STD)[None]


def test_one_beat_covers_one_heartbeat():
    clip = fake_clip(0)
    period = 1 / np.median(np.diff(np.unwrap(2 * np.pi * clip.truth.phase)) / (2 * np.pi))
    picked = one_beat(clip, 8, np.random.default_rng(0))
    assert picked.n_frames == 8
    first, last = np.flatnonzero((clip.frames == picked.frames[0]).all((1, 2)))[0], \
        np.flatnonzero((clip.frames == picked.frames[-1]).all((1, 2)))[0]
    assert period * 6 / 8 <= last - first + 1 <= period + 1             # 8 frames over ~one period
    no_truth = Clip(frames=clip.frames[:6], fps=30.0)
    assert one_beat(no_truth, 8, np.random.default_rng(0)).n_frames == 8  # short clip: all of it


def test_random_resized_crop_is_the_same_for_every_frame():
    x = torch.rand(1, 3, 32, 32).expand(4, -1, -1, -1)
    out = random_resized_crop(x, (0.5, 1.0), (0.9, 1.1), np.random.default_rng(0))
    assert out.shape == x.shape and torch.equal(out, out[:1].expand(4, -1, -1, -1))
    assert not torch.equal(out, x)


def test_batches_are_a_function_of_the_batch_index_whatever_the_workers():
    one = make_loader(R, 0, 0, fake_clip, fake_input)
    two = make_loader(R, 0, 2, fake_clip, fake_input)
    a = [b for b, _ in zip(one, range(3))]
    b = [b for b, _ in zip(two, range(3))]
    assert a[0].shape == (4, 8, 3, 64, 64)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert torch.equal(next(iter(make_loader(R, 2, 0, fake_clip, fake_input))), a[2])  # resume point
    assert not torch.equal(a[0], a[1])
    assert torch.equal(PhantomBatches(R, 0, fake_clip, fake_input).batch(1), a[1])


@pytest.mark.parametrize("method", [JEPA, MAE])
def test_loss_falls_on_a_fixed_batch(method):
    torch.manual_seed(0)
    model = method(R)
    opt = make_optimizer(model.trainable(), R)
    set_lr(opt, 3e-3)
    x = PhantomBatches(R, 0, fake_clip, fake_input).batch(0)
    masks = model.sample_masks(x.shape[0], torch.Generator().manual_seed(0))
    losses = [train_step(model, opt, x, masks, step, 100)[0] for step in range(30)]
    # MAE's norm-pix target is mostly fresh speckle, which no model can predict: its loss moves less
    assert losses[-1] < (0.7 if method is JEPA else 0.95) * losses[0], losses


@pytest.mark.parametrize("method", [JEPA, MAE])
def test_frozen_patch_embedding_stays_at_its_initialisation_while_the_rest_learns(method):
    torch.manual_seed(0)
    frozen = get_recipe("smoke", freeze_patch_embed=True)
    model = method(frozen)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = make_optimizer(model.trainable(), frozen)
    optimised = {id(p) for g in opt.param_groups for p in g["params"]}
    assert not any(id(p) in optimised for n, p in model.named_parameters() if "patch_embeddings" in n)
    set_lr(opt, 3e-3)
    x = PhantomBatches(R, 0, fake_clip, fake_input).batch(0)
    masks = model.sample_masks(x.shape[0], torch.Generator().manual_seed(0))
    for step in range(3):
        train_step(model, opt, x, masks, step, 100)
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    patch = {n for n in before if "patch_embeddings" in n}
    assert patch and not patch & moved                      # neither the context nor the EMA target copy
    assert any("layer.0." in n for n in moved)              # the blocks after it still train


def test_smoke_run_writes_a_loadable_model_and_card(tmp_path):
    card = train("jepa", R, tmp_path, clip_source=fake_clip, to_input=fake_input, progress=False)
    folder = tmp_path / "model"
    assert json.loads((folder / "card.json").read_text()) == card
    assert card["name"] == "jepa-smoke" and card["steps"] == 4 and card["seed"] == R.seed
    assert len(card["loss_curve"]) == 4 and card["data"]["samples_seen"] == 16
    check = card["collapse_check"]
    assert not check["collapsed"] and check["final_token_std"] > check["threshold"]
    m = model_zoo.load(folder, device="cpu")
    assert m.family == "jepa" and m.tokens(torch.randn(1, 8, 3, 64, 64)).shape == (1, 64, 48)


def test_snapshots_keep_the_model_as_it_stood_after_each_listed_step(tmp_path):
    from model_zoo.registry import resolve
    from model_zoo.train import snapshot_folder
    train("mae", R, tmp_path, clip_source=fake_clip, to_input=fake_input, progress=False, snapshots=(0, 2))
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == ["step_000000", "step_000002"]
    weights = {}
    for step in (0, 2):
        folder, name = resolve(snapshot_folder(tmp_path, step))
        card = json.loads((folder / "card.json").read_text())
        assert name == f"mae-smoke-step{step}" and card["steps"] == step and len(card["loss_curve"]) == step
        weights[step] = model_zoo.load(folder, device="cpu").encoder.state_dict()
    final = model_zoo.load(tmp_path / "model", device="cpu").encoder.state_dict()
    key = next(k for k in final if "layer.0." in k and k.endswith("weight"))
    assert not torch.equal(weights[0][key], weights[2][key])        # step 0 is the untrained model
    assert not torch.equal(weights[2][key], final[key])             # step 2 is not the final (step 4) one


def test_snapshot_steps_outside_the_run_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"snapshot steps \[5\] are outside the run's 0..4 steps"):
        train("mae", R, tmp_path, clip_source=fake_clip, to_input=fake_input, progress=False, snapshots=(2, 5))
    assert not tmp_path.joinpath("model").exists()
    with pytest.raises(SystemExit):
        main(["--method", "mae", "--recipe", "smoke", "--out", str(tmp_path), "--snapshots", "1,two"])


def test_a_run_with_the_variance_term_logs_its_hinge_in_the_card(tmp_path):
    card = train("jepa", get_recipe("smoke", jepa_var_weight=1.0, jepa_var_gamma=0.5), tmp_path,
                 clip_source=fake_clip, to_input=fake_input, progress=False)
    curve = card["collapse_check"]["var_hinge_curve"]
    assert [step for step, _ in curve] == [1, 2, 3, 4] and all(0 <= v <= 0.5 for _, v in curve)
    assert card["recipe_settings"]["jepa_var_weight"] == 1.0


def test_a_run_with_the_invariance_term_logs_its_curve_in_the_card(tmp_path):
    card = train("jepa", get_recipe("smoke", jepa_invariance_weight=0.5), tmp_path, clip_source=fake_clip,
                 to_input=fake_input, progress=False)
    curve = card["invariance_curve"]
    assert [step for step, _ in curve] == [1, 2, 3, 4] and all(v > 0 for _, v in curve)
    assert "invariance_curve" not in train("jepa", R, tmp_path / "plain", clip_source=fake_clip,
                                           to_input=fake_input, progress=False)


def test_resume_continues_from_the_saved_step_exactly(tmp_path):
    whole = train("jepa", R, tmp_path / "whole", clip_source=fake_clip, to_input=fake_input, progress=False)
    half = train("jepa", R, tmp_path / "split", stop_after=2, clip_source=fake_clip, to_input=fake_input,
                 progress=False)
    assert half["steps"] == 2
    rest = train("jepa", R, tmp_path / "split", resume=True, clip_source=fake_clip, to_input=fake_input,
                 progress=False)
    assert rest["steps"] == 4
    assert rest["loss_curve"] == whole["loss_curve"]
    a = torch.load(tmp_path / "whole" / "state.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "state.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    for k in a["model"]:                       # context, EMA target and predictor all equal
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["optimizer"]["state"][0]["step"] == b["optimizer"]["state"][0]["step"] == 4


def test_resume_refuses_a_run_started_with_other_settings(tmp_path):
    train("mae", R, tmp_path, stop_after=2, clip_source=fake_clip, to_input=fake_input, progress=False)
    with pytest.raises(ValueError, match="freeze_patch_embed"):
        train("mae", get_recipe("smoke", freeze_patch_embed=True), tmp_path, resume=True,
              clip_source=fake_clip, to_input=fake_input, progress=False)


def test_resume_takes_a_field_added_since_as_its_default(tmp_path):
    train("mae", R, tmp_path, stop_after=2, clip_source=fake_clip, to_input=fake_input, progress=False)
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    del state["settings"]["acq_jitter"]                       # a run started before the field existed
    torch.save(state, tmp_path / "state.pt")
    with pytest.raises(ValueError, match="acq_jitter"):
        train("mae", get_recipe("smoke", acq_jitter=1.0), tmp_path, resume=True,
              clip_source=fake_clip, to_input=fake_input, progress=False)
    card = train("mae", R, tmp_path, resume=True, clip_source=fake_clip, to_input=fake_input, progress=False)
    assert card["steps"] == 4


def test_cli_refuses_to_resume_another_method(tmp_path):
    train("mae", R, tmp_path, stop_after=1, clip_source=fake_clip, to_input=fake_input, progress=False)
    with pytest.raises(ValueError, match="mae/smoke run"):
        main(["--method", "jepa", "--recipe", "smoke", "--out", str(tmp_path), "--resume", "--threads", "2"])


def test_recipe_overrides_from_the_command_line():
    import argparse

    from model_zoo.train import parse_overrides
    ap = argparse.ArgumentParser()
    assert parse_overrides(["mae_blr=1.5e-4", "jepa_masks=[[4, 0.2]]", "population=pediatric"], ap) == {
        "mae_blr": 1.5e-4, "jepa_masks": ((4, 0.2),), "population": "pediatric"}
    with pytest.raises(SystemExit):
        parse_overrides(["no_such_field=1"], ap)


def test_acquisition_views_differ_in_intensity_only_and_share_one_crop():
    jitter = get_recipe("smoke", acq_jitter=1.0)
    two = PhantomBatches(jitter, 0, fake_clip, fake_input, views=2).batch(0)    # (B, 2, T, C, H, W)
    assert two.shape == (4, 2, 8, 3, 64, 64)
    assert torch.equal(two, PhantomBatches(jitter, 0, fake_clip, fake_input, views=2).batch(0))
    grey = two[:, :, :, 0] * STD[0, 0] + MEAN[0, 0]                            # (B, 2, T, H, W) in [0, 1]
    for a, b in zip(grey[:, 0], grey[:, 1]):
        assert not torch.allclose(a, b, atol=1e-3)                              # another acquisition
        assert np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1] > 0.8  # of the same pixels
    assert PhantomBatches(jitter, 0, fake_clip, fake_input).batch(0).shape == (4, 8, 3, 64, 64)
    with pytest.raises(ValueError, match="acq_jitter"):
        PhantomBatches(get_recipe("smoke", acq_jitter=1.5), 0, fake_clip, fake_input)
    with pytest.raises(ValueError, match="jitter"):
        PhantomBatches(R, 0, fake_clip, fake_input, views=2)


def test_shadowed_acquisitions_darken_a_patch_of_the_same_view():
    plain, shadowed = (PhantomBatches(get_recipe("smoke", acq_jitter=1.0, acq_shadow=s), 0, fake_clip, fake_input,
                                      views=2).batch(0) for s in (0.0, 1.0))          # (B, 2, T, C, H, W) each
    grey = [v[:, 0, :, 0] * STD[0, 0] + MEAN[0, 0] for v in (plain, shadowed)]        # view 0, (B, T, H, W)
    # view 0 draws the same attenuation and gain cut in both; the shadow only multiplies by a map <= 1
    assert (grey[1] <= grey[0] + 2 / 255).all()
    darkening = (grey[0] - grey[1]).mean(1)                                          # (B, H, W)
    assert (darkening.amax((1, 2)) > 0.02).all()                                     # a shadow in every clip...
    assert (darkening.mean((1, 2)) < 0.5 * darkening.amax((1, 2))).all()             # ...over part of the image
    assert "acoustic shadow up to severity 1.0" in data_card(get_recipe("smoke", acq_jitter=1.0,
                                                                        acq_shadow=1.0))["augmentation"]
    for bad, match in (({"acq_jitter": 1.0, "acq_shadow": 1.5}, "acq_shadow is a severity"),
                       ({"acq_shadow": 0.5}, "needs acq_jitter")):
        with pytest.raises(ValueError, match=match):
            PhantomBatches(get_recipe("smoke", **bad), 0, fake_clip, fake_input)


def test_clean_targets_jitter_only_the_context_view():
    views = {j: PhantomBatches(get_recipe("smoke", acq_jitter=j, acq_clean_targets=True), 0, fake_clip, fake_input,
                               views=2).batch(0) for j in (0.5, 1.0)}               # (B, 2, T, C, H, W) each
    assert torch.equal(views[0.5][:, 1], views[1.0][:, 1])        # the target view: no jitter drawn
    assert not torch.allclose(views[0.5][:, 0], views[1.0][:, 0])  # the context view: jittered
    grey = views[1.0][:, :, :, 0] * STD[0, 0] + MEAN[0, 0]
    assert (grey[:, 1].mean((1, 2, 3)) > grey[:, 0].mean((1, 2, 3))).all()   # jitter only darkens
    with pytest.raises(ValueError, match="acq_clean_targets"):
        PhantomBatches(get_recipe("smoke", acq_clean_targets=True), 0, fake_clip, fake_input)
    assert "target view is the clean acquisition" in data_card(get_recipe("smoke", acq_jitter=1.0,
                                                                          acq_clean_targets=True))["augmentation"]


def test_blurred_targets_blur_only_the_target_view_before_the_gain_normalisation():
    """jepa_target_blur smooths the JEPA's target view (view 1), leaves the context view as it was, and is
    applied before the gain normalisation (blurring the normalised view instead gives another view)."""
    base = dict(acq_jitter=1.0, input_gain_norm=0.05)
    sharp, blurred = (PhantomBatches(get_recipe("smoke", **base, jepa_target_blur=b), 0, fake_clip, fake_input,
                                     views=2).batch(0) for b in (0.0, 2.0))     # (B, 2, T, C, H, W) each
    assert torch.equal(sharp[:, 0], blurred[:, 0])                             # context view untouched
    assert not torch.allclose(sharp[:, 1], blurred[:, 1], atol=1e-3)
    roughness = lambda v: v.diff(dim=-1).abs().mean().item()                   # pixel-to-pixel change
    assert roughness(blurred[:, 1]) < 0.6 * roughness(sharp[:, 1])
    unnormalised = PhantomBatches(get_recipe("smoke", acq_jitter=1.0), 0, fake_clip, fake_input, views=2).batch(0)
    expected = gain_normalise(blur_frames(unnormalised[:, 1], 2.0), 0.05)
    assert torch.allclose(blurred[:, 1], expected, atol=1e-5)
    for bad in ({"jepa_target_blur": 2.0}, {"acq_jitter": 1.0, "jepa_target_blur": -1.0}):
        with pytest.raises(ValueError, match="jepa_target_blur"):
            PhantomBatches(get_recipe("smoke", **bad), 0, fake_clip, fake_input)
    assert "target view blurred by a Gaussian of 2.0 px" in data_card(
        get_recipe("smoke", acq_jitter=1.0, jepa_target_blur=2.0))["augmentation"]


def test_jepa_predicts_the_second_views_targets_from_the_first():
    jitter = get_recipe("smoke", acq_jitter=1.0)
    torch.manual_seed(0)
    model = JEPA(jitter)
    assert model.views == 2 and MAE(jitter).views == 1
    with pytest.raises(ValueError, match="one view or two"):
        model.loss(torch.zeros(4, 3, 8, 3, 64, 64), model.sample_masks(4, torch.Generator().manual_seed(0)))
    x = PhantomBatches(jitter, 0, fake_clip, fake_input, views=2).batch(0)      # (B, 2, T, C, H, W)
    masks = model.sample_masks(x.shape[0], torch.Generator().manual_seed(0))
    seen = {}
    hooks = [m.register_forward_pre_hook(lambda mod, args, key=key: seen.setdefault(key, args[0]))
             for key, m in (("target", model.net.encoder.embeddings), ("context", model.context_encoder.embeddings))]
    model.loss(x, masks)
    for h in hooks:
        h.remove()
    assert torch.equal(seen["target"], x[:, 1]) and torch.equal(seen["context"], x[:, 0])


def test_a_jittered_run_trains_and_says_so_in_its_card(tmp_path):
    card = train("jepa", get_recipe("smoke", acq_jitter=1.0), tmp_path / "run", clip_source=fake_clip,
                 to_input=fake_input, progress=False)
    assert "acquisition jitter 1.0" in card["data"]["augmentation"]
    assert card["steps"] == 4 and np.isfinite(np.array(card["loss_curve"], dtype=float)).all()


def test_a_second_pretraining_seed_gets_a_name_of_its_own():
    assert run_name("jepa", get_recipe("small")) == "jepa-small"
    assert run_name("jepa", get_recipe("small", seed=1)) == "jepa-small-seed1"
    assert run_name("mae", get_recipe("small", seed=1)) != run_name("mae", get_recipe("small", seed=2))
