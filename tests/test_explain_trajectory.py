"""Trajectories: windows, embeddings, projections, phase, loop metrics and figures."""
import dataclasses

import numpy as np
import pytest
import torch

from builders import smoke_wrappers
from echo.clip import GroundTruth
from echo.phantom import render_clip
from explain.trajectory.embeddings import centre_frames, frame_embeddings, window_indices
from explain.trajectory.figures import trajectory_figure
from explain.trajectory.metrics import loop_closure, phase_decodability, trajectory_shift
from explain.trajectory.phase import PhaseEstimate, circular_error, clip_phase, phase_from_volume
from explain.trajectory.projection import project, umap_neighbours


@pytest.fixture(scope="module")
def models():
    torch.set_num_threads(1)
    return smoke_wrappers()


def test_windows_are_centred_and_repeat_edge_frames():
    assert centre_frames(10, 4).tolist() == [0, 4, 8, 9]
    w = window_indices(10, np.array([0, 5, 9]), 4)
    assert w.tolist() == [[0, 0, 0, 1], [3, 4, 5, 6], [7, 8, 9, 9]]
    with pytest.raises(ValueError, match="stride"):
        centre_frames(10, 0)


def test_frame_embeddings_match_a_window_run_by_hand(models):
    jepa, _ = models
    clip = render_clip(3, n_frames=12, size=64)
    fe = frame_embeddings(jepa, clip, stride=5, batch=2)
    assert fe.frames.tolist() == [0, 5, 10, 11] and fe.embeddings.shape == (4, 48)
    from echo.preprocess import to_model_input
    x = to_model_input(clip, frames=12, size=64)[0]                       # (T, C, H, W)
    by_hand = jepa.pooled(x[[1, 2, 3, 4, 5, 6, 7, 8]][None])[0]           # window centred on frame 5
    assert np.allclose(fe.embeddings[1], by_hand.numpy(), atol=1e-5)


def test_pca_joint_fit_shares_axes_and_umap_adapts_neighbours():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20, 6))
    proj = project([a, a + 1.0], "pca", 2)
    assert [p.shape for p in proj.points] == [(20, 2), (20, 2)]
    # the shifted copy lands at the same place shifted along a fixed direction: one set of axes
    d = proj.points[1] - proj.points[0]
    assert np.allclose(d, d[0], atol=1e-9)
    # the axes are the first run's: a far-off copy does not take them (it flattened the clean loop to a line)
    far = project([a, a + 50.0], "pca", 2)
    np.testing.assert_allclose(far.points[0], project([a], "pca", 2).points[0], atol=1e-9)
    np.testing.assert_allclose(far.explained, project([a], "pca", 2).explained)
    assert umap_neighbours(5) == 4 and umap_neighbours(200) == 15 and umap_neighbours(2) == 2
    with pytest.raises(ValueError, match="embedding size"):
        project([a, a[:, :3]])


def test_umap_is_fitted_on_the_first_run_and_places_the_others_by_it():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((24, 8))
    alone, both = project([a], "umap", 2), project([a, a + 0.05 * rng.standard_normal(a.shape)], "umap", 2)
    assert [p.shape for p in both.points] == [(24, 2), (24, 2)] and np.isfinite(both.points[1]).all()
    np.testing.assert_allclose(both.points[0], alone.points[0], atol=1e-5)


def test_phase_from_truth_and_estimated_on_a_phantom_with_known_phase():
    clip = render_clip(4_000_000, n_frames=64, size=112)
    truth = clip_phase(clip)
    assert truth.source == "truth" and np.allclose(truth.phase, clip.truth.phase)
    for stripped in (GroundTruth(labels=clip.truth.labels), None):          # LV area, then pixels only
        est = clip_phase(dataclasses.replace(clip, truth=stripped))
        assert est.source == "estimated"
        assert circular_error(est.phase, clip.truth.phase).mean() < 0.04      # cycles; seed-checked 0.015-0.019
        assert all(min(abs(e - t) for t in clip.truth.ed_frames) <= 2 for e in est.ed_frames)
        assert abs(est.period - 50 * 60 / clip.meta["hr_bpm"]) < 2


