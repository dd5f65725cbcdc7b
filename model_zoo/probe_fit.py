"""Training the EF probes (model_zoo.probes) on stored features: the attentive probe by AdamW on z-scored
EF with the best val epoch kept, the ridge probe in closed form with alpha chosen on val; and the metrics
they are scored by."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from model_zoo.probes import LinearProbe, ProbeHead, predict_tokens, probe_heads


def regression_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """MAE, RMSE (EF points) and R2 of predictions against the truth."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    err = pred - true
    ss_tot = float(((true - true.mean()) ** 2).sum())
    r2 = 1.0 - float((err ** 2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    return {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err ** 2).mean())), "r2": r2}


@dataclass(frozen=True)
class ProbeTraining:
    """Attentive probe optimisation: AdamW, Huber loss on z-scored EF, best epoch on val MAE; the lr is
    constant, or (schedule 'cosine') warmed up linearly over `warmup_epochs` then cosine-decayed to 0
    at max_epochs, as V-JEPA's probes are."""
    lr: float = 1e-3
    weight_decay: float = 0.05
    batch: int = 64
    max_epochs: int = 100
    patience: int = 15          # stop after this many epochs without a better val MAE
    heads: int = 4              # at most; see probe_heads
    schedule: str = "constant"  # or "cosine"
    warmup_epochs: int = 0

    def __post_init__(self):
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown probe lr schedule {self.schedule!r}: constant or cosine")

    def lr_at(self, progress: float) -> float:
        """The lr at `progress` epochs into training (fractional)."""
        if self.schedule == "constant":
            return self.lr
        if progress < self.warmup_epochs:
            return self.lr * progress / self.warmup_epochs
        span = max(self.max_epochs - self.warmup_epochs, 1)
        return self.lr * 0.5 * (1 + math.cos(math.pi * min((progress - self.warmup_epochs) / span, 1.0)))

    def to_dict(self) -> dict:
        return asdict(self)


def fit_attentive(train_tokens: torch.Tensor, train_ef: np.ndarray, val_tokens: torch.Tensor,
                  val_ef: np.ndarray, seed: int, cfg: ProbeTraining = ProbeTraining(),
                  device: str | torch.device = "cpu") -> tuple[ProbeHead, dict]:
    """Train an attentive probe on tokens (n, N, D) (any float dtype, kept on the CPU) with EF (n,) in %;
    the weights of the epoch with the lowest val MAE are kept. -> (probe in eval mode, info)"""
    torch.manual_seed(seed)
    y = torch.as_tensor(np.asarray(train_ef), dtype=torch.float32)
    dim = train_tokens.shape[-1]
    probe = ProbeHead(dim, probe_heads(dim, cfg.heads), ef_mean=y.mean().item(), ef_std=y.std().item()).to(device)
    opt = torch.optim.AdamW(probe.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    order = torch.Generator().manual_seed(seed)
    best = (math.inf, -1, None)
    steps = -(-len(y) // cfg.batch)
    for epoch in range(cfg.max_epochs):
        probe.train()
        for step, idx in enumerate(torch.randperm(len(y), generator=order).split(cfg.batch)):
            for group in opt.param_groups:
                group["lr"] = cfg.lr_at(epoch + step / steps)
            x = train_tokens[idx].to(device).float()                      # (b, N, D)
            loss = F.huber_loss(probe(x), probe.to_z(y[idx].to(device)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        probe.eval()
        val_mae = float(np.abs(predict_tokens(probe, val_tokens) - val_ef).mean())
        if val_mae < best[0]:
            best = (val_mae, epoch, {k: v.detach().clone() for k, v in probe.state_dict().items()})
        elif epoch - best[1] >= cfg.patience:
            break
    probe.load_state_dict(best[2])
    probe.eval()
    val = regression_metrics(predict_tokens(probe, val_tokens), val_ef)
    return probe, {"seed": seed, "epochs": epoch + 1, "best_epoch": best[1] + 1, "val": val}


def fit_linear(train_pooled: torch.Tensor, train_ef: np.ndarray, val_pooled: torch.Tensor, val_ef: np.ndarray,
               alphas: tuple[float, ...] = tuple(np.logspace(-4, 2, 13))) -> tuple[LinearProbe, dict]:
    """Ridge on standardised pooled features (n, P); the penalty (alphas x the mean squared singular
    value) with the lowest val MAE is kept. One SVD serves every penalty. -> (probe, info)"""
    x = train_pooled.double()
    y = torch.as_tensor(np.asarray(train_ef), dtype=torch.float64)
    probe = LinearProbe(x.shape[1], ef_mean=y.mean().item(), ef_std=y.std().item())
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    xs, z = (x - mean) / std, (y - y.mean()) / y.std()
    u, s, vh = torch.linalg.svd(xs, full_matrices=False)                 # (n, r), (r,), (r, P)
    uz = u.T @ z                                                          # (r,)
    xv = (val_pooled.double() - mean) / std
    scale = float((s ** 2).mean())
    best = (math.inf, None, None)
    for alpha in alphas:
        w = vh.T @ (s / (s ** 2 + alpha * scale) * uz)                    # (P,)
        mae = float(np.abs((xv @ w * y.std() + y.mean()).numpy() - val_ef).mean())
        if mae < best[0]:
            best = (mae, float(alpha), w)
    probe.feat_mean.copy_(mean.float())
    probe.feat_std.copy_(std.float())
    probe.weight.copy_(best[2].float())
    val = regression_metrics(predict_tokens(probe, val_pooled), val_ef)
    return probe.eval(), {"alpha": best[1], "val": val}
