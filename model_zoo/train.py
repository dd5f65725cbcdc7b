"""Pretrain a JEPA or an MAE on phantom clips: same recipe, data, batch, steps and seed for both.

    python -m model_zoo.train --method jepa|mae --recipe small --out runs/jepa-small [--resume]
        [--steps N] [--stop-after N] [--snapshots 0,250,500] [--device cuda|mps|cpu] [--threads N] [--workers N]

A run folder holds state.pt (resume: model, EMA, optimiser, step, RNG, history; never shipped)
and model/ (the HF folder + card.json, refreshed at every checkpoint, and for a finished JEPA trained on
centred targets target_mean.safetensors; `python -m model_zoo.ship` copies it to model_zoo/checkpoints/<name>).
With --snapshots, the model as it stood after each listed step (0: at initialisation) is also kept, in
snapshots/step_NNNNNN/, a model folder of its own named <name>-stepN (no target mean: only the finished run
gets one), so pretraining can be stopped where a val probe peaks (model_zoo.experiments.layer_probe).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from torch import nn
from tqdm import tqdm

from model_zoo.checkpoint import TARGET_MEAN, export, save_state
from model_zoo.convert.safety import load_tensors
from model_zoo.data import ClipSource, ToInput, data_card, make_loader
from model_zoo.device import code_commit, pick_device
from model_zoo.jepa import JEPA
from model_zoo.mae import MAE
from model_zoo.optim import lr_at, make_optimizer, peak_lr, set_lr
from model_zoo.recipes import RECIPES, Recipe, field_value, get_recipe
from model_zoo.registry import architecture
from model_zoo.target_mean import fit_target_mean

METHODS = {"jepa": JEPA, "mae": MAE}
CURVE_POINTS = 200
COLLAPSE_STD = 0.01      # mean per-dimension std below this = collapsed


def mask_generator(seed: int, step: int) -> torch.Generator:
    """The masks of a step depend on (seed, step) only, so a resumed run draws the same ones."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def masks_to(masks, device: torch.device):
    if isinstance(masks, torch.Tensor):
        return masks.to(device)
    return [(c.to(device), t.to(device)) for c, t in masks]


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, masks,
               step: int, total: int) -> tuple[float, dict[str, float]]:
    """One optimiser step on batch x (B, [views,] T, C, H, W); `step` is 0-based. -> (loss, stats)"""
    amp = x.device.type == "cuda"
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        loss, stats = model.loss(x, masks)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    model.after_step(step + 1, total)
    return loss.item(), stats


def _curve(values: list[float]) -> list[list[float]]:
    """At most CURVE_POINTS [last step, mean] pairs, averaging consecutive steps."""
    if not values:
        return []
    edges = np.linspace(0, len(values), min(len(values), CURVE_POINTS) + 1).astype(int)
    return [[int(b), round(float(np.mean(values[a:b])), 5)] for a, b in zip(edges[:-1], edges[1:])]


def run_name(method: str, recipe: Recipe) -> str:
    """'<method>-<recipe>', plus '-seed<N>' when the run's seed is not its named recipe's: two pretraining
    seeds of one recipe get names of their own, so they can be evaluated and compared side by side."""
    named = RECIPES.get(recipe.name)
    return f"{method}-{recipe.name}" + (f"-seed{recipe.seed}" if named and recipe.seed != named.seed else "")


def make_card(method: str, recipe: Recipe, model: nn.Module, step: int, history: dict, wall: float,
              commit: str | None = None) -> dict:
    card = {
        "name": run_name(method, recipe), "method": method, "recipe": recipe.name,
        "recipe_settings": recipe.to_dict(), "architecture": architecture(model.net.config.to_dict()),
        "params_shipped": sum(p.numel() for p in model.net.parameters()),
        "data": {**data_card(recipe), "samples_seen": step * recipe.batch},
        "steps": step, "planned_steps": recipe.steps, "wall_time_s": round(wall, 1), "seed": recipe.seed,
        "peak_lr": peak_lr(method, recipe), "loss_curve": _curve(history["loss"]),
        "commit": commit, "torch": torch.__version__, "transformers": transformers.__version__,
        "collapse_check": None, "results": {},
    }
    if method == "jepa" and history["token_std"]:
        card["collapse_check"] = {
            "what": "per-dimension std of target-encoder embeddings over the batch, mean over dimensions",
            "token_std_curve": _curve(history["token_std"]), "clip_std_curve": _curve(history["clip_std"]),
            "final_token_std": history["token_std"][-1], "final_clip_std": history["clip_std"][-1],
            "threshold": COLLAPSE_STD, "collapsed": history["token_std"][-1] < COLLAPSE_STD,
        }
        if history.get("var_hinge"):
            card["collapse_check"]["var_hinge_curve"] = _curve(history["var_hinge"])
        if history.get("invariance"):
            card["invariance_curve"] = _curve(history["invariance"])
    return card