def test_an_echonet_clips_phase_runs_from_its_traced_ed_frame_and_marks_the_traced_frames(tmp_path):
    """An EchoNet clip has no phase, only two traced frames (ED and ES): the marks were put on the image estimate's
    extremes (frames 12 and 23 where 10 and 22 were traced)."""
    from echo.echonet import EchoNetDataset, write_echonet
    clip = render_clip(4_000_000, n_frames=64, size=112)
    ed, es = clip.truth.ed_frames[0], clip.truth.es_frames[0]
    traced = {f: clip.truth.lv_tracings[f] for f in (ed, es)} if clip.truth.lv_tracings else None
    write_echonet(tmp_path, [("c0", clip, "TEST", traced)])
    echonet = EchoNetDataset(tmp_path)[0]
    assert echonet.truth.phase is None and echonet.truth.ed_frames == [ed] and echonet.truth.es_frames == [es]
    est = clip_phase(echonet)
    assert est.source == "estimated" and est.ed_frames == [ed] and est.es_frames == [es] and est.phase[ed] == 0
    assert est.label.endswith("from the traced ED frame; ED and ES at the traced frames' phase)")
    assert circular_error(est.phase, clip.truth.phase).mean() < 0.04                 # still the heart's phase


def test_a_clip_under_a_beat_marks_only_the_turns_inside_it_and_a_still_one_no_heartbeat():
    """Under about a beat there is no autocorrelation peak; the signal's extremes were taken as ED and ES wherever
    they fell: a 20-frame cut of a beat had ES on frame 1 (late diastole, phase 0.76), and 40 copies of one frame an
    invented linear phase with ED and ES both on frame 0. Only a turn inside the clip is marked now, the period a
    resting heart's where one turn shows, and a clip with none says no heartbeat was found."""
    base = render_clip(3, "adult", n_frames=60, size=112, fps=50)           # ED 12, ES 28, 47.6 frames a beat
    cut = clip_phase(dataclasses.replace(base, frames=base.frames[:20], truth=None))
    assert cut.beat_found and cut.es_frames == [] and abs(cut.ed_frames[0] - 12) <= 2
    assert "under one beat" in cut.label and circular_error(cut.phase, base.truth.phase[:20]).mean() < 0.1
    whole = clip_phase(dataclasses.replace(base, frames=base.frames[:45], truth=None))          # both turns inside
    assert abs(whole.ed_frames[0] - 12) <= 2 and abs(whole.es_frames[0] - 28) <= 2 and "under one beat" not in whole.label
    for frames in (base.frames[:12], np.repeat(base.frames[:1], 40, 0)):    # a rising stretch; a still image
        none = clip_phase(dataclasses.replace(base, frames=frames, truth=None))
        assert not none.beat_found and none.ed_frames == none.es_frames == []
        assert none.label.startswith("no heartbeat found")


def _still_fan_clip(n_frames: int, noise: float, seed: int = 1):
    """A still textured fan, only fresh grey-level noise moving from frame to frame: no heartbeat."""
    from echo.clip import Clip
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:112, :112]
    fan = ((xx - 56) ** 2 + yy ** 2 < 110 ** 2) & (np.abs(xx - 56) < yy * 0.9 + 3)
    image = np.where(fan, 100 + 60 * np.sin(xx / 4.0) * np.cos(yy / 6.0), 0)
    frames = np.clip(image[None] + rng.normal(0, noise, (n_frames, 112, 112)), 0, 255) * fan
    return Clip(frames.astype(np.uint8), 30.0)


def test_a_still_clip_with_frame_noise_has_no_heartbeat_found():
    """Every threshold was relative to the signal's own range: a still image under sensor noise got a period
    (16 frames on 64), ED and ES marks and phase numbers measured against noise. Its signal changes from frame to
    frame as noise does (lag-1 correlation near 0), a heartbeat's smoothly, so it is called no heartbeat now."""
    for n, noise in ((64, 1.0), (64, 5.0), (40, 2.0)):
        still = clip_phase(_still_fan_clip(n, noise))
        assert not still.beat_found and still.ed_frames == still.es_frames == []
        assert still.label.startswith("no heartbeat found") and "as noise does" in still.label
    for seed in (4_000_000, 4_000_003):                     # a beating heart under the same noise still beats
        from echo.degrade import degrade
        beating = clip_phase(dataclasses.replace(degrade(render_clip(seed, n_frames=64, size=112), "noise", 1.0),
                                                 truth=None))
        assert beating.beat_found and len(beating.ed_frames) >= 2


