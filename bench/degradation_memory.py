"""Peak memory and time of a view that degrades a large clip, with its degraded copies made four ways: at the sector
crop's full size; shrunk to the working copy (at most twice the models' input side) after the whole clip was cropped;
cropped and shrunk a frame at a time, every frame; and so, only the frames up to the last one the models' views read
(explain.analysis.degradation.working_copy given the clean clip's beat, as the views do now). `--view ef`:
the EF under every named degradation (what `analyze` and the audit run per clip); `--view cycle`: the cardiac-cycle
view's trajectories clean and under a strong shadow. `--colour`: an RGB clip (as most scanners' exports decode), not
grey. Each run is a fresh process, so its peak resident memory is its own. The cycle view's copy keeps every frame
(its trajectories span the clip), so it is timed three ways.

    python bench/degradation_memory.py [--view ef|cycle] [--frames 200] [--side 1024] [--colour] [--threads 1]

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
from echo.preprocess import crop_to_sector
from explain.analysis import cycle, degradation
from explain.analysis.pair import load_pair
frames, side, threads, mode, view, colour = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
                                             sys.argv[5], sys.argv[6] == "colour")
torch.set_num_threads(threads)
small = render_clip(6, "adult", n_frames=frames, size=128, fps=50)
k = side // 128
big = np.repeat(np.repeat(small.frames, k, axis=1), k, axis=2)      # (T, side, side)
clip = dataclasses.replace(small, frames=np.repeat(big[..., None], 3, axis=-1) if colour else big,
                           truth=dataclasses.replace(small.truth, labels=None, clean=None))
del big
pair = load_pair()
real = degradation.working_copy
def full_size(clip, models, sector=None, beat=None):             # the copies at the crop's own size
    return crop_to_sector(clip, sector)
def shrunk_after_crop(clip, models, sector=None, beat=None):     # shrunk after the whole clip was cropped
    return real(crop_to_sector(clip, sector), models)
def every_frame(clip, models, sector=None, beat=None):           # a frame at a time, every frame of the clip
    return real(clip, models, sector)
made = {"full": full_size, "after": shrunk_after_crop, "whole": every_frame}
degradation.working_copy = cycle.working_copy = made.get(mode, real)
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
    ap.add_argument("--colour", action="store_true", help="an RGB clip, not grey")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    what = "every named degradation" if args.view == "ef" else "the cardiac cycle, clean and shadow_high"
    channels = 3 if args.colour else 1
    print(f"{args.frames} frames x {args.side} px, {'RGB' if args.colour else 'grey'} "
          f"({args.frames * args.side ** 2 * channels / 2 ** 20:.0f} MiB), {what}, the shipped pair, "
          f"{args.threads} thread(s)\n")
    print("| copies made at | seconds | peak memory (GiB) |\n|---|---|---|")
    modes = [("full", "the crop's own size"),
             ("after", "at most twice the models' side, shrunk after the whole clip was cropped"),
             ("whole", "at most twice the models' side, cropped and shrunk a frame at a time, every frame"),
             ("working", "the same, only the frames up to the last one the models read (the views now)")]
    if args.view == "cycle":         # the trajectories span the clip: its copy keeps every frame, 'whole' is the view
        modes = modes[:2] + [("working", modes[2][1] + " (the view now)")]
    for mode, words in modes:
        out = subprocess.run([sys.executable, "-c", RUN, str(args.frames), str(args.side), str(args.threads), mode,
                              args.view, "colour" if args.colour else "grey"],
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
