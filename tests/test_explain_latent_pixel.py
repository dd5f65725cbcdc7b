"""Latent vs pixel views on tiny models and the phantom: token grid, shared masks, MAE and JEPA views,
anatomy probe, figures."""
import numpy as np
import pytest
import torch

from builders import smoke_wrappers
from echo.anatomy import CARDIAC_STRUCTURES, LABELS
from explain.latent_pixel import anatomy_probe as ap
from explain.latent_pixel.figures import anatomy_figure, grid_figure, jepa_figure, mae_figure
from explain.latent_pixel.grid import TokenGrid, clip_masks, token_grid, token_pixels
from explain.latent_pixel.inputs import prepare
from explain.latent_pixel.jepa_view import jepa_view
from explain.latent_pixel.mae_view import HF_MARGIN, box_interiors, flat_fill, mae_view, reconstruction_errors
from model_zoo.data import render_beat


@pytest.fixture(scope="module")
def models():
    torch.set_num_threads(1)
    return smoke_wrappers()


@pytest.fixture(scope="module")
def clip():
    return render_beat(4_000_001, "adult", 8, 64)


def test_token_grid_and_identical_masks_for_both_models(models):
    jepa, mae = models
    g = token_grid(jepa)
    assert g == token_grid(mae) == TokenGrid((4, 4, 4), 2, 16, 8, 64) and g.n_tokens == 64
    a, b = clip_masks(jepa, mae, seed=3), clip_masks(jepa, mae, seed=3)
    assert np.array_equal(a.mae, b.mae) and all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1])
                                                for x, y in zip(a.jepa, b.jepa))
    assert a.mae.sum() == 4 * int(0.9 * 16)                               # 90% of the 16 positions, every slot
    assert a.mae.reshape(4, 16).std(0).max() == 0                          # tubes: same positions in every slot
    assert len(a.jepa) == 2
    for context, target in a.jepa:
        assert not (context & target).any() and target.any()
    assert not np.array_equal(clip_masks(jepa, mae, seed=4).mae, a.mae)


def test_token_pixels_spreads_each_token_over_its_tubelet():
    g = TokenGrid((2, 2, 2), 2, 3, 4, 6)
    px = token_pixels(np.arange(8), g)
    assert px.shape == (4, 6, 6)
    assert px[0, 0, 0] == 0 and px[1, 2, 5] == 1 and px[2, 4, 1] == 6 and px[3, 5, 5] == 7


def test_reconstruction_errors_by_hand():
    rng = np.random.default_rng(0)
    noisy = rng.random((2, 32, 32))
    clean = np.full_like(noisy, 0.5)
    g = TokenGrid((1, 2, 2), 2, 16, 2, 32)
    tokens = np.array([True, True, True, False])                          # three boxes hidden, side by side
    hidden, sector = token_pixels(tokens, g), np.ones_like(noisy, bool)
    interiors = box_interiors(tokens, g)
    assert interiors.sum() == 2 * 3 * (16 - 2 * HF_MARGIN) ** 2             # each box shrunk on its own
    same = reconstruction_errors(noisy, noisy, clean, hidden, sector, interiors)
    assert same["mse_vs_noisy"] == 0 and same["hf_ratio"] == pytest.approx(1.0)
    assert same["mse_vs_clean"] == pytest.approx(((noisy - 0.5)[hidden] ** 2).mean())
    smooth = reconstruction_errors(clean, noisy, clean, hidden, sector, interiors)
    assert smooth["mse_vs_clean"] == 0 and smooth["hf_ratio"] == pytest.approx(0.0, abs=1e-12)


def test_steps_between_flat_hidden_boxes_are_not_counted_as_grain():
    """The hidden region was shrunk as one (2 px), so the steps between neighbouring hidden boxes stayed in: boxes
    of one flat value each, no grain at all, scored 0.075 of pure noise. Each box is shrunk on its own now; a fill
    of each box's true mean (what the MAE's reconstruction borrows) has its errors beside the MAE's."""
    rng = np.random.default_rng(1)
    g = TokenGrid((1, 4, 4), 2, 16, 2, 64)
    noisy = rng.random((2, 64, 64))
    tokens = np.ones(16, bool)
    tokens[5] = False
    flat = flat_fill(noisy, tokens, g)
    assert np.array_equal(flat[:, 16:32, 16:32], noisy[:, 16:32, 16:32])  # a visible box: untouched
    assert flat[:, :16, :16] == pytest.approx(np.full((2, 16, 16), noisy[:, :16, :16].mean()))
    sector, hidden = np.ones_like(noisy, bool), token_pixels(tokens, g)
    e = reconstruction_errors(flat, noisy, None, hidden, sector, box_interiors(tokens, g), flat)
    assert e["hf_ratio"] < 1e-3 and e["flat_vs_noisy"] == pytest.approx(e["mse_vs_noisy"])
    assert "flat_vs_clean" not in e