def test_the_images_signal_is_turned_over_where_brightness_does_not_follow_the_pools_and_short_noise_has_no_beat():
    """The image's signal is signed so it grows as the image darkens; on 3 phantom clips in 60 brightness barely
    followed the LV area and ED and ES came out swapped (seed 3: ED [17, 46] against the truth's [7, 36]). And a
    still image under noise of 10-15 frames, below the smoothness gate's 16, got an invented heartbeat."""
    from echo.preprocess import crop_to_sector
    for seed in (3, 27, 0):                                               # 0: signed right already, kept
        clip = render_clip(seed, n_frames=64)
        est = clip_phase(crop_to_sector(dataclasses.replace(clip, truth=None)))
        assert circular_error(est.phase, clip.truth.phase).mean() < 0.06, seed
        assert all(min(abs(e - t) for t in clip.truth.ed_frames) <= 2 for e in est.ed_frames), seed
    for n in (10, 12, 15):
        for seed in range(8):
            still = clip_phase(_still_fan_clip(n, 5.0, seed))
            assert not still.beat_found and still.label.startswith("no heartbeat found"), (n, seed)
    # the ED-ES spacing of a clip under a beat must be a heartbeat's: turns 2 frames apart at 30 fps are not
    phase, ed, es, _, said = phase_from_volume(np.array([0, 1, 3, 1, 0, -2, 0, 1], float), 24.0)
    assert ed == es == [] and "no heartbeat's" in said


def test_a_shallow_beat_between_two_that_stand_out_keeps_its_end_diastole():
    """A beat whose peak was under the prominence threshold was dropped, and the phase ran one cycle over two beats
    (up to 158 degrees wrong there); its ED now lies at the period's spacing between its neighbours."""
    t = np.arange(100)
    amplitude = np.where((t >= 40) & (t < 60), 0.2, 1.0)                    # the third beat of five shallow
    true_phase = ((t - 5) / 20.0) % 1.0
    phase, ed, es, period, _ = phase_from_volume(amplitude * np.cos(2 * np.pi * (t - 5) / 20.0), 24.0)
    assert ed == [5, 25, 45, 65, 85] and abs(period - 20) < 0.5
    assert 360 * circular_error(phase, true_phase).max() < 5


def test_tracings_on_a_clip_showing_no_heartbeat_give_the_phase_their_own_spacing():
    """The image's no-heartbeat time ramp was shifted to the traced ED frame and called a heartbeat found, at an
    assumed 75 bpm; now the traced ED and ES frames' spacing gives the period, and the label says so."""
    still = _still_fan_clip(40, 0.0)
    est = clip_phase(dataclasses.replace(still, truth=GroundTruth(ed_frames=[5], es_frames=[12])))
    assert est.beat_found and est.ed_frames == [5] and est.es_frames == [12] and est.phase[5] == 0
    assert est.period == pytest.approx(7 / 0.35) and "traced ED and ES frames' spacing" in est.label
    assert "the colour runs with time" not in est.label
    alone = clip_phase(dataclasses.replace(still, truth=GroundTruth(ed_frames=[5])))    # no ES traced: no period
    assert not alone.beat_found and alone.label.startswith("no heartbeat found")



def test_the_mends_keep_short_clips_long_beats_and_implausible_tracings_as_they_should_be():
    """From a review of the mends above: the smoothness gate refused smooth clips of 6-12 frames (a few frames of a
    beat read as rough as noise), filling gaps invented an ED inside a long full-depth beat (an irregular rhythm: 180
    degrees off there), and traced ED and ES frames side by side gave a 1050-bpm 'heartbeat'."""
    short = render_clip(2001, n_frames=8, fps=25)            # a turn inside 8 frames (lag-1 0.43): still found
    labels_only = dataclasses.replace(short.truth, phase=None, ed_frames=[], es_frames=[])
    assert clip_phase(dataclasses.replace(short, truth=labels_only)).beat_found
    edges = np.cumsum([0, 20, 20, 34, 20, 20, 20])                           # the third beat 34 frames, full depth
    t = np.arange(edges[-1])
    true_phase = np.interp(t, edges, np.arange(len(edges))) % 1.0
    phase, ed, _, _, _ = phase_from_volume(np.cos(2 * np.pi * true_phase), 24.0)
    assert ed == [20, 40, 74, 94, 114] and 360 * circular_error(phase, true_phase)[40:74].max() < 5
    still = _still_fan_clip(40, 0.0)
    for traced in ((10, 11), (10, 39)):                                     # side by side; two beats apart at 30 fps
        est = clip_phase(dataclasses.replace(still, truth=GroundTruth(ed_frames=[traced[0]], es_frames=[traced[1]])))
        assert not est.beat_found and est.label.startswith("no heartbeat found")

