"""The output folder of a headless run (`python app.py analyze|audit ... --out DIR`, `python -m model_zoo.evaluate
--out DIR`; here, below both, so neither imports the other's layer for it): made if missing,
refused with a message if it or a parent is a file, and cleared of the files an earlier run of the same
kind wrote there (by exact name), so one folder never holds two clips' outputs side by side. Other files,
a checkpoint or a clip among them, are left alone. staged_output writes a run's files beside them first, so an
earlier run's stay whole until the new set is complete."""
from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl                                    # POSIX: the staging folders' locks
except ImportError:                                 # Windows: no folder is ever taken for a dead run's
    fcntl = None


def check_output_folder(out: Path) -> Path:
    """`out` as it can be made, checked without making it: refused where it or a parent is a file or a link to
    nothing, or where its nearest existing folder takes no new entry (read-only, not ours: found by making and
    removing one, as permission bits do not tell root or a read-only mount), before any work rather than at the
    first write. Every refusal is a ValueError naming the folder (a path too long or not ours to look into too)."""
    out = Path(out)
    try:
        for p in (out, *out.parents):
            if p.is_symlink() and not p.exists():
                where = "The output folder" if p == out else "A parent of the output folder,"
                raise ValueError(f"{where} '{p}' is a link to '{os.readlink(p)}', which does not exist.")
            if p.exists():
                if not p.is_dir():
                    where = f"The output folder '{out}'" if p == out else f"'{p}', a parent of the output folder,"
                    raise ValueError(f"{where} is a file, not a folder.")
                os.rmdir(tempfile.mkdtemp(prefix=".write-check-", dir=p))
                break
    except OSError as e:
        where = "" if p == out else f" (it would be made in '{p}')"
        raise ValueError(f"The output folder '{out}' cannot be written{where}: {e.strerror}. "
                         "Choose another folder.") from None
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
    _remove(out, previous)
    return out


def _remove(out: Path, previous: tuple[str, ...]) -> None:
    """The files an earlier run wrote into `out` (by exact name), where present; other files stay."""
    for name in previous:
        if (out / name).is_file():
            (out / name).unlink()


@contextmanager
def staged_output(out: Path, previous: tuple[str, ...] = ()) -> Iterator[Path]:
    """A hidden folder inside `out` to write a run's files into. When the block ends, the earlier run's files
    (`previous`) are removed and the new ones moved in, a rename each; on an error or Ctrl-C the hidden folder goes
    and the earlier run's files stay whole (writing a report's videos takes seconds: a stop then had left part of
    the new set and none of the old). The run holds a lock in its folder while it writes, where the file system
    gives one, so a folder left by a run killed outright (SIGKILL, out of memory), which cannot remove its own, is
    removed by the next run (_stale)."""
    out = output_folder(out)
    for left in (*out.glob(f"{STAGE_PREFIX}*"), *out.glob(".partial-*")):
        if _stale(left):
            shutil.rmtree(left, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=out))
    lock = None
    try:
        lock = open(stage / LOCK, "w")
        if fcntl:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:              # no locks here (NFSv3 without a lock manager): only the tidying goes
                pass
        yield stage
        _remove(out, previous)                            # the earlier run's files go only now
        for f in sorted(stage.iterdir()):
            if f.name != LOCK:
                os.replace(f, out / f.name)
    finally:
        if lock is not None:
            lock.close()
        shutil.rmtree(stage, ignore_errors=True)


STAGE_PREFIX = ".echolens-partial-"   # a run's staging folder in `out`; an older version's: '.partial-' + 8 characters
LOCK = ".lock"               # held (flock) by the run writing into a staging folder
FRESH_S = 60                 # a staging folder this young may be one whose run has yet to take its lock


def _stale(folder: Path) -> bool:
    """Whether a staging folder is a dead run's: untouched for over FRESH_S and its lock free (a lock is seen from
    another process namespace, a container or, on NFS, a host sharing the folder, where a process id is not) or
    absent (an older version's, or a run killed before it took one). Only EchoLens's names: STAGE_PREFIX, or an older
    version's '.partial-' and mkdtemp's 8 characters. Never on a system without flock (no fcntl)."""
    legacy = re.fullmatch(r"\.partial-[a-z0-9_]{8}", folder.name)
    if fcntl is None or not folder.is_dir() or not (folder.name.startswith(STAGE_PREFIX) or legacy):
        return False
    try:
        if time.time() - folder.stat().st_mtime <= FRESH_S:
            return False
        with open(folder / LOCK) as lock:      # shared: a read-only descriptor may take it (NFS emulates flock)
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return True
    except FileNotFoundError:
        return True
    except OSError:                                        # held: a run is writing there
        return False