def test_boxes_too_small_to_measure_fine_grain_inside_are_said_so_not_nan_percent():
    """A model with 8-px patches leaves no box inside 6 px from each edge: hf_ratio is NaN, printed as 'nan%'."""
    import dataclasses

    from explain.latent_pixel.figures import mae_figure
    from explain.latent_pixel.mae_view import MAEView
    g = TokenGrid((1, 2, 2), 2, 8, 2, 16)
    noisy = np.random.default_rng(0).random((2, 16, 16))
    tokens = np.array([True, True, True, False])
    hidden = token_pixels(tokens, g)
    e = reconstruction_errors(noisy, noisy, noisy * 0 + 0.5, hidden, np.ones_like(hidden), box_interiors(tokens, g),
                              flat_fill(noisy, tokens, g))
    assert np.isnan(e["hf_ratio"])
    frames = (noisy * 255).astype(np.uint8)
    view = MAEView(frames, frames, frames, frames, hidden, tokens, e)
    caption = mae_figure(view)[1]
    assert "nan" not in caption and "too small (under 13 px)" in caption and f"{e['mse_vs_clean']:.4f}" in caption
    measured = mae_figure(dataclasses.replace(view, errors={**e, "hf_ratio": 0.004, "hf_clean_ratio": 0.75}))[1]
    assert "keeps 0.4% of the input's fine-grain energy" in measured and "clean anatomy keeps 75%" in measured


def test_mae_view_on_the_phantom(models, clip):
    _, mae = models
    masks = clip_masks(None, mae, seed=0)
    v = mae_view(mae, clip, masks.mae)
    assert v.frames.shape == v.reconstruction.shape == v.clean.shape == v.hidden.shape == (8, 64, 64)
    assert (v.masked[v.hidden] == 0).all() and np.array_equal(v.masked[~v.hidden], v.frames[~v.hidden])
    assert np.abs(v.reconstruction[~v.hidden].astype(int) - v.frames[~v.hidden]).max() <= 1  # visible copied
    assert {"mse_vs_noisy", "mse_vs_clean", "hf_ratio", "mse_noisy_vs_clean"} <= set(v.errors)
    fig, caption = mae_figure(v, 3)
    assert len(fig.data) == 4 and "clean" in fig.layout.annotations[3].text
    e = v.errors                   # the caption states the speckle's own size beside the MAE's error, as numbers
    assert f"{e['mse_noisy_vs_clean']:.4f}" in caption and f"{e['mse_vs_noisy']:.4f}" in caption
    assert f"errs {e['flat_vs_noisy']:.4f} from the noisy frame and {e['flat_vs_clean']:.4f} from the clean" in caption
    assert f"clean anatomy keeps {e['hf_clean_ratio']:.0%}" in caption and "taken from the true box" in caption
    assert "brightness is the true box's" in fig.layout.title.text and "0." not in fig.layout.title.text  # numbers: caption
    assert "frame 3 of the 8 it reads over one beat" in fig.layout.title.text     # the view's frame, not the clip's


