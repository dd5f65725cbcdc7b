"""Which input regions each pretraining objective depends on: the JEPA latent loss (L1 between the
predictor's guess and the target embeddings of hidden tokens, built as in training:
EncoderWrapper.latent_targets) and the MAE pixel loss
(norm-pix MSE on hidden tubelets), attributed to the input by gradient x (input - black).

Masks come from the model's own generators (the card's recipe settings, else the default recipe),
drawn from `seed`, and the attribution is averaged over `n_masks` draws. A few draws do not steady it: two
seeds' maps of the shipped MAE at 2 draws correlate at 0.15 (at 8: 0.67; the JEPA's at 2: 0.83), so
info['draw_agreement'] gives the correlation r of the token maps of the first and second halves of the draws, and
info['reliability'] the whole map's, 2r / (1 + r) (Spearman-Brown: the average of both halves is steadier than
either; on adult_normal at 2 draws JEPA 0.59, MAE 0.17, near the two seeds' agreement); a map whose reliability is
below TRUSTED_AGREEMENT is called unreliable where it is shown. Both the visible part (what the model predicts
from) and the hidden part (what it must predict: JEPA's targets come from the target encoder, MAE's from the pixels)
carry gradient; info['hidden_share'] says how much of the attribution falls on hidden tokens, beside
info['hidden_area'], the share of tokens hidden (about 90% for both shipped models: an even map's share).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from explain.attribution.baseline import black_like
from explain.maps import grid_of_wrapper, pixels_to_tokens
from model_zoo.jepa import encode_context, predict, sample_jepa_masks
from model_zoo.mae import pixel_targets
from model_zoo.masks import gather_tokens, tube_masks
from model_zoo.recipes import recipe_from_card


def jepa_loss_fn(wrapper, generator: torch.Generator, batch: int):
    """(loss function x -> scalar, hidden mask (B, N) bool) for one draw of multi-block masks."""
    pairs = sample_jepa_masks(recipe_from_card(wrapper.card), wrapper.grid, batch, generator)
    pairs = pairs[:wrapper.net.config.pred_num_mask_tokens]       # a converted predictor with fewer mask tokens
    context_encoder = wrapper.context_encoder or wrapper.net.encoder
    hidden = torch.zeros(batch, int(torch.tensor(wrapper.grid).prod()), dtype=torch.bool)
    for _, tgt in pairs:
        hidden.scatter_(1, tgt, True)

    def loss(x: torch.Tensor) -> torch.Tensor:
        targets = wrapper.latent_targets(x)                                       # (B, N, D), as trained
        losses = []
        for k, (ctx, tgt) in enumerate(pairs):
            ctx, tgt = ctx.to(x.device), tgt.to(x.device)
            pred = predict(wrapper.net.predictor, encode_context(context_encoder, x, ctx), ctx, tgt, mask_index=k)
            losses.append((pred - gather_tokens(targets, tgt)).abs().mean())    # (B, Kt, D) -> scalar
        return torch.stack(losses).mean()
    return loss, hidden


def mae_loss_fn(wrapper, generator: torch.Generator, batch: int):
    """(loss function x -> scalar, hidden mask (B, N) bool) for one draw of tube masks.

    VideoMAEForPreTraining's loss, but with its pixel targets kept in the graph (transformers builds
    them under no_grad), so the hidden tubelets the loss asks for get their share of attribution."""
    if wrapper.net is wrapper.encoder or not hasattr(wrapper.net, "decoder"):
        raise ValueError(f"{wrapper.name or 'this model'} has no MAE decoder: its pixel loss cannot be attributed.")
    c = wrapper.net.config
    ratio = recipe_from_card(wrapper.card).mae_mask_ratio
    mask = tube_masks(batch, wrapper.grid, ratio, generator)                      # (B, N) True = hidden

    def loss(x: torch.Tensor) -> torch.Tensor:
        m = mask.to(x.device)
        logits = wrapper.net(x, bool_masked_pos=m).logits                         # (B, Nm, P * C)
        return F.mse_loss(logits, pixel_targets(c, wrapper.seen(x), m))            # targets as trained
    return loss, mask


def pretext_attribution(wrapper, x: torch.Tensor, n_masks: int = 2, seed: int = 0) -> tuple[torch.Tensor, dict]:
    """Gradient x (x - black) of the family's pretraining loss, averaged over n_masks mask draws.
    -> (attribution (B, T, C, H, W), info {'objective', 'loss', 'hidden_share'})."""
    if wrapper.family not in ("jepa", "mae"):
        raise ValueError(f"No pretraining objective known for family {wrapper.family!r}.")
    if n_masks < 1:
        raise ValueError(f"n_masks must be >= 1; got {n_masks}.")
    make = jepa_loss_fn if wrapper.family == "jepa" else mae_loss_fn
    grid, tubelet, patch = grid_of_wrapper(wrapper)
    x = x.to(wrapper.device)
    delta = x - black_like(x)
    gen = torch.Generator().manual_seed(seed)
    total, losses, hidden_mass, mass, area, draws = torch.zeros_like(x), [], 0.0, 0.0, 0.0, []
    for _ in range(n_masks):
        loss_fn, hidden = make(wrapper, gen, x.shape[0])
        xi = x.detach().clone().requires_grad_(True)
        loss = loss_fn(xi)
        (grad,) = torch.autograd.grad(loss, xi)
        attr = grad * delta                                                       # (B, T, C, H, W)
        tokens = pixels_to_tokens(attr, grid, tubelet, patch).cpu()               # (B, N)
        hidden_mass += float(tokens[hidden].sum())
        mass += float(tokens.sum())
        area += float(hidden.float().mean())
        draws.append(tokens.flatten())
        total += attr.detach()
        losses.append(float(loss.detach()))
    objective = "JEPA latent L1 loss" if wrapper.family == "jepa" else "MAE norm-pix MSE loss"
    info = {"objective": objective, "loss": sum(losses) / n_masks, "n_masks": n_masks,
            "hidden_share": hidden_mass / mass if mass > 0 else 0.0, "hidden_area": area / n_masks}
    if n_masks >= 2:                                 # split-half: does another set of draws give the same map?
        half = n_masks // 2
        first, second = torch.stack(draws[:half]).mean(0), torch.stack(draws[half:2 * half]).mean(0)
        r = float(torch.corrcoef(torch.stack([first, second]))[0, 1].nan_to_num(0.0))
        info.update(draw_agreement=r, reliability=2 * r / (1 + r) if r > -1 else -1.0)
    return total / n_masks, info
