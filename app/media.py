"""This process's files: one folder for the videos and images the app serves (media_dir), removed when the process
ends and kept under MAX_MEDIA_BYTES while serving (oldest entries first; a cached result naming a removed file is
recomputed: app.session.cached), and the folder Gradio keeps uploads and its copies in (gradio_cache_dir), from
which a refused upload is removed ten minutes after its refusal unless a session has read the same file since
(discard_upload). Folders of servers that were killed go when the next one starts (remove_orphan_media): only
folders holding the OWNER_FILE their server wrote, so a folder someone else named 'echolens-...' is never touched.
"""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

MAX_MEDIA_BYTES = 1 << 30      # the media folder is pruned back under this while serving
MIN_MEDIA_AGE_S = 600.0        # never prune an entry younger than this (it may be in flight)
PRUNE_EVERY_S = 60.0           # look at the folder at most this often (a scan stats every entry)
OWNER_FILE = ".echolens-owner"  # in each folder this process makes: '<pid> <process start time>'

_media_root: Path | None = None
_media_lock = threading.Lock()


def media_root() -> Path | None:
    """The media folder, or None before anything was served."""
    return _media_root


def media_dir() -> Path:
    """This process's folder for served media ('echolens-<pid>-...'), created on first use and removed at exit;
    creating it first removes the folders of EchoLens processes that are gone (killed before their exit
    handler ran), so a killed server's videos do not stay in the temporary folder for good."""
    global _media_root
    with _media_lock:
        if _media_root is None:
            remove_orphan_media(Path(tempfile.gettempdir()))
            _media_root = _own_folder(f"echolens-{os.getpid()}-", Path(tempfile.gettempdir()))
        return _media_root


def gradio_cache_dir() -> Path:
    """This process's own folder for Gradio's cache (uploads, its copies of the media served, its temporary files)
    inside the one Gradio would use (GRADIO_TEMP_DIR, else the temporary folder), removed at exit with everything
    in it: Gradio's own clean-up left the copies of served videos, empty files and folders. Folders of killed
    servers are removed first, as media_dir's are."""
    parent = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    remove_orphan_media(parent)
    return _own_folder(f"echolens-{os.getpid()}-gradio-", parent)


def _own_folder(prefix: str, parent: Path) -> Path:
    """A fresh folder in `parent`, marked as this process's (OWNER_FILE) and removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    atexit.register(shutil.rmtree, folder, True)
    (folder / OWNER_FILE).write_text(f"{os.getpid()} {_started(os.getpid())}")
    return folder


REFUSED_GRACE_S = 600.0      # a refused upload is removed this long after its refusal, unless read well since


_refused: dict[Path, tuple[float, int, int]] = {}   # refused upload -> (time.monotonic(), inode, mtime_ns) then
_refused_lock = threading.Lock()
log = logging.getLogger("echolens")


def _root() -> Path | None:
    """This server's Gradio folder (GRADIO_TEMP_DIR as app.cli sets it), resolved; None without one."""
    root = os.environ.get("GRADIO_TEMP_DIR")
    return Path(root).resolve() if root else None


def _own_upload(path: str | Path | None) -> Path | None:
    """The file, resolved, if it lies in this server's Gradio folder."""
    root = _root()
    if root is None or not path:
        return None
    file = Path(path).resolve()
    return file if file.is_relative_to(root) and file != root and file.is_file() else None


def _identity(file: Path) -> tuple[int, int] | None:
    """(inode, mtime_ns): Gradio moves each new upload onto its path, so a re-upload of the same bytes is a new file."""
    try:
        st = file.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def discard_upload(path: str | Path | None) -> bool:
    """Mark an upload the app could not read for removal, REFUSED_GRACE_S from now (remove_refused_uploads), with
    the folder Gradio made for it; returns whether it was marked. Not at once: Gradio keeps an upload at
    <its folder>/<hash of the content>/<name>, so another session uploading the same file (a class handed one
    file) shares the path, and its read may wait in the queue behind this refusal; a read that succeeds in time
    keeps the file (keep_upload), and a file Gradio has put there since (a re-upload) is not the one refused. A path
    outside this server's Gradio folder is never touched."""
    file = _own_upload(path)
    identity = _identity(file) if file is not None else None
    if identity is None:
        return False
    with _refused_lock:
        _refused[file] = (time.monotonic(), *identity)
    return True


def keep_upload(path: str | Path | None) -> None:
    """An upload a session has read (a clip, an audit's file): an earlier refusal of the same bytes no longer
    removes it. (A refusal after the read marks it again: removing it then takes it from the box that still shows it,
    whose clip is read already; an audit run again would name it missing.)"""
    if path:
        with _refused_lock:
            _refused.pop(Path(path).resolve(), None)


