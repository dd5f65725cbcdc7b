"""Where models run: the named device, else CUDA, then Apple MPS, then the CPU; and what the host and the
code's commit are, recorded beside measured numbers (float rounding, and so a chaotic probe's fit, follows the
CPU's kernels)."""
from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path

import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The named device (refused with a message if unknown or absent here), else the first available."""
    if device is not None:
        try:
            dev = torch.device(device)
        except RuntimeError:
            dev = None
        if dev is None or dev.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"Unknown device '{device}': use cuda, mps or cpu.")
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"Device '{device}' was asked for, but this torch has no CUDA device "
                             f"(torch {torch.__version__}); use cpu, or leave the device out.")
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"Device '{device}' was asked for, but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s), numbered from 0.")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"Device '{device}' was asked for, but Apple MPS is not available here; use cpu, "
                             "or leave the device out.")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def host() -> dict:
    """The machine a number was measured on: CPU model, the vector kernels torch dispatches to, cores, torch."""
    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.is_file():
        names = [line.split(":", 1)[1].strip() for line in info.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {"cpu": cpu, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cores": os.cpu_count(),
            "torch": torch.__version__}


@functools.lru_cache(maxsize=1)
def code_commit() -> str | None:
    """The repository's commit, with '-modified' where a tracked .py file differs from it (tests rewrite the
    screenshots: not the code); None outside this repository's own git checkout."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "--no-optional-locks", *args], cwd=root, capture_output=True, text=True,
                              timeout=10, check=check)
    try:
        if Path(git("rev-parse", "--show-toplevel").stdout.strip()).resolve() != root:
            return None                               # a copy inside some other repository: not our commit
        commit = git("rev-parse", "HEAD").stdout.strip()
        modified = git("diff", "--quiet", "HEAD", "--", "*.py", check=False).returncode != 0
        return commit + ("-modified" if modified else "")
    except (OSError, subprocess.SubprocessError):
        return None


def short_commit(commit: str | None) -> str:
    """A code_commit as a reader wants it: 12 hex, '-modified' kept; 'no git checkout' for None."""
    if commit is None:
        return "no git checkout"
    return commit[:12] + ("-modified" if commit.endswith("-modified") else "")