def test_jepa_view_scores_only_hidden_tokens(models, clip):
    jepa, _ = models
    context, target = clip_masks(jepa, None, seed=1).jepa[0]
    v = jepa_view(jepa, clip, context, target)
    assert v.cosine.shape == v.baseline.shape == (target.sum(),)
    assert np.isnan(v.cosine_map.ravel()[~target]).all() and np.isfinite(v.cosine_map.ravel()[target]).all()
    assert (np.abs(v.cosine) <= 1 + 1e-6).all()
    with pytest.raises(ValueError, match="overlap"):
        jepa_view(jepa, clip, context | target, target)
    fig, caption = jepa_figure(v, token_grid(jepa), 1)
    assert np.array_equal(np.isnan(np.asarray(fig.data[1].z, float)), np.isnan(v.cosine_map[1]))
    # the caption says whether this predictor beats the lazy guess on this clip (an untrained one need not)
    beats = v.summary["mean_cosine"] > v.summary["baseline_cosine"]
    assert ("beat the lazy guess" in caption) == beats and ("do no better than the lazy guess" in caption) != beats
    import dataclasses
    for cosine, guess, words in ((0.9, 0.2, "beat the lazy guess (0.20)"), (0.11, 0.84, "do no better")):
        lost = dataclasses.replace(v, summary={**v.summary, "mean_cosine": cosine, "baseline_cosine": guess})
        assert words in jepa_figure(lost, token_grid(jepa), 1)[1]
    assert "not shown" in jepa_figure(dataclasses.replace(v, summary={**v.summary, "mean_cosine": 0.9,
                                                                      "baseline_cosine": 0.2}), token_grid(jepa), 1)[1]
    # the guess from position alone: the prior's token at each hidden position, scored like the predictions
    from explain.latent_pixel.jepa_view import position_prior
    prior = position_prior(jepa, n_clips=2)
    with_prior = jepa_view(jepa, clip, context, target, prior=prior)
    truth = jepa.latent_targets(prepare(clip, token_grid(jepa).frames, token_grid(jepa).size).x)[0].float()
    expected = torch.nn.functional.cosine_similarity(prior[target], truth[target], dim=-1).numpy()
    assert np.allclose(with_prior.position, expected, atol=1e-5)
    assert with_prior.summary["position_cosine"] == pytest.approx(float(expected.mean()), abs=1e-6)
    fig, caption = jepa_figure(with_prior, token_grid(jepa), 1)
    assert [t.name for t in fig.data[-3:]] == ["JEPA prediction", "guess: average visible token",
                                                "guess: this position's usual token (other clips)"]
    for cosine, guess, position, words in ((0.9, 0.2, 0.95, "but not the guess from position alone (0.95)"),
                                           (0.9, 0.2, 0.5, "and the guess from position alone (0.50): the predictor "
                                                           "uses what is visible")):
        said = dataclasses.replace(with_prior, summary={**with_prior.summary, "mean_cosine": cosine,
                                                        "baseline_cosine": guess, "position_cosine": position})
        assert words in jepa_figure(said, token_grid(jepa), 1)[1]


def test_token_labels_take_the_majority_of_each_tubelet():
    g = TokenGrid((1, 2, 2), 2, 2, 2, 4)
    labels = np.zeros((2, 4, 4), np.uint8)
    labels[:, :2, 2:] = 6                                                  # token 1: all myocardium
    labels[0, 2:, :2] = 2                                                  # token 2: 4 of 8 pixels LV, tie -> 0
    labels[:, 2, 2:] = 3                                                   # token 3: 4 RV, 4 outside -> 0 (tie)
    labels[1, 3, 2] = 3                                                    # token 3: now 5 RV of 8
    assert ap.token_labels(labels, g).tolist() == [0, 6, 0, 3]


