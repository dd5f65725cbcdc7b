"""The app's handlers as plain functions: loading clips, predictions, the degradation lab, evidence,
the session store, and how errors reach the page."""
import dataclasses
import inspect
import json
import os
import types
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from app import media, session
from app.errors import shows_errors
from app.views import degradation, evidence, inputs, models, predictions
from echo.clip import Clip, ClipError
from echo.phantom import render_clip
from echo.readers import read_clip
from explain.analysis import best_estimate as be
from explain.analysis.beat import beat_frames
from explain.analysis.predict import predict
from model_zoo.evaluate import bands


def as_the_page(fn, *args, before=None):
    """(what an event function's outputs show once it ran, the error the page shows or None), as Gradio runs it: a
    function's return, or each yield of a generator (app.errors.clears_on_error) in turn; a failure leaves the
    outputs as they were (`before`, or the last yield)."""
    shown, error = before, None
    try:
        result = fn(*args)
        for shown in (result if inspect.isgenerator(result) else [result]):
            pass
    except gr.Error as e:
        error = e
    return shown, error


def last(fn, *args):
    """What an event function that succeeds shows."""
    shown, error = as_the_page(fn, *args)
    assert error is None, error
    return shown


@pytest.fixture(scope="module")
def example():
    return inputs.load_named_example("adult_reduced_ef")


def test_an_example_loads_with_its_videos_facts_and_truth(example):
    assert Path(example.original).stat().st_size > 1000 and Path(example.model_view).stat().st_size > 1000
    assert example.meta["ground_truth_ef"] == 28.0 and example.meta["model_view"]["beat_from"] == "ground truth"
    assert len(example.meta["model_view"]["source_frames"]) == 16
    assert "28.0%" in example.summary
    assert session.get_clip(example.key).truth.ef == 28.0
    clip_file = Path(session.get_clip(example.key).source)
    assert clip_file.is_absolute() and example.meta["source"] == clip_file.name     # never the server's path


def test_a_large_clip_is_shown_at_most_display_max_side_with_its_sector_box():
    """A 1024-px upload made a full-size colour copy of every frame for the outlined video (GBs for 600 frames)."""
    import cv2
    from echo.phantom import render_clip
    small = render_clip(2, "adult", n_frames=40, size=112, fps=50)
    big = Clip(np.repeat(np.repeat(small.frames, 10, axis=1), 10, axis=2), 50.0)       # 1120 x 1120 px
    loaded = inputs.register(big)
    video = cv2.VideoCapture(loaded.original)
    ok, frame = video.read()
    video.release()
    assert ok and max(frame.shape[:2]) <= inputs.DISPLAY_MAX_SIDE and frame.shape[0] >= 1120 // 2 - 16
    green = (frame[..., 1] > 150) & (frame[..., 0] < 100) & (frame[..., 2] < 100)     # the box, drawn in (0, 220, 0)
    assert green.sum() > 400
    # ... and written a frame at a time: the whole RGB copy was about the grey clip's own size
    import tracemalloc

    from app.media import media_path
    from echo.preprocess import find_sector
    from echo.writers import write_mp4
    fan = find_sector(big)
    tracemalloc.start()
    try:
        write_mp4(media_path(".mp4"), inputs._outlined(big, fan), big.fps)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.2 * big.frames.nbytes                                              # was 1.0


def test_a_generated_phantom_clip_has_the_chosen_ef_and_rate():
    loaded = inputs.generate_phantom(33, 100, "pediatric", 4)
    clip = session.get_clip(loaded.key)
    assert clip.truth.ef == 33 and clip.meta["hr_bpm"] == 100 and clip.meta["population"] == "pediatric"
    assert clip.n_frames == 64                                       # two beats at 100 bpm fit in 64 frames
    slow = inputs.generate_phantom(60, 40, "adult", 1)               # a beat of 75 frames: 150 frames made
    assert session.get_clip(slow.key).n_frames == 150 and "sees one heartbeat (75.0 frames" in slow.summary
    assert "heart rate about 40 bpm" in slow.summary and slow.meta["heart_rate_bpm"] == 40.0
    assert "⚠️ 40 bpm lies outside the 50-105 bpm of the adult phantom hearts" in slow.summary   # beyond training
    assert "rare among" not in slow.summary and "⚠️" not in inputs.generate_phantom(60, 70, "adult", 1).summary
    assert "expect them to read it too high" in inputs.generate_phantom(20, 70, "adult", 2).summary  # beyond 2 stds
    assert "rare among" not in loaded.summary                           # EF 33: inside two stds of 55.8 ± 12.4
    assert "draws the anatomy of a heart in the EF probes' test split" in inputs.generate_phantom(60, 70, "adult",
                                                                                               4_000_000).summary
    from app import events                                  # said beside the settings before generating, too
    assert events.on_phantom_settings(60, 70, "adult", 0) == ""
    said = events.on_phantom_settings(20, 120, "adult", 4_000_000.0)       # gr.Number gives a float
    assert said.count("⚠️") == 3 and "120 bpm lies outside" in said and "read it too high" in said
    assert "Seed 4000000 draws the anatomy of a heart in the EF probes' test split" in said
    assert events.on_phantom_settings(60, 70, "adult", -1) == ""           # a bad seed: generating names it
    assert events.on_phantom_settings(None, 70, "adult", 0) == ""
    facts = loaded.meta                                                # the truth a clinician reads, in the facts
    assert facts["ground_truth_ef"] == 33 and facts["edv_ml"] > facts["esv_ml"] > 0 and facts["ed_frames"][0] >= 0
    from echo.phantom import render_clip
    short = inputs.register(render_clip(1, "adult", n_frames=40, size=112, fps=50, hr_bpm=40))
    assert ("sees the whole clip, its last frame held for the rest of a heartbeat it does not fill (75.0 frames, "
            "ground truth; the last 7 of the 16 frames shown repeat it)") in short.summary
    assert "no best estimate is given" in short.summary
    blind = inputs.register(Clip(np.random.default_rng(0).integers(0, 255, (32, 64, 64), dtype=np.uint8), fps=50.0))
    assert "sees the whole clip as one heartbeat (32.0 frames): no beat repeats in it" in blind.summary
    for bad, match in (((5, 70, "adult", 0), "EF must lie"), ((50, 300, "adult", 0), "Heart rate"),
                       ((50, 70, "adult", 99999999999999999999), "Seed must be a whole number from 0 to"),
                       ((50, 70, "adult", -1), "Seed must be a whole number"), ((50, 70, "adult", 2.5), "Seed must"),
                       ((50, 70, "dog", 0), "Population must be one of adult, pediatric")):
        with pytest.raises(ValueError, match=match):
            inputs.generate_phantom(*bad)
    with pytest.raises(ClipError, match="Unknown example 'nope'; choose one of: adult_normal, "):
        inputs.load_named_example("nope")


def test_bad_uploads_are_refused_with_the_problem_named(tmp_path):
    junk = tmp_path / "scan.avi"
    junk.write_bytes(b"definitely not a video")
    with pytest.raises(ClipError, match="scan.avi") as e:
        inputs.load_upload(str(junk))
    assert str(e.value).endswith(" To choose another file, clear the upload box first (its × button).")
    with pytest.raises(ClipError, match="No file"):
        inputs.load_upload(None)
    strip = tmp_path / "strip.npy"                     # readable, but 8 px high: nothing for a model to see
    np.save(strip, np.random.default_rng(0).integers(0, 255, (40, 8, 300), dtype=np.uint8))
    with pytest.raises(ClipError, match=r"'strip.npy' has frames of 300 x 8 pixels; a model needs at least 32"):
        inputs.load_upload(str(strip))
    black = tmp_path / "black.npy"                     # read well, refused by the model's view: told to clear the box
    np.save(black, np.zeros((40, 112, 112), np.uint8))
    with pytest.raises(ClipError, match="black.npy") as e:
        inputs.load_upload(str(black))
    assert "no image" in str(e.value) and str(e.value).endswith(inputs.CHOOSE_ANOTHER)


def test_a_refused_upload_leaves_the_servers_upload_folder_unless_another_session_reads_it(tmp_path, monkeypatch):
    """Gradio keeps each upload in <its folder>/<content hash>/<name>: a refused one had stayed until its hourly
    clean-up. It goes REFUSED_GRACE_S after its refusal, with its folder; not at once, since the same bytes uploaded
    by another session share the path and that read may wait behind the refusal (a class handed one 16-bit file:
    one session without the stretch box ticked, one with it). A file outside the server's folder is never touched."""
    from app import media
    uploads = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    monkeypatch.setattr(media, "_refused", {})
    junk, shared, outside = uploads / "a1b2" / "scan.avi", uploads / "e5f6" / "floats.npy", tmp_path / "scan.avi"
    for f in (junk, shared):
        f.parent.mkdir(parents=True)
    junk.write_bytes(b"definitely not a video")
    outside.write_bytes(b"definitely not a video")
    np.save(shared, np.random.default_rng(0).random((24, 64, 64), dtype=np.float32))
    black = uploads / "b3c4" / "black.npy"                    # read well, refused by the model's view
    black.parent.mkdir()
    np.save(black, np.zeros((40, 112, 112), np.uint8))
    now = media.time.monotonic()
    with pytest.raises(ClipError, match="scan.avi"):
        inputs.load_upload(str(junk))
    with pytest.raises(ClipError, match="black.npy"):
        inputs.load_upload(str(black))
    with pytest.raises(ClipError, match="floating-point pixels"):
        inputs.load_upload(str(shared))                       # one session: the box not ticked
    assert junk.exists() and shared.exists()                  # not at once
    inputs.load_upload(str(shared), rescale=True)             # another session's read, queued behind: it works
    with pytest.raises(ClipError, match="scan.avi"):
        inputs.load_upload(str(outside))
    assert media.remove_refused_uploads(now + media.REFUSED_GRACE_S - 5) == []
    assert sorted(media.remove_refused_uploads(now + media.REFUSED_GRACE_S + 5)) == sorted([junk.resolve(),
                                                                                            black.resolve()])
    assert not junk.exists() and not junk.parent.exists() and not black.parent.exists()   # with Gradio's folder
    assert shared.exists() and outside.exists()               # read since its refusal; not the server's
    again = uploads / "c9d0" / "scan.avi"                     # refused, then uploaded afresh by another session:
    again.parent.mkdir()                                      # Gradio moves the new file onto the same path
    again.write_bytes(b"definitely not a video")
    with pytest.raises(ClipError):
        inputs.load_upload(str(again))
    fresh = again.with_name("upload.tmp")
    fresh.write_bytes(b"definitely not a video")
    os.replace(fresh, again)
    assert media.remove_refused_uploads(media.time.monotonic() + 2 * media.REFUSED_GRACE_S) == [] and again.exists()


def test_an_upload_read_well_whose_registering_fails_is_still_marked_for_removal(tmp_path, monkeypatch):
    """Only a ClipError from register marked the file: any other failure (an NPZ's text 'phase' gave a ValueError
    there) kept it in the server's upload folder until Gradio's hourly clean-up."""
    from app import media
    uploads = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    monkeypatch.setattr(media, "_refused", {})
    upload = uploads / "a1b2" / "clip.npy"
    upload.parent.mkdir(parents=True)
    np.save(upload, np.random.default_rng(0).integers(0, 255, (24, 64, 64), dtype=np.uint8))

    def fails(clip, owner=None):
        raise RuntimeError("a failure of the server's own")
    monkeypatch.setattr(inputs, "register", fails)
    with pytest.raises(RuntimeError, match="of the server's own"):
        inputs.load_upload(str(upload))
    assert media.remove_refused_uploads(media.time.monotonic() + media.REFUSED_GRACE_S + 5) == [upload.resolve()]


def test_a_float_upload_is_refused_with_the_box_named_and_read_once_it_is_ticked(tmp_path):
    floats = tmp_path / "floats.npy"
    np.save(floats, np.random.default_rng(0).random((24, 64, 64), dtype=np.float32) * 3.0)
    assert inputs.RESCALE_LABEL == "Stretch 16-bit or float pixels"        # the words echo.readers' message uses
    with pytest.raises(ClipError, match=rf"floating-point pixels.*tick '{inputs.RESCALE_LABEL}'"):
        inputs.load_upload(str(floats))
    clip = session.get_clip(inputs.load_upload(str(floats), rescale=True).key)
    assert clip.frames.dtype == np.uint8 and clip.frames.min() == 0 and clip.frames.max() == 255


def test_a_clip_without_a_frame_rate_says_its_rate_is_assumed(tmp_path):
    frames = render_clip(3, "adult", n_frames=40, size=112, fps=50).frames
    np.save(tmp_path / "bare.npy", frames)             # an .npy carries no frame rate
    assert "30.0 fps (assumed: the file gives no frame rate" in inputs.load_upload(str(tmp_path / "bare.npy")).summary
    assert "assumed" not in inputs.generate_phantom(50, 70, "adult", 0).summary


def test_a_zip_of_frames_uploads_as_a_clip_at_its_fps_file(tmp_path):
    """The upload box takes one file, so frames exported as images come as a ZIP of their folder."""
    from builders import frames_zip
    frames = render_clip(3, "adult", n_frames=40, size=112, fps=50).frames
    frames_zip(tmp_path / "frames.zip", {**{f"export/img_{k}.png": f for k, f in enumerate(frames)},
                                         "export/fps.txt": "50"})
    loaded = inputs.load_upload(str(tmp_path / "frames.zip"))
    assert np.array_equal(session.get_clip(loaded.key).frames, frames) and "50.0 fps" in loaded.summary
    assert "assumed" not in loaded.summary


def test_prediction_cards_show_ef_truth_error_ood_and_the_phantom_warning(example, shipped_pair):
    cards = predictions.prediction_cards(example.key, shipped_pair)
    for role, md in cards.items():
        p = predictions.predictions(example.key, shipped_pair)[role]
        assert f"EF {p.ef:.1f}%" in md and "Ground truth: 28.0%" in md and f"error {p.ef - 28:+.1f}" in md
        assert "Out-of-distribution score" in md and "not a measurement" in md
    # cached: the same objects come back, nothing is recomputed
    assert predictions.predictions(example.key, shipped_pair) is predictions.predictions(example.key, shipped_pair)


