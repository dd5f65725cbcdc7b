"""explain.analysis: the beat a model sees, the model view, the OOD reference, predictions' warnings, audit."""
import csv
import dataclasses
import json
import types

import numpy as np
import pytest
import torch

from echo.clip import Clip, ClipError
from echo.phantom import render_clip
from echo.writers import write_npz
from explain.analysis.beat import beat_frames, estimate_beat_frames
from explain.analysis.ood import fit_reference, load_reference, save_reference
from explain.analysis.predict import blank_efs
from explain.analysis.window import beat_indices, frames_past_end, model_view
from model_zoo.data import frames_per_beat


def test_beat_is_estimated_from_the_clips_own_periodicity():
    for seed in (1, 2, 3):
        clip = render_clip(seed, "adult", n_frames=64, size=64, fps=50)
        true = frames_per_beat(clip)
        blind = dataclasses.replace(clip, truth=None)
        assert abs(estimate_beat_frames(blind) - true) <= 1.0
        assert beat_frames(blind)[1] == "estimated" and beat_frames(clip) == (true, "ground truth")


def test_a_truth_that_gives_no_beat_is_not_called_the_ground_truths_beat():
    """A phase that does not advance, beside fewer than two ED frames, had its whole-clip fallback called 'ground
    truth' (and so skipped the beat-length check): the beat is then estimated as for a clip with no truth."""
    from echo.clip import GroundTruth
    clip = render_clip(2, "adult", n_frames=64, size=64, fps=50)
    assert clip.truth.frames_per_beat() == frames_per_beat(clip) < clip.n_frames
    stalled = dataclasses.replace(clip, truth=GroundTruth(ef=50.0, phase=np.zeros(clip.n_frames), ed_frames=[0]))
    assert stalled.truth.frames_per_beat() is None and frames_per_beat(stalled) == clip.n_frames
    assert beat_frames(stalled) == beat_frames(dataclasses.replace(clip, truth=None))
    assert beat_frames(stalled)[1] == "estimated"
    spaced = dataclasses.replace(clip, truth=GroundTruth(phase=np.zeros(clip.n_frames), ed_frames=[3, 33, 63]))
    assert beat_frames(spaced) == (30.0, "ground truth")                  # its ED frames still give the beat


def test_estimating_the_beat_never_copies_the_whole_clip_as_floats():
    """A 600-frame 1008-px upload made a float32 copy of every frame to find its beat (2.4 GB; float64 for colour)."""
    import tracemalloc
    clip = render_clip(4, "adult", n_frames=120, size=64, fps=50)
    big = np.repeat(np.repeat(clip.frames, 4, axis=1), 4, axis=2)                 # (120, 256, 256): 7.9 MB
    for frames in (big, np.repeat(big[..., None], 3, axis=-1)):                   # grey, and colour
        tracemalloc.start()
        beat = estimate_beat_frames(Clip(frames, 50.0))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert abs(beat - frames_per_beat(clip)) <= 1.0 and peak < 0.5 * big.nbytes


def test_finding_the_beat_inside_the_fan_crops_a_frame_at_a_time():
    """beat_frames read the beat from a cropped copy of the whole clip (and its padding: twice the clip, three times
    for colour at once); each frame is now cropped as it is shrunk, with the same beat as the copy gave."""
    import tracemalloc
    from echo.preprocess import crop_to_sector, find_sector
    clip = render_clip(4, "adult", n_frames=120, size=64, fps=50)
    frames = np.repeat(np.repeat(clip.frames, 4, axis=1), 4, axis=2)[..., None].repeat(3, axis=-1)  # (120, 256, 256, 3)
    screen = Clip(np.pad(frames, [(0, 0), (20, 20), (40, 40), (0, 0)]), 50.0)    # the fan inside a wider screen
    sector = find_sector(screen)
    tracemalloc.start()
    try:
        beat = beat_frames(screen, sector)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert beat == (estimate_beat_frames(crop_to_sector(screen, sector)), "estimated")
    assert abs(beat[0] - frames_per_beat(clip)) <= 1.0 and peak < 0.25 * frames.nbytes


def test_a_views_frames_play_one_beat_in_its_real_time():
    """The overlays, the models' view and analyze's videos take one frame rate (ModelView.playback_fps)."""
    clip = render_clip(3, "adult", n_frames=100, size=64, fps=40)
    view = model_view(clip, 16, 64)
    assert view.n_frames / view.playback_fps == pytest.approx(frames_per_beat(clip) / 40.0)     # seconds of one beat
    assert dataclasses.replace(view, fps=None).playback_fps is None


def test_the_frames_a_view_shows_are_the_frames_its_model_sees():
    """An overlay's frames were resized by area averaging while the model's input was enlarged linearly: on a
    64-px clip the shown frames differed from the input by up to 80 grey levels. Now they are the input's."""
    from echo.preprocess import IMAGENET_MEAN, IMAGENET_STD
    for size in (64, 160):                                       # enlarged, and shrunk
        view = model_view(render_clip(5, "adult", n_frames=64, size=size, fps=50))
        seen = (view.x[0, :, 0].numpy() * IMAGENET_STD[0] + IMAGENET_MEAN[0]) * 255     # (T, S, S) grey channel
        assert np.abs(seen - view.frames).max() <= 1.0
        assert view.clean.shape == view.frames.shape and np.isin(view.labels, np.unique(view.labels)).all()


def test_beat_falls_back_to_the_whole_clip_when_nothing_repeats():
    rng = np.random.default_rng(0)
    noise = Clip(rng.integers(0, 255, (6, 32, 32), dtype=np.uint8), fps=30.0)   # too short for a beat
    assert estimate_beat_frames(noise) is None and beat_frames(noise) == (6.0, "whole clip")