def snapshot_folder(out: str | Path, step: int) -> Path:
    """Where a run keeps the model as it stood after `step` steps."""
    return Path(out) / "snapshots" / f"step_{step:06d}"


def _resumable_settings(recipe: Recipe) -> dict:
    """The recipe's fields a resumed run must keep (all but its length and how it is run)."""
    return {k: v for k, v in recipe.to_dict().items() if k not in ("steps", "workers", "ckpt_every")}


def train(method: str, recipe: Recipe, out: str | Path, *, resume: bool = False, stop_after: int | None = None,
          device: str | None = None, workers: int | None = None, clip_source: ClipSource | None = None,
          to_input: ToInput | None = None, progress: bool = True, snapshots: tuple[int, ...] = ()) -> dict:
    """Train `method` with `recipe` into run folder `out` until recipe.steps (or stop_after); -> card.
    `snapshots`: steps after which the model is also kept in snapshot_folder(out, step)."""
    bad = [s for s in snapshots if not 0 <= s <= recipe.steps]
    if bad:
        raise ValueError(f"snapshot steps {bad} are outside the run's 0..{recipe.steps} steps")
    out = Path(out)
    dev = pick_device(device)
    torch.manual_seed(recipe.seed)
    model = METHODS[method](recipe).to(dev)
    optimizer = make_optimizer(model.trainable(), recipe)
    start, wall, commit = 0, 0.0, code_commit()     # the code the run started from, kept across resumes
    history: dict[str, list[float]] = {"loss": [], "token_std": [], "clip_std": []}
    state_path = out / "state.pt"
    if resume and state_path.exists():
        state = load_tensors(state_path)
        if state["method"] != method or state["recipe"] != recipe.name:
            raise ValueError(f"{state_path} is a {state['method']}/{state['recipe']} run, not {method}/{recipe.name}")
        now = _resumable_settings(recipe)
        # a field added to Recipe after the run started: the run trained with its default
        saved = {**_resumable_settings(Recipe(name=recipe.name)), **state["settings"]} if "settings" in state else now
        changed = [k for k, v in now.items() if saved.get(k) != v]
        if changed:
            raise ValueError(f"{state_path} was trained with other settings ({', '.join(changed)}); "
                             "resume it with the ones it started with")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        start, wall, history = state["step"], state["wall_time_s"], state["history"]
        commit = state.get("commit", commit)
    end = min(recipe.steps, stop_after or recipe.steps)
    peak = peak_lr(method, recipe)

    def checkpoint(step: int) -> dict:
        card = make_card(method, recipe, model, step, history, wall, commit)
        save_state(state_path, {"method": method, "recipe": recipe.name, "step": step, "wall_time_s": wall,
                                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                "torch_rng": torch.get_rng_state(), "history": history, "commit": commit,
                                "settings": _resumable_settings(recipe)})
        export(model, out / "model", card)
        return card

    def snapshot(step: int) -> None:
        card = make_card(method, recipe, model, step, history, wall, commit)
        export(model, snapshot_folder(out, step), {**card, "name": f"{card['name']}-step{step}"})

    card = make_card(method, recipe, model, start, history, wall, commit)
    if start == 0 and 0 in snapshots:
        snapshot(0)
    if start >= end:
        _finish(method, recipe, out, end, clip_source, to_input)
        return card
    model.train()
    batches = iter(make_loader(recipe, start, workers, clip_source, to_input, model.views))
    bar = tqdm(total=end, initial=start, desc=f"{method}/{recipe.name}", unit="step",
               disable=not progress, dynamic_ncols=True)
    run_start, wall_before = time.perf_counter(), wall
    for step in range(start, end):
        t0 = time.perf_counter()
        x = next(batches).to(dev, non_blocking=True)                    # (B, [views,] T, C, H, W)
        masks = masks_to(model.sample_masks(x.shape[0], mask_generator(recipe.seed, step)), dev)
        set_lr(optimizer, lr_at(step, peak, recipe))
        loss, stats = train_step(model, optimizer, x, masks, step, recipe.steps)
        dt = time.perf_counter() - t0
        wall = wall_before + time.perf_counter() - run_start
        history["loss"].append(loss)
        for k, v in stats.items():
            history.setdefault(k, []).append(v)
        bar.set_postfix({"loss": f"{loss:.4f}", **{k: f"{v:.3f}" for k, v in stats.items()},
                         "clips/s": f"{x.shape[0] / dt:.1f}"})
        bar.update(1)
        if step + 1 in snapshots:
            snapshot(step + 1)
        if (step + 1) % recipe.ckpt_every == 0 or step + 1 == end:
            card = checkpoint(step + 1)
    bar.close()
    _finish(method, recipe, out, end, clip_source, to_input)
    return card