def test_prediction_cards_give_the_beat_views_ef_and_each_probes_test_error(example, shipped_pair):
    """The shipped models carry the evaluation's beat-view probe too: the card shows both EFs, each with
    its error against the truth and the probe's recorded phantom test MAE (the two differ)."""
    cards = predictions.prediction_cards(example.key, shipped_pair)
    for role, m in shipped_pair.items():
        p = predictions.predictions(example.key, shipped_pair)[role]
        assert m.beat_probe is not None and p.ef_beat is not None and p.ef_beat != pytest.approx(p.ef)
        md = cards[role]
        assert f"Beat view **EF {p.ef_beat:.1f}%** (error {p.ef_beat - 28:+.1f} EF points)" in md
        results = m.wrapper.card["results"]
        for probe, bench in ((m.probe, results), (m.beat_probe, results["beat_probe"])):
            # the shipped probe's own test MAE, and beside it the benchmark's mean over its probe seeds
            assert (f"phantom test mean absolute error {probe.meta['test']['clean']['mae']:.2f} (this probe, the best on val of "
                    f"{len(bench['probe_seeds'])} probe seeds; the benchmark reports their mean, "
                    f"{bench['clean']['mae']:.2f} ± {bench['clean']['mae_std']:.2f})") in md
    # the committed record of the shipped probes' errors by EF band (model_zoo.experiments.ef_bands) stands beside
    for role, m in shipped_pair.items():
        p = predictions.predictions(example.key, shipped_pair)[role]
        for stem, ef in (("probe", p.ef), ("beat_probe", p.ef_beat)):
            band, worst = bands.recorded(m.folder, stem, ef), bands.weakest(m.folder, stem)
            assert (f"where this probe predicted {predictions._band_words(band['band'])}, it was off by "
                    f"{band['mae']:.1f} on average ({band['n']} clips") in cards[role]
            assert f"Its weakest range is a true EF {predictions._band_words(worst['band'])}: off by" in cards[role]
    assert [predictions._band_words(b) for b in ([0, 40], [40, 50], [70, 100])] == ["under 40%", "40-50%",
                                                                                    "70% or more"]
    # run at fewer frames than it was measured at, a model's recorded figures are not shown as its own
    from explain.analysis.pair import load_model
    short = load_model("jepa-small", "jepa", "cpu", frames=8)
    p = predict({"jepa": short}, session.get_clip(example.key))["jepa"]
    card = predictions.prediction_card(p, 28.0, short)
    assert "phantom test mean absolute error" not in card and p.ef is not None and "Run at 8 frames" in card
    # nor its out-of-distribution verdict (its reference was fitted at 16 frames), nor its model card's figures
    assert short.ood is not None and p.ood is None and "Out-of-distribution score" not in card
    evidence_card = evidence.card_markdown(short)
    assert evidence_card.splitlines()[1].startswith(
        "⚠️ Run at 8 frames ('Frames for large checkpoints'), not the count it was saved with: the figures below")
    assert "Run at" not in evidence.card_markdown(shipped_pair["jepa"])
    # a model without a beat-view probe gets no beat line
    bare = dataclasses.replace(predictions.predictions(example.key, shipped_pair)["jepa"], ef_beat=None)
    assert "Beat view" not in predictions.prediction_card(bare, 28.0)



def test_a_degraded_or_pediatric_clips_card_says_so_and_drops_the_clean_adult_error_record(shipped_pair):
    """The errors by EF band were measured on clean adult phantom clips: beside a degraded example's (or a
    child's) EF they would vouch for a number they do not describe."""
    degraded = inputs.load_named_example("degraded")
    cards = predictions.prediction_cards(degraded.key, shipped_pair)
    for card in cards.values():
        assert ("⚠️ A degraded clip (shadow at severity 0.67 (the benchmark's shadow_med), depth_attenuation at "
                "severity 0.70 (the benchmark's depth_attenuation_1.50))") in card
        # the table beside both EFs gives the benchmark's error under its six degradations, not the clean one
        assert "under each of its six degradations" in card
        assert card.index("| beat view |") < card.index("⚠️ A degraded clip") < card.index("<details>")  # after both EFs, shown
        assert "where this probe predicted" not in card and "weakest range" not in card
    child = predictions.prediction_cards(inputs.load_named_example("pediatric").key, shipped_pair)
    assert all("zero-shot" in c and "where this probe predicted" not in c for c in child.values())
    clean = predictions.prediction_cards(inputs.load_named_example("adult_normal").key, shipped_pair)
    assert all("where this probe predicted" in c and "degraded clip" not in c for c in clean.values())
    assert all("phantom test adult clips, mean" in c for c in clean.values())


def test_the_degraded_tables_benchmark_error_is_the_six_conditions_mean_over_probe_seeds():
    from echo.degrade import BENCHMARK_CONDITIONS
    seeds = [{"degraded": {c: 10.0 + i for c in BENCHMARK_CONDITIONS}} for i in range(3)]   # seed means 10, 11, 12
    bench = {"degraded": {c: {"mae": 11.0 + (c == "shadow_high") * 6} for c in BENCHMARK_CONDITIONS}, "probe_seeds": seeds}
    assert be.benchmark_error(bench, "degraded") == (pytest.approx(12.0), pytest.approx(1.0))
    assert be.benchmark_error({"degraded": {"shadow_high": {"mae": 3.0}}}, "degraded") == (None, None)
    assert be.benchmark_error({"clean": {"mae": 4.0, "mae_std": 0.5}}, "clean") == (4.0, 0.5)


def test_an_impossible_ef_an_unchecked_model_and_a_flagged_clip_are_said_beside_the_ef(shipped_pair, example):
    """A converted probe with a wrong EF scale gave 'EF 294.8%' and nothing else; a clip the OOD check flags
    still got the clean-clip error record's reassurance."""
    import dataclasses as dc

    from explain.analysis.predict import _warning
    m = shipped_pair["jepa"]
    assert "impossible" in _warning(m, True, 294.8, None) and "impossible" not in _warning(m, True, 62.0, 55.0)
    assert "impossible" in _warning(m, True, 50.0, -3.0)
    bare = dc.replace(m, ood=None, phantom_trained=False)
    assert "ships no out-of-distribution reference" in _warning(bare, False, 50.0, None)
    assert _warning(m, True, None, None) is None and _warning(dc.replace(m, phantom_trained=False), False, 50.0, None) is None
    p = predictions.predictions(example.key, shipped_pair)["jepa"]
    assert "where this probe predicted" in predictions.prediction_card(p, 28.0, m)
    flagged = dc.replace(p, ood={**p.ood, "out_of_distribution": True})
    card = predictions.prediction_card(flagged, 28.0, m)
    assert "where this probe predicted" not in card and "weakest range" not in card
    # an EF near what the same probe reads from an all-black clip is said to be (the shipped JEPA reads 73.9 there)
    from explain.analysis.predict import blank_efs
    blank = blank_efs(m)
    assert blank == blank_efs(m) and all(v is not None and 0 <= v <= 100 for v in blank) and p.blank == blank
    near = predictions.prediction_card(dc.replace(p, ef=blank[0] + 1.0, ef_beat=blank[1] - 2.5), 28.0, m)
    assert near.count("from an all-black clip") == 2 and f"also reads {blank[0]:.1f}% from" in near
    far = predictions.prediction_card(dc.replace(p, ef=blank[0] + 10.0, ef_beat=blank[1] + 3.5), 28.0, m)
    assert "from an all-black clip" not in far and "% ⚠️ |" not in far         # the table gives the reading, unflagged
    assert "% ⚠️ |" in near
    # the better probe (the beat view's, on the benchmark) near its all-black reading holds the estimate back, and
    # its numbers are said once, in the warning the estimate's line points to (they had been in both lines)
    held = predictions.prediction_card(dc.replace(p, ef=blank[1] + 2.0, ef_beat=blank[1] + 1.0, crop=None), 28.0, m)
    assert "reads within 3 points of what it reads from an all-black clip (the warning below)." in held
    assert held.split("<details>")[0].count(f"{blank[1] + 1.0:.1f}%") == 2     # the table and the warning
    assert p.to_dict()["ef_blank"] == blank[0]
    assert "No test error is recorded" in predictions.prediction_card(p, 28.0, dc.replace(m, probe=None))
    assert "No test error is recorded" not in predictions.prediction_card(p, 28.0, m)
    # a degraded child's clip: the table gives the pediatric errors, and the degraded line does not claim otherwise
    both = predictions.prediction_card(p, 28.0, m, "pediatric", "shadow 0.50")
    assert "pediatric clips, zero-shot" in both and "six degradations" not in both and "A degraded clip" in both
    # the page runs the crop check: each card gives its EFs with the clip 2 px higher and lower
    assert p.crop["pixels"] == 2 and "Crop check: with the clip 2 px higher / lower" in predictions.prediction_card(p, 28.0, m)


def test_a_card_flags_two_probes_that_disagree_and_a_pediatric_clip_as_zero_shot(example, shipped_pair):
    p = predictions.predictions(example.key, shipped_pair)["jepa"]
    apart = dataclasses.replace(p, ef=40.0, ef_beat=62.5)
    card = predictions.prediction_card(apart, 60.0, shipped_pair["jepa"])
    assert card.startswith("### jepa-small (JEPA)\n\n⚠️ jepa-small: its two probes disagree by 22 EF points (40.0% against "
                           "62.5%)")     # under the title: both cards' titles level
    # both EFs at a glance, each beside the benchmark's error of its view (mean over probe seeds), before the words
    results = shipped_pair["jepa"].wrapper.card["results"]
    table = card.split("\n\n")[3]
    assert table.startswith("| probe | EF | category | error | benchmark error |")
    assert card.split("\n\n")[2] == "No best estimate: its two probes disagree (above)."   # 22 points apart
    from model_zoo.evaluate.bands import recorded
    near = predictions.prediction_card(dataclasses.replace(p, ef=55.0, ef_beat=62.5, crop=None), 60.0, shipped_pair["jepa"])
    off = recorded(shipped_pair["jepa"].folder, "beat_probe", 62.5)["mae"]       # where it predicted 60-70%
    assert near.split("\n\n")[1] == (                  # one EF first: the view with the lower benchmark error
        f"**Best estimate: EF 62.5% ({be.category_span(62.5, off)}, within its typical error), through the beat view's "
        "probe**, typically "
        f"off by {off:.1f} EF points at such EFs on phantom test clips; its benchmark error is the lower "
        f"({results['beat_probe']['clean']['mae']:.2f} against {results['clean']['mae']:.2f} for the attentive probe). "
        "Not a measurement.")
    # the table's legend opens the closed details, after every line shown (about 500 words had come before them)
    before, rest = card.split("<details>")
    details, after = rest.split("</details>")
    assert "Benchmark error:" not in before + after and "Ground truth: 60.0%" in before
    assert "not a measurement" in after and "not a measurement" not in details
    assert details.split("\n\n")[1].startswith("Benchmark error: each view's mean absolute error in EF points on "
                                                "phantom test adult clips, mean ± std over probe seeds. All-black clip:")
    assert f"| attentive (V-JEPA's protocol) | 40.0% | reduced | -20.0 | {results['clean']['mae']:.2f} ± " in table
    assert f"| beat view | 62.5% | normal or preserved | +2.5 | {results['beat_probe']['clean']['mae']:.2f} ± " in table
    # what each probe reads from an all-black clip, in the table: the JEPA's attentive probe reads about 73.9%
    assert table.splitlines()[0].endswith("| all-black clip reads |") and f"| {p.blank[0]:.1f}% |" in table
    near = predictions.prediction_card(dataclasses.replace(p, ef=p.blank[0] + 1, ef_beat=30.0), 60.0, shipped_pair["jepa"])
    assert f"| attentive (V-JEPA's protocol) | {p.blank[0] + 1:.1f}% ⚠️ |" in near and "| beat view | 30.0% |" in near
    assert "| probe |" not in predictions.prediction_card(dataclasses.replace(p, ef_beat=None), 60.0, shipped_pair["jepa"])
    child = predictions.prediction_card(apart, 60.0, shipped_pair["jepa"], "pediatric")   # zero-shot: its own figures
    assert "phantom test pediatric clips, zero-shot, mean ± std" in child
    assert f"| beat view | 62.5% | n/a | +2.5 | {results['beat_probe']['pediatric']['mae']:.2f} ± " in child  # adult ranges
    child = predictions.prediction_card(dataclasses.replace(p, ef=55.0, ef_beat=62.5, crop=None), 60.0, shipped_pair["jepa"],
                                        "pediatric")
    assert (f"**Best estimate (a child's clip: zero-shot): EF 62.5%, through the beat view's probe**, typically off by "
            f"{results['beat_probe']['pediatric']['mae']:.1f} EF points on such phantom test clips; its benchmark error "
            f"is the lower ({results['beat_probe']['pediatric']['mae']:.2f} against {results['pediatric']['mae']:.2f}"
            ) in child                          # 4.84 ± 0.01 against 7.14 ± 0.63: beyond both; no adult category
    shaky = dataclasses.replace(p, ef=55.0, ef_beat=58.0, crop={"pixels": 2, "ef": [55.0, 55.5], "ef_beat": [51.0, 58.5]})
    assert predictions.prediction_card(shaky, 60.0, shipped_pair["jepa"]).split("\n\n")[1] == (   # the card's path
        "No best estimate: the beat view's probe, the one with the lower benchmark error, moves 7.0 points with the "
        "clip 2 px higher or lower (the crop check below).")
    flagged = dataclasses.replace(p, ef=55.0, ef_beat=62.5, ood={**(p.ood or {}), "out_of_distribution": True})
    assert "No best estimate: the clip lies outside the phantom training distribution" in predictions.prediction_card(
        flagged, 60.0, shipped_pair["jepa"])
    mild = predictions.prediction_card(dataclasses.replace(p, ef=49.6, ef_beat=30.4), 60.0, shipped_pair["jepa"])
    assert "| 49.6% | normal or preserved |" in mild and "| 30.4% | reduced |" in mild and "41-49% mildly reduced" in mild
    assert "| 150.0% | n/a |" in predictions.prediction_card(dataclasses.replace(p, ef=150.0), 60.0, shipped_pair["jepa"])
    assert child.index("| beat view |") < child.index("A pediatric clip") < child.index("<details>")     # shown, after both EFs
    close = dataclasses.replace(p, ef=58.0, ef_beat=62.5)
    assert "disagree" not in predictions.prediction_card(close, 60.0, shipped_pair["jepa"])
    assert "zero-shot" in predictions.prediction_card(close, 60.0, shipped_pair["jepa"], "pediatric")
    assert "zero-shot" not in predictions.prediction_card(close, 60.0, shipped_pair["jepa"], "adult")
    for percentile, words in ((99.7, "scores higher than 99.7% of them"), (98.67, "scores higher than 98.6% of them"),
                              (100.0, "scores higher than every one of them")):
        ood = {"score": 9.1, "percentile": percentile, "threshold": 8.0, "out_of_distribution": True}
        assert words in predictions.prediction_card(dataclasses.replace(close, ood=ood), None)
    # what the verdict is worth, where `python -m explain.analysis.ood --check` measured it
    rates = {"n": 100, "adult": 0.05, "pediatric": 0.23, "depth_attenuation_2.15": 0.0, "shadow_high": 0.4}
    checked = dataclasses.replace(shipped_pair["jepa"], ood=dataclasses.replace(shipped_pair["jepa"].ood,
                                                                                 flag_rates=rates))
    within = dict(ood, percentile=50.0, out_of_distribution=False)
    card = predictions.prediction_card(dataclasses.replace(close, ood=within), None, checked)
    assert ("flags 5% of 100 adult phantom test clips, 23% of pediatric ones (a population the models never saw), "
            "0% of deeply attenuated ones, 40% of strongly shadowed ones: 'within' does not rule out a shift." in card)
    outside = predictions.prediction_card(dataclasses.replace(close, ood=ood), None, checked)
    assert "strongly shadowed ones." in outside and "rule out" not in outside
    # a child's or a degraded clip the score did not flag: the card does not call it 'within'
    for args, shift in ((("pediatric",), "a child's heart"),
                        (("adult", "shadow 0.67"), "degraded (shadow at severity 0.67 (the benchmark's shadow_med))")):
        missed = predictions.prediction_card(dataclasses.replace(close, ood=within), None, checked, *args)
        assert f"not flagged, yet the file says this clip is {shift}" in missed and "within the phantom" not in missed
    unchecked = dataclasses.replace(checked, ood=dataclasses.replace(checked.ood, flag_rates=None))
    assert "The check flags" not in predictions.prediction_card(dataclasses.replace(close, ood=within), None, unchecked)


