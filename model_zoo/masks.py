"""Token masks for pretraining: VideoMAE tube masks and V-JEPA multi-block masks.

Tokens are ordered t' * H'W' + h * W' + w over a (T', H', W') grid. Both mask families choose
*spatial* positions and repeat them over every time slot, so a hidden tubelet cannot be copied
from the same place in a neighbouring time slot. All randomness comes from a torch.Generator, so a
run's masks are fixed by its seed and step.
"""
from __future__ import annotations

import math

import torch


# config keys of the clip's (frames, size) by family: the one spelling of the two families' names
CLIP_KEYS = {"jepa": ("frames_per_clip", "crop_size"), "mae": ("num_frames", "image_size")}


def clip_shape(config) -> tuple[int | None, int | None]:
    """(frames, size) of the clips a V-JEPA 2 or VideoMAE config takes (CLIP_KEYS), from the config object or its
    dict (config.json); a size given as (H, W) gives H; None for a key the config lacks."""
    get = config.get if isinstance(config, dict) else lambda key: getattr(config, key, None)
    frames, size = (get(k) for k in CLIP_KEYS["jepa" if get("frames_per_clip") is not None else "mae"])
    return frames, size if size is None or isinstance(size, int) else size[0]


def grid_of(config) -> tuple[int, int, int]:
    """(T', H', W') tokens a V-JEPA 2 or VideoMAE config cuts its input into (clip_shape)."""
    frames, size = clip_shape(config)
    patch = config.patch_size if isinstance(config.patch_size, int) else config.patch_size[0]
    return frames // config.tubelet_size, size // patch, size // patch


def _tubes(spatial: torch.Tensor, t_slots: int, hw: int) -> torch.Tensor:
    """Token indices of the given spatial positions in every time slot, sorted. (S,) -> (T' * S,)"""
    idx = spatial.sort().values[None, :] + hw * torch.arange(t_slots)[:, None]  # (T', S)
    return idx.flatten()


def tube_masks(batch: int, grid: tuple[int, int, int], ratio: float,
               generator: torch.Generator) -> torch.Tensor:
    """VideoMAE tube masking: (B, N) bool, True = hidden; int(ratio * H'W') positions per sample."""
    t, h, w = grid
    n_hidden = int(ratio * h * w)
    masks = torch.zeros(batch, t, h * w, dtype=torch.bool)
    for b in range(batch):
        masks[b, :, torch.randperm(h * w, generator=generator)[:n_hidden]] = True
    return masks.flatten(1)


def _block_size(scale: float, aspect: tuple[float, float], h: int, w: int,
                generator: torch.Generator) -> tuple[int, int]:
    """V-JEPA's block size: about scale * H'W' positions, aspect drawn in range, at most (H'-1, W'-1)."""
    ar = aspect[0] + torch.rand(1, generator=generator).item() * (aspect[1] - aspect[0])
    keep = int(h * w * scale)
    bh = min(max(int(round(math.sqrt(keep * ar))), 1), max(h - 1, 1))
    bw = min(max(int(round(math.sqrt(keep / ar))), 1), max(w - 1, 1))
    return bh, bw


def multiblock_masks(batch: int, grid: tuple[int, int, int], specs: tuple[tuple[int, float], ...],
                     aspect: tuple[float, float], generator: torch.Generator,
                     min_context: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """V-JEPA multi-block masks: one (context, target) pair of index tensors per (n_blocks, scale) spec.

    Per spec the block size is drawn once per batch (as V-JEPA's collator does); each sample places
    n_blocks blocks at random, each spanning all time slots. Target = union of the blocks, context =
    its complement (resampled until it keeps at least min_context positions). Counts are made equal
    across the batch by dropping random whole tubes, as V-JEPA truncates to the batch minimum.
    Returns [(context (B, T' * Sc), target (B, T' * St)), ...], indices sorted per row.
    """
    t, h, w = grid
    pairs = []
    for n_blocks, scale in specs:
        bh, bw = _block_size(scale, aspect, h, w, generator)
        contexts, targets = [], []
        for _ in range(batch):
            while True:
                hidden = torch.zeros(h, w, dtype=torch.bool)
                for _ in range(n_blocks):
                    top = torch.randint(0, h - bh + 1, (1,), generator=generator).item()
                    left = torch.randint(0, w - bw + 1, (1,), generator=generator).item()
                    hidden[top:top + bh, left:left + bw] = True
                if (~hidden).sum() >= min(min_context, h * w - 1):
                    break
            targets.append(hidden.flatten().nonzero()[:, 0])
            contexts.append((~hidden).flatten().nonzero()[:, 0])
        n_ctx = min(len(c) for c in contexts)
        n_tgt = min(len(s) for s in targets)

        def keep(spatial: torch.Tensor, n: int) -> torch.Tensor:
            return _tubes(spatial[torch.randperm(len(spatial), generator=generator)[:n]], t, h * w)

        pairs.append((torch.stack([keep(c, n_ctx) for c in contexts]),   # (B, T' * Sc)
                      torch.stack([keep(s, n_tgt) for s in targets])))   # (B, T' * St)
    return pairs


def time_span_masks(batch: int, grid: tuple[int, int, int], span: float,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide a contiguous span of whole time slots (every spatial position), so the hidden tokens can
    only be predicted from how the heart moves before and after them, not copied from the same place
    in a neighbouring slot. Span length round(span * T') (at least 1, at most T' - 1), drawn once per
    batch; its start drawn per sample. Returns (context (B, (T' - L) * H'W'), target (B, L * H'W')).
    """
    t, h, w = grid
    if t < 2:
        raise ValueError("time-span masks need at least two time slots")
    length = min(max(int(round(span * t)), 1), t - 1)
    slots = torch.arange(t * h * w).view(t, h * w)
    contexts, targets = [], []
    for _ in range(batch):
        start = torch.randint(0, t - length + 1, (1,), generator=generator).item()
        hidden = torch.zeros(t, dtype=torch.bool)
        hidden[start:start + length] = True
        targets.append(slots[hidden].flatten())
        contexts.append(slots[~hidden].flatten())
    return torch.stack(contexts), torch.stack(targets)


def gather_tokens(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of x at the given token indices. (B, N, D), (B, K) -> (B, K, D)"""
    return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def as_indices(mask: torch.Tensor, batch: int) -> torch.Tensor:
    """Token indices from a bool mask (N,) or (B, N) (True = selected) or pass indices through. -> (B, K)

    Every row of a bool mask must select the same number of tokens.
    """
    if mask.dtype != torch.bool:
        return mask.long().expand(batch, -1) if mask.ndim == 1 else mask.long()
    mask = mask.expand(batch, -1) if mask.ndim == 1 else mask
    counts = mask.sum(1)
    if not bool((counts == counts[0]).all()):
        raise ValueError("every clip in the batch must have the same number of selected tokens")
    return mask.nonzero()[:, 1].view(batch, -1)
