"""Phantom speed and realism, as a table: clips/s on one core and the image statistics of its frames.

    python bench/phantom_speed.py [--clips 40]

Targets (from real apical 4-chamber clips resized to 112 px): >= 10 clips/s for 32-frame 112x112
clips on one core; 25-50% of the fan near-black (< 30/255); speckle grain (autocorrelation
half-width) 4-5 px lateral and 4-7 px axial; bright tissue correlating 0.80-0.87 frame to frame.
"""
import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, before numpy and scipy load
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

from echo.anatomy import WALLS  # noqa: E402
from echo.image_stats import frame_correlation, near_black_fraction, speckle_grain  # noqa: E402
from echo.phantom import render_clip  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=40)
    args = ap.parse_args()
    render_clip(0)  # warm-up
    rows = []
    for population in ("adult", "pediatric"):
        start = time.perf_counter()
        clips = [render_clip(s, population, n_frames=32, fps=50) for s in range(args.clips)]
        rate = args.clips / (time.perf_counter() - start)
        black = np.mean([near_black_fraction(c.frames) for c in clips])
        lateral, axial = np.mean([speckle_grain(c.frames) for c in clips], axis=0)
        corr = np.mean([frame_correlation(c.frames, np.isin(c.truth.labels, WALLS)) for c in clips])
        rows.append((population, rate, black, lateral, axial, corr))
    print("| population | clips/s (1 core, 32x112x112) | near-black share of fan | grain lateral px | grain axial px | wall frame-to-frame corr (50 fps) |")
    print("|---|---|---|---|---|---|")
    for pop, rate, black, lat, ax, corr in rows:
        print(f"| {pop} | {rate:.1f} | {black:.1%} | {lat:.1f} | {ax:.1f} | {corr:.2f} |")
    print("| target (real A4C) | >= 10 | 25-50% | 4-5 | 4-7 | 0.80-0.87 |")


if __name__ == "__main__":
    main()
