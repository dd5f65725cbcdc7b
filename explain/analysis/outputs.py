"""The output folder of a headless run (`python app.py analyze|audit ... --out DIR`): made if missing,
refused with a message if it or a parent is a file, and cleared of the files an earlier run of the same
kind wrote there (by exact name), so one folder never holds two clips' outputs side by side. Other files,
a checkpoint or a clip among them, are left alone. staged_output writes a run's files beside them first, so an
earlier run's stay whole until the new set is complete."""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def check_output_folder(out: Path) -> Path:
    """`out` as it can be made, checked without making it: refused where it or a parent is a file, or where its
    nearest existing folder takes no new entry (read-only, not ours: found by making and removing one, as
    permission bits do not tell root or a read-only mount), before any work rather than at the first write."""
    out = Path(out)
    for p in (out, *out.parents):
        if p.exists():
            if not p.is_dir():
                where = f"The output folder '{out}'" if p == out else f"'{p}', a parent of the output folder,"
                raise ValueError(f"{where} is a file, not a folder.")
            try:
                os.rmdir(tempfile.mkdtemp(prefix=".write-check-", dir=p))
            except OSError as e:
                where = "" if p == out else f" (it would be made in '{p}')"
                raise ValueError(f"The output folder '{out}' cannot be written{where}: {e.strerror}. "
                                 "Choose another folder.") from None
            break
    return out


def output_argument(text: str) -> Path:
    """An --out flag's value for argparse's type=, checked as check_output_folder does before anything is loaded;
    an empty one is refused (Path('') is the working directory: a script's unset variable wrote a report there)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name an output folder")
    try:
        return check_output_folder(Path(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def output_folder(out: Path, previous: tuple[str, ...] = ()) -> Path:
    """`out`, made ready; previous: the names of the files an earlier run wrote (removed where present)."""
    out = check_output_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in previous:
        if (out / name).is_file():
            (out / name).unlink()
    return out


@contextmanager
def staged_output(out: Path, previous: tuple[str, ...] = ()) -> Iterator[Path]:
    """A hidden folder inside `out` to write a run's files into. When the block ends, the earlier run's files
    (`previous`) are removed and the new ones moved in, a rename each; on an error or Ctrl-C the hidden folder goes
    and the earlier run's files stay whole (writing a report's videos takes seconds: a stop then had left part of
    the new set and none of the old). The hidden folder is named by this process's id, so a run killed outright
    (SIGKILL, out of memory), which cannot remove its own, has its folder removed by the next run into `out`."""
    out = output_folder(out)
    for left in out.glob(".partial-*-*"):                # a killed run's (SIGKILL, out of memory): its process is gone
        pid = left.name.split("-")[1]
        if left.is_dir() and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(left, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=f".partial-{os.getpid()}-", dir=out))
    try:
        yield stage
        output_folder(out, previous)                      # the earlier run's files go only now
        for f in sorted(stage.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether process `pid` may still run here: signal 0 checks without sending one (POSIX only: on Windows
    signal 0 is CTRL_C_EVENT, so every process counts as running there and no folder is removed)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except PermissionError:                          # another user's process
        return True
    except (ProcessLookupError, OverflowError):      # gone, or a number no process has
        return False
    return True