def test_loop_closure_from_too_few_pairs_pca_beyond_the_points_rank_and_umap_of_one_point_are_refused_or_zero():
    """A clip of just over a beat gave its loop closure from one same-phase pair (0.25 ± 0.13 over draws, against
    ± 0.03 from 33); PCA drew axes the points do not span (2 points: PC 2 of ±5e-14, spread over the plot by
    autoscale); UMAP scattered identical points into a shape."""
    u = np.arange(18) / 16                                        # 16 points a beat, 1.06 beats: 2 pairs a beat apart
    circle = np.stack([np.cos(2 * np.pi * u), np.sin(2 * np.pi * u)], 1)
    assert loop_closure(circle, u % 1.0) == pytest.approx(0.0, abs=1e-9)           # a mean over clips may take them
    with pytest.raises(ValueError, match="from 2 point"):
        loop_closure(circle, u % 1.0, min_pairs=4)
    assert loop_closure(np.concatenate([circle, circle[2:8]]), np.arange(24) / 16 % 1.0, min_pairs=4) < 1e-9
    two = project([np.random.default_rng(0).standard_normal((2, 384))], "pca", 2)
    assert np.all(two.points[0][:, 1] == 0) and two.explained[1] == 0 and np.all(two.points[0][:, 0] != 0)
    three = project([np.random.default_rng(1).standard_normal((3, 50))], "pca", 3)
    assert np.all(three.points[0][:, 2] == 0) and np.all(three.points[0][:, :2] != 0)
    with pytest.raises(ValueError, match="UMAP needs points that differ"):
        project([np.ones((10, 32))], "umap", 2)


def test_loop_closure_of_a_trajectory_that_does_not_move_is_refused_not_nan():
    """A collapsed model's embedding never moves: loop closure was NaN, shown as 'nan' and written as bare NaN in
    report.json; it is refused like the shift, so it reads n/a."""
    import explain.analysis.cycle as cycle
    phase = np.arange(64) / 16.0 % 1.0
    with pytest.raises(ValueError, match="do not change over a beat"):
        loop_closure(np.ones((64, 8)), phase)
    assert cycle._safe(loop_closure, np.ones((64, 8)), phase) is None


def test_loop_closure_on_a_drifting_circle_matches_hand_computation():
    u = np.arange(0, 2.5, 1 / 20)                                          # 2.5 beats, 20 points a beat
    r, drift = 2.0, 0.6
    pts = np.stack([r * np.cos(2 * np.pi * u), r * np.sin(2 * np.pi * u), drift * u], 1)
    expected = drift / np.sqrt((2 * r) ** 2 + (drift / 2) ** 2)
    assert loop_closure(pts, u % 1.0) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="more than one heartbeat"):
        loop_closure(pts[:15], u[:15] % 1.0)