def test_anatomy_probe_learns_planted_labels_and_round_trips(models, clip, tmp_path):
    rng = np.random.default_rng(0)
    grid = (2, 2, 2)
    labels = rng.integers(0, 3, 8 * 30)                                   # 30 clips of 8 tokens
    tokens = np.eye(3)[labels] * 3 + 0.3 * rng.standard_normal((len(labels), 3))
    probe = ap.fit(ap.features(tokens, grid, 30), labels, grid)
    assert ap.scores(probe.predict(tokens), labels)["accuracy"] > 0.95
    ap.save(probe, tmp_path, {"test": {"accuracy": 1.0}})
    loaded = ap.load_anatomy_probe(tmp_path)
    assert loaded.grid == grid and np.array_equal(loaded.predict(tokens), probe.predict(tokens))
    assert loaded.meta["test"]["accuracy"] == 1.0
    s = ap.scores(np.array([2, 2, 3, 0]), np.array([2, 3, 3, 0]))
    assert s["accuracy"] == 0.75 and s["iou"]["lv_cavity"] == 0.5 and s["mean_iou"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    jepa, mae = models                                                    # a real read-out, shapes only
    tokens, truth = ap.clip_tokens(jepa, clip)
    assert tokens.shape == (64, 48) and truth.shape == (64,) and set(truth) <= set(range(12))
    read = ap.readout(jepa, clip, ap.fit(ap.features(tokens, jepa.grid, 1), truth, jepa.grid))
    fig, caption = anatomy_figure({"jepa": read})
    assert len(fig.data) == 2 and "held-out" not in caption
    shown = set(np.unique(read["truth"][0])) | set(np.unique(read["pred"][0]))     # time slot 0, both panels
    assert list(fig.data[-1].colorbar.ticktext) == [LABELS[k].replace("_", " ") for k in sorted(shown)]
    # the caption names the tissues this clip's boxes hold, and the held-out score beside position alone's
    present = {LABELS[k].replace("_", " ") for k in np.unique(read["truth"])}
    thin = int(np.isin(read["truth"], CARDIAC_STRUCTURES).sum())
    card = {"test": {"accuracy": 0.96, "mean_iou": 0.68}, "position_only": {"accuracy": 0.94, "mean_iou": 0.53}}
    _, caption = anatomy_figure({"jepa": read}, held_out={"jepa": card})
    assert all(name in caption for name in present) and f"{jepa.grid[-1]} boxes across" in caption
    assert f"fills {thin} of {read['truth'].size} boxes" in caption
    assert "jepa 96% / IoU 0.68 (where its boxes sit alone: 94% / 0.53)" in caption


def test_grid_figure_titles_report_each_mask(models, clip):
    jepa, mae = models
    masks = clip_masks(jepa, mae, seed=2)
    fig, caption = grid_figure(np.zeros((64, 64), np.uint8), token_grid(jepa), masks)
    titles = [a.text for a in fig.layout.annotations]
    assert len(titles) == 4 and "16 tokens per time slot x 4 slots<br>each 2 frames x 16 x 16 px" in titles[0]
    assert titles[3] == f"MAE mask: {masks.mae.mean():.0%} hidden" and "boxes" in caption


def test_masks_for_two_grids_are_refused_naming_each_grid_and_the_fix(models, tmp_path):
    from transformers import VJEPA2Config, VJEPA2Model

    import model_zoo
    VJEPA2Model(VJEPA2Config(crop_size=32, frames_per_clip=4, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             pred_hidden_size=16, pred_num_hidden_layers=1, pred_num_attention_heads=2)).save_pretrained(tmp_path / "j")
    other = model_zoo.load(tmp_path / "j", device="cpu")
    with pytest.raises(ValueError, match=r"j cuts a clip into a 2x2x2 grid \(4 frames x 32 px\); mae-smoke cuts a clip "
                                         r"into a 4x4x4 grid \(8 frames x 64 px\).*same input size, patch and tubelet"):
        clip_masks(other, models[1])


def test_two_grids_refuse_only_the_shared_grid_view_and_each_model_draws_its_own_masks(models, clip, tmp_path):
    """A 224-px EchoJEPA beside the shipped 112-px MAE refused the whole tab; only the view that hides the same
    tokens from both needs one grid."""
    from transformers import VJEPA2Config, VJEPA2Model

    import model_zoo
    from explain.analysis.latent_pixel import teaching_views
    from explain.analysis.pair import LoadedModel
    VJEPA2Model(VJEPA2Config(crop_size=32, frames_per_clip=4, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             pred_hidden_size=16, pred_num_hidden_layers=1, pred_num_attention_heads=2)).save_pretrained(tmp_path / "j")
    pair = {"jepa": LoadedModel("jepa", model_zoo.load(tmp_path / "j", device="cpu"), None, None, None, False),
            "mae": LoadedModel("mae", models[1], None, None, None, False)}
    grid, mae, jepa, _ = teaching_views(pair, clip, seed=1, time_slot=3)
    assert grid.figure is None and "needs one grid" in grid.caption
    assert mae.figure is not None and jepa.figure is not None
    assert 0.5 < mae.numbers["hidden_share"] < 1 and -1 <= jepa.numbers["mean_cosine"] <= 1     # each on its own grid


def test_the_anatomy_panel_reads_each_model_with_a_probe_and_blames_the_clip_for_its_missing_labels(shipped_pair):
    """The shipped JEPA beside a model without an anatomy probe lost its read-out too ('Not available for this model:
    no model folder ... named mae-tiny'); a clip without tissue labels was said to be the model's lack."""
    import dataclasses

    from builders import tiny_wrapper
    from echo.phantom import render_clip
    from explain.analysis.latent_pixel import teaching_views
    from explain.analysis.pair import LoadedModel
    clip = render_clip(5, "adult", n_frames=40, size=112, fps=50)
    tiny = LoadedModel("mae", tiny_wrapper("mae"), None, None, None, True)          # 8 frames: 4 time slots, not 8
    *_, anatomy = teaching_views({"jepa": shipped_pair["jepa"], "mae": tiny}, clip, seed=1, time_slot=7)
    assert anatomy.figure is not None and set(anatomy.numbers) == {"jepa-small"}
    assert anatomy.caption.endswith(f" {tiny.name} ships no anatomy probe, so it has no panel here.")
    both = teaching_views(shipped_pair, clip, seed=1, time_slot=7)[-1]
    assert anatomy.numbers["jepa-small"] == both.numbers["jepa-small"]              # its read-out as beside its MAE
    *_, unlabelled = teaching_views(shipped_pair, dataclasses.replace(clip, truth=None), seed=1)
    assert unlabelled.figure is None and unlabelled.caption == (
        "Not available: this clip has no tissue labels; the anatomy read-out is scored against them, so it needs a "
        "phantom clip (an example or a generated one).")


def test_an_anatomy_probe_fitted_on_another_model_or_grid_gives_no_panel_and_says_why(shipped_pair, tmp_path):
    """The EF probes are checked against their encoder at load; the anatomy probe was not: another model's copied in
    read its tokens as if fitted on them, and one fitted on 8 time slots was handed a model run at fewer frames."""
    import shutil

    from echo.phantom import render_clip
    from explain.analysis.latent_pixel import teaching_views
    from explain.analysis.pair import load_model
    from explain.latent_pixel.anatomy_probe import CARD, WEIGHTS
    from model_zoo.registry import SHIPPED
    clip = render_clip(5, "adult", n_frames=40, size=112, fps=50)
    folder = tmp_path / "jepa-copy"
    shutil.copytree(SHIPPED / "jepa-small", folder)
    fewer = load_model(str(folder), "jepa", frames=8)                 # its own anatomy probe: 8 slots, it has 4
    anatomy = teaching_views({"jepa": fewer, "mae": shipped_pair["mae"]}, clip, seed=1)[-1]
    assert anatomy.figure is not None and set(anatomy.numbers) == {"mae-small"}
    assert anatomy.caption.endswith(" No panel for jepa-small: its anatomy probe was fitted on the token grid 8x7x7, "
                                    "not its 4x7x7.")
    for name in (WEIGHTS, CARD):
        shutil.copy(SHIPPED / "mae-small" / name, folder / name)
    swapped = load_model(str(folder), "jepa")
    with_mae_probe = teaching_views({"jepa": swapped, "mae": shipped_pair["mae"]}, clip, seed=1)[-1]
    assert with_mae_probe.caption.endswith(" No panel for jepa-small: its anatomy probe was fitted on mae-small, not "
                                           "on jepa-small.")
    assert set(with_mae_probe.numbers) == {"mae-small"}


def test_the_anatomy_figure_shows_each_model_at_its_own_slot_of_the_same_moment():
    """Two grids (8 and 4 time slots): slot 6 of 8 is slot 3 of 4; indexing the smaller grid at 6 raised IndexError."""
    truth8, truth4 = np.arange(8)[:, None, None] * np.ones((8, 2, 2), int), np.arange(4)[:, None, None] * np.ones((4, 2, 2), int)
    read = lambda t: {"pred": t, "truth": t, "accuracy": 1.0, "mean_iou": 1.0}          # noqa: E731
    fig, _ = anatomy_figure({"a": read(truth8 % 3), "b": read(truth4 % 3)}, time_slot=6, slots=8)
    name = lambda k: LABELS.get(k, "").replace("_", " ")                                 # noqa: E731
    truth, a, b = ({str(v) for v in np.asarray(t.text).ravel()} for t in fig.data)
    assert truth == a == {name(6 % 3)} and b == {name(3 % 3)}                 # slot 6 of 8, slot 3 of 4