def remove_refused_uploads(now: float | None = None, grace_s: float | None = None) -> list[Path]:
    """Remove the uploads refused at least grace_s (REFUSED_GRACE_S) ago, not read since and not replaced by a
    re-upload, with their content-hash folders once empty; returns them. Runs when media_path prunes (at most once a
    minute) and on each refusal; a file it cannot remove is logged, never raised (it runs inside other events)."""
    now = time.monotonic() if now is None else now
    grace_s = REFUSED_GRACE_S if grace_s is None else grace_s
    with _refused_lock:
        due = [(f, tuple(mark[1:])) for f, mark in _refused.items() if now - mark[0] >= grace_s]
        for file, _ in due:
            del _refused[file]
    removed, root = [], _root()
    for file, identity in due:
        if _identity(file) != identity:          # gone, or a new upload of the same bytes since
            continue
        try:
            file.unlink()
            removed.append(file)
            if file.parent != root:
                file.parent.rmdir()               # Gradio's folder for it, named by its content
        except OSError as e:                      # its folder not empty (another name, same content): fine
            if file.exists():                     # the file itself stayed: said, not raised
                log.warning("a refused upload could not be removed: %s (%s)", file, e)
    return removed


def _alive(pid: int) -> bool:
    """Whether process `pid` runs; one we cannot judge (another user's, a pid out of range) counts as running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _started(pid: int) -> str:
    """When process `pid` started, in clock ticks since boot (/proc/<pid>/stat's 22nd field), or '?' where that
    cannot be read (no /proc): a pid the system gave to a newer process then has another start."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _gone(folder: Path) -> bool:
    """Whether `folder` is an EchoLens process's (its OWNER_FILE names the pid its name does) that no longer runs:
    the pid is gone, or now belongs to a process that started later."""
    try:
        pid, started = (folder / OWNER_FILE).read_text().split()
    except (OSError, ValueError):
        return False                                        # not ours: someone else's 'echolens-...' folder
    if not pid.isdigit() or folder.name.split("-")[1] != pid:
        return False
    if not _alive(int(pid)):
        return True
    return started != "?" and _started(int(pid)) not in (started, "?")


def remove_orphan_media(tmp: Path) -> list[Path]:
    """Remove the folders in `tmp` that EchoLens processes made ('echolens-<pid>-...' holding OWNER_FILE) and
    that outlived them (_gone); returns them. Servers in containers that share one /tmp but not their process ids
    would see each other as gone: give each its own TMPDIR."""
    removed = []
    for folder in tmp.glob("echolens-*-*"):
        if folder.is_dir() and _gone(folder):
            shutil.rmtree(folder, True)
            removed.append(folder)
    return removed


_last_prune = [float("-inf")]    # time.monotonic() of the last scan


def media_path(suffix: str) -> Path:
    """A fresh file name in the media folder (pruning the folder first, at most once every PRUNE_EVERY_S,
    if it has grown too big; two requests racing may both scan, which is harmless)."""
    root = media_dir()
    if time.monotonic() - _last_prune[0] >= PRUNE_EVERY_S:
        _last_prune[0] = time.monotonic()
        prune_media(root)
        remove_refused_uploads()
    return root / f"{uuid.uuid4().hex[:12]}{suffix}"


def _size(entry: Path) -> int:
    if entry.is_dir():
        return sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
    return entry.stat().st_size


def prune_media(root: Path, max_bytes: int | None = None, min_age_s: float | None = None) -> list[Path]:
    """Remove the oldest entries (files, or audit folders) until `root` holds at most `max_bytes`, sparing
    any entry younger than `min_age_s` and the folder's OWNER_FILE. Gradio has its own copy of everything already
    shown, so only a cached result can still name a removed file, and `cached` recomputes it. Returns what was
    removed."""
    max_bytes = MAX_MEDIA_BYTES if max_bytes is None else max_bytes
    min_age_s = MIN_MEDIA_AGE_S if min_age_s is None else min_age_s
    with _media_lock:
        try:
            entries = [(e.stat().st_mtime, _size(e), e) for e in root.iterdir() if e.name != OWNER_FILE]
        except FileNotFoundError:          # an entry vanished while we looked: prune next time
            return []
        total, removed, now = sum(size for _, size, _ in entries), [], time.time()
        for mtime, size, entry in sorted(entries, key=lambda e: e[0]):
            if total <= max_bytes or now - mtime < min_age_s:
                break
            shutil.rmtree(entry, True) if entry.is_dir() else entry.unlink(missing_ok=True)
            total -= size
            removed.append(entry)
        return removed