def test_the_page_passes_a_pediatric_clips_population_and_the_dataset_views_projection(shipped_pair, tmp_path):
    """Through the page's own functions: a generated pediatric clip is called zero-shot; the dataset view draws
    the projection and dimensions chosen."""
    from app import events
    from echo.echonet import write_echonet
    key = events.on_phantom(60, 120, "pediatric", 0)[0]
    assert all("zero-shot" in card for card in last(events.on_predict, key, events.NO_MODELS))
    # the same for a phantom clip saved and uploaded again: the NPZ carries its population
    from echo.writers import write_npz
    upload = events.on_upload(str(write_npz(tmp_path / "child.npz", render_clip(4, "pediatric", n_frames=40, fps=50))))
    assert "A pediatric phantom clip." in upload[-1]
    assert "An adult phantom clip." in events.on_example("adult_normal")[-1]
    from echo.examples import EXAMPLES_DIR                                 # the example's MP4 says so too
    video = events.on_upload(str(EXAMPLES_DIR / "pediatric.mp4"))
    assert "A pediatric phantom clip." in video[-1]
    assert all("Real or unknown" not in card for card in last(events.on_predict, video[0], events.NO_MODELS))
    cards = last(events.on_predict, upload[0], events.NO_MODELS)
    assert all("zero-shot" in card and "Real or unknown clip" not in card for card in cards)
    write_echonet(tmp_path, [(f"c{s}", render_clip(s, "adult", n_frames=40, size=112, fps=50), "TEST", None)
                             for s in (1, 2, 3, 4, 5)])         # four read: three of them span no third axis
    video = next((tmp_path / "Videos").glob("c5.*"))
    kept = video.read_bytes()
    video.unlink()                                              # listed, its video gone: said, not silently dropped
    *figs, words = last(events.on_dataset, str(tmp_path), events.NO_MODELS, "pca", 3)
    assert all(f.data[-1].type == "scatter3d" and "PCA" in f.layout.title.text for f in figs)
    assert words.startswith("Each plot holds 4 of the 5 clips tried. 1 could not be read (c5: ") and "missing" in words
    video.write_bytes(kept)                                     # the folder mended: read again, not the cached view
    again = last(events.on_dataset, str(tmp_path), events.NO_MODELS, "pca", 3)
    assert again[-1] == "Each plot holds 5 of the 5 clips tried."
    shown, error = as_the_page(events.on_dataset, str(tmp_path / "nowhere"), events.NO_MODELS, "pca", 3,
                               before=[*figs, words])              # a failed embed empties the folder before's plots
    assert error is not None and shown == events.on_cycle_cleared()
    shown, error = as_the_page(events.on_dataset, str(tmp_path), events.NO_MODELS, "pca", None)
    assert "choose 2 or 3 in the Dimensions box" in str(error)
    from app.views import cycle
    _, fewer = cycle.dataset_figures(str(tmp_path), events.pair_of(events.NO_MODELS), "pca", 2, limit=2)
    assert fewer == "Each plot holds 2 of the 2 clips tried (the first 2 of the 5 the folder lists)."


def test_degradation_lab_reports_both_models_and_the_sweep(example, shipped_pair, monkeypatch):
    _, nothing = degradation.apply_one(example.key, shipped_pair, "shadow", 0.0)   # severity 0: the clean clip
    assert nothing.count("| +0.0 |") == 4 and "severity 0.00" in nothing
    video, table = degradation.apply_one(example.key, shipped_pair, "shadow", 0.8)
    from explain.analysis.predict import blank_efs, reads_like_blank
    from explain.analysis.predict import ef_category
    probe_rows = [r for r in table.splitlines()                        # | name | probe | clean | degraded | change | category | black |
                  if r.startswith(("| jepa-small |", "| mae-small |"))]
    assert len(probe_rows) == 4                                          # two models, two probes each
    for row in probe_rows:
        cells = row.strip("|").split("|")
        clean, bad, change = (float(c.strip().rstrip("% ⚠️")) for c in cells[2:5])
        blank = float(cells[6].strip().rstrip("%"))
        assert change == pytest.approx(bad - clean, abs=1e-9)             # the change of the EFs as shown
        flags = [c.strip().endswith("⚠️") for c in cells[2:4]]            # each EF where a black clip reads
        assert flags == [reads_like_blank(clean, blank), reads_like_blank(bad, blank)]
        # the category each EF falls in (example: adult), none for an EF that may be no heart's
        before = "n/a" if reads_like_blank(clean, blank) else ef_category(clean)
        after = "n/a" if reads_like_blank(bad, blank) else ef_category(bad)
        assert cells[5].strip() == f"{before} → {after}"
    assert Path(video).is_file() and "jepa-small" in table and "mae-small" in table
    import av
    with av.open(video) as container:                                   # one beat in its real time, as the lab's maps
        rate = float(container.streams.video[0].average_rate)
    view = next(iter(degradation.predictions(example.key, shipped_pair).values())).view
    assert rate == pytest.approx(view.playback_fps, rel=0.02) and abs(rate - 16.0) > 0.5
    assert table.startswith("**shadow at severity 0.80** (left: clean")
    assert table.count("| beat view |") == 2 and table.count("| attentive |") == 2
    _, named = degradation.apply_one(example.key, shipped_pair, "shadow", 2 / 3)
    assert named.startswith("**shadow at severity 0.67 (the benchmark's shadow_med)**")
    assert degradation.apply_one(example.key, shipped_pair, "shadow", 0.67)[1] == named     # the slider's 0.67 is 2/3
    # an EF near its probe's all-black reading is flagged, the clean one too: the JEPA's attentive reading put beside
    # its clean EF (what the shipped probes read there moves with every reshipped probe)
    real = degradation.ef_changes

    def near_the_clean_ef(clean, bad):
        out = real(clean, bad)
        e = out["jepa"][0]
        out["jepa"][0] = dataclasses.replace(e, blank=round((e.clean + e.degraded) / 2, 1) if abs(e.change) < 5
                                             else e.clean + 1.0)
        return out
    monkeypatch.setattr(degradation, "ef_changes", near_the_clean_ef)
    normal = inputs.load_named_example("adult_normal")
    _, full = degradation.apply_one(normal.key, shipped_pair, "shadow", 1.0)
    row = next(r for r in full.splitlines() if r.startswith("| jepa-small | attentive |")).strip("|").split("|")
    clean, bad = (float(c.strip().rstrip("% ⚠️")) for c in row[2:4])
    blank = float(row[6].strip().rstrip("%"))
    read = [f"{ef:.1f}% from the {which} clip" for ef, which in ((clean, "clean"), (bad, "degraded"))
            if reads_like_blank(ef, blank)]
    assert read[0] == f"{clean:.1f}% from the clean clip" and row[2].strip().endswith("⚠️")
    assert (f"jepa-small (attentive) reads {' and '.join(read)}, within 3 points of its {blank:.1f}% from an "
            "all-black one: it may be reading no heart") in full
    degraded = inputs.load_named_example("degraded")            # loaded degraded: its EF is not called clean
    _, further = degradation.apply_one(degraded.key, shipped_pair, "haze", 0.6)
    assert further.startswith("**haze at severity 0.60** (left: as loaded (already degraded: shadow at severity 0.67 "
                              "(the benchmark's shadow_med), ") and "right: with this degradation added" in further
    assert "| as loaded EF | degraded EF |" in further and "clean" not in further.split("\n\n")[1]
    fig, sweep = degradation.sweep(example.key, shipped_pair, "haze")
    assert sweep["severity"][0] == 0 and all(c[0] == 0 for c in sweep["change"].values())
    curves = {"jepa-small", "mae-small", "jepa-small (beat view)", "mae-small (beat view)"}
    tail = ": within 3 EF points of its all-black reading"
    ringed = {t.name.removesuffix(tail) for t in fig.data if t.name.endswith(tail)}
    assert {t.name for t in fig.data} == (curves | {f"{c}: all-black clip" for c in curves} | {"true EF 28.0%"}
                                          | {f"{c}{tail}" for c in ringed})
    for c in curves:                         # ringed where, and only where, a point lies within 3 of its all-black line
        line = next(t for t in fig.data if t.name == c)
        black = next(t for t in fig.data if t.name == f"{c}: all-black clip").y[0]
        assert (c in ringed) == any(abs(y - black) <= 3 for y in line.y)
    black = next(t for t in fig.data if t.name == "jepa-small: all-black clip")
    assert list(black.y) == [sweep["ef_blank"]["jepa"]] * 2 and sweep["ef_blank"]["jepa"] == blank_efs(shipped_pair["jepa"])[0]
    assert set(sweep["ef_beat"]) == {"jepa", "mae"} and all(c[0] == 0 for c in sweep["change_beat"].values())
    assert any(a.text == "reduced (adult)" for a in fig.layout.annotations)       # the adult categories shaded
    monkeypatch.setitem(session.get_clip(example.key).meta, "population", "pediatric")     # a child's: none
    assert not [a for a in degradation.sweep(example.key, shipped_pair, "haze")[0].layout.annotations
                if "(adult)" in a.text]
    clean = predictions.predictions(example.key, shipped_pair)
    assert sweep["ef"]["jepa"][0] == pytest.approx(clean["jepa"].ef)   # severity 0 is the clean clip
    with pytest.raises(ValueError, match="Unknown degradation"):
        degradation.apply_one(example.key, shipped_pair, "rain", 0.5)
    under = degradation.attention_under(example.key, shipped_pair, "shadow", 1.0)
    from app.views.attention import overlay_videos
    copy = session.put_clip(degradation.working_copy(session.get_clip(example.key), shipped_pair))
    beat = predictions.predictions(example.key, shipped_pair)["jepa"].view.beat
    clean = overlay_videos(copy, shipped_pair, "rollout", "mean", 0.0, 0, "probe", beat=beat)   # the clean copy's
    for role, (video, md) in under.items():
        assert Path(video).is_file() and video != clean[role][0] and "focus ratio" in md
        assert md.split("\n\n", 1)[1] != clean[role][1]      # a full-strength shadow moves the map
        clean_ratio = clean[role][1].split("focus ratio **")[1].split("**")[0]
        assert md.startswith(f"Focus ratio on the clean copy {clean_ratio} (the copy the degradations act on: "
                             "cropped to its sector, grey; left), on this degraded copy ")
        # the clean copy's map beside the degraded one's (the README's promise; it showed the degraded one alone)
        shown, alone = read_clip(video).frames, read_clip(clean[role][0]).frames      # (T, H, W[, 3])
        width = alone.shape[2]                                           # the map and its colour bar
        assert shown.shape[1] == alone.shape[1] and shown.shape[2] == 2 * width + 4
        left, right = (np.abs(shown[:, :, part].astype(int) - alone.astype(int)).mean()
                       for part in (slice(None, width), slice(-width, None)))
        assert left < 3 and right > 2 * left, (left, right)               # left: the clean map; right: the degraded


def test_attention_under_a_degradation_shows_the_clean_clips_beat(shipped_pair, monkeypatch):
    """An upload without timing: the degraded copy (here with frames dropped) would estimate a beat of its
    own, so its map would cover other frames than the clean map's; it is handed the clean clip's beat."""
    import explain.analysis.window as window
    clip = render_clip(5, "adult", n_frames=100, size=112, fps=50)          # about two beats
    key = session.put_clip(dataclasses.replace(clip, truth=None, source="patient.avi", meta={}))
    clean_beat = beat_frames(session.get_clip(key))
    assert clean_beat[1] == "estimated"
    import explain.analysis.beat as beat_module
    beats, real_view = [], window.model_view
    monkeypatch.setattr(window, "model_view", lambda c, *shape, beat=None, sector=None:
                        beats.append(beat) or real_view(c, *shape, beat=beat, sector=sector))
    estimates, real_estimate = [], beat_module.estimate_beat_frames
    monkeypatch.setattr(beat_module, "estimate_beat_frames",
                        lambda c, sector=None: estimates.append(c.n_frames) or real_estimate(c, sector))
    under = degradation.attention_under(key, shipped_pair, "dropped_frames", 1.0)
    # one view a shape (the shipped pair's one): the clip's predictions', then the clean copy's and the degraded's
    assert set(under) == set(shipped_pair) and beats == [None, clean_beat, clean_beat]
    assert estimates == [100]                       # the clip's predictions' view; the copies are handed its beat
    # and hold only the frames up to the last one that beat's view reads, not the clip's second beat
    assert degradation._clean_copy(key, shipped_pair)[1].n_frames == max(
        int(p.view.indices.max()) + 1 for p in predictions.predictions(key, shipped_pair).values()) < 100


def test_a_degraded_copy_is_made_for_each_pair_and_the_lab_says_whose_view_its_video_is(example, shipped_pair,
                                                                                         monkeypatch):
    """The copy is sized to the pair's largest input (working_copy): its key left the pair out, so models loaded
    later were shown the copy made for the models before. And the lab's video shows the first model's view: where
    the other model sees other frames or another size, its heading says so."""
    from builders import tiny_wrapper
    from explain.analysis.pair import LoadedModel, pair_key
    made, real = [], degradation.working_copy
    monkeypatch.setattr(degradation, "working_copy", lambda clip, pair, beat: made.append(pair_key(pair)) or
                        real(clip, pair, beat=beat))
    other = {"jepa": shipped_pair["jepa"],
             "mae": LoadedModel("mae", tiny_wrapper("mae"), None, None, None, True, key=("mae-tiny", "mae", "cpu", 8))}
    key = session.put_clip(session.get_clip(example.key))            # a clip no test degraded before
    for pair, name in ((shipped_pair, "haze"), (other, "haze"), (shipped_pair, "haze"), (shipped_pair, "noise")):
        degradation.attention_under(key, pair, name, 0.5)
    assert made == [pair_key(shipped_pair), pair_key(other)]    # one clean copy per pair, then from the store
    import echo.degrade as echo_degrade
    crops, real_crop = [], echo_degrade.crop_to_sector
    monkeypatch.setattr(echo_degrade, "crop_to_sector", lambda *a, **k: crops.append(a) or real_crop(*a, **k))
    for severity in (0.3, 0.6):
        degradation.apply_one(key, shipped_pair, "gain", severity)
    assert crops == []                              # the lab's EFs degrade that same copy: no crop made again
    assert degradation._whose_view(shipped_pair) == ""
    assert degradation._whose_view(other) == (", as jepa-small sees it, 16 frames of 112 px; mae-tiny sees 8 "
                                              "frames of 64 px")


