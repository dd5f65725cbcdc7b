"""EF probes on a frozen encoder: an attentive probe over all tokens and a ridge probe on pooled tokens.

The attentive probe is V-JEPA's AttentivePooler with one query and one cross-attention block,
then a linear head (AttentiveClassifier): the query attends over layer-normed tokens, the result
goes through the block's residual MLP, and the head reads EF. EF targets are z-scored with the mean
and std of the training split, kept in the probe so it predicts EF in % on its own.

With a single query, q . (W_k x_n) = (W_k^T q) . x_n and sum_n a_n W_v x_n = W_v sum_n a_n x_n, so
keys and values are never computed per token: a forward pass costs O(N D heads) instead of
O(N D^2), which makes training on pre-extracted tokens cheap. The function is exactly standard
multi-head cross-attention over LayerNorm(tokens): the key bias and the norm's shift only add a
constant per head to the scores, which softmax removes (so there is no key bias), and the norm's
scale and shift are applied to the query side and the attended values, so no gradient the size
of the tokens is ever formed.

The evaluation's beat view (BeatProbe) is the same head reading each token beside its change over the
beat (model_zoo.probe_inputs.BeatInputs), with its input statistics kept as buffers.

Probes are saved beside their encoder as probe.safetensors + probe.json (the beat view as
beat_probe.safetensors + beat_probe.json) and loaded safely.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from model_zoo.checkpoint import read_json
from model_zoo.convert.safety import read_safetensors
from model_zoo.probe_inputs import BeatInputs, Standardise

PROBE = "probe"                      # file stem of the attentive probe beside an encoder
BEAT_PROBE = "beat_probe"            # file stem of the beat view's probe
KIND = {PROBE: "attentive", BEAT_PROBE: "beat"}
PROBE_WEIGHTS, PROBE_CARD = f"{PROBE}.safetensors", f"{PROBE}.json"
BEAT_PROBE_WEIGHTS, BEAT_PROBE_CARD = f"{BEAT_PROBE}.safetensors", f"{BEAT_PROBE}.json"


def probe_heads(dim: int, most: int = 4) -> int:
    """The most attention heads, at most `most`, that split dim evenly."""
    return max(h for h in range(1, most + 1) if dim % h == 0)


class ProbeHead(nn.Module):
    """Attentive EF probe: tokens (B, N, D) -> z-scored EF (B,); `ef` gives EF in %, `attention` the
    query's attention over tokens (B, N), the a_probe that reads out attention rollout."""

    def __init__(self, dim: int, heads: int = 4, mlp_ratio: float = 4.0, ef_mean: float = 0.0,
                 ef_std: float = 1.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"{heads} heads do not split {dim} dimensions evenly")
        self.dim, self.heads, self.head_dim, self.mlp_ratio = dim, heads, dim // heads, mlp_ratio
        self.query = nn.Parameter(torch.zeros(1, dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.norm_tokens = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.norm_query = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.head = nn.Linear(dim, 1)
        self.register_buffer("ef_mean", torch.tensor(float(ef_mean)))
        self.register_buffer("ef_std", torch.tensor(float(ef_std)))

    def config(self) -> dict:
        return {"dim": self.dim, "heads": self.heads, "mlp_ratio": self.mlp_ratio}

    def to_z(self, ef: torch.Tensor) -> torch.Tensor:
        return (ef - self.ef_mean) / self.ef_std

    def from_z(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.ef_std + self.ef_mean

    def _attend(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (per-head values (B, H, D) weighted by attention, attention (B, H, N))."""
        norm = self.norm_tokens
        x = F.layer_norm(tokens.to(self.query.dtype), (self.dim,), eps=norm.eps)  # (B, N, D), affine folded below
        q = self.q(self.query).view(self.heads, self.head_dim)                     # (H, dh)
        u = torch.einsum("hd,hdc->hc", q, self.k.weight.view(self.heads, self.head_dim, self.dim))  # (H, D)
        a = (torch.einsum("bnc,hc->bhn", x, u * norm.weight) / math.sqrt(self.head_dim)).softmax(-1)  # (B, H, N)
        pooled = torch.einsum("bhn,bnc->bhc", a, x) * norm.weight + norm.bias      # (B, H, D) = sum_n a_n LN(x_n)
        return pooled, a

    def attention(self, tokens: torch.Tensor) -> torch.Tensor:
        """Query attention over tokens, mean over heads; each row sums to 1. (B, N, D) -> (B, N)"""
        return self._attend(tokens)[1].mean(1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> z-scored EF (B,)"""
        pooled, _ = self._attend(tokens)                                           # (B, H, D)
        wv = self.v.weight.view(self.heads, self.head_dim, self.dim)               # (H, dh, D)
        values = torch.einsum("bhc,hdc->bhd", pooled, wv) + self.v.bias.view(self.heads, self.head_dim)
        h = self.query + self.proj(values.flatten(1))                              # (B, D)
        h = h + self.mlp(self.norm_query(h))
        return self.head(h).squeeze(-1)

    def ef(self, tokens: torch.Tensor) -> torch.Tensor:
        """EF in %. (B, N, D) -> (B,)"""
        return self.from_z(self(tokens))


class BeatProbe(nn.Module):
    """The beat view as one module: tokens (B, N, D) -> BeatInputs (B, N, 2D) -> attentive probe -> EF.
    Trained as the evaluation trains it (the head on the inputs' output), so it predicts from tokens alone."""

    def __init__(self, inputs: BeatInputs, head: ProbeHead):
        super().__init__()
        self.inputs, self.head = inputs, head

    @property
    def ef_mean(self) -> torch.Tensor:
        """The head's training-split EF mean (its device is the probe's)."""
        return self.head.ef_mean

    @property
    def ef_std(self) -> torch.Tensor:
        return self.head.ef_std

    def config(self) -> dict:
        return {**self.head.config(), "t_slots": self.inputs.t_slots}

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> z-scored EF (B,)"""
        return self.head(self.inputs(tokens))                                      # (B, N, 2D) in

    def ef(self, tokens: torch.Tensor) -> torch.Tensor:
        """EF in %. (B, N, D) -> (B,)"""
        return self.head.from_z(self(tokens))


class LinearProbe(nn.Module):
    """Ridge regression on pooled features (B, P) -> z-scored EF (B,); features standardised with the
    training split's mean and std (so centred z needs no intercept)."""

    def __init__(self, dim: int, ef_mean: float = 0.0, ef_std: float = 1.0):
        super().__init__()
        self.dim = dim
        self.register_buffer("feat_mean", torch.zeros(dim))
        self.register_buffer("feat_std", torch.ones(dim))
        self.register_buffer("weight", torch.zeros(dim))
        self.register_buffer("ef_mean", torch.tensor(float(ef_mean)))
        self.register_buffer("ef_std", torch.tensor(float(ef_std)))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return ((pooled.float() - self.feat_mean) / self.feat_std) @ self.weight

    def ef(self, pooled: torch.Tensor) -> torch.Tensor:
        return self(pooled) * self.ef_std + self.ef_mean


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


@torch.no_grad()
def predict_tokens(probe: nn.Module, features: torch.Tensor, batch: int = 256) -> np.ndarray:
    """EF % for stored features (n, N, D) or (n, P), in batches, on the probe's device."""
    device = next(probe.buffers()).device
    return torch.cat([probe.ef(features[i:i + batch].to(device).float()).cpu()
                      for i in range(0, len(features), batch)]).numpy()


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


def probe_files(model_dir: str | Path, stem: str = PROBE) -> tuple[Path, Path]:
    """(weights, card) of the probe saved under `stem` (PROBE or BEAT_PROBE) beside an encoder."""
    if stem not in KIND:
        raise ValueError(f"unknown probe {stem!r}; known: {', '.join(KIND)}")
    return Path(model_dir) / f"{stem}.safetensors", Path(model_dir) / f"{stem}.json"


def save_probe(probe: ProbeHead | BeatProbe, model_dir: str | Path, meta: dict, stem: str = PROBE) -> Path:
    """Write <stem>.safetensors and <stem>.json (kind, dim, heads, mlp_ratio, ef_mean, ef_std, for a
    BeatProbe t_slots, + meta) into model_dir; stem PROBE takes a ProbeHead, BEAT_PROBE a BeatProbe."""
    kind = "beat" if isinstance(probe, BeatProbe) else "attentive"
    if KIND.get(stem) != kind:
        raise ValueError(f"a {kind} probe cannot be saved as {stem!r}")
    weights, card_path = probe_files(model_dir, stem)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in probe.state_dict().items()}
    save_file(state, str(weights))
    card = {"kind": kind, **probe.config(), "ef_mean": probe.ef_mean.item(), "ef_std": probe.ef_std.item(), **meta}
    card_path.write_text(json.dumps(card, indent=1))
    return card_path


def load_probe(model_dir: str | Path, device: str | torch.device = "cpu", stem: str = PROBE) -> ProbeHead | BeatProbe:
    """The probe saved beside an encoder under `stem`, in eval mode, its card in `.meta`: PROBE gives the
    attentive probe (a ProbeHead), BEAT_PROBE the beat view's (a BeatProbe); a card of another kind is refused."""
    weights, card_path = probe_files(model_dir, stem)
    meta = read_json(card_path, required=("kind", "dim", "heads", "mlp_ratio"))
    if meta.get("kind") != KIND[stem]:
        raise ValueError(f"{card_path}: unsupported probe kind {meta.get('kind')!r} (expected {KIND[stem]!r})")
    probe = ProbeHead(meta["dim"], meta["heads"], meta["mlp_ratio"])
    if stem == BEAT_PROBE:
        if not meta.get("t_slots") or meta["dim"] % 2:
            raise ValueError(f"{card_path}: a beat probe needs t_slots and an even dim")
        width = meta["dim"]                                   # 2D: each token beside its change
        probe = BeatProbe(BeatInputs(meta["t_slots"], Standardise(torch.zeros(width), torch.ones(width))), probe)
    probe.load_state_dict(read_safetensors(weights))
    probe.meta = meta
    return probe.to(device).eval()


@torch.no_grad()
def predict_ef(wrapper, probe: ProbeHead | BeatProbe, x: torch.Tensor) -> torch.Tensor:
    """EF in % from model input clips x (B, T, C, H, W) through the frozen encoder. -> (B,)"""
    tokens = wrapper.tokens(x)                                            # (B, N, D)
    return probe.ef(tokens.to(probe.ef_mean.device))
