"""Peak memory and time of a view that degrades a large clip, with its degraded copies made at full size against
the working copy (explain.analysis.degradation.working_copy, at most twice the models' input side): `--view ef`, the
EF under every named degradation (what `analyze` and the audit run per clip), or `--view cycle`, the cardiac-cycle
view's trajectories clean and under a strong shadow. Each run is a fresh process, so its peak resident memory is its
own.

    python bench/degradation_memory.py [--view ef|cycle] [--frames 200] [--side 1024] [--threads 1]

Prints a table.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUN = """
import dataclasses, resource, sys, time
import numpy as np
import torch
from echo.degrade import CONDITIONS
from echo.phantom import render_clip
from explain.analysis import cycle, degradation
from explain.analysis.pair import load_pair
frames, side, threads, full, view = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "full", sys.argv[5]
torch.set_num_threads(threads)
small = render_clip(6, "adult", n_frames=frames, size=128, fps=50)
k = side // 128
clip = dataclasses.replace(small, frames=np.repeat(np.repeat(small.frames, k, axis=1), k, axis=2),
                           truth=dataclasses.replace(small.truth, labels=None, clean=None))
pair = load_pair()
if full:                                                            # the copies at the crop's own size
    degradation.working_copy = cycle.working_copy = lambda cropped, models: cropped
start = time.perf_counter()
if view == "ef":
    degradation.condition_ef_views(pair, clip, tuple(CONDITIONS))
else:
    cycle.cycle(pair, clip, condition="shadow_high")
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20)
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--view", choices=("ef", "cycle"), default="ef")
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--side", type=int, default=1024, help="pixels (a multiple of 128)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    what = "every named degradation" if args.view == "ef" else "the cardiac cycle, clean and shadow_high"
    print(f"{args.frames} frames x {args.side} px ({args.frames * args.side ** 2 / 2 ** 20:.0f} MiB), {what}, "
          f"the shipped pair, {args.threads} thread(s)\n")
    print("| copies made at | seconds | peak memory (GiB) |\n|---|---|---|")
    for mode, words in (("full", "the crop's own size"), ("working", "at most twice the models' side")):
        out = subprocess.run([sys.executable, "-c", RUN, str(args.frames), str(args.side), str(args.threads), mode,
                              args.view],
                             cwd=ROOT, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT),
                                                                             "PATH": "/usr/bin:/bin"})
        if out.returncode:
            print(f"| {words} | failed: {out.stderr.strip().splitlines()[-1]} | |")
            continue
        seconds, peak = map(float, out.stdout.split())
        print(f"| {words} | {seconds:.0f} | {peak:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