def test_models_view_names_models_and_device(shipped_pair):
    text = models.describe_pair(shipped_pair)
    assert "jepa-small" in text and "mae-small" in text and "device **cpu**" in text
    assert text.count("EF probe shipped (and the beat view's)") == 2
    assert ("jepa-small", "jepa-small") in models.model_choices("jepa")
    assert all(value != "mae-small" for _, value in models.model_choices("jepa"))
    assert models.pick("jepa-small", " /some/path ", "jepa") == "/some/path"
    assert models.pick(None, "", "mae") == "mae-small"


def test_a_model_folder_exported_again_under_the_same_path_is_loaded_afresh(example, tmp_path):
    """A folder re-exported (the impossible-EF warning asks for another --ef-mean) and chosen again kept the weights
    loaded first, and their EFs, under the new files' digest in an audit's record: models were kept by path alone."""
    import shutil

    from safetensors.torch import load_file, save_file

    from explain.analysis.pair import SHIPPED
    folder = tmp_path / "my-mae"
    shutil.copytree(SHIPPED / "mae-small", folder)
    first = models.current_pair(None, None, None, str(folder), 0)
    assert models.current_pair(None, None, None, str(folder), 0)["mae"] is first["mae"]     # unchanged: kept
    before = predictions.predictions(example.key, first)["mae"].ef
    weights = load_file(folder / "probe.safetensors")
    save_file({**weights, "ef_mean": weights["ef_mean"] + 10}, folder / "probe.safetensors")
    card = json.loads((folder / "probe.json").read_text())
    (folder / "probe.json").write_text(json.dumps({**card, "ef_mean": card["ef_mean"] + 10}))
    again = models.current_pair(None, None, None, str(folder), 0)
    assert again["mae"] is not first["mae"] and again["mae"].key != first["mae"].key      # a new entry in every cache
    assert predictions.predictions(example.key, again)["mae"].ef == pytest.approx(before + 10, abs=0.01)


def test_models_that_fail_to_load_are_named_and_the_pair_in_use_is_said(tmp_path, shipped_pair):
    """A text file typed in as a checkpoint: the message names the file and what it is not (torch's own
    error was a bare KeyError '101'); the models line then says which models are still in use."""
    from app import events
    (tmp_path / "notes.mp4").write_text("hello this is text\n")
    with pytest.raises(gr.Error, match=r"JEPA model '.*notes.mp4': .*notes.mp4 is not a torch checkpoint"):
        events.on_models(None, str(tmp_path / "notes.mp4"), None, "", 0)
    with pytest.raises(gr.Error, match=r"MAE model '.*nowhere.pt': no model folder.*mae-small\)\."):
        events.on_models(None, "", None, str(tmp_path / "nowhere.pt"), 0)
    kept = events.on_models_kept(events.NO_MODELS)
    assert "jepa-small" in kept and "mae-small" in kept and "still in use" in kept
    cleared = events.on_clip_failed()                     # the clip outputs then both prediction cards
    no_clip_yet = tuple(events.NO_CLIP_YET.format(role=r) for r in ("JEPA", "MAE"))    # as before any clip, not blank
    assert cleared[0] is None and cleared[4].startswith("No clip loaded") and cleared[5:] == no_clip_yet
    emptied = events.on_upload_cleared("k1", "k1", [None] * 3)     # the box held the clip shown: cleared, views too
    assert emptied[4].startswith("No clip loaded") and "upload box" in emptied[4]
    assert emptied[:4] == (None,) * 4 and emptied[5:7] == no_clip_yet and emptied[7:] == (None,) * 3
    for key, uploaded in (("k2", "k1"), (None, None)):   # an example loaded since, or nothing loaded: kept
        kept_all = events.on_upload_cleared(key, uploaded, [None] * 3)
        assert len(kept_all) == 10 and all(v == gr.skip() for v in kept_all)
    summary, table, figure, downloads = events.on_audit_failed()    # the audit tab's outputs, in its order
    assert summary.startswith("No audit shown") and table is None and figure is None and downloads is None


def test_a_prediction_that_fails_clears_both_cards_rather_than_leave_the_models_before(example, tmp_path,
                                                                                      monkeypatch):
    """Models chosen, then their first pass raised: the page showed the error and an 'Error' mark, but the MAE card
    kept mae-small's EF under the new model's name (Gradio leaves a failed event's outputs as they were). The
    prediction event now empties both cards, saying why, before it raises the error the page shows; as a clip that
    failed to load empties them. The page's predictions (after a clip, after models) are that one event."""
    from builders import videomae_checkpoint

    from app import events
    from app.layout import build
    before = last(events.on_predict, example.key, events.NO_MODELS)          # the shipped pair: an EF each
    assert "### mae-small" in before[1] and "**EF " in before[1]
    torch.save(videomae_checkpoint(width=64, dec=64), tmp_path / "videomae.pth")
    state = {"models": (None, None, None, str(tmp_path / "videomae.pth"), 0)}       # a typed MAE path
    mae = events.pair_of(state)["mae"]                                     # the model the page's state names (cached)

    def raises(x):
        raise RuntimeError("mat1 and mat2 must have the same dtype")
    monkeypatch.setattr(mae.wrapper, "tokens", raises)
    cleared, error = as_the_page(events.on_predict, example.key, state, before=before)
    assert "Something went wrong (RuntimeError: mat1 and mat2" in error.message       # the error the page shows,
    assert not any("mae-small" in card or "**EF " in card for card in cleared)        # beside no EF of the models
    assert cleared == events.on_predict_failed() and len(cleared) == 2                 # before: emptied cards
    assert all("no EF shown" in card for card in cleared)
    assert cleared[0].startswith("### JEPA: no EF shown\n") and cleared[1].startswith("### MAE: no EF shown\n")
    monkeypatch.undo()
    assert "### videomae" in last(events.on_predict, example.key, state)[1]      # a pass that runs: its card
    predicting = [f for f in build().fns.values() if f.fn is events.on_predict]
    assert len(predicting) == 4 and all(f.types_generator for f in predicting)     # 3 clip inputs, 'Use these models'


def test_evidence_shows_our_table_and_the_preprints_labelled():
    md = evidence.evidence_markdown()
    assert "| jepa-small | jepa |" in md and "| random |" in md and "EchoJEPA-L" in md and "theirs" in md
    glance = md[:md.index("# EF probes")]                            # the verdicts come first, one per claim
    assert glance.startswith("**At a glance: jepa-small against mae-small") and glance.count("\n- ") == 4
    assert "mean degradation < 2.3%: **not met**" in glance


@pytest.mark.parametrize("table", [[], {"models": {"jepa-small": None}}], ids=["a list", "a null entry"])
def test_a_hand_edited_benchmark_table_is_named_not_a_crash_of_the_page(tmp_path, table):
    """The Evidence tab reads results.json while the page is built: a TypeError (a list, a null entry) stopped the
    app from starting."""
    path = tmp_path / "results.json"
    path.write_text(json.dumps(table))
    md = evidence.evidence_markdown(path)
    assert md.startswith(f"The benchmark table could not be read from {path} (") and "--ship` writes it" in md


def test_a_model_card_reads_as_facts_with_its_measured_headline(shipped_pair):
    m = shipped_pair["mae"]
    card, clean = m.wrapper.card, m.wrapper.card["results"]["clean"]
    md = evidence.card_markdown(m)
    assert f"- **method**: MAE, recipe `{card['recipe']}`" in md and f"{card['params_shipped']:,}" in md
    assert f"clean EF mean absolute error {clean['mae']:.2f} ± {clean['mae_std']:.2f}" in md and "```" not in md
    res = card["results"]                                                  # each headline with its spread
    assert (f"mean relative degradation {res['mean_rel_degradation_pct']:+.1f} ± "
            f"{res['mean_rel_degradation_pct_std']:.1f}% (the six" in md)
    own = m.probe.meta["test"]["clean"]["mae"], m.beat_probe.meta["test"]["clean"]["mae"]      # as Predictions gives them
    assert (f"- **EF probes shipped**: the attentive probe: phantom test mean absolute error {own[0]:.2f} (this probe" in md
            and f"; the beat view's probe: phantom test mean absolute error {own[1]:.2f} (this probe" in md)
    bare = dataclasses.replace(m, wrapper=types.SimpleNamespace(card=None, name="from-a-path"))
    assert "No model card" in evidence.card_markdown(bare)
    assert f"{card['params_shipped']:,} (encoder and decoder)\n" in md          # the MAE ships one network
    jepa = evidence.card_markdown(shipped_pair["jepa"])                  # the card counts the target encoder and
    assert "(encoder and predictor); its context encoder, of the encoder's size, ships beside them" in jepa  # predictor


def test_a_checkpoint_converted_on_load_shows_what_was_assumed_and_left_out(tmp_path):
    """A native V-JEPA 2 checkpoint stores no frame count, size or head count: its card and the models line
    say what was assumed (before: 'method: ?, recipe ?' and a card.json that does not exist)."""
    from builders import vjepa2_checkpoint
    from explain.analysis.pair import load_model
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "echojepa.pt")
    m = load_model(str(tmp_path / "echojepa.pt"), "jepa", "cpu")
    md = evidence.card_markdown(m)
    assert "converted on load" in md and "frames 16 assumed" in md and "size 224 assumed" in md
    assert "recipe" not in md and "card.json" not in md
    assert "\n  - Assumed on conversion" in models.describe_pair({"jepa": m}) and "frames 16 assumed" in models.describe_pair({"jepa": m})


def test_session_store_evicts_old_clips_and_says_so():
    with pytest.raises(ValueError, match="No clip loaded"):
        session.get_clip(None)
    with pytest.raises(ValueError, match="no longer in memory"):
        session.get_clip("feedbeef0000")
    lru = session.LRU(2)
    for k in "abc":
        lru.put(k, k.upper())
    assert lru.get("a") is None and lru.get("c") == "C" and len(lru) == 2


def test_clip_store_keeps_each_session_its_clips_and_evicts_the_largest_holder_first():
    """One user loading many (or huge) clips pushed another user's clip out of memory ('This clip is no longer
    in memory'): each session now keeps its last few, and over the byte budget the largest holder gives first."""
    import numpy as np
    from echo.clip import Clip
    evicted = []
    store = session.ClipStore(per_owner=2, max_bytes=1000, on_evict=evicted.append)
    clip = lambda n: Clip(np.zeros((n, 10, 10), np.uint8), 30.0)          # n * 100 bytes of frames
    store.put("a1", clip(3), "A")
    for k in ("b1", "b2", "b3"):                                           # B's third pushes out B's first only
        store.put(k, clip(1), "B")
    assert evicted == ["b1"] and store.get("a1") is not None
    store.put("b4", clip(5), "B")         # 300 + 100 + 500 + 100 > 1000 after B's cap: B, the largest, gives first
    assert evicted == ["b1", "b2"] and store.get("a1") is not None and store.bytes == 900
    store.put("c1", clip(2), "C")         # now A 300, B 600 (b3, b4), C 200: B's oldest goes, and enough
    assert evicted[-1] == "b3" and store.get("a1") is not None and store.get("b4") is not None
    store.put("huge", clip(20), "D")      # over the budget alone: it stays, every other clip goes
    assert store.get("huge") is not None and len(store) == 1
    store = session.ClipStore(per_owner=4, max_bytes=1000, on_evict=evicted.append)
    store.put("A1", clip(3), "A")
    store.put("B1", clip(4), "B")
    store.put("A2", clip(5), "A")         # A holds 800 with it: A gives up its own older clip, not B's only one
    assert evicted[-1] == "A1" and store.get("B1") is not None and store.get("A2") is not None
    for k in "xyz":                       # unowned (the CLI, tests): no cap per owner, the byte budget only
        store.put(k, clip(1), None)
    assert all(store.get(k) is not None for k in "xyz")


def test_a_clips_degraded_copies_go_with_it_and_count_as_its_sessions():
    import numpy as np
    from echo.clip import Clip
    clip = lambda n: Clip(np.zeros((n, 10, 10), np.uint8), 30.0)          # n * 100 bytes of frames
    evicted = []
    store = session.ClipStore(per_owner=1, max_bytes=10_000, on_evict=evicted.append)
    store.put("p1", clip(1), "A")
    store.put("p1:shadow", clip(1), "p1")                                 # owned by its clip
    store.put("p2", clip(1), "A")                                         # A's cap of one pushes out p1, and its copy
    assert evicted == ["p1", "p1:shadow"] and store.get("p2") is not None
    store = session.ClipStore(per_owner=4, max_bytes=1500, on_evict=evicted.append)
    store.put("a1", clip(1), "A")
    store.put("a1:haze", clip(3), "a1")
    store.put("a1:noise", clip(3), "a1")                                  # session A holds 700 bytes with its copies
    store.put("b1", Clip(np.zeros((13, 10, 5), np.uint8), 30.0), "B")   # B holds 650
    store.put("c1", clip(3), "C")                                         # 1,600 > 1,500: A, the largest, gives
    assert store.get("b1") is not None and store.get("a1") is None and store.get("a1:noise") is None


def test_each_page_sessions_clips_are_stored_under_its_session(example):
    from types import SimpleNamespace
    from app import events
    mine = events.on_example("adult_normal", request=SimpleNamespace(session_hash="me"))[0]
    for _ in range(session.MAX_CLIPS_PER_OWNER):                          # another user's many clips leave mine
        events.on_example("pediatric", request=SimpleNamespace(session_hash="someone else"))
    assert session.get_clip(mine).truth.ef == 62.0
    for _ in range(session.MAX_CLIPS_PER_OWNER):                          # my own next ones push it out
        events.on_example("pediatric", request=SimpleNamespace(session_hash="me"))
    with pytest.raises(ValueError, match="no longer in memory"):
        session.get_clip(mine)


def test_a_clip_that_leaves_the_store_takes_its_cached_results():
    import numpy as np
    from echo.clip import Clip
    key = session.put_clip(Clip(np.zeros((2, 10, 10), np.uint8), 30.0), owner="someone")
    session.cached((key, "view"), lambda: np.ones(3))
    assert session.peek((key, "view")) is not None
    for _ in range(session.MAX_CLIPS_PER_OWNER):
        session.put_clip(Clip(np.zeros((2, 10, 10), np.uint8), 30.0), owner="someone")
    assert session.peek((key, "view")) is None
    with pytest.raises(ValueError, match="no longer in memory"):
        session.get_clip(key)


