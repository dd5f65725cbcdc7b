"""The phantom: deterministic, truthful (EF from its own masks), realistic by simple statistics."""
import numpy as np
import pytest
from scipy.ndimage import binary_erosion

from echo.anatomy import LABEL_IDS, WALLS
from echo.echonet import EchoNetDataset, tracing_mask
from echo.image_stats import frame_correlation, near_black_fraction, speckle_grain
from echo.phantom import render_clip, sample_params
from echo.phantom.__main__ import main as phantom_cli, split_of
from echo.phantom.heart import area_length_volume, lv_filling
from echo.phantom.render import frames_at_phase

LV = LABEL_IDS["lv_cavity"]


def mask_volume(mask: np.ndarray) -> float:
    """Area-length volume (px^3) with the long axis as the mask's largest extent (Feret diameter)."""
    ys, xs = np.nonzero(mask)
    pts = np.stack([xs, ys], 1).astype(float)
    length = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1)).max() + 1
    return float(area_length_volume(mask.sum(), length))


def test_same_seed_same_clip_and_different_seed_differs():
    a, b, c = render_clip(3, n_frames=8), render_clip(3, n_frames=8), render_clip(4, n_frames=8)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.truth.labels, b.truth.labels)
    assert a.truth.ef == b.truth.ef
    assert np.abs(a.frames.astype(int) - c.frames.astype(int)).mean() > 5


def test_clip_shapes_and_truth_fields():
    clip = render_clip(0, n_frames=20, size=96, fps=40)
    t = clip.truth
    assert clip.frames.shape == (20, 96, 96) and clip.frames.dtype == np.uint8 and clip.fps == 40
    assert t.labels.shape == t.clean.shape == clip.frames.shape
    assert t.phase.shape == (20,) and np.all((0 <= t.phase) & (t.phase < 1))
    assert t.edv > t.esv > 0 and abs(100 * (t.edv - t.esv) / t.edv - t.ef) < 1e-6
    # Every anatomical structure appears, and nothing is drawn outside the fan.
    present = set(np.unique(t.labels))
    assert set(range(12)) <= present
    assert np.all(clip.frames[t.labels == 0] == 0)


@pytest.mark.parametrize("population", ["adult", "pediatric"])
def test_ef_measured_from_rendered_masks_matches_prescribed(population):
    errors = []
    for seed in range(6):
        clip = render_clip(seed, population, n_frames=64, fps=50)
        t = clip.truth
        ed, es = t.ed_frames[0], t.es_frames[0]
        measured = 100 * (1 - mask_volume(t.labels[es] == LV) / mask_volume(t.labels[ed] == LV))
        errors.append(measured - t.ef)
    assert np.max(np.abs(errors)) < 2.0, errors


def test_prescribed_ef_is_honoured_and_ed_es_are_volume_extremes():
    clip = render_clip(11, n_frames=80, fps=50, ef=30.0)
    t = clip.truth
    assert t.ef == 30.0
    area = (t.labels == LV).sum(axis=(1, 2))
    ed, es = t.ed_frames[0], t.es_frames[0]
    assert area[ed] >= area.max() * 0.98 and area[es] <= area.min() * 1.03


def test_cardiac_cycle_curve_and_phase_frames():
    phase = np.linspace(0, 1, 201)
    g = lv_filling(phase, 0.35)
    assert g[0] == pytest.approx(1) and g[70] == pytest.approx(0, abs=1e-6)   # ED full, ES empty
    assert np.all(np.diff(g[:71]) <= 1e-9)                                     # ejection only empties
    assert frames_at_phase(np.array([0.9, 0.98, 0.06, 0.14]), 0.0) == [1]


def test_phase_frames_one_a_beat_when_beats_differ_in_length():
    """An estimated phase runs linearly between its EDs (23, 23 and 22 frames apart here): sampled every second frame,
    the shorter beat's nearest point lies 0.045 cycles from ED, past half the clip's median step (0.0435), and its
    ED went unmarked."""
    ed, t = np.array([7.0, 30.0, 53.0, 75.0]), np.arange(90.0)
    cycles = np.interp(t, ed, np.arange(4.0))
    cycles = np.where(t > ed[-1], 3 + (t - ed[-1]) / 22, np.where(t < ed[0], (t - ed[0]) / 23, cycles))
    sampled = np.mod(cycles, 1.0)[::2]                                     # frames 0, 2, 4, ...
    assert frames_at_phase(sampled, 0.0) == [3, 15, 26, 38]                # frames 6, 30, 52, 76: one a beat
    assert frames_at_phase(np.array([0.3, 0.4, 0.5]), 0.0) == []           # the clip never passes ED
    assert frames_at_phase(np.array([0.02, 0.12]), 0.0) == [0] and frames_at_phase(np.array([0.07, 0.17]), 0.0) == []


