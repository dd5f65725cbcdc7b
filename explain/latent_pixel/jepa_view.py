"""What the JEPA predicts for the tubelets it cannot see: not pixels but the target encoder's
embedding of them. For each hidden tubelet, the cosine similarity between the predictor's output
and the target it was trained to predict (the target encoder's layer-normed token; centred, or from
the last blocks, where the model's recipe says so: EncoderWrapper.latent_targets); beside it two guesses that any
prediction which reads the visible boxes must beat: the mean of the target tokens at the visible positions (a lazy
guess), and, for a phantom-trained model, the mean target token at each position over other phantom clips
(position_prior: a guess that never looks at the clip, so it holds only what each position usually holds).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from echo.clip import Clip
from explain.latent_pixel.grid import token_grid
from explain.latent_pixel.inputs import prepare
from model_zoo.data import render_beat
from model_zoo.features import split_seeds

PRIOR_CLIPS = 16        # phantom val clips the position-only guess averages (the views are scored on other clips)


@dataclass
class JEPAView:
    """cosine (Kt,) per hidden token, in index order; target_tokens (Kt,) their indices;
    cosine_map (T', H', W') NaN at visible tokens; baseline (Kt,) the visible-mean guess's cosine; position (Kt,)
    the position-only guess's (None without a prior); frames (T, H, W) uint8 the input shown; summary dict
    (position_cosine only with a prior)."""
    cosine: np.ndarray
    target_tokens: np.ndarray
    cosine_map: np.ndarray
    baseline: np.ndarray
    frames: np.ndarray
    summary: dict
    position: np.ndarray | None = None


@torch.no_grad()
def position_prior(wrapper, n_clips: int = PRIOR_CLIPS, population: str = "adult") -> torch.Tensor:
    """(N, D) the mean target token at each grid position over n_clips one-beat phantom val clips: the
    position-only guess. Val seeds, so it never sees the test clips the report scores, nor a clip a user loads."""
    g = token_grid(wrapper)
    total = 0
    for seed in split_seeds("val", n_clips):
        x = prepare(render_beat(seed, population, g.frames, g.size), g.frames, g.size).x
        total = total + wrapper.latent_targets(x)[0].float().cpu()                               # (N, D)
    return total / n_clips


@torch.no_grad()
def jepa_view(wrapper, clip: Clip, context: np.ndarray, target: np.ndarray, start: int = 0,
              prior: torch.Tensor | None = None) -> JEPAView:
    """Predict the target tokens from the context tokens (both (N,) bool) and compare, beside the two guesses
    (prior: position_prior's (N, D), None to leave the position-only guess out)."""
    if wrapper.family != "jepa":
        raise ValueError(f"{wrapper.name or 'this model'} is not a JEPA")
    g = token_grid(wrapper)
    context, target = np.asarray(context, bool), np.asarray(target, bool)
    if context.shape != (g.n_tokens,) or target.shape != (g.n_tokens,):
        raise ValueError(f"context and target must be ({g.n_tokens},) bool masks")
    if not context.any() or not target.any() or (context & target).any():
        raise ValueError("context and target must be non-empty and must not overlap")
    p = prepare(clip, g.frames, g.size, start)
    h = wrapper.latent_targets(p.x)[0].float()                                                  # (N, D)
    pred = wrapper.predict_hidden(p.x, torch.as_tensor(context), torch.as_tensor(target))[0]    # (Kt, D)
    truth = h[torch.as_tensor(target, device=h.device)]                                         # (Kt, D), index order
    cosine = F.cosine_similarity(pred.float(), truth, dim=-1).cpu().numpy()                     # (Kt,)
    guess = h[torch.as_tensor(context, device=h.device)].mean(0, keepdim=True)                  # (1, D)
    baseline = F.cosine_similarity(guess, truth, dim=-1).cpu().numpy()
    idx = np.flatnonzero(target)
    cmap = np.full(g.n_tokens, np.nan)
    cmap[idx] = cosine
    summary = {"mean_cosine": float(cosine.mean()), "baseline_cosine": float(baseline.mean()),
               "hidden_share": float(target.mean()), "n_hidden": int(len(idx))}
    position = None
    if prior is not None:
        at = torch.as_tensor(target)
        position = F.cosine_similarity(prior[at].to(truth.device), truth, dim=-1).cpu().numpy()   # (Kt,)
        summary["position_cosine"] = float(position.mean())
    return JEPAView(cosine, idx, cmap.reshape(g.grid), baseline, p.grey, summary, position)