def test_phase_decodability_reads_a_planted_phase_and_not_noise():
    rng = np.random.default_rng(1)
    phase = np.arange(120) / 30 % 1.0
    planted = np.concatenate([np.stack([np.cos(2 * np.pi * phase), np.sin(2 * np.pi * phase)], 1),
                              rng.standard_normal((120, 10))], 1) + 0.05 * rng.standard_normal((120, 12))
    assert phase_decodability(planted, phase)["error_deg"] < 10
    assert phase_decodability(rng.standard_normal((120, 12)), phase)["error_deg"] > 60
    groups = np.repeat(np.arange(4), 30)
    grouped = phase_decodability(planted, phase, groups=groups, folds=4)
    assert grouped["error_deg"] < 10 and len(grouped["group_error_deg"]) == 4    # each clip's own error, for a spread
    assert np.mean(grouped["group_error_deg"]) == pytest.approx(grouped["error_deg"])         # equal-sized groups
    # a group whose embedding is noise errs alone: the spread shows what a mean hides
    mixed = planted.copy()
    mixed[groups == 3] = rng.standard_normal((30, 12))
    errors = phase_decodability(mixed, phase, groups=groups, folds=4)["group_error_deg"]
    assert errors[3] > 40 > max(errors[:3]) and "group_error_deg" not in phase_decodability(planted, phase)


def test_a_within_clip_phase_error_comes_with_its_own_chance_which_one_beat_puts_above_90():
    """On one clip of about a beat, each fold holds out a stretch whose phases the rest lack: noise embeddings
    erred about 111 degrees, read as worse than the 90 of chance; the read-out of a constant embedding is the chance
    to read it against (the training folds' mean phase)."""
    phase = np.arange(32) / 22 % 1.0                                   # 1.4 beats, 32 points
    chance = phase_decodability(np.ones((32, 12)), phase)
    assert chance["chance_deg"] == pytest.approx(chance["error_deg"]) and chance["chance_deg"] > 100
    noise = [phase_decodability(np.random.default_rng(s).standard_normal((32, 12)), phase) for s in range(10)]
    assert all(n["chance_deg"] == chance["chance_deg"] for n in noise)        # the clip's, not the embedding's
    assert abs(np.mean([n["error_deg"] for n in noise]) - chance["chance_deg"]) < 10
    whole_beats = np.arange(120) / 30 % 1.0, np.repeat(np.arange(4), 30)    # each fold a whole beat: 90
    assert 80 < phase_decodability(np.ones((120, 12)), whole_beats[0], groups=whole_beats[1], folds=4)["chance_deg"] < 100


def test_trajectory_shift_is_offset_over_radius():
    u = np.arange(40) / 40
    clean = np.stack([3 * np.cos(2 * np.pi * u), 3 * np.sin(2 * np.pi * u)], 1)
    assert trajectory_shift(clean, clean + [0.0, 1.5]) == pytest.approx(0.5)
    away = clean + [10.0, 0.0]                          # embeddings are never centred at the origin
    assert trajectory_shift(away, away + [0.0, 1.5]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="paired"):
        trajectory_shift(clean, clean[:-1])


def test_with_no_heartbeat_found_the_figure_colours_by_frame_and_names_no_ed():
    """The 'phase' of a clip with no heartbeat is time at a resting rate: the cyclic scale's '0 ED ... 1 ED' and the
    hover's 'phase 0.00' made its turns read as beats beside a subtitle saying none was found."""
    none = PhaseEstimate(np.arange(40) / 24 % 1.0, [], [], "estimated", "test", 24.0, beat_found=False)
    pts = np.random.default_rng(0).standard_normal((4, 2))
    markers = trajectory_figure({"clean": (pts, np.array([0, 12, 24, 36]))}, none, "m").data[2]
    assert list(markers.marker.color) == [0, 12, 24, 36] and markers.marker.cmax == 36
    assert markers.marker.colorbar.title.text == "frame (no heartbeat found)" and not markers.marker.colorbar.ticktext
    assert all("phase" not in t for t in markers.text) and markers.text[2] == "clean<br>frame 24"


