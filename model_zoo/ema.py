"""The JEPA target encoder's exponential moving average and its momentum schedule (V-JEPA)."""
from __future__ import annotations

import torch
from torch import nn


def momentum_at(step: int, total: int, start: float, end: float) -> float:
    """Momentum after `step` of `total` steps: rises linearly from start to end, as in V-JEPA."""
    return start + (end - start) * min(step, total) / max(total, 1)


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """target <- momentum * target + (1 - momentum) * online, parameter by parameter, in place.

    Parameters the online model does not train (a frozen patch embedding) are left untouched: they are
    equal in both, and m * x + (1 - m) * x drifts from x in floating point."""
    pairs = [(t, o) for t, o in zip(target.parameters(), online.parameters(), strict=True) if o.requires_grad]
    t_params, o_params = [t for t, _ in pairs], [o for _, o in pairs]
    torch._foreach_mul_(t_params, momentum)
    torch._foreach_add_(t_params, o_params, alpha=1.0 - momentum)