def test_result_cache_is_capped_by_the_bytes_its_arrays_hold():
    import numpy as np
    lru = session.LRU(100, max_bytes=3000)
    for k in "abcd":                     # 1000 bytes of arrays each, nested as the views return them
        lru.put(k, {"jepa": (np.zeros(100), "path.mp4"), "mae": [np.zeros(25, np.float32), np.zeros(25, np.float32)]})
    assert len(lru) == 3 and lru.get("a") is None and lru.bytes == 3000
    lru.put("b", np.zeros(10))           # replacing an entry counts its new size only
    assert lru.bytes == 2080 and len(lru) == 3
    lru.put("huge", np.zeros(1000))      # bigger than the cap: it stays (it is what was just asked for)
    assert len(lru) == 1 and lru.get("huge") is not None
    shared = np.zeros(100)
    assert session.nbytes([shared, shared, {"again": shared}]) == 800     # one array held twice counts once


def test_media_folder_is_pruned_oldest_first_and_spares_young_files(tmp_path):
    import os
    old, older, young = tmp_path / "old.mp4", tmp_path / "older", tmp_path / "young.mp4"
    old.write_bytes(b"x" * 100)
    (older / "videos").mkdir(parents=True)
    (older / "videos" / "a.avi").write_bytes(b"x" * 100)
    young.write_bytes(b"x" * 100)
    os.utime(old, (1000, 1000))
    os.utime(older, (500, 500))
    # 300 bytes, cap 150: the two old entries go (oldest first), the young one stays however full
    assert media.prune_media(tmp_path, max_bytes=150, min_age_s=60) == [older, old]
    assert not older.exists() and not old.exists() and young.exists()
    assert media.prune_media(tmp_path, max_bytes=10, min_age_s=60) == [] and young.exists()


def _marked(folder, pid, started):
    """A folder as an EchoLens process marks its own (app.media.OWNER_FILE)."""
    folder.mkdir()
    (folder / media.OWNER_FILE).write_text(f"{pid} {started}")
    (folder / "clip.mp4").write_bytes(b"x")
    return folder


def test_a_killed_servers_media_folder_is_removed_when_the_next_one_starts(tmp_path):
    import subprocess
    import sys
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    me = os.getpid()
    orphan = _marked(tmp_path / f"echolens-{gone.pid}-ab12", gone.pid, "123")
    own = _marked(tmp_path / f"echolens-{me}-cd34", me, media._started(me))
    reused = _marked(tmp_path / f"echolens-{me}-ef56", me, "1")     # this pid, given to a process started later
    other = tmp_path / "echolens-x1y2z3"                            # an older server's, no pid to judge by
    other.mkdir()
    assert sorted(media.remove_orphan_media(tmp_path)) == sorted([orphan, reused])
    assert not orphan.exists() and not reused.exists() and own.exists() and other.exists()
    root = media.media_dir()
    assert root.name.startswith(f"echolens-{me}-") and not media._gone(root)
    assert (root / media.OWNER_FILE).read_text() == f"{me} {media._started(me)}"


def test_a_folder_echolens_did_not_make_is_never_removed(tmp_path):
    """A user's own 'echolens-2026-notes' (an analyze --out folder, say) looks like a dead server's by its name:
    only a folder holding the owner file its server wrote, naming the pid its name does, is judged at all."""
    import subprocess
    import sys
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    notes = tmp_path / "echolens-2026-notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("mine")
    named = tmp_path / f"echolens-{gone.pid}-report"                 # a dead pid's name, no owner file
    named.mkdir()
    mismatch = _marked(tmp_path / f"echolens-{gone.pid}-gh78", gone.pid + 1, "1")
    assert media.remove_orphan_media(tmp_path) == []
    assert (notes / "notes.txt").exists() and named.exists() and mismatch.exists()
    served = _marked(tmp_path / "served", os.getpid(), "1")           # pruning never takes the owner file
    assert media.prune_media(served, max_bytes=0, min_age_s=0) == [served / "clip.mp4"]
    assert (served / media.OWNER_FILE).exists()


def test_a_media_folder_whose_server_cannot_be_judged_is_kept(tmp_path, monkeypatch):
    """Another user's server (signalling it is not permitted) may still run: only a pid that no longer exists goes."""
    def kill(pid, signal):
        raise PermissionError if pid == 4242 else ProcessLookupError
    monkeypatch.setattr(media.os, "kill", kill)
    others, gone = _marked(tmp_path / "echolens-4242-ab12", 4242, "?"), _marked(tmp_path / "echolens-4343-cd34", 4343, "?")
    assert media.remove_orphan_media(tmp_path) == [gone] and others.exists()


def test_media_folder_is_scanned_at_most_once_a_minute(monkeypatch):
    scans = []
    monkeypatch.setattr(media, "prune_media", scans.append)
    monkeypatch.setattr(media, "_last_prune", [float("-inf")])
    names = {media.media_path(".png") for _ in range(3)}
    assert len(names) == 3 and len(scans) == 1              # three fresh names, one scan
    media._last_prune[0] -= media.PRUNE_EVERY_S
    media.media_path(".png")
    assert len(scans) == 2                                  # a minute later it looks again


def test_cached_result_is_recomputed_when_its_media_file_was_pruned():
    calls = []

    def write():
        path = media.media_path(".mp4")
        path.write_bytes(b"video")
        calls.append(path)
        return {"jepa": str(path), "note": "not a path"}

    key = ("clip", "pruned-media-test")
    first = session.cached(key, write)
    assert session.cached(key, write) == first and len(calls) == 1
    calls[0].unlink()
    again = session.cached(key, write)
    assert len(calls) == 2 and again["jepa"] != first["jepa"] and Path(again["jepa"]).exists()


def test_errors_reach_the_page_as_messages_not_tracebacks():
    @shows_errors
    def refuses():
        raise ClipError("'x.avi' is empty (0 bytes)")

    @shows_errors
    def crashes():
        raise RuntimeError("boom")

    with pytest.raises(gr.Error) as e:
        refuses()
    assert e.value.message == "'x.avi' is empty (0 bytes)" and e.value.duration is None    # stays until closed
    with pytest.raises(gr.Error) as e:
        crashes()
    assert "Something went wrong (RuntimeError: boom)" in e.value.message and "still running" in e.value.message
    assert e.value.duration is None


def test_a_checkpoint_too_slow_for_the_cpu_earns_a_warning_with_fewer_frames(shipped_pair, monkeypatch):
    from types import SimpleNamespace

    import torch
    from transformers import VJEPA2Config

    import model_zoo.cost as cost
    monkeypatch.setattr(cost, "machine_speed", lambda threads: 30.0)   # a busy 2-core CPU: a ViT-L pass about 40 s
    vit_l = VJEPA2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, crop_size=224,
                         frames_per_clip=16)
    big = SimpleNamespace(name="vjepa2-vitl", wrapper=SimpleNamespace(device=torch.device("cpu"), config=vit_l))
    warning = models.speed_warning(big)
    frames = int(warning.split("set 'Frames for large checkpoints' to ")[1].split()[0])
    assert "slow on this CPU" in warning and 2 <= frames < 16
    assert models.speed_warning(shipped_pair["jepa"]) is None          # the shipped models are quick
    assert models.speed_warning(SimpleNamespace(name="x", wrapper=SimpleNamespace(
        device=torch.device("cuda"), config=vit_l))) is None           # a GPU is not warned about
    monkeypatch.setattr(cost, "machine_speed", lambda threads: 300.0)  # a quiet machine: about 4 s, no warning
    assert models.speed_warning(big) is None


def test_attention_view_gives_overlays_focus_and_a_scrubbable_frame(example, shipped_pair):
    from app.views import attention
    shown = attention.overlay_videos(example.key, shipped_pair, "rollout", "mean", 0.0, 0, "probe")
    for role, (video, md) in shown.items():
        assert Path(video).stat().st_size > 1000 and "focus ratio" in md
        assert "method: attention rollout; read-out: the EF probe's query" in md      # the maps' method, by name
    # whether such a map was faithful to the EF on held-out clips (explain/results/focus_report.json): both models'
    # probe read-out rollouts beat random orders on both curves, and neither beat the control (the frame's middle)
    from explain.focus_report import RECORD
    record = json.loads(RECORD.read_text())
    for role, name in (("jepa", "jepa-small"), ("mae", "mae-small")):
        verdicts = record["summary"][name]["rollout (probe read-out)"]
        assert (f"removing its top blocks first moved {name}'s EF {verdicts['deletion']['verdict']}; restoring "
                f"them first brought it back {verdicts['insertion']['verdict']}") in shown[role][1]
        assert (f"Against a map of the frame's middle that ignores the clip: {verdicts['deletion']['vs_control']} on "
                f"removing, {verdicts['insertion']['vs_control']} on restoring.") in shown[role][1]
    # the page's degraded example and a child's: the report measured clean adult clips, so no verdict, and why
    for name, unlike in (("degraded", "degraded"), ("pediatric", "a child's")):
        key = inputs.load_named_example(name).key
        for _, md in attention.overlay_videos(key, shipped_pair, "rollout", "mean", 0.0, 0, "probe").values():
            assert "Faithful to its EF?" not in md and (f"No faithfulness verdict: the focus report measured clean "
                                                        f"adult phantom clips, and this one is {unlike}.") in md
    # other settings than the report's, or a model that is not the shipped one as it ships: no verdict
    other = attention.overlay_videos(example.key, shipped_pair, "rollout", "mean", 0.5, 0, "probe")
    assert all("No faithfulness verdict" not in md for _, md in other.values())     # none recorded: nothing to say
    assert all("Faithful to its EF?" not in md for _, md in other.values())
    # the probe read-out asked for, one model without a probe: both read out by the mean, and the page says why
    no_probe = {**shipped_pair, "mae": dataclasses.replace(shipped_pair["mae"], probe=None, key=("mae-no-probe",))}
    for role, (_, md) in attention.overlay_videos(example.key, no_probe, "rollout", "mean", 0.0, 0, "probe").items():
        assert "read-out: the mean over all tokens (the EF probe's read-out needs an EF probe on both models)" in md
        assert ("Faithful to its EF?" in md) == (role == "jepa")      # the MAE without its probe is not as shipped
        assert ("Random orders are a low bar" in md) == (role == "jepa")     # what beating them is worth, beside it
    maps = attention.maps(example.key, shipped_pair, "rollout", "mean", 0.0, 0, "probe")
    r = maps["jepa"]
    assert r.heat.shape == (16, 112, 112) and r.heat.min() == 0 and r.heat.max() == 1
    assert r.focus["ratio"] == pytest.approx(r.focus["focus_share"] / r.focus["chance_share"])
    area = r.focus["outside_area"]                       # the fan's corners: more than half of the square frame
    assert 0.5 < area < 0.65 and r.focus["outside_share"] < area        # jepa-small's rollout: less than an even map
    for share, said, warned in ((0.004, False, False), (area - 0.05, True, False), (area + 0.05, True, True)):
        md = attention.focus_markdown(dataclasses.replace(r, focus={**r.focus, "outside_share": share}))
        assert (f"{100 * share:.0f}% of the map lies outside the ultrasound sector, where there is no tissue to read "
                f"(the focus ratio counts only the mass inside it; that region is {100 * area:.0f}% of the frame, what "
                "an even map would put there)." in md) == said
        assert ("⚠️" in md) == warned          # more weight where there is no tissue than an even map puts there
        # the focus share is of the weight inside the sector, not of the whole map (read as twice its size beside
        # the share outside)
        assert f"{100 * r.focus['focus_share']:.0f}% of the map's weight inside the ultrasound sector lies on the" in md
    assert attention.scrub(example.key, shipped_pair, "paper", 3) is None       # never made: not started
    frames = attention.scrub(example.key, shipped_pair, "rollout", 99, "mean", 0.0, 0, "probe")
    image, label = frames["mae"]
    assert image.ndim == 3 and image.shape[2] == 3 and label.startswith("MAE at frame 15 (of 0-15")  # the last frame
    # the scrubbed frame names end-diastole and end-systole, where the cycle view puts them (the clip's phase)
    from explain.trajectory.phase import clip_phase
    from echo.preprocess import crop_to_sector
    estimate = clip_phase(crop_to_sector(session.get_clip(example.key)))
    indices = maps["jepa"].view.indices
    for mark, source in (("ED", estimate.ed_frames), ("ES", estimate.es_frames)):
        at = attention.cycle_marks(example.key, indices)[mark]
        near = min(abs(indices[at] - f) for f in source)                      # the view's frame beside a marked one
        assert near <= np.diff(indices).max()
        image, label = attention.scrub(example.key, shipped_pair, "rollout", at, "mean", 0.0, 0, "probe")["jepa"]
        assert label == f"JEPA at frame {at} (of 0-15): {mark} ({attention.PHASE_NAMES[mark]})"
    marks = attention.cycle_marks(example.key, indices)
    between = next(t for t in range(16) if t not in marks.values())
    assert attention.scrub(example.key, shipped_pair, "rollout", between, "mean", 0.0, 0, "probe")["jepa"][1] == (
        f"JEPA at frame {between} (of 0-15; ED at {marks['ED']}, ES at {marks['ES']})")
    # a model seeing 8 frames beside one seeing 16: the scrubber runs over 16 (frames 8-15 of the longer view could
    # not be reached) and shows the shorter view at the same moment of the beat
    from builders import tiny_wrapper
    from explain.analysis.pair import LoadedModel
    mixed = {"jepa": shipped_pair["jepa"], "mae": LoadedModel("mae", tiny_wrapper("mae"), None, None, None, True,
                                                              key=("mae-tiny", "mae", "cpu", 8))}
    attention.maps(example.key, mixed, "rollout", "mean", 0.0, 0, "mean")
    for moment, (jepa_t, mae_t) in ((15, (15, 7)), (8, (8, 4)), (3, (3, 1))):
        seen = attention.scrub(example.key, mixed, "rollout", moment, "mean", 0.0, 0, "mean")
        assert seen["jepa"][1].startswith(f"JEPA at frame {jepa_t} (of 0-15") and seen["mae"][1].startswith(
            f"MAE at frame {mae_t} (of 0-7")
    with pytest.raises(ValueError, match="Unknown method"):
        attention.maps(example.key, shipped_pair, "gradcam")
    paper = attention.overlay_videos(example.key, shipped_pair, "paper", "mean", 0.0, 0, "probe", 2, "given", 16)
    assert "layer: 2" in paper["jepa"][1] and "most peaked head: " in paper["jepa"][1] and "[" not in paper["jepa"][1]
    ig = attention.overlay_videos(example.key, shipped_pair, "integrated_gradients", "max", 0.5, 3, "mean", -1,
                                  "received", 4)
    assert "convergence delta" in ig["mae"][1] and "integration steps: 4" in ig["mae"][1]
    assert all("Faithful to its EF?" not in md for _, md in ig.values())   # the report's IG took 16 steps, not 4
    smooth = dataclasses.replace(r, token_map=dataclasses.replace(r.token_map, method="smoothgrad"))
    assert attention.faithfulness_words(smooth, shipped_pair["jepa"], {"n_steps": 16}) == ""   # not in the report
    copied = dataclasses.replace(shipped_pair["jepa"], folder=Path("/elsewhere/jepa-small"))
    assert attention.faithfulness_words(r, copied, {"head_fusion": "mean", "discard_ratio": 0.0, "start_layer": 0,
                                                    "readout": "probe"}) == ""          # a copy under the same name


