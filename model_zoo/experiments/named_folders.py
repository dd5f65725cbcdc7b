"""The command line the model-folder experiments share: --models NAME=FOLDER,... --out FILE [--threads N]."""
from __future__ import annotations

import argparse
from pathlib import Path


def parse_named_folders(doc: str, argv: list[str] | None = None) -> tuple[dict[str, str], Path, int]:
    """Parse the shared arguments. -> ({name: folder}, output file, torch CPU threads)"""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--models", required=True, help="comma-separated NAME=FOLDER of model folders")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    pairs = [pair.split("=", 1) for pair in args.models.split(",")]
    if any(len(p) != 2 or not all(p) for p in pairs):
        ap.error(f"--models takes NAME=FOLDER pairs separated by commas; got {args.models!r}")
    return dict(pairs), args.out, args.threads
