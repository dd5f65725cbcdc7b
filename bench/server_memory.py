"""How much memory the app holds as a server: one process calls the page's own event functions (app.events, as
the page's buttons do, without the HTTP layer) for S page sessions that each load K large clips and run the
views on every one (EF, attention rollout, a degradation, the cardiac cycle), so the clip store and the result
cache (app/session.py: 2 GiB each at most) fill as a group's would. Prints a table: resident memory after each
stage, the process's peak, and what the two stores hold.

    python bench/server_memory.py [--sessions 4] [--clips 4] [--frames 300] [--side 768] [--threads 2]
        [--format npy|avi|avi-colour]

For sizing a machine: the peak is what one server needs beside the operating system; Gradio's upload folder and
the media folder live on disk, not in memory.
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GIB = 1 << 30


def resident() -> float:
    """This process's resident memory now, GiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / GIB
    raise RuntimeError("no VmRSS in /proc/self/status (not Linux?)")


def peak() -> float:
    """The process's peak resident memory so far, GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def large_clip(folder: Path, frames: int, side: int, fmt: str) -> Path:
    """A phantom beat repeated to `frames` frames of side x side px, saved in `folder` as NPY, as an MJPEG AVI
    (EchoNet's format: decoded frame by frame on upload) or as one with colour in it ('avi-colour': a colour-flow
    box, red and blue, over the septum of every frame, as a colour Doppler export has). Run in a child process
    (`made_apart`), so the frames it builds never count in this process's peak."""
    from echo.phantom import render_clip
    from echo.writers import write_avi
    small = render_clip(6, "adult", n_frames=min(frames, 64), size=128, fps=50)
    k = -(-side // 128)
    big = np.repeat(np.repeat(small.frames, k, axis=1), k, axis=2)[:, :side, :side]
    big = np.resize(big, (frames, side, side))                              # (T, side, side) uint8
    if fmt == "npy":
        np.save(folder / "large.npy", big)
        return folder / "large.npy"
    if fmt == "avi-colour":
        big = np.repeat(big[..., None], 3, axis=-1)                         # (T, side, side, 3)
        across = slice(side * 3 // 8, side * 5 // 8)
        big[:, side // 4:side * 3 // 8, across, 0] = 200                      # flow towards the probe: red
        big[:, side * 3 // 8:side // 2, across, 2] = 200                      # ... and away from it: blue
    return write_avi(folder / "large.avi", big, 50.0)


def made_apart(folder: Path, frames: int, side: int, fmt: str) -> Path:
    """large_clip in a fresh child process: its memory is the child's (ru_maxrss of RUSAGE_SELF leaves it out)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(large_clip, folder, frames, side, fmt).result()


# the views run on every clip, as the page's buttons run them
VIEWS = {"EF": lambda ev, key, state: list(ev.on_predict(key, state)),     # a generator (app.errors.clears_on_error)
         "attention rollout": lambda ev, key, state: ev.on_attention(key, state, "rollout", "mean", 0.0, 0, "probe", -1,
                                                                     "received", 16, "2 x 2", 0),
         "shadow 0.6": lambda ev, key, state: ev.on_degrade(key, state, "shadow", 0.6),
         "cardiac cycle": lambda ev, key, state: ev.on_cycle(key, state, "pca", 2, "none")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--clips", type=int, default=4, help="clips each session loads")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--side", type=int, default=768)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--format", choices=("npy", "avi", "avi-colour"), default="npy", help="the clips' file format")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []

    def stage(what: str) -> None:
        from app import session
        rows.append((what, resident(), peak(), session._clips.bytes / GIB, session._results.bytes / GIB))
        print(f"{what}: {rows[-1][1]:.2f} GiB", file=sys.stderr, flush=True)

    stage("Python and torch imported")
    from app import events
    from app.layout import build
    build()
    stage("the page built (Gradio, every module)")
    state, refused = events.NO_MODELS, {}
    first = events.on_example("adult_normal", request=SimpleNamespace(session_hash="warm-up"))[0]
    list(events.on_predict(first, state))
    stage("the shipped pair loaded, one example's EF")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = made_apart(Path(tmp), args.frames, args.side, args.format)
        size = args.frames * args.side ** 2 * (3 if args.format == "avi-colour" else 1) / GIB   # decoded (RGB kept)
        for s in range(args.sessions):
            user = SimpleNamespace(session_hash=f"user{s}")
            for k in range(args.clips):
                key = events.on_upload(str(path), request=user)[0]
                if s == k == 0:                        # a clip's decoding and preprocessing, before any view
                    stage(f"the first large clip loaded ({args.format.upper()}, {size:.2f} GiB of frames), no view run")
                for view, run in VIEWS.items():
                    try:
                        run(events, key, state)
                    except gr.Error as e:              # refused as the page refuses it (e.g. over the CPU budget)
                        refused[view] = " ".join(str(e).split())
            stage(f"{s + 1} session(s) x {args.clips} clips of {args.frames} x {args.side} x {args.side} "
                  f"({size:.2f} GiB each), every view run")
    took = time.perf_counter() - start

    print(f"\n`python bench/server_memory.py --sessions {args.sessions} --clips {args.clips} --frames {args.frames} "
          f"--side {args.side} --threads {args.threads} --format {args.format}` ({took:.0f} s for the sessions)\n")
    print("| stage | resident GiB | peak so far GiB | clip store GiB | result cache GiB |")
    print("|---|---|---|---|---|")
    for what, now, top, clips, results in rows:
        print(f"| {what} | {now:.2f} | {top:.2f} | {clips:.2f} | {results:.2f} |")
    for view, why in refused.items():
        print(f"\nnot run ({view}), as the page refuses it: {why}")


if __name__ == "__main__":
    main()