def test_a_model_refuses_a_clip_too_short_for_a_heartbeat_or_holding_no_image():
    """A 2-frame cut got 'one heartbeat' and an EF; an all-black clip got a confident EF of 61.8%."""
    rng = np.random.default_rng(0)
    short = Clip(rng.integers(0, 255, (4, 64, 64), dtype=np.uint8), fps=50.0, source="/tmp/four_frames.mp4")
    with pytest.raises(ClipError, match=r"'four_frames.mp4' lasts 0.08 s \(4 frames at 50 fps\), shorter than one heartbeat"):
        model_view(short)
    assumed = Clip(short.frames, fps=30.0, meta={"fps_source": "default"})
    with pytest.raises(ClipError, match="at the assumed rate"):
        model_view(assumed)
    for value in (0, 1, 255):
        blank = Clip(np.full((32, 64, 64), value, np.uint8), fps=50.0, source="black.npy")
        with pytest.raises(ClipError, match=f"'black.npy' holds no image: every pixel of every frame is {value}"):
            model_view(blank)
    nearly = Clip(np.full((32, 64, 64), 10, np.uint8), fps=50.0)
    nearly.frames[3, 5, 5] = 11
    with pytest.raises(ClipError, match="is 10-11"):
        model_view(nearly)
    nearly.frames[3, 5, 5] = 12                      # two grey levels apart: an image, however faint
    assert model_view(nearly).frames.shape == (16, 112, 112)
    # a clip whose truth gives its beat may be as short as that beat, not less than half of it
    phantom = render_clip(3, "adult", n_frames=64, size=64, fps=50)
    beat = frames_per_beat(phantom)
    half = dataclasses.replace(phantom, frames=phantom.frames[:int(beat) // 2 - 1],
                               truth=dataclasses.replace(phantom.truth, phase=phantom.truth.phase[:int(beat) // 2 - 1]))
    with pytest.raises(ClipError, match="less than half of its own heartbeat"):
        model_view(half)
    # a degraded copy (its clean clip's beat given) may be blank at full strength: the lab still shows it
    assert model_view(blank, beat=(32.0, "estimated")).x.shape[1] == 16


def test_beat_indices_cover_one_beat_evenly_and_stay_in_the_clip():
    assert beat_indices(100, 32.0, 16).tolist() == list(range(0, 32, 2))
    assert beat_indices(10, 32.0, 4, start=5).tolist() == [5, 9, 9, 9]
    assert beat_indices(100, 20.0, 8).tolist() == [0, 3, 5, 8, 10, 13, 15, 18]     # 2.5 frames apart: halves up


def test_a_view_counts_the_frames_that_repeat_the_clips_last_because_its_beat_runs_past_the_end():
    """A clip between half a beat and one beat long (or a start late in it) was shown with its last frame repeated
    and said nothing: the best estimate was given on part of the cycle."""
    assert frames_past_end(10, 32.0, 4, start=5) == 3                  # [5, 9, 9, 9]: frame 9 is real once
    assert frames_past_end(100, 32.0, 16) == 0 and frames_past_end(32, 32.0, 16) == 0     # exactly one beat: none
    assert frames_past_end(60, 60.0, 8) == 0 and frames_past_end(8, 8.0, 16) == 1    # 7.5 rounds up, past frame 7
    short = render_clip(1, "adult", n_frames=40, size=64, fps=50, hr_bpm=40)          # 40 of its 75 frames a beat
    view = model_view(short, frames=16, size=64)
    assert view.beat[0] == pytest.approx(75.0, abs=0.01) and view.beat[1] == "ground truth" and view.held == 7
    assert (view.indices[-7:] == 39).all() and view.indices[-8] == 38
    assert model_view(render_clip(1, "adult", n_frames=80, size=64, fps=50, hr_bpm=40), 16, 64).held == 0


def test_training_picks_a_beats_frames_by_the_rule_the_models_view_uses():
    """One rounding rule (echo.preprocess.nearest_frames: halves up, clamped to the last frame) for the frames a
    model trains on and the frames it is shown; np.round's halves-to-even took 2 where the view takes 3."""
    from model_zoo.data import one_beat
    from echo.clip import Clip
    clip = Clip(np.arange(60, dtype=np.uint8)[:, None, None].repeat(4, 1).repeat(4, 2), 50.0)     # frame i holds i
    picked = one_beat(clip, 8, np.random.default_rng(0)).frames[:, 0, 0]   # one beat is the clip: 0, 7.5, 15, 22.5...
    assert picked.tolist() == beat_indices(60, 60.0, 8).tolist() == [0, 8, 15, 23, 30, 38, 45, 53]   # np.round: 22, 52


def test_model_view_samples_one_beat_and_keeps_the_truth_aligned():
    clip = render_clip(4, "adult", n_frames=80, size=96, fps=50)
    view = model_view(clip, frames=8, size=64)
    beat = frames_per_beat(clip)
    assert view.x.shape == (1, 8, 3, 64, 64) and view.frames.shape == (8, 64, 64)
    assert view.indices[-1] < beat <= clip.n_frames and view.beat == (beat, "ground truth")
    assert view.labels.shape == (8, 64, 64) and view.ef == clip.truth.ef
    np.testing.assert_allclose(view.phase, clip.truth.phase[view.indices])
    bright_tissue = view.frames[view.labels >= 6].mean()       # walls, valves, pericardium
    blood = view.frames[np.isin(view.labels, (2, 3, 4, 5))].mean()
    assert bright_tissue > blood + 20                          # labels lie on the pixels they name
    with pytest.raises(ClipError, match="outside"):
        model_view(clip, start=80)


def test_ood_reference_flags_shifted_embeddings_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    scale = np.linspace(3, 0.1, 24)
    fit, cal = rng.normal(size=(400, 24)) * scale, rng.normal(size=(200, 24)) * scale
    ref = fit_reference(fit, cal, k=6)
    typical = ref.assess(rng.normal(size=24) * scale)
    shifted = ref.assess(rng.normal(size=24) * scale + 3.0)  # off the low-variance axes
    assert not typical["out_of_distribution"] and shifted["out_of_distribution"]
    assert shifted["percentile"] == 100.0 and typical["percentile"] < 99
    back = load_reference(save_reference(ref, tmp_path).parent)
    assert back.assess(fit[0]) == ref.assess(fit[0]) and back.flag_rates is None      # not checked yet
    ref.flag_rates = {"n": 10, "adult": 0.1, "pediatric": 0.3}
    assert load_reference(save_reference(ref, tmp_path).parent).flag_rates == ref.flag_rates
    assert load_reference(tmp_path / "nothing") is None


def test_an_ood_score_beside_its_threshold_is_never_shown_equal_to_it():
    """A score 0.004 over the threshold read '19.02 (the 99th percentile ... is 19.02 ...): outside', and 0.004 under
    it the same numbers with 'within'."""
    from explain.analysis.ood import ood_words
    said = {flagged: ood_words({"score": 19.0152 + (0.001 if flagged else -0.001), "threshold": 19.0152,
                                "percentile": 98.7, "out_of_distribution": flagged}) for flagged in (True, False)}
    assert said[True].startswith("Out-of-distribution score 19.016 (the 99th percentile of held-out phantom clips' "
                                 "scores is 19.015;") and "outside" in said[True]
    assert said[False].startswith("Out-of-distribution score 19.01 (the 99th percentile of held-out phantom clips' "
                                  "scores is 19.02;") and "within" in said[False]
    far = ood_words({"score": 25.0, "threshold": 19.0152, "percentile": 100.0, "out_of_distribution": True})
    assert far.startswith("Out-of-distribution score 25.00 (the 99th percentile of held-out phantom clips' scores is "
                          "19.02; this clip scores higher than every one of them)")


def test_the_ood_check_writes_its_rates_beside_the_reference_and_names_a_model_without_one(tmp_path, capsys):
    import shutil
    from explain.analysis.ood import main
    from model_zoo.registry import resolve
    folder = tmp_path / "mae"
    shutil.copytree(resolve("mae-small")[0], folder, ignore=shutil.ignore_patterns("anatomy_probe*"))
    main(["--check", "--models", str(folder), "--n-check", "2"])
    rates = load_reference(folder).flag_rates
    assert rates["n"] == 2 and set(rates) == {"n", "adult", "pediatric", "depth_attenuation_2.15", "shadow_high"}
    assert f"| {folder} | 2 | {100 * rates['adult']:.0f}% |" in capsys.readouterr().out
    (folder / "ood.json").unlink()
    with pytest.raises(SystemExit, match="has no ood.json: fit one first"):
        main(["--check", "--models", str(folder), "--n-check", "2"])
    with pytest.raises(SystemExit, match="is a checkpoint file, not a model folder"):
        main(["--check", "--models", str(folder / "model.safetensors"), "--n-check", "2"])


def test_flag_rates_count_the_clips_a_reference_calls_out_of_distribution(shipped_pair):
    """A reference whose held-out clips all score 0 flags every clip; one whose clips score without bound
    flags none: the rates count verdicts, per population and condition."""
    from explain.analysis.ood import CHECK_CONDITIONS, flag_rates
    model = shipped_pair["mae"]
    for calibration, share in (([0.0] * 5, 1.0), ([1e12] * 5, 0.0)):
        strict = dataclasses.replace(model, ood=dataclasses.replace(model.ood, calibration=calibration))
        assert flag_rates(strict, n=2) == {"n": 2, "adult": share, "pediatric": share,
                                           **dict.fromkeys(CHECK_CONDITIONS, share)}


def test_predictions_warn_that_phantom_models_do_not_measure(shipped_pair):
    from explain.analysis.predict import predict
    clip = render_clip(5, "adult", n_frames=40, size=112, fps=50)
    phantom = predict(shipped_pair, clip)
    real = predict(shipped_pair, dataclasses.replace(clip, source="patient.avi", meta={}))
    for role in ("jepa", "mae"):
        assert 5 < phantom[role].ef < 95 and phantom[role].ood is not None
        assert "not a measurement" in phantom[role].warning
        assert not phantom[role].warning.startswith("Real or unknown clip")
        assert real[role].warning.startswith("Real or unknown clip")
        assert real[role].ef == pytest.approx(phantom[role].ef, abs=1e-4)   # same pixels, same EF


def test_degraded_copies_are_seen_through_the_clean_clips_crop(shipped_pair):
    """A degradation changes the pixels the models see, not where the fan is cut: at severity 0 the
    sweep reproduces the clean prediction, and a copy darkened at depth lines up with the clean view."""
    from echo.degrade import degrade
    from echo.preprocess import crop_to_sector
    from explain.analysis.degradation import condition_ef_views, severity_sweep
    from explain.analysis.predict import predict
    clip = render_clip(5, "adult", n_frames=40, size=112, fps=50)
    clean = predict(shipped_pair, clip)
    sweep = severity_sweep(shipped_pair, clip, "depth_attenuation", severities=(0.0, 1.0))
    efs = condition_ef_views(shipped_pair, clip, ("depth_attenuation_2.15",))
    in_crop = predict(shipped_pair, degrade(crop_to_sector(clip), "depth_attenuation", 1.0))
    found_again = predict(shipped_pair, degrade(clip, "depth_attenuation", 1.0))   # the old, zoomed way
    for role in ("jepa", "mae"):
        assert sweep["ef"][role][0] == pytest.approx(clean[role].ef, abs=1e-4)
        assert sweep["ef"][role][1] == pytest.approx(in_crop[role].ef, abs=1e-4)
        assert efs["depth_attenuation_2.15"][role]["ef"] == pytest.approx(in_crop[role].ef, abs=1e-4)
        assert efs["depth_attenuation_2.15"][role]["ef_beat"] == pytest.approx(in_crop[role].ef_beat, abs=1e-4)
        assert abs(found_again[role].ef - in_crop[role].ef) > 1e-3
    dark = model_view(degrade(crop_to_sector(clip), "depth_attenuation", 1.0)).frames.astype(int)
    bright = clean["jepa"].view.frames.astype(int)                          # (16, 112, 112)
    assert (dark <= bright + 1).all() and np.corrcoef(dark.ravel(), bright.ravel())[0, 1] > 0.8


def test_audit_lists_every_clip_and_why_one_could_not_be_read(tmp_path, shipped_pair):
    from explain.analysis.audit import audit
    folder = tmp_path / "clips"
    folder.mkdir()
    write_npz(folder / "a.npz", render_clip(6, "adult", n_frames=40, size=112, fps=50))
    (folder / "broken.avi").write_bytes(b"not a video at all")
    np.save(folder / "header.npy", np.zeros((40, 64, 64), np.uint8))      # a header numpy cannot parse:
    data = (folder / "header.npy").read_bytes()                            # it stopped the whole audit
    (folder / "header.npy").write_bytes(data.replace(b"'shape': (", b"'shape': ((", 1))
    (folder / "notes.txt").write_text("ignored")
    summ, rows, _ = audit(folder, shipped_pair, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "audit.json").read_text())["rows"] == rows
    assert [r["file"] for r in rows] == ["a.npz", "broken.avi", "header.npy"]
    assert "'header.npy' looks like a NumPy array but could not be read" in rows[2]["error"]
    assert rows[0]["error"] == "" and rows[0]["true_ef"] is not None and rows[0]["jepa_ef"] is not None
    assert rows[0]["jepa_abs_error"] == pytest.approx(abs(rows[0]["jepa_ef"] - rows[0]["true_ef"]), abs=0.02)
    assert rows[0]["mae_sensitivity"] >= 0 and rows[0]["jepa_focus"] > 0 and "broken.avi" in rows[1]["error"]
    assert summ["clips"] == 3 and summ["unreadable"] == 2 and summ["jepa"]["predicted"] == 1
    header = (tmp_path / "out" / "audit.csv").read_text().splitlines()[0]
    assert header.startswith("file,true_ef,jepa_ef,") and header.endswith(",error")
    assert "<table>" in (tmp_path / "out" / "audit.html").read_text()
    with pytest.raises(ClipError, match="no clip files"):
        audit(tmp_path / "out", shipped_pair, tmp_path / "out2")


def test_echonet_tracings_follow_the_clip_into_the_models_view_and_give_a_focus(tmp_path, shipped_pair):
    from echo.echonet import EchoNetDataset, write_echonet
    from explain.analysis.attention import attention
    clip = render_clip(21, "adult", n_frames=64, size=112, fps=50)
    write_echonet(tmp_path, [("c21", clip, "TEST", None)])
    real = EchoNetDataset(tmp_path)[0]
    view = model_view(real)
    assert view.labels is None and view.tracings                       # EchoNet: tracings, no label masks
    from echo.anatomy import LABEL_IDS
    from echo.echonet import tracing_mask
    truth_view = model_view(clip)                                      # the same frames, with label masks
    for i, seg in view.tracings.items():
        traced = tracing_mask(seg, 112, 112).astype(bool)
        lv = truth_view.labels[i] == LABEL_IDS["lv_cavity"]
        assert (traced & lv).sum() / (traced | lv).sum() > 0.8         # the tracing lands on the LV
    result = attention(shipped_pair, real, "rollout")["jepa"]
    assert result.focus["structures"] == "traced LV border" and result.focus["frames"] == len(view.tracings)
    traced = sorted(real.truth.lv_tracings)                              # a beat after the traced frames: said why
    later = model_view(real, start=traced[-1] + 1)
    assert not set(later.indices) & set(traced) and not later.tracings and later.traced_elsewhere == tuple(traced)
    assert view.traced_elsewhere == ()
    from app.views.attention import focus_markdown
    shown = types.SimpleNamespace(focus=None, view=later, name="jepa-small")
    assert focus_markdown(shown).startswith(f"**jepa-small**: this clip's LV tracings (frames {traced[0]}, ")


def test_a_map_too_slow_for_the_cpu_is_refused_before_it_starts():
    from types import SimpleNamespace

    import torch
    from transformers import VJEPA2Config

    from explain.analysis.attention import check_cost, forward_passes
    vit_l = VJEPA2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, crop_size=224,
                         frames_per_clip=16)
    big = SimpleNamespace(name="vitl", wrapper=SimpleNamespace(device=torch.device("cpu"), config=vit_l))
    assert forward_passes("occlusion", (8, 14, 14), {}) == 1569 and forward_passes("rollout", (8, 14, 14), {}) == 1
    assert forward_passes("feature_ablation", (8, 14, 14), {"cells": (1, 2, 2)}) == 8 * 7 * 7 + 1
    with pytest.raises(ValueError, match="occlusion' on vitl would take about .* min"):
        check_cost(big, "occlusion", {})
    check_cost(big, "rollout", {})                                     # one pass: allowed
    small = SimpleNamespace(name="small", wrapper=SimpleNamespace(device=torch.device("cpu"),
                                                                  config=VJEPA2Config(hidden_size=192, num_hidden_layers=6,
                                                                                      num_attention_heads=3, crop_size=112,
                                                                                      frames_per_clip=16)))
    check_cost(small, "occlusion", {})                                 # the shipped size: allowed


def test_the_focus_domain_of_a_traced_clip_is_its_whole_fan_even_where_a_frame_is_black():
    """A black blood pool inside the fan stays in the domain: chance is the border's share of the fan."""
    from explain.analysis.attention import focus_of
    from explain.attention_maps import TokenMap
    from explain.focus import tracing_structures
    from builders import lv_tracing
    frames = np.full((2, 112, 112), 80, np.uint8)
    frames[:, :, :8] = 0                                               # outside the fan in every frame
    frames[0, 40:70, 45:65] = 0                                        # a black cavity in frame 0 only
    seg = lv_tracing(18.0)
    view = model_view_like(frames, {0: seg})
    tmap = TokenMap(np.ones((1, 7, 7), np.float32), "rollout", (1, 7, 7), 2, 16, {})
    border = tracing_structures(seg, 112, 112)
    fan = frames.max(0) > 0
    assert focus_of(tmap, view)["chance_share"] == pytest.approx((border & fan).sum() / fan.sum())


def model_view_like(frames, tracings):
    from explain.analysis.window import ModelView
    return ModelView(torch.zeros(1, len(frames), 3, 112, 112), frames, None, None, None, np.arange(len(frames)),
                     (2.0, "whole clip"), None, tracings)


def test_an_attribution_run_reports_its_passes_as_it_goes():
    """Occlusion tells a progress bar every pass: one per token and the clip, model by model, up to 1."""
    from builders import tiny_probe, tiny_wrapper
    from explain.analysis.attention import attention, model_clips
    from explain.analysis.pair import LoadedModel
    pair = {r: LoadedModel(r, tiny_wrapper(r, seed=k), tiny_probe(seed=k), None, None, True)
            for k, r in enumerate(("jepa", "mae"))}
    clip = render_clip(3, "adult", n_frames=40, size=64, fps=50)
    heard = []
    attention(pair, clip, "occlusion", progress=lambda f, words: heard.append((f, words)))
    fractions = [f for f, _ in heard]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    total = model_clips("occlusion", (4, 4, 4), {})                     # the tiny grid: 4 x 4 x 4 tokens
    assert total == 65
    passes = [w for _, w in heard if "forward passes" in w]
    assert passes[-1].startswith(f"occlusion: mae-tiny, {total} of about {total} forward passes")
    assert any(f == 0.5 and "mae-tiny (2 of 2 models)" in w for f, w in heard)   # the second model starts half way
    assert len([w for w in passes if "jepa-tiny" in w]) > 1                      # several updates per model
    for method, params in (("integrated_gradients", {"n_steps": 6}), ("smoothgrad", {"nt_samples": 2, "n_steps": 3}),
                           ("feature_ablation", {"cells": (1, 2, 2)})):
        heard.clear()
        attention({"jepa": pair["jepa"]}, clip, method, progress=lambda f, words: heard.append((f, words)), **params)
        n = model_clips(method, (4, 4, 4), params)
        assert [w for _, w in heard if "passes" in w][-1].startswith(f"{method}: jepa-tiny, {n} of about {n} forward")


def test_model_view_finds_an_uploads_fan_once(monkeypatch):
    """Without timing the beat is estimated inside the fan; the fan model_view found is reused for it."""
    import echo.preprocess
    clip = dataclasses.replace(render_clip(5, "adult", n_frames=100, size=112, fps=50), truth=None,
                               source="patient.avi", meta={})
    calls, real = [], echo.preprocess.find_sector
    counting = lambda clip: calls.append(clip.n_frames) or real(clip)      # a Clip: its reader may say it was lossy
    monkeypatch.setattr(echo.preprocess, "find_sector", counting)      # the one fan rule, fan_to_crop, looks it up there
    view = model_view(clip)
    assert view.beat[1] == "estimated" and calls == [100]


def test_a_pair_of_two_input_shapes_finds_the_clips_fan_once(shipped_pair, monkeypatch):
    """predict and attention make one view per input shape: each view found the clip's fan again, a read across
    the whole clip each (a large upload's cost, twice for a pair of two shapes)."""
    import echo.preprocess
    from builders import tiny_wrapper
    from explain.analysis.attention import attention
    from explain.analysis.pair import LoadedModel
    from explain.analysis.predict import predict
    clip = dataclasses.replace(render_clip(5, "adult", n_frames=100, size=112, fps=50), truth=None,
                               source="patient.avi", meta={})
    pair = {"jepa": shipped_pair["jepa"], "mae": LoadedModel("mae", tiny_wrapper("mae"), None, None, None, True)}
    calls, real = [], echo.preprocess.find_sector
    monkeypatch.setattr(echo.preprocess, "find_sector", lambda clip: calls.append(clip.n_frames) or real(clip))
    views = {role: p.view for role, p in predict(pair, clip).items()}
    assert calls == [100] and views["jepa"].frames.shape == (16, 112, 112) and views["mae"].frames.shape == (8, 64, 64)
    maps = attention(pair, clip, "rollout", readout="mean")
    assert calls == [100] * 2 and {role: r.view.frames.shape for role, r in maps.items()} == {
        role: v.frames.shape for role, v in views.items()}


def test_condition_ef_views_read_clean_and_degraded_from_one_copy_with_the_beat_they_are_given(shipped_pair,
                                                                                               monkeypatch):
    """The beat given (the clean predictions') is not estimated again; 'clean' is read from the copy every
    condition degrades, so a change is the degradation's alone (the Predictions tab reads the clip as loaded)."""
    import explain.analysis.degradation as degradation
    clip = dataclasses.replace(render_clip(5, "adult", n_frames=100, size=112, fps=50), truth=None,
                               source="patient.avi", meta={})
    beat = next(iter(degradation.predict(shipped_pair, clip).values())).view.beat
    monkeypatch.setattr(degradation, "beat_frames", lambda *a: pytest.fail("the beat was estimated again"))
    out = degradation.condition_ef_views(shipped_pair, clip, ("noise_med",), beat=beat)
    copy = degradation.predict(shipped_pair, degradation.working_copy(clip, shipped_pair), beat=beat)
    assert out["clean"] == {role: {"ef": p.ef, "ef_beat": p.ef_beat} for role, p in copy.items()}
    assert set(out) == {"clean", "noise_med"}


def test_a_long_clips_degraded_copies_hold_only_the_beat_the_models_read(shipped_pair, monkeypatch):
    """A minute-long clip was degraded whole for every condition and severity, though each copy is read at one beat
    from its first frame: the copy now ends at the last frame a model's view reads, and reads the same clean EFs
    (a degradation finds its sector and scale from the frames it is given, so a degraded EF can move a little)."""
    import explain.analysis.degradation as degradation
    from explain.analysis.window import beat_indices
    clip = dataclasses.replace(render_clip(5, "adult", n_frames=300, size=112, fps=50), truth=None,
                               source="patient.avi", meta={})                          # about six beats
    beat = beat_frames(clip)
    lengths, real_predict = [], degradation.predict
    monkeypatch.setattr(degradation, "predict", lambda m, c, beat=None: lengths.append(c.n_frames) or
                        real_predict(m, c, beat=beat))
    out = degradation.condition_ef_views(shipped_pair, clip, ("noise_med",), beat=beat)
    degradation.severity_sweep(shipped_pair, clip, "shadow", severities=(0.0, 1.0))
    last = max(int(beat_indices(clip.n_frames, beat[0], m.input_shape[0]).max()) for m in shipped_pair.values())
    assert last + 1 < 100 and lengths == [last + 1] * 4
    whole = real_predict(shipped_pair, degradation.working_copy(clip, shipped_pair), beat=beat)   # every frame
    assert out["clean"] == {role: {"ef": p.ef, "ef_beat": p.ef_beat} for role, p in whole.items()}   # clean: the same


def test_a_long_clips_copy_keeps_the_whole_clips_fan_and_the_frames_traced_after_its_beat(shipped_pair, monkeypatch):
    """The copy is the first beat's frames, but its fan is found over the whole clip (as every other view finds it),
    and an EchoNet clip traced after that beat is still said to be traced elsewhere, not untraced."""
    import explain.analysis.degradation as degradation
    from echo.clip import GroundTruth
    from echo.preprocess import fan_to_crop
    clip = render_clip(5, "adult", n_frames=300, size=112, fps=50)
    segment = np.array([[40.0, 30.0, 60.0, 90.0], [35.0, 60.0, 70.0, 60.0]])
    clip = dataclasses.replace(clip, source="patient.avi", meta={}, truth=GroundTruth(
        ef=55.0, ed_frames=[150], es_frames=[190], lv_tracings={150: segment, 190: segment}))
    beat = beat_frames(dataclasses.replace(clip, truth=None))
    sectors, real_copy = [], degradation.copy_to_degrade
    monkeypatch.setattr(degradation, "copy_to_degrade", lambda c, side, sector=None: sectors.append(sector) or
                        real_copy(c, side, sector))
    copy = degradation.working_copy(clip, shipped_pair, beat=beat)
    whole_fan = fan_to_crop(clip)
    assert copy.n_frames < 100 and len(sectors) == 1 and sectors[0].bbox == whole_fan.bbox
    assert np.array_equal(sectors[0].mask, whole_fan.mask)
    assert sorted(copy.truth.lv_tracings) == [150, 190] and copy.truth.ed_frames == [150]
    size = next(iter(shipped_pair.values())).input_shape
    assert model_view(copy, *size, beat=beat).traced_elsewhere == model_view(clip, *size, beat=beat).traced_elsewhere \
        == (150, 190)


def test_ef_changes_are_differences_of_the_efs_shown_and_flag_an_all_black_reading():
    from explain.analysis.degradation import ef_changes
    from explain.analysis.predict import BLANK_POINTS, Prediction
    pred = lambda ef, ef_beat, blank=(None, None): Prediction("jepa", "m", "jepa", ef, None, None, None, None,
                                                             ef_beat, blank)
    clean = {"jepa": pred(60.04, 40.06), "mae": pred(None, None)}
    bad = {"jepa": pred(50.96, 41.0, (51.0 + BLANK_POINTS + 0.1, 40.0)), "mae": pred(None, None)}
    changes = ef_changes(clean, bad)
    attentive, beat = changes["jepa"]
    assert (attentive.probe, attentive.clean, attentive.degraded) == ("attentive", 60.0, 51.0)
    assert attentive.change == pytest.approx(-9.0) and not attentive.reads_blank      # 3.1 points from black
    assert beat.probe == "beat view" and beat.change == pytest.approx(0.9) and beat.reads_blank
    assert changes["mae"] == []                                                        # no probe: no row


def test_every_degraded_copy_shows_the_clean_clips_beat(shipped_pair, monkeypatch):
    """Without ground-truth timing the beat is estimated; a copy with dropped frames or noise would
    estimate its own, so the copies are handed the clean clip's."""
    import explain.analysis.degradation as degradation
    clip = render_clip(5, "adult", n_frames=100, size=112, fps=50)          # about two beats
    clip = dataclasses.replace(clip, truth=None, source="patient.avi", meta={})
    beats, real_predict = [], degradation.predict
    monkeypatch.setattr(degradation, "predict", lambda m, c, beat=None: beats.append(beat) or real_predict(m, c, beat=beat))
    degradation.condition_ef_views(shipped_pair, clip, ("dropped_frames_med", "noise_med"))
    degradation.severity_sweep(shipped_pair, clip, "dropped_frames", severities=(0.0, 1.0))
    assert len(beats) == 5 and all(b == beat_frames(clip) and b[1] == "estimated" for b in beats)


def test_degraded_copies_of_a_large_clip_are_made_at_twice_the_models_side(shipped_pair, monkeypatch):
    """Fourteen copies of a 680-frame 1024-px clip held 22 GB; the models see each at 112 px anyway. Each copy is
    now made from the sector crop at most 224 px (area-averaged), with the clean clip's beat and truth kept."""
    import explain.analysis.degradation as degradation
    small = render_clip(6, "adult", n_frames=60, size=112, fps=50)
    big = dataclasses.replace(small, frames=np.repeat(np.repeat(small.frames, 4, axis=1), 4, axis=2),     # 448 px
                              truth=dataclasses.replace(small.truth, labels=None, clean=None))
    sides, real_predict = [], degradation.predict
    monkeypatch.setattr(degradation, "predict", lambda m, c, beat=None: sides.append((c.height, c.width)) or
                        real_predict(m, c, beat=beat))
    out = degradation.condition_ef_views(shipped_pair, big, ("noise_med", "shadow_high"))
    degradation.severity_sweep(shipped_pair, big, "haze", severities=(0.0, 1.0))
    from echo.preprocess import crop_to_sector, is_cropped
    cropped = crop_to_sector(big)
    assert cropped.height > 224 and all(max(hw) <= 224 for hw in sides[1:]) and len(sides) == 5
    copy = degradation.working_copy(cropped, shipped_pair)
    assert copy.truth.ef == big.truth.ef and is_cropped(copy) and copy.height == copy.width == 224
    # a labelled clip keeps its labels, resized by nearest label, so a degraded copy's focus is still measured
    labelled = crop_to_sector(render_clip(6, "adult", n_frames=40, size=320, fps=50))
    kept = degradation.working_copy(labelled, shipped_pair)
    assert kept.truth.labels.shape == (40, 224, 224) and set(np.unique(kept.truth.labels)) <= set(
        np.unique(labelled.truth.labels)) and kept.truth.clean.shape == (40, 224, 224)
    assert degradation.working_copy(crop_to_sector(small), shipped_pair).height == \
        crop_to_sector(small).height                                       # a 112-px clip: as it was
    assert all(v["jepa"]["ef"] is not None for v in out.values())


def test_the_cycle_view_degrades_a_large_clip_at_twice_the_models_side_and_reads_the_clean_run_from_it(
        shipped_pair, monkeypatch):
    """The cycle view's degraded copy was made at the crop's full size: 17 times the clip's bytes at its peak (a clip
    at the 2 GiB limit would need some 34 GiB). It is now made from the working copy (at most 224 px), and the
    clean run reads that same copy, so the two trajectories stay paired pixel for pixel."""
    import tracemalloc

    import explain.analysis.cycle as cycle
    from explain.trajectory.embeddings import frame_embeddings
    small = render_clip(6, "adult", n_frames=24, size=112, fps=50)
    big = dataclasses.replace(small, frames=np.repeat(np.repeat(small.frames, 6, axis=1), 6, axis=2),     # 672 px
                              truth=dataclasses.replace(small.truth, labels=None, clean=None))
    sides, real_condition = [], cycle.apply_condition
    monkeypatch.setattr(cycle, "apply_condition", lambda c, cond, seed=0: sides.append(c.height) or
                        real_condition(c, cond, seed=seed))
    tracemalloc.start()
    out, _ = cycle.cycle(shipped_pair, big, condition="shadow_high")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sides == [224] and peak < 4 * big.frames.nbytes
    copy = cycle.working_copy(big, shipped_pair)
    clean = frame_embeddings(shipped_pair["jepa"].wrapper, copy, cycle.stride_for(big.n_frames))
    assert out["jepa"].shift > 0 and np.array_equal(out["jepa"].frames, clean.frames)


def test_a_long_clips_trajectory_keeps_enough_points_a_beat_to_follow_its_loop(shipped_pair):
    """A long clip's 48 points were spread over all of it: at 30 beats in 600 frames a step was two thirds of a beat,
    the phase unwrapped backwards (-16 beats covered) and the loop closure read 'n/a, needs more than one beat'. The
    points now sample a stretch of a few beats at 8 or more a beat, and the numbers say which frames."""
    import explain.analysis.cycle as cycle
    from app.views.cycle import numbers_markdown
    from explain.trajectory.metrics import beats_covered
    from explain.trajectory.phase import phase_at
    assert cycle.sampling(600, 20.0) == (2, 96) and cycle.sampling(64, 20.0) == (2, 64)       # a short clip: all of it
    assert cycle.sampling(600, None) == (13, 600)                                    # no beat found: as before
    clip = render_clip(3, "adult", n_frames=300, size=112, fps=30, hr_bpm=120)      # 20 beats of 15 frames
    out, estimate = cycle.cycle(shipped_pair, clip, "pca", 2)
    frames = out["jepa"].frames
    assert np.diff(frames).max() <= 15 / cycle.POINTS_PER_BEAT and frames[-1] == 47
    assert 2.5 < beats_covered(phase_at(estimate, frames)) < 3.5                   # forwards, about 3 beats
    assert all(r.loop_closure is not None for r in out.values())
    from explain.trajectory.phase import circular_error
    marks = {t.name: [int(h.split("frame ")[1]) for h in t.hovertext] for t in out["jepa"].figure.data
             if t.name in ("clean ED", "clean ES")}          # ED and ES had shared frame 47, the stretch's last
    assert len(marks["clean ED"]) >= 3 and not set(marks["clean ED"]) & set(marks["clean ES"])
    assert circular_error(estimate.phase[marks["clean ED"]], 0.0).max() <= 0.5 / cycle.POINTS_PER_BEAT
    assert "Points: every frame of frames 0-47 of the clip's 300, a stretch of a few beats" in numbers_markdown(
        out, estimate.label)
    short, _ = cycle.cycle(shipped_pair, render_clip(3, "adult", n_frames=40, size=112, fps=50), "pca", 2)
    assert "Points:" not in numbers_markdown(short, estimate.label)                # the whole clip: nothing to say


def test_a_still_clips_trajectory_says_no_heartbeat_and_measures_nothing_against_an_invented_phase(shipped_pair):
    """40 copies of one frame got a linear phase, ED and ES both on frame 0, and a phase error (162 degrees) read
    as the models' failure; no heartbeat is said now, nothing is marked, and the phase numbers are n/a."""
    import dataclasses
    import explain.analysis.cycle as cycle
    from app.views.cycle import numbers_markdown
    base = render_clip(3, "adult", n_frames=40, size=112, fps=50)
    still = dataclasses.replace(base, frames=np.repeat(base.frames[:1], 40, 0), truth=None)
    out, estimate = cycle.cycle(shipped_pair, still, "pca", 2)
    assert not estimate.beat_found
    for r in out.values():
        assert r.loop_closure is None and r.phase_error_deg is None
        assert not [t for t in r.figure.data if t.name in ("clean ED", "clean ES")] and "◆" not in r.figure.layout.title.text
    assert numbers_markdown(out, estimate.label).startswith("Colours: no heartbeat found")


def test_a_shipped_model_run_at_fewer_frames_drops_only_its_beat_view_probe():
    """The beat view's probe was fitted on 8 time slots; at 8 frames (4 slots) it cannot read the beat, so it
    is left out while the attentive probe, which reads any number of tokens, still predicts."""
    from explain.analysis.pair import load_model
    from explain.analysis.predict import predict
    torch.set_num_threads(1)
    full, short = load_model("jepa-small", "jepa", "cpu"), load_model("jepa-small", "jepa", "cpu", frames=8)
    assert full.beat_probe is not None and short.beat_probe is None and short.probe is not None
    p = predict({"jepa": short}, render_clip(7, "adult", n_frames=40, size=112, fps=50))["jepa"]
    assert p.ef is not None and p.ef_beat is None


def test_a_model_in_the_other_familys_slot_is_refused_by_name():
    """An MAE typed into the JEPA slot would have every view compare the MAE with itself, unlabelled."""
    from explain.analysis.pair import load_model
    with pytest.raises(ValueError, match="'mae-small' is an MAE model, not a JEPA: put it in the MAE slot"):
        load_model("mae-small", "jepa", "cpu")
    with pytest.raises(ValueError, match="is a JEPA model, not an MAE"):
        load_model("jepa-small", "mae", "cpu")


def test_audit_table_keeps_why_a_clip_was_unreadable_last():
    """An unreadable clip listed first must not push every EF column behind its message."""
    from explain.analysis.audit import table_columns
    rows = [{"file": "bad.avi", "true_ef": None, "error": "not a video"},
            {"file": "a.npz", "true_ef": 60.0, "error": "", "jepa_ef": 58.1, "mae_ef": 61.0}]
    assert table_columns(rows) == ["file", "true_ef", "jepa_ef", "mae_ef", "error"]
    assert table_columns([{"file": "a.npz", "jepa_ef": 58.1}]) == ["file", "jepa_ef"]


def test_a_sweep_marks_where_the_named_conditions_sit_on_its_severity_axis():
    """shadow_low / med / high are severities 1/3, 2/3, 1 of 'shadow': the sweep shows them, so its curve can be
    read against the benchmark's table; haze has one named setting (haze_med, 0.5)."""
    from explain.analysis.degradation import sensitivity_figure
    sweep = {"degradation": "shadow", "severity": [0, 0.5, 1], "ef": {"jepa": [50.0, 48.0, 45.0]}}
    fig = sensitivity_figure(sweep)
    labels = sorted(a.text for a in fig.layout.annotations)
    xs = sorted(round(s.x0, 3) for s in fig.layout.shapes)
    assert labels == ["shadow_high", "shadow_low", "shadow_med"] and xs == [0.333, 0.667, 1.0]
    haze = sensitivity_figure({**sweep, "degradation": "haze"})
    assert [a.text for a in haze.layout.annotations] == ["haze_med"]
    # and the sweep's curve passes through every named condition, not between its samples
    from echo.degrade import CONDITIONS, apply_condition, degrade
    from explain.analysis.degradation import SEVERITIES, sweep_severities
    assert sweep_severities("shadow") == (0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0)
    assert sweep_severities("haze") == SEVERITIES
    name, severity = CONDITIONS["depth_attenuation_1.50"]
    assert severity in sweep_severities(name)
    clip = render_clip(3, n_frames=4, size=64)
    assert np.array_equal(degrade(clip, name, severity, seed=3).frames,
                          apply_condition(clip, "depth_attenuation_1.50", seed=3).frames)


def test_a_sweep_says_which_model_has_no_line_and_keeps_the_truth_on_its_axis():
    """A model without an EF probe predicts no EF: the title names it (the chart was empty without a word)."""
    from explain.analysis.degradation import sensitivity_figure
    sweep = {"degradation": "shadow", "severity": [0, 0.5, 1], "ef": {"jepa": [None] * 3, "mae": [None] * 3}}
    fig = sensitivity_figure(sweep, {"jepa": "vjepa2-l", "mae": "videomae-b"}, truth=62.0)
    assert [t.name for t in fig.data] == ["true EF 62.0%"] and "no EF probe, so no line: vjepa2-l, videomae-b" in fig.layout.title.text
    assert tuple(fig.layout.yaxis.range) == (0, 100)
    one = sensitivity_figure({**sweep, "ef": {"jepa": [50.0, 48.0, 45.0], "mae": [None] * 3}}, {"mae": "videomae-b"})
    assert len(one.data) == 1 and "no line: videomae-b" in one.layout.title.text and one.layout.yaxis.range is None
    # the points a probe also reads from an all-black clip are ringed, on a line drawn above the truth's
    blank = sensitivity_figure({**sweep, "ef": {"jepa": [62.0, 55.0, 60.5], "mae": [None] * 3}, "ef_blank": {"jepa": 61.8}},
                               truth=62.0)
    assert [t.name for t in blank.data] == ["true EF 62.0%", "jepa", "jepa: all-black clip",
                                            "jepa: within 3 EF points of its all-black reading"]
    assert list(blank.data[-1].x) == [0, 1] and list(blank.data[-1].y) == [62.0, 60.5]
    # the adult categories shaded behind the lines, over the EFs plotted only (the axis keeps its detail)
    shaded = sensitivity_figure({**sweep, "ef": {"jepa": [52.0, 45.0, 38.0], "mae": [None] * 3}}, bands=True)
    rects = [(r.y0, r.y1) for r in shaded.layout.shapes if r.type == "rect"]
    assert rects == [(35.0, 40.5), (40.5, 49.5), (49.5, 55.0)]
    assert [a.text for a in shaded.layout.annotations if "(adult)" in a.text] == ["reduced (adult)", "mildly reduced (adult)",
                                                          "normal or preserved (adult)"]
    high = sensitivity_figure({**sweep, "ef": {"jepa": [62.0, 60.0, 58.0], "mae": [None] * 3}}, bands=True)
    assert [(r.y0, r.y1) for r in high.layout.shapes if r.type == "rect"] == [(55.0, 65.0)]
    assert not [r for r in one.layout.shapes if r.type == "rect"]                   # bands only where asked


def test_analyze_keeps_one_models_map_when_the_other_cannot_make_it_and_says_why(tmp_path):
    """A model without an EF probe has no IG map; the other model's map and files stay, and report.json and
    report.html say why the first has none (before, both models' maps were dropped without a word)."""
    from builders import tiny_probe, tiny_wrapper
    from explain.analysis.pair import LoadedModel
    from explain.analysis.report import analyze
    pair = {"jepa": LoadedModel("jepa", tiny_wrapper("jepa"), tiny_probe(), None, None, True),
            "mae": LoadedModel("mae", tiny_wrapper("mae", seed=1), None, None, None, True)}
    clip = render_clip(3, "adult", n_frames=40, size=64, fps=50)
    (tmp_path / "mae.integrated_gradients.png").write_bytes(b"a stopped run's strip, of another clip")   # no report.json
    report = analyze(clip, pair, tmp_path, quick=True, methods=("rollout", "integrated_gradients"))
    jepa, mae = report["models"]["jepa"], report["models"]["mae"]
    html = (tmp_path / "report.html").read_text()
    assert html.count("<h3>integrated_gradients</h3>") == 1                          # the JEPA's map, not the stale one
    # the degradation table's baseline: 'clean', read from the copy every condition degrades, as the docstring says
    assert list(jepa["degradation"])[0] == "clean" and "<tr><td>clean</td>" in html
    assert jepa["skipped"] == {} and jepa["focus"]["integrated_gradients"] is not None
    assert (tmp_path / "jepa.integrated_gradients.mp4").is_file()
    assert "has no EF probe" in mae["skipped"]["integrated_gradients"] and mae["focus"]["integrated_gradients"] is None
    assert not (tmp_path / "mae.integrated_gradients.mp4").exists()
    assert mae["rollout_file"] == "mae.rollout.npy" and (tmp_path / "mae.rollout.npy").is_file()
    assert "No integrated_gradients map: " in (tmp_path / "report.html").read_text()
    # the page's convergence check, in the file: the same map's verdict as the Attention tab gives it
    from explain.analysis.attention import attention
    again = attention({"jepa": pair["jepa"]}, clip, "integrated_gradients")["jepa"].unreliable
    assert jepa["unreliable"] == ({"integrated_gradients": again} if again else {}) and mae["unreliable"] == {}
    assert (again is None) or f"integrated_gradients map: {again}" in (tmp_path / "report.html").read_text()


def test_audit_defers_reading_keeps_a_missing_videos_ef_and_says_where_it_stopped(
        tmp_path, shipped_pair, monkeypatch):
    """Clips are read as the audit reaches them (500 long ones held at once would not fit in memory); a row
    whose video is missing keeps FileList.csv's EF; an audit cut at MAX_CLIPS says how many it left."""
    import explain.analysis.audit as audit_module
    from echo.echonet import write_echonet
    clips = [render_clip(s, "adult", n_frames=40, size=112, fps=50) for s in (21, 22)]
    write_echonet(tmp_path / "e", [(f"c{i}", c, "TEST", None) for i, c in enumerate(clips)])
    (tmp_path / "e" / "Videos" / "c1.avi").unlink()
    sources = audit_module.clips_in(tmp_path / "e")
    assert [s.name for s in sources] == ["c0", "c1"]
    assert sources[1].known_ef == pytest.approx(clips[1].truth.ef, abs=0.01)
    rows = audit_module.audit_rows(sources[1:], shipped_pair, degradations=False)
    assert rows[0]["error"] and rows[0]["true_ef"] == pytest.approx(clips[1].truth.ef, abs=0.01)
    assert rows[0]["error"] == ("c1 is listed in FileList.csv but its video, Videos/c1.avi (the suffix in any case), is "
                                "missing (not uploaded, or not in the folder).")
    assert "jepa_ef" not in rows[0]
    monkeypatch.setattr(audit_module, "MAX_CLIPS", 1)
    summ, rows, (headline, _) = audit_module.audit(tmp_path / "e", shipped_pair, tmp_path / "out")
    assert summ["clips"] == 1 and summ["found"] == 2 and summ["unreadable"] == 0
    assert headline == "1 clip (the first of 2 found: an audit reads at most 1), 0 unreadable."
    for role, m in shipped_pair.items():                 # each EF against what its probe reads from no heart
        for suffix, blank in zip(("", "_beat"), blank_efs(m)):
            assert rows[0][f"{role}_near_blank{suffix}"] == (abs(rows[0][f"{role}_ef{suffix}"] - blank) <= 3)
    saved = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert "*_near_blank" in saved["columns"] and saved["rows"] == json.loads(json.dumps(rows))
    assert {r: (m["name"], len(m["files_digest"])) for r, m in saved["run"]["models"].items()} == {
        "jepa": ("jepa-small", 16), "mae": ("mae-small", 16)}
    assert saved["run"]["models"]["jepa"]["files_digest"] != saved["run"]["models"]["mae"]["files_digest"]
    page = (tmp_path / "out" / "audit.html").read_text()       # the shared page says what made it, in one line
    digest = saved["run"]["models"]["jepa"]["files_digest"]
    assert "by EchoLens at commit" in page and f"models: jepa-small (files {digest})" in page
    (tmp_path / "none").mkdir()                                  # a FileList.csv that lists nothing is said
    (tmp_path / "none" / "FileList.csv").write_text((tmp_path / "e" / "FileList.csv").read_text().splitlines()[0] + "\n")
    with pytest.raises(ClipError, match="FileList.csv' lists no clips"):
        audit_module.clips_in(tmp_path / "none")
    plain = tmp_path / "plain"                                   # a plain folder: every file a reader takes
    plain.mkdir()
    for name in ("b.avi", "a.zip", "c.npy", "notes.txt"):
        (plain / name).write_bytes(b"")
    # a file named otherwise whose content a reader takes (a scanner's DICOM export 'IM0001'; here a NumPy array) was
    # left out in silence, not audited nor listed as unreadable; a text file without a suffix is not a clip
    np.save(plain / "d.npy", np.zeros((4, 8, 8), np.uint8))
    (plain / "d.npy").rename(plain / "IM0001")
    (plain / "LICENSE").write_text("not a clip")
    assert [s.name for s in audit_module.clips_in(plain)] == ["IM0001", "a.zip", "b.avi", "c.npy"]


def test_an_audit_of_an_echonet_folder_reads_the_clips_its_filelist_does_not_list_too(tmp_path, shipped_pair):
    """FileList.csv, c0.avi and two phantom NPZs uploaded together: the audit read c0 alone and named neither NPZ."""
    import explain.analysis.audit as audit_module
    from app.views.audit import echonet_folder
    from echo.echonet import write_echonet
    from echo.writers import write_npz
    write_echonet(tmp_path / "e", [("c0", render_clip(21, "adult", n_frames=40, size=112, fps=50), "TEST", None)])
    uploads = [tmp_path / "e" / "FileList.csv", tmp_path / "e" / "Videos" / "c0.avi",
               write_npz(tmp_path / "adult.npz", render_clip(22, "adult", n_frames=40, size=112, fps=50)),
               write_npz(tmp_path / "child.npz", render_clip(23, "pediatric", n_frames=40, size=112, fps=50))]
    (tmp_path / "e" / "Videos" / "notes.txt").write_text("not a clip")
    assert [s.name for s in audit_module.clips_in(tmp_path / "e")] == ["c0"]         # nothing else in its Videos/
    np.save(tmp_path / "export.npy", np.zeros((4, 8, 8), np.uint8))                 # a clip named otherwise there:
    (tmp_path / "export.npy").rename(tmp_path / "e" / "Videos" / "IM0001")           # taken by its content, as in a
    assert [s.name for s in audit_module.clips_in(tmp_path / "e")] == ["c0", "IM0001"]  # plain folder
    (tmp_path / "e" / "Videos" / "IM0001").unlink()
    sources = audit_module.clips_in(echonet_folder(uploads))
    assert [(s.name, s.known_ef is None) for s in sources] == [("c0", False), ("adult.npz", True), ("child.npz", True)]
    rows = audit_module.audit_rows(sources, shipped_pair, degradations=False)
    assert [r["error"] for r in rows] == ["", "", ""] and all(r["jepa_ef"] is not None for r in rows)
    assert rows[2]["true_ef"] == pytest.approx(render_clip(23, "pediatric", n_frames=40, size=112, fps=50).truth.ef,
                                               abs=0.01)                         # the NPZ's own truth


def test_an_audit_with_a_time_limit_starts_no_clip_after_it_and_says_how_many_it_left(tmp_path, shipped_pair,
                                                                                       monkeypatch):
    """The page's audit holds the model slot every user shares: past its time limit it starts no clip, writes the
    rows it finished and says so (a clock stands in for the minutes: 0 s at the start and the first clip, 700 s at
    the second)."""
    import explain.analysis.audit as audit_module
    from echo.echonet import write_echonet
    clips = [render_clip(s, "adult", n_frames=40, size=112, fps=50) for s in (23, 24, 25)]
    write_echonet(tmp_path / "e", [(f"c{i}", c, "TEST", None) for i, c in enumerate(clips)])
    (tmp_path / "e" / "Videos" / "c0.avi").unlink()               # an unreadable first clip: a quick row
    clock = iter([0.0, 0.0, 700.0])
    monkeypatch.setattr(audit_module, "time", types.SimpleNamespace(monotonic=lambda: next(clock)))
    summ, rows, (headline, lines) = audit_module.audit(tmp_path / "e", shipped_pair, tmp_path / "out", time_limit_s=600)
    assert [r["file"] for r in rows] == ["c0"] and summ["found"] == 3 and summ["time_limit_s"] == 600
    assert headline.startswith("1 clip (the first of 3 found: the audit stopped at its time limit of 10 min), 1 unreadable")
    # not '0 clips out of distribution', which read like a finding; nor 'none could be read', two were not reached
    assert lines == [f"{m.name}: no clip predicted (the 1 clip audited could not be read; 2 not reached)."
                     for m in shipped_pair.values()]
    saved = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert saved["summary"]["time_limit_s"] == 600 and len(saved["rows"]) == 1
    with open(tmp_path / "out" / "audit.csv", newline="") as f:    # the CSV alone says what it lacks, and why
        table = list(csv.DictReader(f))
    assert [r["file"] for r in table] == ["c0", "c1", "c2"] and float(table[1]["true_ef"]) == pytest.approx(
        clips[1].truth.ef, abs=0.01)                                   # FileList.csv's EF, as a read row keeps it
    assert [r["error"] for r in table[1:]] == ["not audited: the audit stopped at its time limit of 10 min before "
                                               "this clip"] * 2
    monkeypatch.setattr(audit_module, "MAX_CLIPS", 1)                 # no time limit: the first MAX_CLIPS, said so
    audit_module.audit(tmp_path / "e", shipped_pair, tmp_path / "out")
    with open(tmp_path / "out" / "audit.csv", newline="") as f:
        assert [r["error"] for r in csv.DictReader(f)][1:] == ["not audited: an audit reads at most 1 clips"] * 2
    finished = [{**rows[0], "file": f"c{i}"} for i in range(3)]     # a limit not reached is not reported
    assert audit_module.summary(finished, shipped_pair, found=3, time_limit_s=600)["time_limit_s"] is None


def test_an_audit_counts_impossible_efs_apart_and_leaves_them_out_of_its_error(shipped_pair):
    """A converted checkpoint with a wrong EF scale read -242% on a clip and the audit averaged it into an EF MAE of
    257 with no word of it; an EF outside 0-100% is now flagged per row and probe, counted and left out of its MAE."""
    from explain.analysis.audit import summary, summary_words
    rows = [{"file": "a.avi", "error": "", "true_ef": 60.0, "jepa_ef": -242.0, "jepa_abs_error": 302.0,
             "jepa_impossible": True, "jepa_ef_beat": 58.0, "jepa_abs_error_beat": 2.0, "jepa_impossible_beat": False,
             "mae_ef": 55.0, "mae_abs_error": 5.0, "mae_impossible": False},
            {"file": "b.avi", "error": "", "true_ef": 50.0, "jepa_ef": 48.0, "jepa_abs_error": 2.0,
             "jepa_impossible": False, "jepa_ef_beat": -200.0, "jepa_abs_error_beat": 250.0, "jepa_impossible_beat": True,
             "mae_ef": 57.0, "mae_abs_error": 7.0, "mae_impossible": False}]
    summ = summary(rows, shipped_pair)
    jepa, mae = summ["jepa"], summ["mae"]
    assert (jepa["ef_mae"], jepa["ef_mae_n"], jepa["impossible"]) == (2.0, 1, 1)
    assert (jepa["ef_mae_beat"], jepa["ef_mae_n_beat"], jepa["impossible_beat"]) == (2.0, 1, 1)
    assert (mae["ef_mae"], mae["ef_mae_n"], mae["impossible"], mae["ef_mae_beat"]) == (6.0, 2, 0, None)
    jepa_line, mae_line = summary_words(summ, rows, shipped_pair)[1]
    assert ("EF mean absolute error 2.00 over 1 clip (beat view 2.00 over 1) with a true EF; ⚠️ 1 clip read an impossible EF through "
            "the attentive probe (outside 0-100%") in jepa_line
    assert "left out of its MAE (jepa_impossible); ⚠️ 1 clip read an impossible EF through the beat view's probe" in jepa_line
    assert "EF mean absolute error 6.00 over 2 clips with a true EF;" in mae_line and "impossible" not in mae_line
    assert mae["ef_mae_ci95"] is None and "bootstrap" not in mae_line     # two clips: too few for an interval
    many = [{"file": f"{k}.avi", "error": "", "true_ef": 60.0, "mae_ef": 60.0 + e, "mae_abs_error": float(e),
             "mae_impossible": False} for k, e in enumerate([2] * 6 + [8] * 6)]
    ci = summary(many, shipped_pair)["mae"]["ef_mae_ci95"]                # mean 5; resampled means spread about it
    assert 3.0 < ci[0] < 5.0 < ci[1] < 7.0 and ci == summary(many, shipped_pair)["mae"]["ef_mae_ci95"]   # seeded
    line = summary_words(summary(many, shipped_pair), many, shipped_pair)[1][1]
    assert f"EF mean absolute error 5.00 [{ci[0]:.2f}-{ci[1]:.2f}] over 12 clips with a true EF (95% intervals by bootstrap" in line
    rows[1]["mae_near_blank"] = True                     # near its all-black reading: counted, said, kept in the MAE
    summ = summary(rows, shipped_pair)
    assert (summ["mae"]["near_blank"], summ["mae"]["ef_mae"], summ["jepa"]["near_blank"]) == (1, 6.0, 0)
    mae_line = summary_words(summ, rows, shipped_pair)[1][1]
    assert ("⚠️ 1 clip read an EF through the attentive probe within 3 points of what it reads from an all-black "
            "clip") in mae_line and "(mae_near_blank; kept in its MAE)" in mae_line


def test_ef_words_give_each_probes_ef_and_error_a_beat_probe_alone_included():
    from explain.analysis.report import ef_words
    truth = {"ef": 60.0}
    # the error signed (predicted minus true), as the Predictions tab writes it: report.html had said 19.8 where
    # the page said -19.8
    assert ef_words({"ef": 61.8, "ef_beat": 40.2}, truth) == ("EF 61.8% (beat view 40.2%); error +1.8 EF points against "
                                                               "the ground truth (beat view -19.8)")
    assert ef_words({"ef": 61.8, "ef_beat": None}, None) == "EF 61.8%"
    assert ef_words({"ef": None, "ef_beat": 40.2}, truth) == ("beat view EF 40.2% (no attentive probe); error -19.8 EF "
                                                               "points against the ground truth")
    assert ef_words({"ef": None, "ef_beat": None}, truth) == "no EF probe"


def test_an_audit_that_fails_leaves_no_folder_behind_and_an_earlier_audit_as_it_was(tmp_path, shipped_pair,
                                                                                    monkeypatch):
    """A model that failed on the first clip left an empty --out folder (or an earlier audit's files beside nothing
    said); the folder is now made once the rows are there."""
    import explain.analysis.audit as audit_module
    from echo.writers import write_npz
    folder = tmp_path / "clips"
    folder.mkdir()
    write_npz(folder / "x.npz", render_clip(13, "adult", n_frames=40, size=112, fps=50))
    def fails(*args, **kwargs):
        raise ValueError("this model cannot read clips")
    monkeypatch.setattr(audit_module, "audit_rows", fails)
    with pytest.raises(ValueError, match="cannot read clips"):
        audit_module.audit(folder, shipped_pair, tmp_path / "new" / "out")
    assert not (tmp_path / "new").exists()
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "audit.csv").write_text("file\nold.avi\n")
    with pytest.raises(ValueError, match="cannot read clips"):
        audit_module.audit(folder, shipped_pair, earlier)
    assert (earlier / "audit.csv").read_text() == "file\nold.avi\n"


def test_the_run_record_keeps_what_a_conversion_assumed_and_left_out(tmp_path, shipped_pair):
    """A fine-tuned VideoMAE checkpoint stores no frame count, size or head count, and its classifier head is left
    out: the run record (report.json's and audit.json's 'run') keeps each, with the conversion's other notes, in
    words for the shared pages too; a shipped model, with its own card, has none (null)."""
    from builders import videomae_checkpoint

    from explain.analysis import run_record as rr
    from explain.analysis.pair import load_model
    torch.save(videomae_checkpoint(width=64, finetuned=True), tmp_path / "ef_finetuned.pth")
    pair = {"jepa": shipped_pair["jepa"], "mae": load_model(str(tmp_path / "ef_finetuned.pth"), "mae", "cpu")}
    record = rr.run_record(pair, "test")
    assert record["models"]["jepa"]["conversion"] is None
    conv = record["models"]["mae"]["conversion"]
    assert conv["format"] == "videomae-native" and conv["missing"] == conv["unexpected"] == []
    assert [n.split(" (")[0] for n in conv["assumed"]] == ["frames 16 assumed", "size 224 assumed",
                                                           "1 heads assumed for width 64"]
    assert conv["ignored"] and all(k.startswith(("fc_norm.", "head.")) for k in conv["ignored"])
    assert len(conv["notes"]) == 1 and conv["notes"][0].startswith("no final encoder norm")   # not an assumption
    short = rr.conversion_words(conv)
    assert short == ("converted from a videomae-native checkpoint, which does not store all it needs; assumed: "
                     f"frames 16, size 224, 1 heads for width 64; keys left out: {', '.join(conv['ignored'])}")
    full = rr.conversion_words(conv, full=True)
    assert conv["assumed"][0] in full and conv["notes"][0] in full
    line = rr.record_words(record)
    assert f"ef_finetuned (files {record['models']['mae']['files_digest']}; {short})" in line
    assert f"jepa-small (files {record['models']['jepa']['files_digest']})" in line
    assert "converted" not in rr.record_words(record, conversions=False)     # a page saying it in full beside the line
    assert json.loads(json.dumps(record)) == record                        # as report.json and audit.json keep it


def test_the_audit_counts_a_beat_view_alone_as_predicted_and_an_unscored_ood_check_as_not_run(shipped_pair):
    """A model with only the beat view's probe was 'no clip predicted', its numbers dropped; a model run at another
    frame count (no OOD score on any row) read '0 clips out of distribution' beside the reference's flag rates."""
    from explain.analysis.audit import summary, summary_words
    rows = [{"file": f"{k}.avi", "error": "", "true_ef": 60.0, "mae_ef": None, "mae_ef_beat": 58.0 + k,
             "mae_abs_error_beat": 2.0 - k, "mae_ood": None, "jepa_ef": 61.0, "jepa_abs_error": 1.0, "jepa_ood": flag}
            for k, flag in enumerate([False, True])]
    summ = summary(rows, shipped_pair)
    assert summ["mae"]["predicted"] == 2 and summ["mae"]["ef_mae_beat"] == 1.5
    assert (summ["jepa"]["ood_scored"], summ["jepa"]["out_of_distribution"], summ["mae"]["ood_scored"]) == (2, 1, 0)
    jepa_line, mae_line = summary_words(summ, rows, shipped_pair)[1]
    assert "1 clip out of distribution" in jepa_line
    assert "no clip predicted" not in mae_line and "2 clips predicted" in mae_line
    assert "out-of-distribution check not run (the model ran at another frame count" in mae_line
    assert "out of distribution;" not in mae_line


def test_report_html_says_the_page_s_words_for_size_frame_rate_disagreement_and_a_clip_loaded_degraded(tmp_path):
    """report.html, made from a report.json entry: the size width x height (as the page and the readers say it), a
    guessed frame rate called a guess, the two probes' disagreement even where no best estimate is given for another
    reason, and the 'clean' row of a clip loaded degraded called the clip as loaded."""
    from explain.analysis.report import write_html
    model = {"name": "jepa-small", "family": "jepa", "ef": 67.8, "ef_beat": 45.2, "focus": {"rollout": None},
             "speckle_ratio": None, "trajectory": {"loop_closure": None, "phase_error_deg": None},
             "degradation": {"clean": {"ef": 67.8, "ef_beat": 45.2}, "shadow_high": {"ef": 60.0, "ef_beat": 44.0}}}
    clip = {"frames": 16, "fps": 30.0, "height": 120, "width": 200, "source": "wide.npz", "population": "adult",
            "degradation": "shadow 0.67, depth_attenuation 0.70", "fps_source": "default"}
    page = write_html({"clip": clip, "ground_truth": None, "models": {"jepa": model}}, {}, tmp_path, []).read_text()
    assert "200 x 120 pixels (width x height)" in page
    assert "30 fps (assumed: the file gives no frame rate" in page
    assert "jepa-small: its two probes disagree by 23 EF points (67.8% against 45.2%): read neither alone." in page
    # a severity, not the attenuation rate the benchmark's rows beside it are named by (0.70 read as milder than 0.75)
    assert ("<td>as loaded (already degraded: shadow at severity 0.67 (the benchmark&#x27;s shadow_med), "
            "depth_attenuation at severity 0.70 (the benchmark&#x27;s depth_attenuation_1.50))</td>") in page
    from explain.analysis.ood import declared_shift                     # the out-of-distribution words say the same
    assert declared_shift("adult", "depth_attenuation 0.35") == ("degraded (depth_attenuation at severity 0.35 "
                                                                 "(the benchmark's depth_attenuation_0.75))")
    assert "<td>clean</td>" not in page and "<td>shadow_high</td>" in page
    agreeing = {**model, "ef_beat": 66.0, "degradation": {"clean": {"ef": 67.8, "ef_beat": 66.0}}}
    clean = {**clip, "degradation": None, "fps_source": "file"}
    page = write_html({"clip": clean, "ground_truth": None, "models": {"jepa": agreeing}}, {}, tmp_path, []).read_text()
    assert "disagree" not in page and "assumed" not in page and "<td>clean</td>" in page
    from explain.analysis.degradation import sensitivity_figure         # the sweep's axis says the same
    axis = lambda loaded: sensitivity_figure({"degradation": "haze", "loaded_degradation": loaded,  # noqa: E731
                                              "severity": [0.0, 1.0]}).layout.xaxis.title.text
    assert axis("shadow 0.67") == "severity (0 = the clip as loaded, already degraded)"
    assert axis(None) == "severity (0 = clean)"


def test_a_clip_whose_fan_is_under_the_models_minimum_side_is_degraded_and_read_like_its_clean_view(shipped_pair):
    """A 96-px clip whose fan is 28 px wide: the clean view crops that fan and resizes it, but each degraded copy (the
    same crop, made first) was refused as 'frames of 26 x 26 pixels', a size the file does not have, and the refusal
    stopped a whole analysis or audit. The size limit is the file's, checked on the clip; a crop of it is not refused."""
    from explain.analysis.degradation import condition_ef_views, copy_and_beat
    from echo.preprocess import resize_frames
    clip = render_clip(3, "adult", n_frames=80, size=112, fps=50)
    frames = np.zeros((80, 96, 96), np.uint8)
    frames[:, 40:68, 34:62] = resize_frames(clip.gray(), 28)
    small = Clip(frames, 50.0, "small_fan.npz", None, {})
    copy, _ = copy_and_beat(small, shipped_pair)
    assert min(copy.height, copy.width) < 32                                  # the crop is under the file's limit
    out = condition_ef_views(shipped_pair, small, ("shadow_high",))
    assert out["clean"]["jepa"]["ef"] is not None and out["shadow_high"]["mae"]["ef"] is not None
    tiny = Clip(frames[:, 40:68, 34:62], 50.0, "tiny.npz", None, {})
    with pytest.raises(ClipError, match="frames of 28 x 28 pixels"):        # a file that small is still refused
        model_view(tiny)
    with pytest.raises(ClipError, match="frames of 28 x 28 pixels"):        # degraded too, before its copy is made
        condition_ef_views(shipped_pair, tiny, ("shadow_high",))


def test_an_audit_goes_on_past_a_clip_refused_after_its_ef_was_read(tmp_path, shipped_pair, monkeypatch):
    """A refusal from a clip's degradation views (a fan crop under the size limit was one) had stopped the whole
    audit with no table; it is now that clip's row, with its reason, and the clips after it are read."""
    import explain.analysis.audit as audit_module
    folder = tmp_path / "clips"
    folder.mkdir()
    for name, seed in (("a.npz", 6), ("b.npz", 7)):
        write_npz(folder / name, render_clip(seed, "adult", n_frames=40, size=112, fps=50))
    real = audit_module.condition_ef_views

    def refuse_a(models, clip, *args, **kwargs):
        if clip.source.endswith("a.npz"):
            raise ClipError("a refusal from the degradation views")
        return real(models, clip, *args, **kwargs)
    monkeypatch.setattr(audit_module, "condition_ef_views", refuse_a)
    summ, rows, _ = audit_module.audit(folder, shipped_pair, tmp_path / "out")
    assert [r["file"] for r in rows] == ["a.npz", "b.npz"] and rows[0]["error"] == "a refusal from the degradation views"
    assert rows[1]["error"] == "" and rows[1]["jepa_sensitivity"] is not None and summ["unreadable"] == 1


def test_a_staging_folder_left_by_a_killed_run_is_removed_by_the_next_one_and_a_live_runs_is_kept(tmp_path):
    """Ctrl-C removes a run's hidden staging folder, but a run killed outright (SIGKILL, out of memory) left one in
    --out for good. Each run holds a lock in its folder while it writes; the next run removes its kind of folder
    untouched for over a minute whose lock is free (a lock, unlike a process id, is seen from another container or
    host; taken shared, as a read-only descriptor on NFS may) or absent (an older version's), never one held or just
    made, nor a folder of the user's that only looks like one."""
    import fcntl
    import os
    from echo.outputs import LOCK, STAGE_PREFIX, staged_output
    out = tmp_path / "out"
    names = {"dead": f"{STAGE_PREFIX}dead1234", "alive": f"{STAGE_PREFIX}alive123", "fresh": f"{STAGE_PREFIX}fresh123",
             "legacy": ".partial-ab_c9xyz", "mine": ".partial-my-own-folder"}
    folders = {k: out / name for k, name in names.items()}
    for folder in folders.values():
        folder.mkdir(parents=True)
        (folder / "report.json").write_text("{}")
    (folders["dead"] / LOCK).write_text("")
    (folders["alive"] / LOCK).write_text("")
    for k in ("dead", "alive", "legacy", "mine"):
        os.utime(folders[k], (0, 0))
    with open(folders["alive"] / LOCK, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)                 # a run writing now, elsewhere
        with staged_output(out) as stage:
            assert (stage / LOCK).is_file() and stage.name.startswith(STAGE_PREFIX)
            (stage / "report.json").write_text('{"new": true}')
        assert sorted(p.name for p in out.iterdir()) == sorted([names["alive"], names["fresh"], names["mine"],
                                                                "report.json"])



def test_report_json_keeps_each_ef_as_read_so_the_report_shows_the_page_s_one_decimal(tmp_path):
    """report.json rounded each EF to 0.01 and report.html then to 0.1: 64.746 became 64.75 and '64.8' where the
    page showed 64.7, and 49.446 showed as 49.5 (normal or preserved by the page's rule) where the page said 49.4
    (mildly reduced). Each EF is kept as read and formatted once."""
    from explain.analysis.predict import Prediction
    from explain.analysis.report import ef_words
    p = Prediction("jepa", "jepa-small", "jepa", 49.446, None, None, None, None, ef_beat=64.746, blank=(30.0, None))
    entry = p.to_dict()
    assert entry["ef"] == 49.446 and entry["ef_beat"] == 64.746
    assert ef_words(entry, None) == "EF 49.4% (beat view 64.7%)"
    # the truth too: kept as read, the error against it is the page's (62.6959 rounded first to 62.70 gave -13.3)
    assert ef_words(entry, {"ef": 62.6959}) == ("EF 49.4% (beat view 64.7%); error -13.2 EF points against the "
                                                "ground truth (beat view +2.1)")
    from explain.analysis.audit import _kind
    from explain.analysis.report import write_html
    model = {**entry, "focus": {"rollout": None}, "speckle_ratio": None,
             "trajectory": {"loop_closure": None, "phase_error_deg": None},
             "degradation": {"clean": {"ef": 49.446, "ef_beat": 64.746}}}
    clip = {"frames": 16, "fps": 50.0, "height": 112, "width": 112, "source": "c.npz", "population": "adult",
            "degradation": None, "fps_source": "file"}
    page = write_html({"clip": clip, "ground_truth": {"ef": 64.746}, "models": {"jepa": model}}, {}, tmp_path,
                      []).read_text()
    assert "<p>Ground-truth EF 64.7%</p>" in page                          # was '64.746%' unformatted
    assert _kind({"degradation": "depth_attenuation 0.70"}) == (" (degraded: depth_attenuation at severity 0.70 "
                                                                "(the benchmark's depth_attenuation_1.50))")
