"""How far apart a JEPA's target encoder keeps clips: per-dimension std over a batch of each clip's mean
token (tokens layer-normed without a gain; model_zoo.jepa.clip_spread via collapse_stats, what the variance term
`jepa_var_weight` acts on), beside the spread of tokens across clips at each position and over all tokens.

Measured on 2 training batches of 16 two-acquisition clips (the targets' view), drawn as the top3 recipe
draws them, the same clips for every model; an untrained encoder of the recipe's shape is the first row.

    python -m model_zoo.experiments.clip_spread --models top3=runs/jepa_jitter_top3/model,... --out FILE.json
"""
from __future__ import annotations

import json

import torch
import torch.nn.functional as F

from model_zoo.checkpoint import load_nets
from model_zoo.data import PhantomBatches
from model_zoo.experiments.named_folders import parse_named_folders
from model_zoo.jepa import JEPA, collapse_stats, target_view
from model_zoo.recipes import get_recipe

RECIPE = "small_centered_frozen_patch_jitter_top3"


@torch.no_grad()
def spreads(encoder, batches: list[torch.Tensor]) -> dict[str, float]:
    """Mean over batches of: clip spread, token spread across clips at each position, token spread."""
    rows = []
    for x in batches:
        z = F.layer_norm(encoder(x).last_hidden_state, (encoder.config.hidden_size,))   # (B, N, D)
        stats = collapse_stats(z)
        rows.append((stats["clip_std"], (z - z.mean(0, keepdim=True)).flatten(0, 1).std(0).mean().item(),
                     stats["token_std"]))
    keys = ("clip_spread", "position_spread", "token_spread")
    return {k: round(sum(v) / len(v), 4) for k, v in zip(keys, zip(*rows))}


def main(argv: list[str] | None = None) -> None:
    folders, out_file, threads = parse_named_folders(__doc__, argv)
    torch.set_num_threads(threads)
    recipe = get_recipe(RECIPE)
    data = PhantomBatches(recipe, 0, None, None, 2)
    batches = [target_view(data.batch(b)) for b in range(2)]                # 2 x (16, T, C, H, W)
    torch.manual_seed(0)
    out = {"untrained": spreads(JEPA(recipe).net.encoder, batches)}
    for name, folder in folders.items():
        out[name] = spreads(load_nets(folder)[1].encoder, batches)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
