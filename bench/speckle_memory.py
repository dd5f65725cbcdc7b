"""Peak memory of the speckle degradation (echo.degrade's 'speckle' at full strength) against the clip it degrades,
traced by tracemalloc in this one process: the extra speckle drew its noise for the whole clip at once, float64,
about six times the clip's float32 working frames beside them; a frame at a time it holds its envelope and the result.

    python bench/speckle_memory.py [--frames 100 300] [--side 240]

Prints a table.
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))             # `python bench/...` from anywhere, as the README gives it

import numpy as np

from echo.degrade import DEGRADATIONS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, nargs="+", default=[100, 300])
    ap.add_argument("--side", type=int, default=240)
    args = ap.parse_args()
    print("| frames | side | float32 frames (MiB) | peak beside them (MiB) | peak / frames | seconds |")
    print("|---|---|---|---|---|---|")
    for n in args.frames:
        f = np.random.default_rng(0).uniform(0, 255, (n, args.side, args.side)).astype(np.float32)   # (T, H, W)
        tracemalloc.start()
        start = time.perf_counter()
        out = DEGRADATIONS["speckle"](f, 1.0, np.random.default_rng(0))
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del out
        mib = 2 ** 20
        print(f"| {n} | {args.side} | {f.nbytes / mib:.0f} | {peak / mib:.0f} | {peak / f.nbytes:.2f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
