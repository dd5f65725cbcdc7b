"""Shared fixtures: the shipped model pair (loaded once, on the CPU), two tiny trained checkpoints, and a
launched app."""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shipped_pair():
    from explain.analysis.pair import load_pair
    torch.set_num_threads(1)     # the CI machine has 2 cores; tests run beside other work
    return load_pair(device="cpu")


@pytest.fixture(scope="session")
def smoke_models(tmp_path_factory):
    """Two tiny pretrained checkpoints (4 steps of the smoke recipe), as the owner's are made: [jepa, mae] folders."""
    from model_zoo.recipes import get_recipe
    from model_zoo.train import train
    root = tmp_path_factory.mktemp("runs")
    for method in ("jepa", "mae"):
        train(method, get_recipe("smoke"), root / method, progress=False)
    return [str(root / "jepa" / "model"), str(root / "mae" / "model")]


@contextlib.contextmanager
def launched_app(log: Path, args: tuple[str, ...] = (), **env_vars: str):
    """`python app.py [args]` on a free port (env_vars added to its environment); yields (url, process); stopped
    with SIGTERM on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False", **env_vars}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 180
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the app did not start:\n{log.read_text()[-3000:]}")
                time.sleep(1)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """One app for the whole test session: (url, process, log path)."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with launched_app(log) as (url, proc):
        yield url, proc, log
