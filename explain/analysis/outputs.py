"""The output folder of a headless run (`python app.py analyze|audit ... --out DIR`): made if missing,
refused with a message if it or a parent is a file, and cleared of the files an earlier run of the same
kind wrote there (by exact name), so one folder never holds two clips' outputs side by side. Other files,
a checkpoint or a clip among them, are left alone."""
from __future__ import annotations

from pathlib import Path


def check_output_folder(out: Path) -> Path:
    """`out` as it can be made, checked without making it: refused where it or a parent is a file."""
    out = Path(out)
    for p in (out, *out.parents):
        if p.exists():
            if not p.is_dir():
                where = f"The output folder '{out}'" if p == out else f"'{p}', a parent of the output folder,"
                raise ValueError(f"{where} is a file, not a folder.")
            break
    return out


def output_folder(out: Path, previous: tuple[str, ...] = ()) -> Path:
    """`out`, made ready; previous: the names of the files an earlier run wrote (removed where present)."""
    out = check_output_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in previous:
        if (out / name).is_file():
            (out / name).unlink()
    return out