def test_trajectory_figure_marks_ed_es_and_colours_by_phase():
    est = PhaseEstimate(np.arange(10) / 5 % 1.0, [0, 5], [2, 7], "estimated", "test", 5.0)
    pts = np.random.default_rng(0).standard_normal((5, 3))
    fig = trajectory_figure({"clean": (pts, np.array([0, 2, 4, 6, 8]))}, est, "m")
    swatch, markers = fig.data[1], fig.data[2]       # the legend's grey swatch, then the phase-coloured points
    assert swatch.marker.color == "grey" and swatch.showlegend is not False and markers.showlegend is False
    assert swatch.legendgroup == markers.legendgroup == "clean"
    assert markers.marker.colorscale is not None and list(markers.marker.color) == pytest.approx([0, .4, .8, .2, .6])
    assert "frame 4<br>phase 0.80 (estimated)" in markers.text[2]
    ed = [t for t in fig.data if t.name == "clean ED"][0]
    assert [h.split(", ")[1] for h in ed.hovertext] == ["frame 0", "frame 4"]  # frame 5 has no point: nearest
    assert "estimated" in fig.layout.title.text
    assert fig.layout.scene.xaxis.title.text == "PC 1"
    shares = trajectory_figure({"clean": (pts, np.array([0, 2, 4, 6, 8]))}, est, "m", explained=np.array([.5, .3, .06]))
    assert [a.title.text for a in (shares.layout.scene.xaxis, shares.layout.scene.zaxis)] == ["PC 1 (50%)", "PC 3 (6%)"]
    with pytest.raises(ValueError):
        trajectory_figure({"a": (pts[:, :1], np.arange(5))}, est)


@pytest.mark.parametrize("dims", [2, 3])
def test_a_degraded_run_is_drawn_as_rings_of_its_phase_colour(dims):
    """Clean and degraded runs share the phase colours; the degraded one must still be told apart (rings,
    whose colour in 3D is the marker line's)."""
    est = PhaseEstimate(np.arange(10) / 5 % 1.0, [0, 5], [2, 7], "estimated", "test", 5.0)
    pts, frames = np.random.default_rng(0).standard_normal((5, dims)), np.array([0, 2, 4, 6, 8])
    fig = trajectory_figure({"clean": (pts, frames), "shadow_high": (pts + 1, frames)}, est, "m")
    clean, bad = (next(t for t in fig.data if t.name == n and t.text) for n in ("clean", "shadow_high"))
    assert clean.marker.symbol == "circle" and bad.marker.symbol == "circle-open"
    assert list(bad.marker.line.color) == pytest.approx(list(clean.marker.color))
    assert fig.layout.legend.y < 0                                   # below the plot, not on the colour bar


def test_ed_and_es_marks_stand_where_the_phase_is_even_when_the_marked_frames_lie_past_the_points():
    """A long clip's trajectory samples a stretch of a few beats; EchoNet traces one beat, often later. The marks
    went to the point nearest each traced frame in time: the stretch's last point, both ED and ES on one point at
    phase 0.77. They stand at the points of the marks' phase, one a beat."""
    phase = np.mod((np.arange(200) - 153) / 30.0, 1.0)                # 30 frames a beat, phase counted from frame 153
    estimate = PhaseEstimate(phase, ed_frames=[153], es_frames=[165], source="estimated", method="test", period=30.0)
    frames = np.arange(0, 144, 3)                                     # the stretch: frames 0..141, 10 a beat
    fig = trajectory_figure({"clean": (np.random.default_rng(0).standard_normal((len(frames), 2)), frames)}, estimate)
    marked = {t.name: [int(h.split("frame ")[1]) for h in t.hovertext] for t in fig.data if t.name in ("clean ED", "clean ES")}
    assert marked == {"clean ED": [3, 33, 63, 93, 123], "clean ES": [15, 45, 75, 105, 135]}


def test_marks_at_names_the_sampled_frames_nearest_ed_and_es_and_no_other():
    """A 16-frame view of one beat gets ED and ES at the frames nearest in phase to the clip's; a mark with no
    frames, or no sampled frame within a step of it (a view of part of a beat), is left out."""
    from explain.trajectory.phase import marks_at
    phase = np.mod(np.arange(100) / 40.0, 1.0)                       # a beat every 40 frames, ED at phase 0
    estimate = PhaseEstimate(phase, ed_frames=[0, 40, 80], es_frames=[14, 54, 94])       # ES at phase 0.35
    one_beat = np.floor(np.arange(16) * 40 / 16 + 0.5).astype(int) + 40                  # frames 40..77
    assert marks_at(estimate, one_beat) == {"ED": 0, "ES": 6}         # 14 / 40 of the beat: frame 5.6 of 16
    assert marks_at(PhaseEstimate(phase, ed_frames=[0, 40, 80]), one_beat) == {"ED": 0}
    early = np.arange(40, 50)                                         # a quarter beat: no ES near it
    assert marks_at(estimate, early) == {"ED": 0}