def _finish(method: str, recipe: Recipe, out: Path, end: int, clip_source: ClipSource | None,
            to_input: ToInput | None) -> None:
    """A finished centred JEPA's folder gets the mean target its predictions are around (each export
    removes it: it belongs to the weights it was measured on)."""
    if method == "jepa" and recipe.jepa_center_targets and end == recipe.steps \
            and not (out / "model" / TARGET_MEAN).exists():
        fit_target_mean(out / "model", clip_source=clip_source, to_input=to_input)


def parse_overrides(pairs: list[str], ap: argparse.ArgumentParser) -> dict:
    """FIELD=VALUE strings -> recipe overrides; values are JSON (lists become tuples), else strings."""
    fields = {f.name for f in dataclasses.fields(Recipe)} - {"name"}
    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or key not in fields:
            ap.error(f"--set wants FIELD=VALUE with FIELD one of: {', '.join(sorted(fields))}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = field_value(value)
    return out


def _steps(text: str) -> tuple[int, ...]:
    """'0,250,500' -> (0, 250, 500), for --snapshots."""
    try:
        return tuple(sorted({int(s) for s in text.split(",") if s.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--snapshots wants comma-separated step numbers, not {text!r}") from None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.train", description=__doc__.split("\n")[0])
    ap.add_argument("--method", choices=sorted(METHODS), required=True)
    ap.add_argument("--recipe", choices=sorted(RECIPES), default="small")
    ap.add_argument("--out", required=True, help="run folder: state.pt and model/")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/state.pt if present")
    ap.add_argument("--steps", type=int, help="total steps (overrides the recipe; sets the schedule)")
    ap.add_argument("--stop-after", type=int, help="stop (checkpointed) after this step; resume later")
    ap.add_argument("--snapshots", type=_steps, default=(), metavar="S1,S2,...",
                    help="also keep the model after each of these steps (0: at initialisation) in OUT/snapshots/")
    ap.add_argument("--device", help="cuda, mps or cpu (default: the first available)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (e.g. 1 per run when running two)")
    ap.add_argument("--workers", type=int, help="data loader worker processes (default: the recipe's)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a recipe field (JSON value), e.g. --set mae_blr=1.5e-4; repeatable")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = parse_overrides(args.set, ap)
    if args.steps:
        overrides["steps"] = args.steps
    recipe = get_recipe(args.recipe, **overrides)
    card = train(args.method, recipe, args.out, resume=args.resume, stop_after=args.stop_after,
                 device=args.device, workers=args.workers, snapshots=args.snapshots)
    print(f"{card['name']}: {card['steps']} steps, {card['wall_time_s']} s, "
          f"final loss {card['loss_curve'][-1][1] if card['loss_curve'] else float('nan')}, "
          f"model folder {Path(args.out) / 'model'}", file=sys.stderr)


if __name__ == "__main__":
    main()
