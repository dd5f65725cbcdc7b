"""Where the app keeps things between clicks: clips by key (ClipStore: a few per page session and a byte
budget over all, so memory stays bounded when many users upload and one user's many clips never push out
another's clip), and results cached per clip and settings (switching tabs never recomputes; capped by count and by
the bytes of their arrays; dropped with their clip; computed again when a file they name left the media folder,
app.media).
"""
from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.media import media_root
from echo.clip import Clip

MAX_CLIPS_PER_OWNER = 4       # a page session's last clips (and, per clip, its last degraded copies)
MAX_CLIP_BYTES = 2 << 30       # the frames of every stored clip together
MAX_RESULTS = 256
MAX_RESULT_BYTES = 2 << 30    # and at most this much array memory in the result cache


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
                held, free = {}, {}                    # session -> all it holds (copies and the clip just stored
                for k, (_, _, size) in self._items.items():       # count); -> its keys not kept, oldest first
                    session = self._session_of(k)
                    held[session] = held.get(session, 0) + size
                    if k not in kept:
                        free.setdefault(session, []).append(k)
                if not free:
                    break
                largest = max(free, key=held.__getitem__)       # the largest holder with a clip it can give up
                self._remove(free[largest][0], gone)            # gives its oldest
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


def _media_present(value: Any) -> bool:
    """False when `value` names (anywhere inside it) a file in the media folder (app.media) that is no longer there."""
    root = media_root()
    if root is None:
        return True
    return all(Path(leaf).exists() for leaf in _leaves(value)
               if isinstance(leaf, (str, Path)) and str(leaf).startswith(str(root)))