def test_an_integrated_gradients_map_whose_delta_outweighs_its_ef_change_is_called_unreliable():
    from types import SimpleNamespace
    from app.views import attention
    shown = lambda info, method="integrated_gradients": attention.info_markdown(
        SimpleNamespace(token_map=SimpleNamespace(info=info, method=method)))
    bad = shown({"convergence_delta": [-1.08], "ef_change": [0.389], "n_steps": 16})    # one value per clip, as IG gives
    assert bad.startswith("⚠️ Unreliable: the convergence delta (-1.08) is 2.8x the EF change")
    assert "Unreliable" not in shown({"convergence_delta": [0.05], "ef_change": [3.2], "n_steps": 16})
    smooth = shown({"convergence_delta": [1.56], "ef_change": [0.77], "n_steps": 8}, "smoothgrad")
    assert smooth.startswith("⚠️ Unreliable: the convergence delta (1.56 on average over the noisy copies) is 2.0x")
    assert "mean |convergence delta| over the noisy copies (0 = exact): 1.56" in smooth      # not IG's signed sum
    assert "sum of attributions - EF change" not in smooth and "mean EF change from the black baseline" in smooth
    pretext = shown({"hidden_share": 0.667, "hidden_area": 0.898, "draw_agreement": 0.09, "reliability": 0.17,
                     "n_masks": 2}, "pretext")
    assert pretext.startswith("⚠️ Unreliable: the map changes with the mask draws")
    assert "share of the attribution on the hidden boxes: 67%; hidden boxes' share of the tokens: 90%" in pretext
    # and as a real run reports them
    from builders import tiny_probe, tiny_wrapper
    from explain.attention_maps import clip_map
    wrapper = tiny_wrapper("mae")
    x = torch.randn(1, wrapper.grid[0] * wrapper.tubelet, 3, wrapper.grid[1] * wrapper.patch, wrapper.grid[2] * wrapper.patch)
    real = clip_map(wrapper, x, "integrated_gradients", probe=tiny_probe(), n_steps=1).info
    ratio = abs(real["convergence_delta"][0]) / abs(real["ef_change"][0])
    assert ("Unreliable" in shown(real)) == (ratio > 0.5)
    assert shown({"features": 128, "cells": [1, 2, 2]}, "feature_ablation") == (
        "method: feature ablation; regions blacked out: 128; blocks per region (time, rows, columns): 1 x 2 x 2")
    # the warning comes before the bold focus ratio it qualifies, not after it
    focus = {"ratio": 1.8, "focus_share": 0.3, "chance_share": 0.17, "pointing_game": 0.5, "structures": "walls"}
    result = lambda info: SimpleNamespace(name="m", focus=focus, token_map=SimpleNamespace(info=info,
                                                                                          method="integrated_gradients"))
    words = attention.map_words(result({"convergence_delta": [-1.08], "ef_change": [0.389], "n_steps": 16}))
    assert words.startswith("⚠️ Unreliable") and words.index("**1.80**") > words.index("Unreliable")
    fine = attention.map_words(result({"convergence_delta": [0.05], "ef_change": [3.2], "n_steps": 16}))
    assert fine.startswith("**m**: 30% of the map") and "convergence delta" in fine


def test_the_default_integration_steps_give_maps_the_page_trusts_on_the_shipped_models(shipped_pair):
    """At 16 steps the JEPA's map of adult_normal was called unreliable (delta 2.8x its EF change); the default
    must give both shipped models a delta under half their EF change, the page's own bar."""
    from explain.attention_maps import clip_map
    from explain.attribution.integrated_gradients import STEPS
    from explain.analysis.predict import predict
    clip = session.get_clip(inputs.load_named_example("adult_normal").key)
    for role, m in shipped_pair.items():
        x = predict({role: m}, clip)[role].view.x
        info = clip_map(m.wrapper, x, "integrated_gradients", probe=m.probe, n_steps=STEPS).info
        assert abs(info["convergence_delta"][0]) < 0.5 * abs(info["ef_change"][0]), (role, info)


def test_each_attention_method_shows_exactly_the_controls_it_reads_and_says_what_it_weighs():
    from app.views import attention
    assert set(attention.METHOD_WORDS) == set(attention.METHODS) == set(attention.METHOD_LABELS)
    assert all("_" not in label for label in attention.METHOD_LABELS.values())    # words in the box, not names
    assert "EF" not in attention.METHOD_WORDS["pretext"].split("not EF")[1]      # pretext is not about EF
    param_of = {"fusion": "head_fusion", "discard": "discard_ratio", "start": "start_layer", "readout": "readout",
                "layer": "layer", "mode": "mode", "steps": "n_steps", "region": "cells", "draws": "n_masks"}
    for method in attention.METHODS:
        params = attention._params(method, "mean", 0.0, 0, "probe", -1, "received", 16, "4 x 4")
        assert {param_of[c] for c in attention.CONTROLS.get(method, ())} == set(params), method
    assert attention._params("feature_ablation", "mean", 0.0, 0, "probe", -1, "received", 16, "1 x 1") == {
        "cells": (1, 1, 1)}                                            # one block a region: occlusion's grid
    from app import events                  # another method chosen: the maps below are said to be the last one's
    shown = {"settings": ["rollout", "mean", 0.0, 0, "probe", -1, "received", 32, "4 x 4"], "colours": "turbo"}
    words = events.on_method("occlusion", shown)[-1]
    assert words.startswith("*The maps below are still attention rollout's: press 'Show where they look'")
    assert words.endswith(attention.METHOD_WORDS["occlusion"])
    assert events.on_method("rollout", shown)[-1] == events.on_method("rollout", None)[-1] == attention.METHOD_WORDS["rollout"]
    with pytest.raises(ValueError, match="Unknown region size '3 x 3'"):
        attention._params("feature_ablation", "mean", 0.0, 0, "probe", -1, "received", 16, "3 x 3")


def test_reading_a_clip_waits_for_no_model_job_and_every_model_job_shares_one_slot():
    """A refused upload was said 93 s late, queued behind another user's audit in the one model slot."""
    from app.layout import build
    slots = {f.api_name: f.concurrency_id for f in build().fns.values() if f.api_name}
    assert {slots[k] for k in ("upload", "load_example", "generate_phantom")} == {"clips"}
    assert {slots[k] for k in ("upload_predict", "attention", "audit", "cycle", "sweep", "use_models")} == {"models"}
    # the views are cleared at once, and again in the model slot: a job of the clip before, still running when a new
    # clip loaded, would land its results under the new one
    clears = [f.concurrency_id for f in build().fns.values() if getattr(f.fn, "__name__", "") == "clear_stale"]
    assert clears.count("models") == 3 and len(clears) > 3          # upload, example, phantom; and the plain ones


def test_new_models_clear_the_views_made_of_the_models_alone_and_keep_the_cards_guidance(shipped_pair):
    """Choosing models cleared the clip's views but left the speckle test and the dataset view of the models
    before; with no clip loaded it blanked the EF cards' 'load a clip' guidance; the latent tab's time slots
    stayed 0-7 for a model with fewer."""
    from app import events
    from app.layout import build
    page = build()
    clear = next(f for f in page.fns.values() if getattr(f.fn, "__name__", "") == "clear_model_views")
    assert page.fns[clear.trigger_after].api_name == "use_models" and clear.trigger_only_on_success
    assert [o.label for o in clear.outputs[:4:3]] == ["JEPA clips", "The speckle test"]
    made_of_models = {"dataset-words", "audit-summary", "audit-table"}   # an audit's EF columns read as the new models'
    assert made_of_models <= {o.elem_id for o in clear.outputs}
    assert clear.fn() == [None] * len(clear.outputs)
    assert last(events.on_predict, None, events.NO_MODELS) == [events.NO_CLIP_YET.format(role=r) for r in ("JEPA", "MAE")]
    slots = events.on_models(None, "", None, "", 0)[-1]                 # the shipped JEPA: 8 slots of 2 frames
    assert slots["maximum"] == shipped_pair["jepa"].wrapper.grid[0] - 1 == 7


def test_picking_a_model_from_a_list_clears_the_path_typed_beside_it():
    """A typed path wins over the list (models.pick): a user who typed one, then picked another model from the list,
    silently kept the typed model."""
    from app.layout import build
    page = build()
    lists = {b._id: b.label for b in page.blocks.values() if isinstance(b, gr.Dropdown) and b.label.endswith(" model")}
    cleared = {lists[f.targets[0][0]]: [o.label for o in f.outputs] for f in page.fns.values()
               if f.targets and f.targets[0][0] in lists and f.targets[0][1] == "input"}
    assert cleared == {f"{r} model": [f"…or a local {r} checkpoint path (used in place of the list)"]
                       for r in ("JEPA", "MAE")}
    assert all(f.fn() == "" for f in page.fns.values() if f.targets and f.targets[0][0] in lists)


def test_the_page_wires_the_attention_run_its_scrubber_and_its_controls(example):
    """Through the page's own event functions: a run returns its videos, captions, the scrubber's frame and the
    settings it showed; the scrubber reads those settings (not the controls' current ones); before any run it
    changes nothing; choosing a method shows exactly its controls."""
    from app.layout import build
    from app.views import attention
    fns = {f.api_name: f.fn for f in build().fns.values() if f.api_name}
    state = {"models": (None, None, None, None, None)}                 # the shipped pair
    settings = ["rollout", "max", 0.0, 0, "mean", -1, "received", 16, "2 x 2"]
    out = fns["attention"](example.key, state, *settings, 3)
    assert len(out) == 7 and all(Path(v).is_file() for v in out[:2])
    assert out[-1] == {"settings": [*settings, attention.PRETEXT_DRAWS], "colours": "turbo"}
    # the maps shown change (a run, a new clip): the method's words are said again, without a stale note
    from app import events
    page = build()
    redo = [f for f in page.fns.values() if f.fn is events.on_method and [t[1] for t in f.targets] == ["change"]]
    states = {b._id for b in page.blocks.values() if isinstance(b, gr.State)}
    assert len(redo) == 2 and sum(f.targets[0][0] in states for f in redo) == 1    # the method box and the shown State
    page_pair = models.current_pair()                                  # the pair the page's state names
    frame = lambda t: attention.scrub(example.key, page_pair, "rollout", t, "max", 0.0, 0, "mean")["mae"]
    assert np.array_equal(out[5]["value"], frame(3)[0]) and out[5]["label"] == frame(3)[1]
    later = fns["scrub"](example.key, state, out[-1], 9)
    assert np.array_equal(later[1]["value"], frame(9)[0]) and not np.array_equal(later[1]["value"], frame(3)[0])
    assert later[1]["label"].startswith("MAE at frame 9 (of 0-15")
    # a new clip clears the scrubbed frames and gives them back their first labels (no frame named of no clip)
    clear = next(f.fn for f in page.fns.values() if f.fn.__name__ == "clear_stale")
    labels = [v["label"] for v in clear() if isinstance(v, dict) and v.get("value", 0) is None and "label" in v]
    assert labels == ["JEPA at this frame", "MAE at this frame"]
    assert all(u == {"__type__": "update"} for u in fns["scrub"](example.key, state, None, 9))
    # a run whose maps were evicted before the frame was cut: the image cleared with its first label, not a stale one
    from app.events import _scrubbed
    assert _scrubbed(None, "jepa") == gr.update(value=None, label="JEPA at this frame")
    *paper, words = fns["attention_controls"]("paper", None)
    assert [u["visible"] for u in paper] == [False, False, False, False, True, True, False, False, False]
    assert words.startswith("**Paper mode**")
    *occlusion, words = fns["attention_controls"]("occlusion", None)
    assert [u["visible"] for u in occlusion] == [False] * 9 and "blacked out in turn" in words
    *ablation, _ = fns["attention_controls"]("feature_ablation", None)
    assert [u["visible"] for u in ablation] == [False] * 7 + [True, False]
    *pretext, _ = fns["attention_controls"]("pretext", None)
    assert [u["visible"] for u in pretext] == [False] * 8 + [True]
    # pretext's mask draws reach its map from the page (the unreliable map's advice named a keyword no page user had),
    # after the colour scale, so a script calling the API by position from before it means what it did
    few = fns["attention"](example.key, state, "pretext", *settings[1:], 3, "turbo", 4)
    assert "mask draws: 4" in few[2] and few[-1]["settings"][-1] == 4
    # the region size reaches the map: 4 x 4 blocks of the 8 x 7 x 7 grid are 8 x 2 x 2 regions
    coarse = fns["attention"](example.key, state, "feature_ablation", *settings[1:-1], "4 x 4", 3)
    assert "regions blacked out: 32; blocks per region (time, rows, columns): 1 x 4 x 4" in coarse[2]
    # the scrubber follows every drag step and a frame typed into its box: 'input' (not 'release', which missed
    # typing), one event, the latest run
    from app import events
    scrubs = [f for f in build().fns.values() if f.fn is events.on_scrub]
    assert len(scrubs) == 1 and [t[1] for t in scrubs[0].targets] == ["input"]


