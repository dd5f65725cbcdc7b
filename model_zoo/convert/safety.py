"""Reading checkpoint files without running code from them: safetensors, or torch.load(weights_only=True).

A checkpoint is refused before it is read if it is larger than the cap, and a pickle that needs any
global outside torch's weights-only allow-list (a custom class, an OrderedDict subclass, a function)
is refused with the names of those globals: unpickling them would run code from the file. One global
is allowed beside torch's list: argparse.Namespace, the training arguments VideoMAE's save_model (and many
training scripts) store as 'args'; building one only sets attributes, and any global its values need is still
refused by name.
"""
from __future__ import annotations

import argparse
import pickle
import pickletools
import re
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from echo.limits import size_in_words

MAX_BYTES = 16 * 1024 ** 3          # a ViT-g checkpoint with its optimiser state is about this size
SAFETENSORS = (".safetensors",)
SAFE_GLOBALS = [argparse.Namespace]    # a training script's arguments: attributes only, no code


class UnsafeCheckpointError(ValueError):
    """A checkpoint that would need code execution (foreign pickle globals) to load."""


def check_size(path: str | Path, max_bytes: int = MAX_BYTES) -> int:
    """The file's size in bytes; ValueError if it is over max_bytes (or missing)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{path.name} is {size_in_words(size)}, over the {size_in_words(max_bytes)} cap for "
                         f"checkpoints (pass a larger max_bytes if you trust it and have the memory)")
    return size


def _foreign_globals(path: Path, error: Exception) -> list[str] | None:
    """The globals a pickle needs that weights_only refuses: from the archive, else from the pickle's opcodes
    (read, never run), else from the message; None when the file is no pickle at all."""
    if zipfile.is_zipfile(path):
        try:
            return list(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
        except Exception:       # a damaged archive: fall back to the message
            pass
    found = _pickle_globals(path)
    if found is None:
        return None
    return found or sorted(set(re.findall(r"GLOBAL ([\w.]+)", str(error)))) or ["(unnamed)"]


def _pickle_globals(path: Path) -> list[str] | None:
    """The module.name of every global a raw pickle imports, from its opcodes, never run ([] for none); None
    unless the whole pickle parses (a text file's first letters can read as opcodes). Strings the pickler
    memoised come back through GET opcodes, so the memo is followed to name STACK_GLOBAL's module."""
    memo, strings, found, last = {}, [], [], None
    try:
        with open(path, "rb") as f:
            for op, arg, _ in pickletools.genops(f):
                if op.name in ("GLOBAL", "INST"):
                    found.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(".".join(strings[-2:]))
                if op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
                    memo[arg] = last
                elif op.name == "MEMOIZE":
                    memo[len(memo)] = last
                else:
                    last = memo.get(arg) if op.name in ("GET", "BINGET", "LONG_BINGET") else arg
                    if isinstance(last, str) and op.name not in ("GLOBAL", "INST"):
                        strings.append(last)
                if op.name == "STOP":
                    return sorted(set(found))
    except Exception:           # noqa: BLE001 - any parse failure: not a (whole) pickle
        return None
    return None


def damaged(path: str | Path, error: Exception) -> ValueError:
    """The error for a safetensors file its library cannot read (truncated, or not safetensors at all)."""
    return ValueError(f"{path} is not a readable safetensors file ({error}): it may be truncated or "
                      "not a safetensors file at all; copy it again from its source.")


def not_a_checkpoint(path: Path) -> ValueError:
    """The error for a file that is neither a zip archive nor a pickle: text, a video, a truncated file, or a
    safetensors file under another suffix (told to take its own, which every reader here goes by)."""
    if _safetensors_inside(path):
        return ValueError(f"{path.name} is a safetensors file named as a torch checkpoint: rename it "
                          f"{path.stem}{SAFETENSORS[0]} and give that")
    return ValueError(f"{path.name} is not a torch checkpoint: neither a zip archive nor a pickle torch can read "
                      "(is it the file you meant?)")


def _safetensors_inside(path: Path) -> bool:
    """Whether safetensors reads the file's header (header_shapes), whatever its suffix."""
    try:
        header_shapes(path)
    except ValueError:
        return False
    return True


def header_shapes(path: str | Path) -> dict[str, list[int]]:
    """{tensor name: shape} from a safetensors file's header alone (quick at any size): a file cut short or not
    safetensors at all is refused by name, as read_safetensors refuses it."""
    try:
        with safe_open(str(path), "pt") as f:
            return {k: f.get_slice(k).get_shape() for k in f.keys()}
    except (SafetensorError, OSError) as e:
        raise damaged(path, e) from None


def read_safetensors(path: str | Path) -> dict:
    """safetensors' load_file, with a damaged file refused by name (ValueError), not by the library's error."""
    try:
        return load_file(str(path))
    except SafetensorError as e:
        raise damaged(path, e) from None


def load_tensors(path: str | Path, max_bytes: int = MAX_BYTES) -> dict:
    """The checkpoint's contents: a flat tensor dict (safetensors) or the nested dict torch saved.

    Never unpickles arbitrary objects. Zip-format torch files are memory-mapped, so a large training
    checkpoint's optimiser state is not read into memory unless used.
    """
    path = Path(path)
    if check_size(path, max_bytes) == 0:
        raise ValueError(f"{path.name} is empty (0 bytes), not a checkpoint: copy it again from its source.")
    if path.name.endswith(SAFETENSORS):
        return read_safetensors(path)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as e:
        names = _foreign_globals(path, e)
        if names is None:
            raise not_a_checkpoint(path) from None
        allowed = {f"{g.__module__}.{g.__qualname__}" for g in SAFE_GLOBALS}
        names = [n for n in names if n not in allowed] or names          # name only what was refused
        names = ", ".join(names)
        raise UnsafeCheckpointError(
            f"{path.name} refused: its pickle needs globals outside the weights-only allow-list ({names}); "
            f"loading them would run code from the file. Re-save its tensors with "
            f"safetensors or as plain dicts of tensors.") from None
    except (KeyError, EOFError, IndexError, ValueError, TypeError, AttributeError, OverflowError) as e:
        # text or a video read as a pickle: a memo key, a stream cut short, an opcode on an empty stack ('/etc/passwd')
        if not zipfile.is_zipfile(path):
            raise not_a_checkpoint(path) from None
        raise ValueError(f"{path.name} is not a readable torch checkpoint ({type(e).__name__}: {e}).") from None
    except RuntimeError as e:
        raise ValueError(f"{path.name} is not a readable torch or safetensors checkpoint ({e}).") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path.name} holds a {type(obj).__name__}, not a dict of tensors")
    return obj
