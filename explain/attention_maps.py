"""The one entry the app calls: a per-token map of where a model looks in one clip, by any method.

    m = clip_map(wrapper, x, "rollout", probe=probe)         # TokenMap, m.values (T', H', W')
    heat = m.frames((T, H, W))                                # (T, H, W) float32 in [0, 1]

Methods (METHODS):
- 'rollout': attention rollout read out by the EF probe's query (default when a probe is given),
  the column mean ('mean') or a query token ('token'); params head_fusion, discard_ratio,
  start_layer, identity, readout, query, drop_self.
- 'paper': the EchoJEPA figure mode (one layer, most peaked head); params layer, mode, query.
- 'occlusion', 'feature_ablation', 'integrated_gradients', 'smoothgrad': Captum attributions of
  the EF prediction (need the probe); per-token magnitude, sum of |attribution| over each tubelet.
- 'pretext': attribution of the family's pretraining loss (JEPA latent, MAE pixel); params n_masks, seed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from explain.attribution.feature_ablation import feature_ablation
from explain.attribution.integrated_gradients import integrated_gradients
from explain.attribution.noise_tunnel import smoothgrad_ig
from explain.attribution.occlusion import occlusion
from explain.attribution.pretext import pretext_attribution
from explain.ef_forward import EFForward
from explain.maps import check_clips, grid_of_wrapper, pixels_to_tokens, to_frames
from explain.paper_attention import paper_attention
from explain.readout import mean_readout, probe_readout, token_readout
from explain.rollout import rollout_with_tokens

EF_METHODS = ("occlusion", "feature_ablation", "integrated_gradients", "smoothgrad")
METHODS = ("rollout", "paper", *EF_METHODS, "pretext")


@dataclass
class TokenMap:
    """values (T', H', W') float32 >= 0 (larger = more), the method that made it and what it reported."""
    values: np.ndarray
    method: str
    grid: tuple[int, int, int]
    tubelet: int
    patch: int
    info: dict = field(default_factory=dict)

    def frames(self, shape: tuple[int, int, int], mode: str = "bilinear", scale: str = "minmax") -> np.ndarray:
        """(T, H, W) float32 in [0, 1], normalised over the clip (explain.maps.to_frames)."""
        return to_frames(self.values, self.grid, self.tubelet, shape, mode, scale)


def check_input(wrapper, x: torch.Tensor) -> None:
    """One clip at the model's shape (maps.check_clips)."""
    check_clips(wrapper, x, one=True)


def default_readout(probe) -> str:
    """The rollout's read-out unless one is asked for: 'probe' where the model's EF probe weighs the encoder's
    tokens, else 'mean' (no probe, or one whose self-attention blocks mix the tokens before its query)."""
    return "probe" if probe is not None and probe.attends_to_tokens else "mean"


def _rollout(wrapper, x, probe, readout=None, query=None, drop_self=False, **spec) -> tuple[torch.Tensor, dict]:
    readout = readout or default_readout(probe)
    r, tokens = rollout_with_tokens(wrapper, x, **spec)                    # (1, N, N), (1, N, D)
    if readout == "probe":
        if probe is None:
            raise ValueError(f"The probe read-out needs an EF probe, and {wrapper.name or 'this model'} has "
                             "none: use readout='mean' or 'token'.")
        with torch.no_grad():
            a = probe.attention(tokens.to(probe.ef_mean.device)).cpu()      # (1, N)
        values = probe_readout(r, a)
    elif readout == "mean":
        values = mean_readout(r, drop_self)
    elif readout == "token":
        if query is None:
            raise ValueError("The token read-out needs a query token index (query=...).")
        values = token_readout(r, query)
    else:
        raise ValueError(f"Unknown read-out {readout!r}: use 'probe', 'mean' or 'token'.")
    return values, {"readout": readout, **spec}


def clip_map(wrapper, x: torch.Tensor, method: str, probe=None, on_clips: Callable[[int], None] | None = None,
             **params) -> TokenMap:
    """Per-token map of one clip x (1, T, C, H, W) by `method` (see METHODS); probe: the model's EF
    probe or None (EF methods and the probe read-out then raise ValueError). on_clips(n): told how
    many clips each pass of an EF method put through the model (for a progress bar)."""
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}: use one of {', '.join(METHODS)}.")
    check_input(wrapper, x)
    grid, tubelet, patch = grid_of_wrapper(wrapper)
    if method == "rollout":
        values, info = _rollout(wrapper, x, probe, **params)
    elif method == "paper":
        values, info = paper_attention(wrapper, x, **params)
    else:
        if method == "pretext":
            attr, info = pretext_attribution(wrapper, x, **params)
        else:
            f = EFForward(wrapper, probe, on_clips)
            x = x.to(wrapper.device)
            if method == "occlusion":
                attr, info = occlusion(f, x, tubelet, patch, **params)
            elif method == "feature_ablation":
                attr, info = feature_ablation(f, x, grid, tubelet, patch, **params)
            elif method == "integrated_gradients":
                attr, info = integrated_gradients(f, x, **params)
            else:
                attr, info = smoothgrad_ig(f, x, **params)
        values = pixels_to_tokens(attr, grid, tubelet, patch)              # (1, N)
    v = values[0].detach().float().cpu().numpy().reshape(grid)
    return TokenMap(v, method, grid, tubelet, patch, info)