def test_another_colour_scale_redraws_the_maps_shown_without_making_them_again(example, monkeypatch):
    """The Colour scale box (turbo, viridis, plasma) redraws the maps shown, videos and scrubbed frames, from the
    maps already made; where those left the shared cache it says so and changes nothing (an attribution is never
    started by a colour); the scrubber then keeps the new colours; before any map is shown it changes nothing. The
    Degradation lab's maps the same, redrawn for the degradation they show whatever its boxes say meanwhile; one
    choice sets the other tab's."""
    from app import events
    from app.layout import build
    from app.views import attention
    from explain.overlay import colorize
    page = build()
    fns = {f.api_name: f.fn for f in page.fns.values() if f.api_name}
    deps = {**{f.fn: f for f in page.fns.values()}, **{f.api_name: f for f in page.fns.values() if f.api_name}}
    # the wiring: each redraw reads the clip, the models, the maps shown (the run's last output), the box and (the
    # Attention tab) the scrubber's frame; it writes what its tab's run writes
    def colour_box(run):      # the Attention tab's run takes pretext's mask draws after it (last: the API's order)
        return run.inputs[-2] if run.api_name == "attention" else run.inputs[-1]
    for run, redraw in (("attention", events.on_colours), ("degraded_attention", events.on_degraded_colours)):
        run, redraw = deps[run], deps[redraw]
        box, shown = colour_box(run), run.outputs[-1]
        assert [t[1] for t in redraw.targets] == ["change"] and redraw.targets[0][0] == box._id
        assert redraw.inputs == run.inputs[:2] + [shown, box] + run.inputs[-3:-2] * (run.api_name == "attention")
        assert redraw.outputs == run.outputs and isinstance(shown, gr.State)
    boxes = (colour_box(deps["attention"]), deps["degraded_attention"].inputs[-1])
    syncs = [f for f in page.fns.values() if f.inputs and f.outputs and len(f.inputs) == len(f.outputs) == 1
             and {f.inputs[0]._id, f.outputs[0]._id} == {b._id for b in boxes}]
    assert len(syncs) == 2 and {f.inputs[0]._id for f in syncs} == {b._id for b in boxes}
    assert syncs[0].fn("plasma") == "plasma"
    state = {"models": (None, None, None, None, None)}
    settings = ["rollout", "mean", 0.0, 0, "probe", -1, "received", 16, "2 x 2"]
    turbo = fns["attention"](example.key, state, *settings, 4)
    made = []
    monkeypatch.setattr(attention, "attention", lambda *a, **k: made.append(a) or {})     # a map made again: seen
    viridis = events.on_colours(example.key, state, turbo[-1], "viridis", 4)
    assert made == [] and viridis[-1] == {"settings": [*settings, attention.PRETEXT_DRAWS], "colours": "viridis"}
    assert viridis[0] != turbo[0] and Path(viridis[0]).is_file()                  # a new video, not the old one
    assert viridis[2:4] == turbo[2:4]                                            # the same maps: the same captions
    r = attention.maps(example.key, models.current_pair(), *settings)["jepa"]
    hot = np.unravel_index(np.argmax(r.heat[4]), r.heat[4].shape)               # the hottest pixel of the frame
    for out, colours in ((turbo, "turbo"), (viridis, "viridis")):
        image = out[4]["value"][3 * hot[0], 3 * hot[1]].astype(int)               # the scrubbed frame, enlarged 3x
        top = colorize(np.ones(1), colours)[0].astype(int)
        gray = int(r.view.frames[4][hot])
        assert np.abs(image - np.rint(0.4 * gray + 0.6 * top)).max() <= 2          # that scale's top colour, blended
    scrubbed = fns["scrub"](example.key, state, viridis[-1], 4)                     # the scrubber keeps the new scale
    assert np.array_equal(scrubbed[0]["value"], viridis[4]["value"])
    assert all(u == {"__type__": "update"} for u in events.on_colours(example.key, state, None, "plasma", 4)[:-1])
    with pytest.raises(gr.Error, match="Unknown colour scale 'jet'; choose one of: turbo, viridis, plasma"):
        events.on_colours(example.key, state, turbo[-1], "jet", 4)
    # the maps shown left the shared cache: said, nothing changed, no method started
    shown = {"settings": ["rollout", "max", 0.3, 0, "probe", -1, "received", 16, "2 x 2"], "colours": "turbo"}
    infos = []
    monkeypatch.setattr(gr, "Info", lambda message: infos.append(message))
    gone = events.on_colours(example.key, state, shown, "plasma", 4)
    assert made == [] and all(u == {"__type__": "update"} for u in gone[:-1]) and gone[-1] == shown
    assert infos == ["The maps shown are no longer kept (the results cache is shared and bounded): press 'Show "
                     "where they look' to make them again in this colour scale."]
    # the Degradation lab: nothing shown, nothing drawn; maps shown, drawn again for their own degradation
    assert all(u == {"__type__": "update"} for u in events.on_degraded_colours(example.key, state, None, "plasma")[:-1])
    monkeypatch.undo()
    lab = fns["degraded_attention"](example.key, state, "haze", 0.5, "turbo")
    assert lab[-1] == {"name": "haze", "severity": 0.5, "colours": "turbo"}
    monkeypatch.setattr(attention, "attention", lambda *a, **k: made.append(a) or {})
    again = events.on_degraded_colours(example.key, state, lab[-1], "plasma")
    assert made == [] and again[0] != lab[0] and again[2:4] == lab[2:4] and Path(again[0]).is_file()
    assert again[-1] == {"name": "haze", "severity": 0.5, "colours": "plasma"}
    assert degradation.attention_under(example.key, models.current_pair(), "haze", 0.5, colours="plasma") == {
        role: (again[i], again[2 + i]) for i, role in enumerate(("jepa", "mae"))}
    with pytest.raises(ValueError, match="Unknown colour scale None"):      # refused before a copy is made
        degradation.attention_under(example.key, models.current_pair(), "haze", 0.7, colours=None)
    assert made == []


def test_a_new_degradation_setting_clears_the_old_settings_results():
    """The degradation lab's copy, table and maps belong to one degradation and severity: choosing another
    clears them, so a table never sits beside another setting's maps."""
    from app import events
    from app.layout import build
    wired = [f for f in build().fns.values() if f.fn is events.on_degradation_setting]
    assert len(wired) == 2 and all([t[1] for t in f.targets] == ["input"] for f in wired)
    assert all(len(f.outputs) == 7 for f in wired)      # copy, table, two maps, two captions, what the maps showed
    assert events.on_degradation_setting() == [None, "", None, None, "", "", None]


def test_a_new_cycle_setting_or_a_failed_redraw_clears_the_trajectories_shown(example):
    """The trajectories stayed when a projection, dimension or overlay was chosen, or when a redraw failed (UMAP on
    three frames), beside the new setting's name; the degradation lab clears its own on a new setting."""
    from app import events
    from app.layout import build
    wired = [f for f in build().fns.values() if f.fn is events.on_cycle_cleared]
    assert len(wired) == 3 and all([t[1] for t in f.targets] == ["input"] for f in wired)
    assert all([o.elem_id for o in f.outputs] == ["cycle-plot-jepa", "cycle-plot-mae", "cycle-numbers"] for f in wired)
    short = session.put_clip(render_clip(4, "adult", n_frames=3, size=112, fps=50))
    cleared, error = as_the_page(events.on_cycle, short, events.NO_MODELS, "umap", 2, "none")
    assert cleared == [None, None, ""] and "UMAP needs at least 4 points" in error.message


def test_cycle_view_draws_both_trajectories_with_their_numbers(example, shipped_pair):
    from app.views import cycle
    results, label = cycle.trajectories(example.key, shipped_pair, "pca", 2, "shadow_med")
    assert label == "phase from ground truth"
    for r in results.values():
        assert r.coords.shape == (len(r.frames), 2) and r.degraded.shape == r.coords.shape
        assert r.loop_closure is not None and 0 <= r.phase_error_deg <= 180 and r.shift > 0
        assert any(t.name == "clean" and t.text for t in r.figure.data)          # the points, not the legend swatch
        assert any(t.name == "shadow_med" and t.text for t in r.figure.data)
    md = cycle.numbers_markdown(results, label, shipped_pair)
    assert "jepa-small" in md and "phase from ground truth" in md
    assert "shift under degradation (loop radii)" in md and f"{results['jepa'].shift:.2f}" in md
    # the held-out phase errors (explain/results/latent_pixel.json) beside this clip's much easier within-clip ones
    from explain.analysis.cycle import HELD_OUT
    recorded = json.loads(HELD_OUT.read_text())["trajectory"]
    for name in ("jepa-small", "mae-small"):
        deg, n, sd = (recorded[name][k] for k in ("phase_error_deg", "clips", "phase_error_clip_sd_deg"))
        assert f"{deg:.0f}° for {name} ({n} clips; ± {sd:.0f}° from clip to clip)" in md
        row = next(line for line in md.splitlines() if line.startswith(f"| {name} |"))
        assert row.split(" | ")[3] == f"{deg:.0f} ± {sd:.0f}"                            # in the table too
        assert sd == pytest.approx(np.std(recorded[name]["phase_error_by_clip_deg"], ddof=1))
    assert "random guess scores 90°" in md and "° for" not in cycle.numbers_markdown(results, label)   # no models
    fewer = {role: dataclasses.replace(m, frames_override=8) for role, m in shipped_pair.items()}
    assert "° for" not in cycle.numbers_markdown(results, label, fewer)          # not as measured: not claimed
    assert all(line.split(" | ")[3] == "n/a" for line in cycle.numbers_markdown(results, label, fewer).splitlines()
               if line.startswith("| jepa-small |") or line.startswith("| mae-small |"))
    with pytest.raises(ValueError, match="No folder"):
        cycle.dataset_figures("/no/such/folder", shipped_pair)


def test_latent_pixel_views_have_figures_captions_and_numbers(example, shipped_pair):
    from app.views import latent_pixel
    vs = latent_pixel.views(example.key, shipped_pair, seed=3, time_slot=2)
    assert [v.title for v in vs] == ["How a clip becomes tokens", "MAE: predicting pixels",
                                     "JEPA: predicting latents", "What anatomy the tokens carry"]
    assert all(v.figure is not None and len(v.caption) > 80 for v in vs)
    from app import events                                # what the page shows: figures, then titled captions
    shown = events.on_latent(example.key, events.NO_MODELS, 3, 2)
    assert shown[4:8] == [f"**{v.title}.** {v.caption}" for v in vs] and shown[8] == example.key
    from app.layout import build                          # the button draws; a new time slot or mask seed redraws
    page = build()
    assert [t[1] for f in page.fns.values() if f.fn is events.on_latent for t in f.targets] == ["click"]
    assert sorted(t[1] for f in page.fns.values() if f.fn is events.on_latent_redraw for t in f.targets) == [
        "blur", "input", "submit"]
    # ... only where views of this clip are shown: before the button, or for another clip, nothing runs
    for drawn_for in (None, "another clip's key"):
        assert all(u == gr.skip() for u in events.on_latent_redraw(example.key, events.NO_MODELS, 3, 1, drawn_for))
    assert all(u == gr.skip() for u in events.on_latent_redraw(None, events.NO_MODELS, 3, 1, None))
    again = events.on_latent_redraw(example.key, events.NO_MODELS, 3, 1, example.key)
    assert again[8] == example.key and again[4:8] == [latent_pixel.caption_markdown(v) for v in
                                                      latent_pixel.views(example.key, shipped_pair, 3, 1)]
    assert vs[0].numbers["tokens"] == 392 and vs[0].numbers["mae_hidden"] == pytest.approx(0.9, abs=0.01)
    assert 0 <= vs[1].numbers["hf_ratio"] < 1 and vs[2].numbers["mean_cosine"] <= 1
    # the shipped JEPA learned from the phantom: its predictions stand beside the guess from position alone
    assert -1 <= vs[2].numbers["position_cosine"] <= 1 and "position alone" in vs[2].caption
    assert any("hidden by JEPA mask 1" in a.text for a in vs[2].figure.layout.annotations)   # the grid's first mask
    assert any(a.text.startswith("JEPA mask 1:") for a in vs[0].figure.layout.annotations)
    for bad in (-1, 2**40, 1.5):
        with pytest.raises(ValueError, match="Mask seed must be a whole number"):
            latent_pixel.views(example.key, shipped_pair, seed=bad)


def test_audit_view_runs_on_uploads_and_offers_downloads(tmp_path, shipped_pair):
    from app.views import audit
    from echo.phantom import render_clip
    from echo.writers import write_npz
    clip = write_npz(tmp_path / "one.npz", render_clip(9, "adult", n_frames=40, size=112, fps=50))
    shown = audit.run([str(clip)], None, shipped_pair)
    assert shown.table["headers"][:3] == ["file", "true_ef", "jepa_ef"] and shown.table["headers"][-1] == "error"
    assert shown.table["data"][0][0] == "one.npz"
    row = dict(zip(shown.table["headers"], shown.table["data"][0]))
    for role in shipped_pair:
        assert row[f"{role}_abs_error_beat"] == pytest.approx(abs(row[f"{role}_ef_beat"] - row["true_ef"]), abs=0.011)
    assert shown.summary_md.count("(beat view ") == 6           # each model's MAE, sensitivity and crop move
    # each row gives the Predictions tab's best estimate for the clip, or why it held one back, as the page does
    cards = predictions.prediction_cards(inputs.load_upload(str(clip)).key, shipped_pair)
    for role in shipped_pair:
        if row[f"{role}_best_ef"] != "":                      # the page's table shows a missing value blank
            assert f"**Best estimate: EF {row[f'{role}_best_ef']:.1f}%" in cards[role] and row[f"{role}_best_held_back"] == ""
            assert f"through the {row[f'{role}_best_probe']}**" in cards[role]
        else:
            assert f"No best estimate: {row[f'{role}_best_held_back']}" in cards[role]
        given = int(row[f"{role}_best_ef"] != "")
        assert f"a best estimate (the Predictions tab's first line) on {given} of 1 clip" in shown.summary_md
    assert [t.name for t in shown.figure.data] == ["jepa-small", "jepa-small (beat view)", "mae-small",
                                                   "mae-small (beat view)", "identity"]
    assert all(Path(p).is_file() for p in shown.downloads) and shown.summary_md.startswith("1 clip, 0 unreadable.")
    import json                                          # audit.json too: the summary and the run's record with the rows
    record = json.loads(Path(next(p for p in shown.downloads if p.endswith(".json"))).read_text())
    assert record["summary"]["clips"] == 1 and record["rows"][0]["file"] == "one.npz"
    assert record["run"]["command"] == "the EchoLens app's audit tab"
    assert shown.summary_md.count("clips out of distribution") == 2 and "learned from a simulated phantom" in shown.summary_md
    assert shown.summary_md.count("; the check flags ") == 2 and "of 100 adult phantom test clips" in shown.summary_md
    with pytest.raises(ValueError, match="Upload some clips"):
        audit.run(None, "  ", shipped_pair)
    with pytest.raises(ValueError, match="Both uploaded files and a folder were given"):
        audit.run([str(clip)], str(tmp_path), shipped_pair)
    assert shown.summary_md.count("(its probe read-out, clips with anatomy labels or LV tracings)") == 2   # as analyze
    assert shown.summary_md.endswith("(blank where held back: `*_best_held_back` says why).")  # what each column holds,
    assert "`*_crop_move`: the largest |EF change|" in shown.summary_md                 # its names as code, not emphasis
    # each row says how far its attentive EF moves with the input 2 px up or down; the summary gives the mean
    row = dict(zip(shown.table["headers"], shown.table["data"][0]))
    from explain.analysis.crop_check import crop_efs, moved
    from explain.analysis.window import model_view
    from echo.readers import read_clip
    x = model_view(read_clip(clip)).x
    for role, m in shipped_pair.items():
        check = crop_efs(m, x)
        assert row[f"{role}_crop_move"] == pytest.approx(moved(row[f"{role}_ef"], check["ef"]), abs=0.02)
        assert row[f"{role}_crop_move_beat"] == pytest.approx(moved(row[f"{role}_ef_beat"], check["ef_beat"]), abs=0.02)
        assert (f"with the input shifted 2% of its side up or down, up to {row[f'{role}_crop_move']:.2f} (beat view "
                f"{row[f'{role}_crop_move_beat']:.2f}) points on average;") in shown.summary_md
        assert (f"its EF moves {row[f'{role}_sensitivity']:.2f} (beat view {row[f'{role}_sensitivity_beat']:.2f}) "
                "points on average;") in shown.summary_md
    # a child's clip and a degraded one beside a clean adult one: their error is kept apart, and each row says
    from echo.examples import EXAMPLES_DIR
    mixed = audit.run([str(clip), str(EXAMPLES_DIR / "pediatric.mp4"), str(EXAMPLES_DIR / "degraded.npz")], None,
                      shipped_pair)
    rows = [dict(zip(mixed.table["headers"], r)) for r in mixed.table["data"]]
    assert [(r["population"], r["degradation"]) for r in rows] == [
        ("adult", ""), ("pediatric", ""), ("adult", "shadow 0.67, depth_attenuation 0.70")]
    assert all(r["true_ef"] != "" for r in rows)                          # the example video brings its EF
    points = next(t for t in mixed.figure.data if t.name == "jepa-small").text       # hover text says which is which
    assert list(points) == ["one.npz", "pediatric.mp4 (pediatric)",
                            "degraded.npz (degraded: shadow at severity 0.67 (the benchmark's shadow_med), "
                            "depth_attenuation at severity 0.70 (the benchmark's depth_attenuation_1.50))"]
    first = rows[0]
    assert (f" over 3) with a true EF, {first['jepa_abs_error']:.2f} (beat view {first['jepa_abs_error_beat']:.2f}) "
            "over those not known to be pediatric or degraded (2 clips are;") in mixed.summary_md
    # models with no OOD reference (a user's checkpoints): no count that would reassure, no phantom warning
    import dataclasses
    bare = {r: dataclasses.replace(m, ood=None, phantom_trained=False) for r, m in shipped_pair.items()}
    shown = audit.run([str(clip)], None, bare)
    assert shown.summary_md.count("out-of-distribution check n/a") == 2 and "out of distribution." not in shown.summary_md
    html_report = Path(next(p for p in shown.downloads if p.endswith(".html"))).read_text()
    assert "simulated phantom" not in shown.summary_md + html_report and "*_ood" not in html_report
    # the shipped pair keeps its count even when no clip could be read (it is the pair that has a reference)
    from explain.analysis.audit import summary
    unreadable = summary([{"file": "x.avi", "error": "unreadable"}], shipped_pair)
    assert unreadable["jepa"]["out_of_distribution"] == 0 and "*_ood" in unreadable["note"]