def test_pediatric_hearts_are_smaller_and_faster():
    adult = [sample_params(s, "adult") for s in range(30)]
    child = [sample_params(s, "pediatric") for s in range(30)]
    assert np.mean([p.lv_length_cm for p in child]) < 0.75 * np.mean([p.lv_length_cm for p in adult])
    assert np.mean([p.hr_bpm for p in child]) > np.mean([p.hr_bpm for p in adult]) + 20


def test_speckle_decorrelation_is_a_setting():
    def wall_corr(corr):
        clip = render_clip(5, n_frames=12, fps=50, speckle_corr=corr)
        return frame_correlation(clip.frames, np.isin(clip.truth.labels, WALLS))
    default, independent = wall_corr(0.975), wall_corr(0.0)
    assert 0.78 <= default <= 0.9          # real A4C bright tissue: about 0.80-0.87 at 30-50 fps
    assert independent < default - 0.2


def test_image_statistics_look_like_real_a4c():
    clips = [render_clip(s, n_frames=8, fps=50) for s in range(4)]
    black = np.mean([near_black_fraction(c.frames) for c in clips])
    lateral, axial = np.mean([speckle_grain(c.frames) for c in clips], axis=0)
    assert 0.2 <= black <= 0.5, black                      # real: 25-50% of the fan near-black
    assert 3.5 <= lateral <= 6 and 3.5 <= axial <= 7.5, (lateral, axial)
    # Blood pools are near-black inside their border; the pericardium is the brightest structure.
    c = clips[0]
    mean = lambda name: c.frames[c.truth.labels == LABEL_IDS[name]].mean()  # noqa: E731
    pool = np.stack([binary_erosion(m, iterations=2) for m in c.truth.labels == LABEL_IDS["lv_cavity"]])
    assert c.frames[pool].mean() < 20
    assert 60 < mean("myocardium") < mean("pericardium")


def test_overlay_burns_text_and_ecg_outside_the_fan():
    plain = render_clip(2, n_frames=6)
    dressed = render_clip(2, n_frames=6, overlay=True)
    top, left = dressed.meta["fan_offset"]
    H, W = plain.frames.shape[1:]
    np.testing.assert_array_equal(dressed.frames[:, top:top + H, left:left + W][plain.truth.labels > 0],
                                  plain.frames[plain.truth.labels > 0])
    outside = dressed.truth.labels == 0
    assert (dressed.frames[outside] > 150).sum() > 100      # text and ECG are there


def test_cli_warns_when_its_seeds_are_hearts_the_models_already_used(tmp_path, capsys):
    """Seed 2,000,000 is the probes' first training heart, yet FileList.csv would call it TEST or VAL as any seed."""
    from echo.phantom.seeds import used_for
    from model_zoo.features import split_seeds
    from model_zoo.recipes import get_recipe
    assert used_for(split_seeds("train", 1)[0]) == "the EF probes' train split"
    assert used_for(get_recipe("small").data_seed) == "pretraining" and used_for(0) is None
    assert used_for(split_seeds("pediatric", 1)[0], "pediatric") == "the evaluation's pediatric test clips"
    assert used_for(split_seeds("pediatric", 1)[0]) is None                   # an adult heart from that seed: unused
    assert used_for(split_seeds("train", 1)[0], "pediatric") is None
    assert used_for(split_seeds("confirm", 1)[0]) == "the evaluation's confirmation clips"
    assert used_for(split_seeds("confirm_pediatric", 1)[0], "pediatric") == "the evaluation's pediatric confirmation clips"
    assert used_for(split_seeds("confirm_pediatric", 1)[0]) is None
    assert phantom_cli(["--n", "2", "--out", str(tmp_path / "a"), "--frames", "8", "--seed", "3999999"]) == 0
    err = capsys.readouterr().err
    assert "seeds 3999999-4000000 include hearts" in err and "the EF probes' test split" in err and "val split" in err
    assert phantom_cli(["--n", "2", "--out", str(tmp_path / "b"), "--frames", "8"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_cli_writes_echonet_layout_that_reads_back(tmp_path):
    assert phantom_cli(["--n", "3", "--out", str(tmp_path), "--frames", "40", "--seed", "10"]) == 0
    ds = EchoNetDataset(tmp_path)
    assert len(ds) == 3
    clip = ds[0]
    direct = render_clip(10, n_frames=40, fps=50)
    assert clip.frames.shape == (40, 112, 112) and clip.fps == 50
    assert clip.truth.ef == pytest.approx(direct.truth.ef)
    assert clip.meta["split"] == split_of(10)
    # The traced LV at ED covers the rendered LV mask.
    ed = direct.truth.ed_frames[0]
    traced = tracing_mask(direct.truth.lv_tracings[ed], 112, 112)
    rendered = direct.truth.labels[ed] == LV
    iou = (traced & rendered).sum() / (traced | rendered).sum()
    assert iou > 0.85, iou
    # MJPEG round trip stays close to the rendered pixels.
    assert np.abs(clip.frames.astype(int) - direct.frames.astype(int)).mean() < 6
