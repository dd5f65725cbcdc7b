"""Where the app keeps things between clicks: clips by key (ClipStore: a few per page session and a byte
budget over all, so memory stays bounded when many users upload and one user's many clips never push out
another's clip), results cached per clip and settings (switching tabs never recomputes; capped by count and by
the bytes of their arrays; dropped with their clip), and one media folder per process for the videos and images
it serves, removed when the process ends and kept under MAX_MEDIA_BYTES while serving (oldest entries go first;
a cached result whose file went is recomputed).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from echo.clip import Clip

MAX_CLIPS_PER_OWNER = 4       # a page session's last clips (and, per clip, its last degraded copies)
MAX_CLIP_BYTES = 2 << 30       # the frames of every stored clip together
MAX_RESULTS = 256
MAX_RESULT_BYTES = 2 << 30    # and at most this much array memory in the result cache
MAX_MEDIA_BYTES = 1 << 30      # the media folder is pruned back under this while serving
MIN_MEDIA_AGE_S = 600.0        # never prune an entry younger than this (it may be in flight)
PRUNE_EVERY_S = 60.0           # look at the folder at most this often (a scan stats every entry)


class LRU:
    """A thread-safe least-recently-used mapping capped by count and, optionally, by the bytes its values
    hold (arrays and tensors inside them, as measured by `nbytes`); the newest entry always stays."""

    def __init__(self, capacity: int, max_bytes: int | None = None):
        self.capacity, self.max_bytes = capacity, max_bytes
        self._items, self._bytes, self._lock = OrderedDict(), 0, threading.Lock()   # key -> (value, bytes)

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key, value) -> None:
        size = nbytes(value) if self.max_bytes is not None else 0
        with self._lock:
            self._bytes += size - self._items.get(key, (None, 0))[1]
            self._items[key] = (value, size)
            self._items.move_to_end(key)
            while len(self._items) > 1 and (len(self._items) > self.capacity or
                                            (self.max_bytes is not None and self._bytes > self.max_bytes)):
                self._bytes -= self._items.popitem(last=False)[1][1]

    def drop(self, where: Callable[[Any], bool]) -> None:
        """Remove every entry whose key satisfies `where`."""
        with self._lock:
            for key in [k for k in self._items if where(k)]:
                self._bytes -= self._items.pop(key)[1]

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


def _leaves(value: Any, seen: set | None = None) -> Iterator[Any]:
    """Everything a cached result holds that is not a container: walks dicts, tuples, lists and
    dataclasses, each object once (a shared array is one leaf)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        children = value.values()
    elif isinstance(value, (tuple, list)):
        children = value
    elif hasattr(value, "__dataclass_fields__"):
        children = [getattr(value, f) for f in value.__dataclass_fields__]
    else:
        yield value
        return
    for child in children:
        yield from _leaves(child, seen)


def nbytes(value: Any) -> int:
    """Bytes held by the arrays and tensors in `value`; everything else counts as nothing, so this is a
    floor, close for the app's array-heavy results."""
    return sum(leaf.nbytes for leaf in _leaves(value) if isinstance(leaf, (np.ndarray, torch.Tensor)))