def test_audit_of_uploaded_echonet_files_brings_their_ef(tmp_path, shipped_pair):
    from app.views import audit
    from echo.echonet import write_echonet
    from echo.phantom import render_clip
    clip = render_clip(31, "adult", n_frames=48, size=112, fps=50)
    write_echonet(tmp_path, [("c31", clip, "TEST", None)])
    uploads = [str(tmp_path / "FileList.csv"), str(tmp_path / "VolumeTracings.csv"), str(tmp_path / "Videos" / "c31.avi")]
    shown = audit.run(uploads, None, shipped_pair)
    row = dict(zip(shown.table["headers"], shown.table["data"][0]))
    assert row["file"] == "c31" and row["true_ef"] == pytest.approx(clip.truth.ef, abs=0.01)


def test_evidence_plots_every_committed_recipe_and_names_a_bad_file(monkeypatch, tmp_path):
    from model_zoo.experiments import scoreboard
    fig, caption = evidence.recipes_figure()
    rows = scoreboard.committed_rows()
    by_name = {t.name.split()[0]: len(t.x) for t in fig.data}
    assert by_name["JEPA"] + by_name["MAE"] == len(rows) and "Every recipe tried" in caption
    assert set(by_name) == {"JEPA", "MAE", "untrained", "pixels", "shipped"} and "rank correlation" in caption
    assert 1 <= by_name["untrained"] <= len({r["random"] for r in rows})      # each distinct draw once
    ringed = next(t for t in fig.data if t.name.startswith("shipped"))      # where the app's pair sits
    shipped = json.loads(evidence.RESULTS.read_text())["models"]
    assert list(ringed.text) == ["jepa-small", "mae-small"] and "ringed points are the shipped pair" in caption
    assert list(ringed.x) == [shipped[n]["clean"]["mae"] for n in ringed.text]
    monkeypatch.setattr(evidence, "RESULTS", tmp_path / "none.json")           # no shipped table: no ring, no claim
    fig, caption = evidence.recipes_figure()
    assert fig is not None and not any(t.name.startswith("shipped") for t in fig.data) and "ringed" not in caption
    (tmp_path / "broken_results.json").write_text("{")
    monkeypatch.setattr(scoreboard, "EXPERIMENTS", tmp_path)
    fig, caption = evidence.recipes_figure()
    assert fig is None and "could not be read" in caption


def test_a_clip_loaded_finds_its_fan_once(monkeypatch):
    """The models' view and the outlined clip shown each found the fan: a read across the whole clip, twice."""
    import echo.preprocess
    clip = dataclasses.replace(render_clip(5, "adult", n_frames=100, size=112, fps=50), truth=None,
                               source="patient.avi", meta={})
    calls, real = [], echo.preprocess.find_sector
    counting = lambda clip: calls.append(clip.n_frames) or real(clip)                   # noqa: E731
    monkeypatch.setattr(echo.preprocess, "find_sector", counting)
    monkeypatch.setattr(inputs, "find_sector", counting)
    shown = inputs.register(clip)
    assert calls == [100] and shown.meta["model_view"]["beat_from"] == "estimated"


def test_a_colour_clip_is_said_to_be_one_where_it_is_shown_in_grey():
    """The page shows every clip in grey while the models are given a colour clip's channels."""
    grey = render_clip(3, "adult", n_frames=40, size=112, fps=50)
    tinted = np.stack([grey.frames, (grey.frames * 0.8).astype(np.uint8), (grey.frames * 0.6).astype(np.uint8)], -1)
    shown = inputs.register(Clip(tinted, 50.0, "colour.avi"))
    assert shown.summary.endswith("as shown in grey; a colour clip: the models are given its colour channels, which "
                                  "the shipped models never saw in training (their phantom is grey).")
    assert inputs.register(Clip(grey.frames, 50.0, "grey.avi")).summary.endswith("px, as shown.")


def test_the_lab_reads_a_colour_clips_change_against_the_grey_copy_it_degrades(shipped_pair):
    """Degradations act on the grey image; the clean EF was the colour clip's, so a half-grey-level gain cut
    moved mae-small's EF by 7.9 points, the colour's loss. Clean and degraded now come from one grey copy."""
    clip = render_clip(11, "adult", n_frames=80, size=112, fps=50.0, ef=60.0, hr_bpm=70.0)
    rgb = np.repeat(clip.frames[..., None].astype(np.int16), 3, axis=-1)
    rgb[:, 40:70, 45:70, 0] += 120                                  # a Doppler-like colour jet inside the fan
    rgb[:, 40:70, 45:70, 2] -= 60
    key = inputs.register(dataclasses.replace(clip, frames=np.clip(rgb, 0, 255).astype(np.uint8))).key
    _, table = degradation.apply_one(key, shipped_pair, "gain", 0.01)
    rows = [r.strip("|").split("|") for r in table.splitlines() if r.startswith(("| jepa-small |", "| mae-small |"))]
    assert len(rows) == 4 and all(abs(float(r[4])) < 1.0 for r in rows)
    _, sweep = degradation.sweep(key, shipped_pair, "gain")         # its severity 0 is the lab's clean EF
    assert [f"{sweep['ef'][role][0]:.1f}%" for role in shipped_pair] == [r[2].strip().removesuffix(" ⚠️") for r in rows[::2]]


def test_the_lab_maps_a_colour_clips_attention_on_the_grey_copy_it_degrades(shipped_pair, monkeypatch):
    """'Attention under this degradation' set the Attention tab's map (of a colour clip: its colour channels) beside
    the map of the grey degraded copy, so the colour's loss read as the degradation's. Both maps are now of the one
    grey copy, clean and degraded, which a barely-there gain cut leaves where it was."""
    from app.views import attention
    clip = render_clip(11, "adult", n_frames=80, size=112, fps=50.0, ef=60.0, hr_bpm=70.0)
    rgb = np.repeat(clip.frames[..., None].astype(np.int16), 3, axis=-1)
    rgb[:, 40:70, 45:70, 0] += 120                                  # a Doppler-like colour jet inside the fan
    rgb[:, 40:70, 45:70, 2] -= 60
    key = inputs.register(dataclasses.replace(clip, frames=np.clip(rgb, 0, 255).astype(np.uint8))).key
    mapped, real = [], attention.attention
    monkeypatch.setattr(attention, "attention", lambda pair, c, *a, **k: mapped.append(c) or real(pair, c, *a, **k))
    under = degradation.attention_under(key, shipped_pair, "gain", 0.01)
    assert len(mapped) == 2 and not any(c.is_rgb for c in mapped)              # the clean copy, then the degraded
    assert mapped[0].frames.shape == mapped[1].frames.shape
    for _, md in under.values():
        ratios = md.split("Focus ratio on the clean copy ")[1].split(".\n\n")[0]
        clean, degraded = float(ratios.split(" ")[0]), float(ratios.split("on this degraded copy ")[1].split(" ")[0])
        assert abs(clean - degraded) < 0.05


def test_the_speckle_test_is_read_beside_each_models_measured_degradation(shipped_pair):
    """A class shown only the speckle bars (JEPA far below the MAE) left believing the JEPA is the robust one;
    the shipped cards say it loses more under the benchmark's degradations."""
    from app.views import latent_pixel
    words = latent_pixel.degradation_words(shipped_pair)
    for m in shipped_pair.values():
        r = m.wrapper.card["results"]
        assert f"{r['mean_rel_degradation_pct']:+.1f} ± {r['mean_rel_degradation_pct_std']:.1f}% for {m.name}" in words
    assert words.startswith(" Ignoring fresh grain is not robustness")
    bare = {role: types.SimpleNamespace(name=m.name, at_own_frames=True, wrapper=types.SimpleNamespace(card={}))
            for role, m in shipped_pair.items()}
    assert latent_pixel.degradation_words(bare) == ""                  # no measured card: nothing claimed
    other_run = {**shipped_pair, "mae": types.SimpleNamespace(
        name="mae-small", at_own_frames=True, wrapper=types.SimpleNamespace(card={"results": {
            **shipped_pair["mae"].wrapper.card["results"], "n": {"clean": 50}}}))}
    assert latent_pixel.degradation_words(other_run) == ""             # figures from two benchmarks: not paired


def test_frames_for_large_checkpoints_reaches_a_model_picked_in_the_dropdown(tmp_path):
    """The box reached a model typed as a path only: the same checkpoint picked from the dropdown (a --models
    folder's) kept its own frames while the speed warning told the user to set the box. The shipped models keep
    theirs (one box serves both slots), and the models line says so rather than leave the box looking ignored."""
    from builders import vjepa2_checkpoint
    torch.save(vjepa2_checkpoint(width=64), tmp_path / "vjepa.pt")
    [value] = [v for label, v in models.model_choices("jepa", (str(tmp_path),)) if "vjepa.pt" in label]
    picked = models.current_pair(jepa_choice=value, frames=4)
    typed = models.current_pair(jepa_path=str(tmp_path / "vjepa.pt"), frames=4)
    assert picked["jepa"].input_shape == typed["jepa"].input_shape == (4, 224)
    assert models.current_pair(jepa_choice=value)["jepa"].input_shape == (16, 224)      # 0/None: its own
    shipped = models.current_pair(frames=4)
    assert all(m.frames_override is None for m in shipped.values())
    line = models.describe_pair(picked, 4)
    own = shipped["mae"].input_shape[0]
    assert line.count("Kept its own") == 1 and f"Kept its own {own} frames, not the 4 asked" in line
    assert "Kept its own" not in models.describe_pair(picked)



def test_a_model_asked_for_its_own_frame_count_runs_as_saved(tmp_path):
    """Typing a folder's own frame count into the box ran it as if at another count: its recorded test errors, its
    OOD check and its best estimate were held back under 'Run at 16 frames ..., not the count it was saved with',
    and the shipped MAE's line said 'Kept its own 16 frames, not the 16 asked'."""
    import shutil
    from model_zoo.registry import SHIPPED
    shutil.copytree(SHIPPED / "jepa-small", tmp_path / "jepa-copy")
    own = models.current_pair(jepa_path=str(tmp_path / "jepa-copy"))["jepa"].input_shape[0]
    pair = models.current_pair(jepa_path=str(tmp_path / "jepa-copy"), frames=own)
    assert pair["jepa"].frames_override is None and pair["jepa"].at_own_frames
    assert "Kept its own" not in models.describe_pair(pair, own)
    fewer = models.current_pair(jepa_path=str(tmp_path / "jepa-copy"), frames=own // 2)["jepa"]
    assert fewer.frames_override == own // 2 and not fewer.at_own_frames


def test_the_words_a_card_uses_are_in_the_glossary(example, shipped_pair):
    """A UX review found 'attentive probe', 'beat view', 'probe seeds' and the OOD score unexplained on the page."""
    from app.views.glossary import TERMS, glossary_markdown
    card = predictions.prediction_cards(example.key, shipped_pair)["jepa"].lower()
    terms = " ".join(TERMS).lower()                              # each word a term of its own, not a mention
    for word in ("attentive", "beat view", "probe seeds", "out-of-distribution score", "all-black clip reads",
                 "benchmark error", "ef points", "phantom"):
        assert word in card and word.removesuffix(" points") in terms, word
    assert glossary_markdown().count("\n- **") == len(TERMS) - 1


def test_a_card_names_only_the_errors_and_table_it_shows(shipped_pair):
    """With one probe there is no table, and run at other frames no recorded error: a child's card still said 'the
    table gives the benchmark's pediatric errors, the words above the adult ones', a degraded clip's 'the test errors
    beside each EF are for clean clips'; a folder with only the beat view's probe read 'no EF probe ... (and the beat
    view's)' beside a beat-view EF, which called itself 'the same probe'."""
    import dataclasses as dc
    p = predictions.predictions(inputs.load_named_example("pediatric").key, shipped_pair)["jepa"]
    one, m = dc.replace(p, ef_beat=None), dc.replace(shipped_pair["jepa"], beat_probe=None)
    card = predictions.prediction_card(one, None, m, population="pediatric")
    assert "zero-shot; the test errors above are the adult ones." in card and "the table gives" not in card
    fewer = dc.replace(m, frames_override=8)
    assert "adult ones" not in predictions.prediction_card(one, None, fewer, population="pediatric")
    card = predictions.prediction_card(one, None, fewer, degradation="shadow 0.67")
    assert "no test error recorded for this model describes a degraded clip" in card and "for clean clips" not in card
    beat_only = dc.replace(shipped_pair["jepa"], probe=None)
    card = predictions.prediction_card(dc.replace(p, ef=None), None, beat_only)
    assert "an attentive probe given each token" in card and "the same probe" not in card
    line = models.describe_pair({"jepa": beat_only, "mae": shipped_pair["mae"]}).splitlines()[0]
    assert "the beat view's EF probe only" in line and "no EF probe" not in line
