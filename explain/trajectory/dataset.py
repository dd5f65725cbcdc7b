"""The dataset view: one point per clip of an EchoNet-layout folder, coloured by EF.

Each clip's point is the pooled embedding of one model-length window from the middle of the clip
(at the clip's frame rate); clips that cannot be read are listed, not fatal. Real EchoNet-Dynamic
folders and the phantom's (`python -m echo.phantom --out DIR`) load the same way.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
from scipy.stats import spearmanr

from echo.clip import ClipError
from echo.echonet import EchoNetDataset
from echo.preprocess import to_model_input
from explain.trajectory.figures import dataset_figure
from explain.trajectory.projection import Projection, project
from model_zoo.features import input_shape


@dataclass
class DatasetView:
    """names (n); ef (n,) % (NaN unknown); embeddings (n, D) float32; skipped [(name, reason)]; listed: the clips the
    folder (or split) lists, of which the first `limit` were tried."""
    names: list[str]
    ef: np.ndarray
    embeddings: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)
    listed: int = 0


@torch.no_grad()
def dataset_embeddings(wrapper, root: str | os.PathLike, split: str | None = None, limit: int | None = None,
                       batch: int = 16) -> DatasetView:
    """Token-mean embeddings of the first `limit` clips (all by default) of an EchoNet-layout folder."""
    data = EchoNetDataset(root, split)
    frames, size = input_shape(wrapper)
    names, ef, inputs, skipped, out = [], [], [], [], []

    def flush():
        if inputs:
            out.append(wrapper.tokens(torch.cat(inputs)).mean(1).float().cpu())     # (b, N, D) -> (b, D)
            inputs.clear()

    for i in range(len(data) if limit is None else min(limit, len(data))):
        name = data.names[i]
        try:
            clip = data[i]
            start = max(0, clip.n_frames // 2 - frames // 2)
            inputs.append(to_model_input(clip, frames=frames, size=size, start=start))  # (1, T, C, H, W)
        except ClipError as err:
            skipped.append((name, str(err)))
            continue
        names.append(name)
        ef.append(np.nan if clip.truth is None or clip.truth.ef is None else clip.truth.ef)
        if len(inputs) == batch:
            flush()
    flush()
    if not names:
        raise ClipError(f"No clip of '{root}' could be read" + (f" (split {split})." if split else "."))
    return DatasetView(names, np.asarray(ef, np.float64), torch.cat(out).numpy(), skipped, len(data))


def dataset_view(wrapper, root: str | os.PathLike, split: str | None = None, limit: int | None = 200,
                 method: str = "pca", dims: int = 2) -> tuple[DatasetView, Projection, go.Figure]:
    """Embed, project and plot a folder: (view, projection, figure coloured by EF); the title gives how well PCA's
    first axis orders the clips by EF (|Spearman rho|, where at least 3 clips have an EF; UMAP's axes mean nothing)."""
    view = dataset_embeddings(wrapper, root, split, limit)
    flat = dims == 3 and len(view.names) <= 3          # n clips span n - 1 axes: no third (PCA's would be zero)
    proj = project([view.embeddings], method, 2 if flat else dims)
    title = f"{getattr(wrapper, 'name', '')}: {len(view.names)} clips, {method.upper()}, coloured by EF"
    notes = ["shown in 2D: three clips or fewer span no third axis"] if flat else []
    known = np.isfinite(view.ef)
    if method == "pca" and known.sum() >= 3 and np.ptp(view.ef[known]) > 0:    # UMAP's axes have no order to read
        rho = spearmanr(proj.points[0][known, 0], view.ef[known]).statistic
        notes.append(f"axis 1 orders them by EF with |rho| {abs(rho):.2f}")
    if notes:                                           # a subtitle line: a long title was cut at the plot's edge
        title += "<br><sup>" + "; ".join(notes) + "</sup>"
    fig = dataset_figure(proj.points[0], view.ef, view.names, title, "PC" if method == "pca" else "UMAP")
    return view, proj, fig
