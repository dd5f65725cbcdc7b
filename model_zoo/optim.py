"""The shared optimiser: AdamW without weight decay on biases, norms and mask tokens; warm-up + cosine."""
from __future__ import annotations

import math

import torch
from torch import nn

from model_zoo.recipes import Recipe


def make_optimizer(named_params: list[tuple[str, nn.Parameter]], recipe: Recipe) -> torch.optim.AdamW:
    """AdamW over the parameters that require grad (a frozen patch embedding is left out); 1-D tensors
    and mask tokens are not decayed (both recipes)."""
    decay, no_decay = [], []
    for name, p in ((n, p) for n, p in named_params if p.requires_grad):
        (no_decay if p.ndim <= 1 or "mask_token" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": recipe.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=0.0, betas=recipe.betas)


def peak_lr(method: str, recipe: Recipe) -> float:
    return recipe.jepa_lr if method == "jepa" else recipe.mae_lr


def lr_at(step: int, peak: float, recipe: Recipe) -> float:
    """Learning rate for 0-based `step`: linear warm-up to peak, then cosine to final_lr_frac * peak."""
    warmup = max(int(recipe.warmup_frac * recipe.steps), 1)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(recipe.steps - warmup, 1)
    final = peak * recipe.final_lr_frac
    return final + 0.5 * (peak - final) * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
