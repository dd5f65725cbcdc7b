"""Plotly figures of trajectories (2D or 3D, coloured by cardiac phase on a cyclic scale, ED and ES
marked, hover with frame and phase) and of a dataset (one point per clip, coloured by EF)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go

from explain.trajectory.phase import PhaseEstimate, mark_positions
from model_zoo.plot_style import TEMPLATE

PHASE_SCALE = "Phase"         # cyclic (0 and 1, both end-diastole, alike) and never near white, unlike Twilight
FRAME_SCALE = "Viridis"       # no heartbeat found: frames in order, a scale that does not wrap
LINE_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def _scatter(dims: int, xyz: np.ndarray, **kwargs):
    if dims == 3:
        return go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], **kwargs)
    return go.Scatter(x=xyz[:, 0], y=xyz[:, 1], **kwargs)


def _axes(fig: go.Figure, titles: list[str]) -> None:
    """Axis titles; in 3D a camera far enough out that the titles and ticks stay inside the plot."""
    if len(titles) == 3:
        axis = lambda t: dict(title=t, nticks=4)                          # noqa: E731
        fig.update_layout(scene=dict(xaxis=axis(titles[0]), yaxis=axis(titles[1]), zaxis=axis(titles[2]),
                                     camera=dict(eye=dict(x=1.7, y=1.7, z=1.1))))
    else:
        fig.update_layout(xaxis_title=titles[0], yaxis_title=titles[1])


def trajectory_figure(runs: Mapping[str, tuple[np.ndarray, np.ndarray]], estimate: PhaseEstimate,
                      title: str = "", axis_prefix: str = "PC", explained: np.ndarray | None = None) -> go.Figure:
    """runs: {name: (points (K, 2 | 3), frames (K,) clip frame indices)}, all in one projection (the
    first run is the reference, e.g. 'clean'); estimate: the clip's phase. 2D or 3D from the points.
    explained: each axis's share of the variance (PCA's), shown in its title: two axes holding 30% of it show a
    loop that the rest may not. Where no heartbeat was found the points are coloured by frame on a scale that does
    not wrap (the 'phase' is then time at a resting rate: on the cyclic scale its turns read as beats)."""
    if not runs:
        raise ValueError("a trajectory figure needs at least one run")
    dims = {np.asarray(p).shape[1] for p, _ in runs.values()}
    if len(dims) != 1 or dims & {1} or not dims <= {2, 3}:
        raise ValueError("every run's points must be (K, 2) or (K, 3), all the same")
    dims = dims.pop()
    beat = estimate.beat_found
    last = max((int(np.max(f)) for _, f in runs.values() if len(f)), default=1)
    scale, top = (PHASE_SCALE, 1.0) if beat else (FRAME_SCALE, float(max(last, 1)))
    colorbar = (dict(title="phase (cycles)", tickvals=[0, 0.25, 0.5, 0.75, 1],
                     ticktext=["0 ED", "0.25", "0.5", "0.75", "1 ED"]) if beat else
                dict(title="frame (no heartbeat found)"))
    fig = go.Figure()
    for i, (name, (points, frames)) in enumerate(runs.items()):
        xyz, frames = np.asarray(points, np.float64), np.asarray(frames, int)
        colour = estimate.phase[frames] if beat else frames
        fig.add_trace(_scatter(dims, xyz, mode="lines", name=f"{name} path", showlegend=False,
                               hoverinfo="skip", line=dict(color="rgba(90,90,90,0.6)", width=2,
                                                           dash=LINE_DASHES[i % len(LINE_DASHES)])))
        hover = [f"{name}<br>frame {f}" + (f"<br>phase {p:.2f} ({estimate.source})" if beat else "")
                 for f, p in zip(frames, estimate.phase[frames])]
        # the reference run filled, every other run a ring of the same phase colour, so runs stay apart
        symbol = "circle" if i == 0 else "circle-open"
        # the legend's swatch in grey: a phase-coloured trace shows its first point's colour there, which differs
        # from clip to clip and reads as the run's colour; one legend entry toggles the swatch and the points
        fig.add_trace(_scatter(dims, np.full((1, dims), np.nan), mode="markers", name=name, legendgroup=name,
                               marker=dict(color="grey", symbol=symbol, size=8, line=dict(color="grey", width=2))))
        fig.add_trace(_scatter(dims, xyz, mode="markers", name=name, text=hover, hoverinfo="text", legendgroup=name,
                               showlegend=False,
                               marker=dict(size=5 if dims == 3 else 8, color=colour, colorscale=scale,
                                           cmin=0.0, cmax=top, showscale=i == 0, symbol=symbol,
                                           line=dict(width=0) if i == 0 else dict(  # 3D rings take the line's colour
                                               width=2, color=colour, colorscale=scale, cmin=0.0, cmax=top),
                                           colorbar=colorbar)))
        marks = mark_positions(estimate, frames)                  # by phase: a marked frame may lie outside the run
        for label, symbol in (("ED", "diamond"), ("ES", "square")):
            idx = np.asarray(marks.get(label, []), int)
            if len(idx):   # the reference run's marks filled, every other run's open; named by symbol and hover
                fig.add_trace(_scatter(      # (text labels sat on their marks and on each other, in 3D most)
                    dims, xyz[idx], mode="markers", name=f"{name} {label}",
                    hovertext=[f"{name}<br>{label}, frame {f}" for f in frames[idx]], hoverinfo="text",
                    marker=dict(symbol=symbol if i == 0 else f"{symbol}-open", size=8 if dims == 3 else 13,
                                color="black" if i == 0 else "dimgrey", line=dict(color="black", width=2))))
    axes = [f"{axis_prefix} {k + 1}" + ("" if explained is None else f" ({explained[k]:.0%})") for k in range(dims)]
    drawn = {t.name.rsplit(" ", 1)[-1] for t in fig.data if t.name and t.name.endswith((" ED", " ES"))}
    key = ", ".join(k for k in ("◆ ED", "■ ES") if k[2:] in drawn)                 # only the marks drawn
    subtitle = (f"colour: {estimate.label}" + (f"; {key}" if key else "")
                + ("; open: the degraded copy" if len(runs) > 1 else ""))
    fig.update_layout(template=TEMPLATE, title=dict(text=f"{title}<br><sup>{subtitle}</sup>" if title else subtitle),
                      # below the plot: at the top right the legend sat on the phase colour bar's title
                      legend=dict(itemsizing="constant", orientation="h", x=0, xanchor="left",
                                  y=-0.2 if dims == 2 else -0.02, yanchor="top"),   # 2D: under the x title
                      margin=dict(l=10, r=10, t=60, b=110 if dims == 2 else 40))
    _axes(fig, axes)
    return fig


def dataset_figure(points: np.ndarray, ef: np.ndarray, names: list[str], title: str = "",
                   axis_prefix: str = "PC") -> go.Figure:
    """One point per clip (n, 2 | 3), coloured by EF (%; NaN = unknown, grey), hover with name and EF."""
    xyz, ef = np.asarray(points, np.float64), np.asarray(ef, np.float64)
    if xyz.ndim != 2 or xyz.shape[1] not in (2, 3) or ef.shape != (len(xyz),) or len(names) != len(xyz):
        raise ValueError("points (n, 2 | 3), ef (n,) and names (n) must match")
    dims, known = xyz.shape[1], np.isfinite(ef)
    fig = go.Figure()
    if (~known).any():
        fig.add_trace(_scatter(dims, xyz[~known], mode="markers", name="EF unknown", hoverinfo="text",
                               text=[f"{n}<br>EF unknown" for n, k in zip(names, known) if not k],
                               marker=dict(color="lightgrey", size=5 if dims == 3 else 8)))
    fig.add_trace(_scatter(dims, xyz[known], mode="markers", name="clips", hoverinfo="text",
                           text=[f"{n}<br>EF {e:.1f}%" for n, e, k in zip(names, ef, known) if k],
                           marker=dict(color=ef[known], colorscale="Viridis", size=5 if dims == 3 else 8,
                                       colorbar=dict(title="EF (%)"))))
    axes = [f"{axis_prefix} {k + 1}" for k in range(dims)]
    fig.update_layout(template=TEMPLATE, title=title or "one point per clip, coloured by ejection fraction",
                      margin=dict(l=10, r=10, t=70 if "<br>" in title else 50, b=10))
    _axes(fig, axes)
    return fig
