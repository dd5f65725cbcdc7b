"""How a lossy video codec moves the fan box and the shipped models' EF: phantom test clips rendered losslessly,
then written and read back as EchoLens writes them (MJPEG AVI, EchoNet's format; H.264 MP4), each read with the
lossless clip's beat so only the pixels differ. Ringing around the fan's edges flickers, and the fan finder counts a
flickering dim band as fan (echo.preprocess: a far field darkened at depth), so the box can grow by a few pixels,
and the probes read where the heart sits (README, the crop check).

    python bench/codec_crop.py [--clips 40] [--threads 1]

Prints a table.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))             # `python bench/...` from anywhere, as the README gives it

import numpy as np
import torch

from echo.phantom import render_clip
from echo.preprocess import find_sector
from echo.readers import read_clip
from echo.writers import write_avi, write_mp4
from explain.analysis.pair import load_pair
from explain.analysis.predict import predict
from model_zoo.features import split_seeds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pair = load_pair()
    boxes = {"avi": [], "mp4": []}                       # (clips, 4) |box - lossless box| per side, px
    moves = {(codec, role, probe): [] for codec in boxes for role in pair for probe in ("ef", "ef_beat")}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in split_seeds("test", args.clips):
            clip = render_clip(seed, "adult", n_frames=64, size=112)
            clean = predict(pair, clip)
            beat = clean["jepa"].view.beat
            for codec, write in (("avi", write_avi), ("mp4", write_mp4)):
                coded = read_clip(write(Path(tmp) / f"c.{codec}", clip))
                boxes[codec].append(np.abs(np.subtract(find_sector(coded).bbox, find_sector(clip).bbox)))
                for role, p in predict(pair, coded, beat=beat).items():
                    for probe in ("ef", "ef_beat"):
                        moves[(codec, role, probe)].append(abs(getattr(p, probe) - getattr(clean[role], probe)))
    print(f"{args.clips} phantom test clips (adult, 64 frames of 112 px), each against its lossless original\n")
    print("| codec | fan boxes equal | mean box shift, px (top / left / bottom / right) | "
          + " | ".join(f"{pair[r].name} {'beat view' if p == 'ef_beat' else 'attentive'}: EF moves, mean / max"
                       for r in pair for p in ("ef", "ef_beat")) + " |")
    print("|---" * (3 + 2 * len(pair)) + "|")
    for codec, shifts in boxes.items():
        shifts = np.array(shifts)
        cells = [f"{np.mean(moves[(codec, r, p)]):.2f} / {np.max(moves[(codec, r, p)]):.2f}"
                 for r in pair for p in ("ef", "ef_beat")]
        print(f"| {codec} | {int((shifts.sum(1) == 0).sum())} / {len(shifts)} | "
              f"{' / '.join(f'{v:.2f}' for v in shifts.mean(0))} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
