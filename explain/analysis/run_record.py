"""What produced a result file: the models (name, where they were loaded from, a digest of their weights and
probes, and for a converted checkpoint what its conversion assumed), the code's commit, the host, the thread count
and the time. An audit on other weights, other code or another machine can then be told from one on the shipped
models (the README: a number is a function of code, thread count and host), and a report made at a size the
conversion assumed from one made at a size the checkpoint states."""
from __future__ import annotations

import functools
import hashlib
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from explain.analysis.pair import LoadedModel, file_stats
from model_zoo.device import code_commit, host, short_commit
from model_zoo.registry import assumed_notes

DIGEST_CHARS = 16          # of the sha256: enough to tell two sets of weights apart


@functools.lru_cache(maxsize=32)
def _digest(files: tuple[tuple[str, int, int], ...]) -> str:
    """sha256 over (name, bytes) of each (path, size, mtime): the cache key changes when a file does."""
    h = hashlib.sha256()
    for path, _, _ in files:
        h.update(Path(path).name.encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:DIGEST_CHARS]


def files_digest(m: LoadedModel) -> str | None:
    """A digest of the files the model's numbers come from: every file of its folder (weights, probes, config,
    card, OOD reference), or the checkpoint file it was loaded from; None where neither is on disk."""
    where = m.folder if m.folder is not None else Path(str(m.key[0])).expanduser() if m.key else None
    stats = file_stats(where) if where is not None else ()
    return _digest(stats) if stats else None


def conversion(m: LoadedModel) -> dict | None:
    """What converting the model's checkpoint assumed and left out, from the 'conversion' its card holds (written by
    model_zoo.load for a checkpoint file or a folder without an EchoLens card, and kept by an exported folder):
    {'format', 'assumed' (the notes on what the checkpoint does not store: frames, size, heads...), 'notes' (the
    conversion's other notes), 'ignored' (keys left out: a classifier head...), 'missing', 'unexpected'}. None for
    a model with its own card (the shipped ones), whose card says what it is."""
    card = m.wrapper.card or {}
    if "conversion" not in card:
        return None
    info, assumed = card["conversion"] or {}, assumed_notes(card)
    return {"format": card.get("format"), "assumed": assumed,
            "notes": [n for n in info.get("notes") or [] if n not in assumed],
            **{k: list(info.get(k) or []) for k in ("ignored", "missing", "unexpected")}}


def _short(note: str) -> str:
    """'frames 16 assumed (RoPE stores no grid; ...)' -> 'frames 16'; '3 heads assumed for width 192' -> '3 heads for
    width 192'."""
    return note.split(" (")[0].replace(" assumed", "")


def conversion_words(conv: dict, full: bool = False) -> str:
    """A converted model's record in words: 'converted from a vjepa2-native checkpoint, which does not store all it
    needs; assumed: frames 16, size 224, 3 heads for width 192; keys left out: head.weight, head.bias'. full: each
    assumption as its note says it ('frames 16 assumed (RoPE stores no grid; export the checkpoint with --frames
    N...)': what to do about it), then the conversion's other notes and any missing or unexpected weights (for a
    page; the command line says the short form)."""
    source = ("a Hugging Face folder" if conv["format"] == "hf-folder" else
              f"a {conv['format']} checkpoint" if conv["format"] else "a checkpoint")
    assumed = (f": {'; '.join(conv['assumed'])}" if full else f"; assumed: {', '.join(map(_short, conv['assumed']))}")
    parts = [f"converted from {source}, which does not store all it needs{assumed}" if conv["assumed"] else
             f"converted from {source}; nothing assumed (its files say it all)"]
    if conv["ignored"]:
        parts.append(f"keys left out: {', '.join(conv['ignored'])}")
    if full:
        parts += conv["notes"]
        parts += [f"{what}: {', '.join(conv[key])}" for key, what in (("missing", "missing weights (random)"),
                                                                       ("unexpected", "unexpected weights (unused)"))
                  if conv[key]]
    return "; ".join(parts)


def run_record(pair: dict[str, LoadedModel], command: str | None = None) -> dict:
    """{'models': {role: {'name', 'family', 'loaded_from', 'frames' (None: its own count), 'files_digest',
    'conversion' (None: a model with its own card; see conversion())}}, 'commit', 'command' (default: this
    process's command line), 'host', 'threads', 'device', 'time_utc'} for a result file.
    files_digest: the first DIGEST_CHARS hex of a sha256 over the names and bytes of the model's files (not what
    sha256sum prints for any one of them)."""
    models = {role: {"name": m.name, "family": m.family, "loaded_from": str(m.key[0]) if m.key else None,
                     "frames": m.frames_override, "files_digest": files_digest(m), "conversion": conversion(m)}
              for role, m in pair.items()}
    devices = sorted({str(m.wrapper.device) for m in pair.values()})
    return {"models": models, "commit": code_commit(),
            "command": command if command is not None else " ".join(sys.argv),
            "host": host(), "threads": torch.get_num_threads(), "device": ", ".join(devices),
            "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def record_words(record: dict, conversions: bool = True) -> str:
    """The record in one line for a page a reader may share: models and digests (and, with conversions, what a
    converted checkpoint's conversion assumed, in short: a page that says it in full beside the line leaves it out),
    commit, threads, device, time (no host folder: where a model was loaded from stays in the JSON)."""
    models = ", ".join(f"{m['name']} (files {m['files_digest'] or 'not on disk'}"
                       + (f", run at {m['frames']} frames" if m.get("frames") else "")
                       + (f"; {conversion_words(m['conversion'])}" if conversions and m.get("conversion") else "") + ")"
                       for m in record["models"].values())
    return (f"Made {record['time_utc']} by EchoLens at commit {short_commit(record['commit'])} ({record['threads']} "
            f"threads, {record['device']}); models: {models}.")
