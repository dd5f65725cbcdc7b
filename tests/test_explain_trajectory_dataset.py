"""Trajectory views that run the model: degraded copies and the one-point-per-clip dataset view."""
import numpy as np
import pytest
import torch

from builders import smoke_wrappers
from echo.clip import Clip
from echo.echonet import write_echonet
from echo.phantom import render_clip
from explain.trajectory.dataset import dataset_view
from explain.trajectory.metrics import degraded_runs


@pytest.fixture(scope="module")
def jepa():
    torch.set_num_threads(1)
    return smoke_wrappers()[0]


def test_degraded_runs_pair_frames_and_a_null_degradation_does_not_shift(jepa):
    clip = render_clip(5, n_frames=10, size=64)
    out = degraded_runs(jepa, clip, ["shadow_high", "gain_med"], stride=3)
    assert out["clean"].frames.tolist() == out["runs"]["shadow_high"].frames.tolist() == [0, 3, 6, 9]
    assert out["shift"]["shadow_high"] > 0
    same = degraded_runs(jepa, clip, [], stride=3)["clean"]
    assert np.allclose(same.embeddings, out["clean"].embeddings)


def test_degraded_runs_of_a_large_clip_degrade_and_read_a_copy_at_twice_the_models_side(jepa, monkeypatch):
    """A degraded copy made at the crop's full size held 17 times the clip; the smoke model reads 64 px, so the
    copy (and the clean run beside it) is at most 128 px, and a null degradation still does not shift."""
    import explain.trajectory.metrics as metrics
    small = render_clip(5, n_frames=10, size=64)
    big = Clip(np.repeat(np.repeat(small.frames, 4, axis=1), 4, axis=2), small.fps, "big.npy")  # 256 px
    sides, real_condition = [], metrics.apply_condition
    monkeypatch.setattr(metrics, "apply_condition", lambda c, cond, seed=0: sides.append(c.frames.shape[1:]) or
                        real_condition(c, cond, seed=seed))
    out = degraded_runs(jepa, big, ["shadow_high"], stride=3)
    assert sides == [(128, 128)] and out["shift"]["shadow_high"] > 0
    assert np.allclose(degraded_runs(jepa, big, [], stride=3)["clean"].embeddings, out["clean"].embeddings)


def test_dataset_view_gives_one_point_per_clip_coloured_by_ef(jepa, tmp_path):
    clips = [render_clip(s, n_frames=10, size=64) for s in (1, 2, 3)]
    write_echonet(tmp_path, [(f"c{i}", c, "TEST", None) for i, c in enumerate(clips)])
    view, proj, fig = dataset_view(jepa, tmp_path, limit=None, dims=2)
    assert view.names == ["c0", "c1", "c2"] and view.embeddings.shape == (3, 48)
    assert np.allclose(view.ef, [c.truth.ef for c in clips], atol=1e-6)
    assert proj.points[0].shape == (3, 2)
    assert list(fig.data[-1].marker.color) == pytest.approx(view.ef.tolist())
    from scipy.stats import spearmanr
    rho = abs(spearmanr(proj.points[0][:, 0], view.ef).statistic)
    assert f"axis 1 orders them by EF with |rho| {rho:.2f}" in fig.layout.title.text
    _, flat, fig3 = dataset_view(jepa, tmp_path, limit=None, dims=3)    # 3 clips span 2 axes: no noise axis drawn
    assert flat.points[0].shape == (3, 2) and fig3.data[-1].type == "scatter"
    assert "<br><sup>shown in 2D: three clips or fewer span no third axis; axis 1 orders" in fig3.layout.title.text
    write_echonet(tmp_path / "four", [(f"c{i}", render_clip(s, n_frames=10, size=64), "TEST", None)
                                      for i, s in enumerate((1, 2, 3, 4))])
    _, proj3, fig3 = dataset_view(jepa, tmp_path / "four", limit=None, dims=3)  # the projection asked for
    assert proj3.points[0].shape == (4, 3) and fig3.data[-1].type == "scatter3d" and "2D" not in fig3.layout.title.text
    _, _, umap_fig = dataset_view(jepa, tmp_path / "four", limit=None, method="umap")    # UMAP's axes have no order
    assert "UMAP" in umap_fig.layout.title.text and "orders them by EF" not in umap_fig.layout.title.text
