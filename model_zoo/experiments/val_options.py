"""The command-line options the val-only probe diagnostics share (degraded_probe, layer_probe, probe_protocol,
shift_probe): the probe's train and val clip counts, the seed and the torch threads, in one place so their defaults
agree, and the threads they set."""
from __future__ import annotations

import argparse

import torch


def add_val_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--n-train", type=int, default=1000, help="phantom train clips the probes fit on")
    ap.add_argument("--n-val", type=int, default=250, help="phantom val clips they are scored on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own)")


def use_threads(args: argparse.Namespace) -> None:
    """torch's thread count from --threads, where given."""
    if args.threads:
        torch.set_num_threads(args.threads)
