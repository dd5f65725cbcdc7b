"""How fast the app is on this machine: cold start to first page, first full analysis in a fresh
process, and warm full analysis of a 64-frame clip for both models with a per-stage breakdown.

    python bench/app_speed.py [--threads 2] [--runs 3]

Targets on the 2-core CPU (issue 8): cold start <= 15 s, warm full analysis <= 10 s. Prints a table.
"full analysis" = python app.py analyze without --quick: EF, 14 degraded copies, a severity sweep,
rollout + paper attention + integrated gradients + pretext attribution, trajectories, speckle ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cold_start(threads: int) -> float:
    """Seconds from `python app.py` to the first page served."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
                return time.perf_counter() - start
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("the app exited before serving")
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait()


ANALYSIS = """
import json, sys, time
t0 = time.perf_counter()
import torch
torch.set_num_threads({threads})
from echo.readers import read_clip
from explain.analysis.pair import load_pair
from explain.analysis.report import analyze
clip = read_clip(sys.argv[1])
pair = load_pair(device="cpu")
t1 = time.perf_counter()
first = analyze(clip, pair, sys.argv[2] + "/first")
t2 = time.perf_counter()
warm = []
for k in range({runs}):
    t = time.perf_counter()
    r = analyze(clip, pair, sys.argv[2] + f"/warm{{k}}")
    warm.append((time.perf_counter() - t, r["timings_s"]))
print(json.dumps({{"imports_and_load": t1 - t0, "first": t2 - t1, "first_stages": first["timings_s"], "warm": warm}}))
"""


def analysis_times(threads: int, runs: int) -> dict:
    from echo.phantom import render_clip
    from echo.writers import write_npz
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_npz(Path(tmp) / "clip64.npz", render_clip(7, "adult", n_frames=64, size=112, fps=50))
        out = subprocess.run([sys.executable, "-c", ANALYSIS.format(threads=threads, runs=runs), str(clip), tmp],
                             cwd=ROOT, capture_output=True, text=True, check=True,
                             env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3, help="warm analyses to time (the median is reported)")
    args = ap.parse_args()
    cold = cold_start(args.threads)
    t = analysis_times(args.threads, args.runs)
    warm_totals = sorted(w[0] for w in t["warm"])
    median = warm_totals[len(warm_totals) // 2]
    stages = min(t["warm"], key=lambda w: abs(w[0] - median))[1]
    print("| measure | seconds | target |\n|---|---|---|")
    print(f"| cold start to first page | {cold:.1f} | <= 15 |")
    print(f"| imports + loading the pair (fresh process) | {t['imports_and_load']:.1f} | |")
    print(f"| first full analysis, 64-frame clip, both models | {t['first']:.1f} | |")
    print(f"| warm full analysis (median of {args.runs}) | {median:.1f} | <= 10 |")
    for stage, s in stages.items():
        print(f"| - {stage} | {s:.2f} | |")
    print(f"\n(torch threads {args.threads}; {os.cpu_count()} CPUs; stage times from the warm run nearest the median)")


if __name__ == "__main__":
    main()
