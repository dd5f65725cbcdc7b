"""python -m model_zoo.evaluate --out DIR [--quick] [--models a,b] [--n-train N --n-val N --n-test N
[--n-pediatric N]] [--probe-seeds 3] [--seed 0] [--threads N] [--device cpu|cuda|mps] [--ship | --confirm]

Evaluates the given models (default: every shipped one) plus a random encoder and raw pixels, writes
DIR/results.json and DIR/results.md; --ship also saves each shipped model's probes (the attentive
probe and the beat view's, each its best seed on val) and card results, and copies results.json to
model_zoo/results.json; it needs the full protocol (not --quick, the default sizes or more, 3 probe seeds or
more). --confirm reports on the confirmation splits instead of test and pediatric: hearts no other run reads
(echo.phantom.seeds), for a recipe chosen by comparisons on the test split.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

import torch

from echo.outputs import output_argument
from model_zoo.device import pick_device
from model_zoo.evaluate.protocol import DEFAULT_SIZES, PROBE_SEEDS, QUICK_SIZES
from model_zoo.evaluate.run import evaluate, resolve_models
from model_zoo.evaluate.ship import ship, write_results
from model_zoo.registry import list_models


def at_least_one(text: str) -> int:
    """A count flag's value (clips, probe seeds, threads) for argparse's type=: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number of at least 1")
    return value


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m model_zoo.evaluate", description=__doc__.split("\n\n")[1])
    ap.add_argument("--out", required=True, type=output_argument, help="folder for results.json and results.md")
    ap.add_argument("--quick", action="store_true",
                    help=f"small run: {QUICK_SIZES.train}/{QUICK_SIZES.val} train/val clips, "
                         f"{QUICK_SIZES.test} a condition")
    ap.add_argument("--models", help="comma-separated shipped folder names, registry names or folder paths "
                                     "(default: every shipped model)")
    for split in ("train", "val", "test", "pediatric"):
        ap.add_argument(f"--n-{split}", type=at_least_one, dest=split,
                        help=f"clips in the {split} split (default {getattr(DEFAULT_SIZES, split)})")
    ap.add_argument("--probe-seeds", type=at_least_one, default=PROBE_SEEDS,
                    help="attentive probes per model (seed, seed+1, ...)")
    ap.add_argument("--seed", type=int, default=0, help="first probe seed and the random encoder's seed")
    ap.add_argument("--threads", type=at_least_one, help="torch CPU threads (float rounding differs with the count, and "
                    "probes near the floor follow it; results.json records it)")
    ap.add_argument("--device", help="cuda, mps or cpu (default: the first available)")
    ap.add_argument("--ship", action="store_true",
                    help="save shipped models' probes (attentive and beat view) and card results, copy results.json to model_zoo/")
    ap.add_argument("--confirm", action="store_true",
                    help="report on hearts no other run reads (the confirmation splits), not the test split every "
                         "recipe is compared on; not with --ship")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    sizes = dataclasses.replace(sizes, **{s: getattr(args, s) for s in ("train", "val", "test", "pediatric")
                                          if getattr(args, s) is not None})
    small = [f"{s} {getattr(sizes, s)} < {getattr(DEFAULT_SIZES, s)}" for s in ("train", "val", "test", "pediatric")
             if getattr(sizes, s) < getattr(DEFAULT_SIZES, s)]
    if args.probe_seeds < PROBE_SEEDS:
        small.append(f"probe seeds {args.probe_seeds} < {PROBE_SEEDS}")
    if args.quick:                   # recorded in results.json, and its results.md says it is no evidence
        small.append("--quick")
    if args.ship and small:          # the shipped probes, cards and model_zoo/results.json are the full protocol's
        ap.error(f"--ship replaces the shipped probes, card results and model_zoo/results.json, so it needs the full "
                 f"protocol; this run is smaller ({', '.join(small)}): drop --ship, or --quick and the --n-* sizes")
    if args.ship and args.confirm:
        ap.error("--ship saves the test split's numbers with the shipped probes; a --confirm run is not shipped")
    models = args.models.split(",") if args.models else [m["name"] for m in list_models()]
    if not models:
        ap.error("no shipped models in model_zoo/checkpoints; name some with --models")
    try:                             # named now, not in a traceback once the models or the run are under way
        pick_device(args.device)
        resolve_models(models)
    except (ValueError, OSError) as e:
        ap.error(str(e))
    ev = evaluate(models, sizes, args.probe_seeds, args.seed, device=args.device, progress=not args.no_progress,
                  held_out="confirm" if args.confirm else "test")
    ev.results.update(quick=args.quick, command=" ".join(["python -m model_zoo.evaluate", *(argv or sys.argv[1:])]))
    path = write_results(ev, args.out)
    print(f"{path} and results.md: {', '.join(ev.results['models'])}; n {ev.results['n']['clean']} a condition, "
          f"{ev.results['wall_s']['total']} s", file=sys.stderr)
    if args.ship:
        folders = ship(ev, path)
        print(f"shipped probes and card results: {', '.join(map(str, folders)) or 'none (no shipped model)'}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
