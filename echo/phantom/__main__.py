"""Write phantom clips in the EchoNet-Dynamic layout, so every command reads them like real data.

    python -m echo.phantom --n 100 --out data/phantom_adult [--population adult|pediatric] [--seed 0]

Clip i uses seed S + i; its split (TRAIN/VAL/TEST, about 75/12.5/12.5 as in EchoNet-Dynamic) is a
pure function of that seed, so a larger set extends a smaller one without reshuffling it.
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from echo.echonet import write_echonet
from echo.phantom.params import POPULATIONS
from echo.phantom.render import render_clip
from echo.phantom.seeds import used_for


def split_of(seed: int) -> str:
    """Deterministic split from the clip seed (Knuth's multiplicative hash spreads neighbours)."""
    bucket = (seed * 2654435761 % 2 ** 32) % 8
    return "TEST" if bucket == 0 else "VAL" if bucket == 1 else "TRAIN"


def clip_name(population: str, seed: int) -> str:
    return f"PH{population[0].upper()}{seed:07d}"


def _render(job: tuple[int, str, int, int]):
    seed, population, frames, size = job
    clip = render_clip(seed, population, n_frames=frames, size=size, fps=50.0)
    truth = clip.truth  # EchoNet traces one ED and one ES frame per video
    tracings = {k: truth.lv_tracings[k] for k in (truth.ed_frames[:1] + truth.es_frames[:1])}
    return clip_name(population, seed), clip, split_of(seed), tracings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m echo.phantom", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, required=True, help="number of clips")
    ap.add_argument("--out", required=True, help="output folder (EchoNet-Dynamic layout)")
    ap.add_argument("--population", choices=POPULATIONS, default="adult")
    ap.add_argument("--seed", type=int, default=0, help="seed of the first clip; clip i uses seed + i")
    ap.add_argument("--frames", type=int, default=96, help="frames per clip, at 50 fps (EchoNet's rate)")
    ap.add_argument("--size", type=int, default=112, help="frame size in pixels (EchoNet: 112)")
    ap.add_argument("--workers", type=int, default=1, help="processes rendering in parallel")
    args = ap.parse_args(argv)
    if args.n < 1 or args.frames < 2 or args.size < 16:
        ap.error("--n must be at least 1, --frames at least 2 and --size at least 16")
    jobs = [(args.seed + i, args.population, args.frames, args.size) for i in range(args.n)]
    seen = sorted({use for seed, population, *_ in jobs if (use := used_for(seed, population))})
    if seen:                                  # FileList.csv's Split is the clip's own, not the models'
        print(f"warning: seeds {args.seed}-{args.seed + args.n - 1} include hearts the shipped models' training or "
              f"evaluation already uses ({', '.join(seen)}; echo.phantom.seeds): these clips are not unseen, whatever "
              "FileList.csv's Split says. Seeds below 1,000,000 are unused.", file=sys.stderr)
    start = time.perf_counter()
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            write_echonet(args.out, pool.map(_render, jobs, chunksize=4))
    else:
        write_echonet(args.out, map(_render, jobs))
    print(f"wrote {args.n} {args.population} phantom clips to {args.out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
