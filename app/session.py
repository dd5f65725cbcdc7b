"""Where the app keeps things between clicks: clips by key (an LRU, so memory stays bounded when many
users upload), results cached per clip and settings (switching tabs never recomputes), and one
media folder per process for the videos and images it serves, removed when the process ends.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from echo.clip import Clip

MAX_CLIPS = 16
MAX_RESULTS = 256


class LRU:
    """A thread-safe least-recently-used mapping with a size cap."""

    def __init__(self, capacity: int):
        self.capacity, self._items, self._lock = capacity, OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


_clips = LRU(MAX_CLIPS)
_results = LRU(MAX_RESULTS)
_media_root: Path | None = None
_media_lock = threading.Lock()


def put_clip(clip: Clip, key: str | None = None) -> str:
    """Store a clip under `key` (default: a fresh one); returns the key (what the page keeps in its state)."""
    key = key or uuid.uuid4().hex[:12]
    _clips.put(key, clip)
    return key


def get_clip(key: str | None) -> Clip:
    """The clip behind a key, or a clear error when there is none (never loaded, or evicted)."""
    if not key:
        raise ValueError("No clip loaded yet: upload a clip, pick an example or generate a phantom clip first.")
    clip = _clips.get(key)
    if clip is None:
        raise ValueError("This clip is no longer in memory (the app keeps the most recent ones): load it again.")
    return clip


def cached(key: tuple, compute: Callable[[], Any]) -> Any:
    """compute() once per key (clip key, view, settings...), then from the cache."""
    hit = _results.get(key)
    if hit is None:
        hit = compute()
        _results.put(key, hit)
    return hit


def peek(key: tuple) -> Any:
    """A cached result, or None when it was never computed (or was evicted); never computes."""
    return _results.get(key)


def media_dir() -> Path:
    """This process's folder for served media, created on first use and removed at exit."""
    global _media_root
    with _media_lock:
        if _media_root is None:
            _media_root = Path(tempfile.mkdtemp(prefix="echolens-"))
            atexit.register(shutil.rmtree, _media_root, True)
        return _media_root


def media_path(suffix: str) -> Path:
    """A fresh file name in the media folder."""
    return media_dir() / f"{uuid.uuid4().hex[:12]}{suffix}"