class ClipStore:
    """Clips by key, each with its owner (the page session that loaded it; a degraded copy's owner is its clip).
    An owner keeps its MAX_CLIPS_PER_OWNER most recently used clips; over MAX_CLIP_BYTES in all, the owner
    holding the most bytes gives up its least recently used clip first, so a user loading many or huge clips
    evicts their own before anyone else's. The clip just stored always stays. `on_evict(key)` runs for each
    clip that goes (the results cached for it are dropped with it)."""

    def __init__(self, per_owner: int, max_bytes: int, on_evict: Callable[[str], None] = lambda key: None):
        self.per_owner, self.max_bytes, self.on_evict = per_owner, max_bytes, on_evict
        self._items, self._lock = OrderedDict(), threading.Lock()     # key -> (clip, owner, bytes), oldest first

    def get(self, key: str) -> Clip | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def put(self, key: str, clip: Clip, owner: str | None) -> None:
        gone = []
        with self._lock:
            self._items[key] = (clip, owner, nbytes(clip))
            self._items.move_to_end(key)
            if owner is not None:                      # unowned (the CLI, tests): only the byte budget
                for k in self._keys_of(owner)[:-self.per_owner]:            # the owner's oldest beyond its cap
                    self._remove(k, gone)
            kept = (key, owner)                        # the clip just stored, and the clip it is a copy of
            while self.bytes > self.max_bytes:
                held = {}                              # session -> its keys not kept, oldest first
                for k in self._items:
                    if k not in kept:
                        held.setdefault(self._session_of(k), []).append(k)
                if not held:
                    break
                largest = max(held, key=lambda o: sum(self._items[k][2] for k in held[o]))   # copies count
                self._remove(held[largest][0], gone)                                          # its oldest goes
        for k in gone:
            self.on_evict(k)

    def _remove(self, key: str, gone: list[str]) -> None:
        """Remove a clip and the clips it owns (its degraded copies), noting each in `gone`."""
        if self._items.pop(key, None) is not None:
            gone.append(key)
            for k in self._keys_of(key):
                self._remove(k, gone)

    def _keys_of(self, owner: str | None) -> list[str]:
        """The owner's keys, oldest first."""
        return [k for k, (_, o, _) in self._items.items() if o == owner]

    def _session_of(self, key: str) -> str | None:
        """The page session a clip belongs to: its owner, or for a degraded copy its clip's owner."""
        owner = self._items[key][1]
        return self._items[owner][1] if owner in self._items else owner

    @property
    def bytes(self) -> int:
        return sum(size for _, _, size in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


def _drop_results(key: str) -> None:
    """A clip that left the store takes its cached results with it (no later click can ask for them)."""
    _results.drop(lambda k: isinstance(k, tuple) and bool(k) and k[0] == key)


_clips = ClipStore(MAX_CLIPS_PER_OWNER, MAX_CLIP_BYTES, _drop_results)
_results = LRU(MAX_RESULTS, MAX_RESULT_BYTES)
_media_root: Path | None = None
_media_lock = threading.Lock()


def put_clip(clip: Clip, key: str | None = None, owner: str | None = None) -> str:
    """Store a clip under `key` (default: a fresh one) for `owner` (the page session's id; a degraded copy: its
    clip's key); returns the key (what the page keeps in its state)."""
    key = key or uuid.uuid4().hex[:12]
    _clips.put(key, clip, owner)
    return key


def get_clip(key: str | None) -> Clip:
    """The clip behind a key, or a clear error when there is none (never loaded, or evicted)."""
    if not key:
        raise ValueError("No clip loaded yet: upload a clip, pick an example or generate a phantom clip first.")
    clip = _clips.get(key)
    if clip is None:
        raise ValueError("This clip is no longer in memory (each page keeps its last few clips, and the server lets "
                         "go of the largest holders' oldest when memory fills): load it again.")
    return clip


def cached(key: tuple, compute: Callable[[], Any]) -> Any:
    """compute() once per key (clip key, view, settings...), then from the cache; computed again when a
    media file the cached result names has since been pruned."""
    hit = _results.get(key)
    if hit is None or not _media_present(hit):
        hit = compute()
        _results.put(key, hit)
    return hit


def peek(key: tuple) -> Any:
    """A cached result, or None when it was never computed (or was evicted); never computes."""
    return _results.get(key)


def media_dir() -> Path:
    """This process's folder for served media ('echolens-<pid>-...'), created on first use and removed at exit;
    creating it first removes the folders of EchoLens processes that are gone (killed before their exit
    handler ran), so a killed server's videos do not stay in the temporary folder for good."""
    global _media_root
    with _media_lock:
        if _media_root is None:
            remove_orphan_media(Path(tempfile.gettempdir()))
            _media_root = Path(tempfile.mkdtemp(prefix=f"echolens-{os.getpid()}-"))
            atexit.register(shutil.rmtree, _media_root, True)
        return _media_root


def gradio_cache_dir() -> Path:
    """This process's own folder for Gradio's cache (uploads, its copies of the media served, its temporary files)
    inside the one Gradio would use (GRADIO_TEMP_DIR, else the temporary folder), removed at exit with everything
    in it: Gradio's own clean-up left the copies of served videos, empty files and folders. Folders of killed
    servers are removed first, as media_dir's are."""
    parent = Path(os.environ.get("GRADIO_TEMP_DIR") or tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    remove_orphan_media(parent)
    folder = Path(tempfile.mkdtemp(prefix=f"echolens-{os.getpid()}-gradio-", dir=parent))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def discard_upload(path: str | Path | None) -> bool:
    """Remove an upload the app refused, and the folder Gradio made for it (named by the file's content) once
    empty, from this server's Gradio cache folder (GRADIO_TEMP_DIR as app.cli sets it): a clip that cannot be
    read is of no use kept, and bad input leaves no file behind. A path outside that folder is never touched;
    returns whether a file was removed. (The same bytes uploaded by another session share the path: its clip
    is already read into memory, so removing the file takes nothing from it.)"""
    root = os.environ.get("GRADIO_TEMP_DIR")
    if not root or not path:
        return False
    root, file = Path(root).resolve(), Path(path).resolve()
    if not file.is_relative_to(root) or file == root or not file.is_file():
        return False
    file.unlink(missing_ok=True)
    if file.parent != root:
        try:
            file.parent.rmdir()
        except OSError:               # not empty: another upload under the same content hash
            pass
    return True


def _alive(pid: int) -> bool:
    """Whether process `pid` runs; one we cannot judge (another user's, a pid out of range) counts as running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_orphan_media(tmp: Path) -> list[Path]:
    """Remove the media folders in `tmp` whose process ('echolens-<pid>-...') no longer runs; returns them.
    Servers in containers that share one /tmp but not their process ids would see each other as gone: give
    each its own TMPDIR."""
    removed = []
    for folder in tmp.glob("echolens-*-*"):
        pid = folder.name.split("-")[1]
        if pid.isdigit() and folder.is_dir() and not _alive(int(pid)):
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
    return root / f"{uuid.uuid4().hex[:12]}{suffix}"


def _size(entry: Path) -> int:
    if entry.is_dir():
        return sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
    return entry.stat().st_size


def prune_media(root: Path, max_bytes: int | None = None, min_age_s: float | None = None) -> list[Path]:
    """Remove the oldest entries (files, or audit folders) until `root` holds at most `max_bytes`, sparing
    any entry younger than `min_age_s`. Gradio has its own copy of everything already shown, so only a
    cached result can still name a removed file, and `cached` recomputes it. Returns what was removed."""
    max_bytes = MAX_MEDIA_BYTES if max_bytes is None else max_bytes
    min_age_s = MIN_MEDIA_AGE_S if min_age_s is None else min_age_s
    with _media_lock:
        try:
            entries = [(e.stat().st_mtime, _size(e), e) for e in root.iterdir()]
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


def _media_present(value: Any) -> bool:
    """False when `value` names (anywhere inside it) a file in the media folder that is no longer there."""
    if _media_root is None:
        return True
    return all(Path(leaf).exists() for leaf in _leaves(value)
               if isinstance(leaf, (str, Path)) and str(leaf).startswith(str(_media_root)))
