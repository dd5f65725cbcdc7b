"""NumPy arrays saved as .npy, or .npz archives, read without unpickling (allow_pickle=False).

Layout: (T, H, W) grey, (T, H, W, 1) grey or (T, H, W, 3) RGB, any dtype (non-8-bit needs
rescale=True, see echo.readers.common.to_uint8). An .npz holds its frames under the key 'frames'
(or as its only array) and may hold a scalar 'fps' and ground truth (TRUTH_KEYS, as
echo.writers.write_npz stores it: ef, edv, esv, phase, ed_frames, es_frames, labels, clean) and, for a
clip rendered by echo.phantom, its provenance (PROVENANCE_KEYS: population, seed and any degradation, read
into meta as the phantom and echo.degrade set them). A bare .npy has no frame rate, so the clip gets the
default 30 fps, recorded as meta["fps_source"] = "default".
"""
from __future__ import annotations

import dataclasses
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from echo import limits
from echo.clip import Clip, ClipError, GroundTruth
from echo.provenance import checked
from echo.readers.common import STRETCH_BYTES, check_depth, finish

_LAYOUTS = "(frames, height, width) or (frames, height, width, 3)"


def _damaged(name: str) -> ClipError:
    return ClipError(f"'{name}' looks like a NumPy file but could not be read: it is damaged or "
                     "truncated. Save or copy it again.")


def _header(fh: BinaryIO, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) an .npy header declares, its values not yet read."""
    try:
        version = np.lib.format.read_magic(fh)
        reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, _, dtype = reader(fh)
    except (ValueError, OSError, EOFError):
        raise _damaged(name) from None
    return shape, dtype


def _check_header(fh: BinaryIO, name: str, rescale: bool) -> tuple[tuple[int, ...], np.dtype, int]:
    """Read the frames' .npy header and refuse what it already shows (the layout, the sizes, values that are not
    pixels or deeper ones without rescale, and the memory reading them takes); -> (shape, dtype, data bytes)."""
    shape, dtype = _header(fh, name)
    if dtype.hasobject:
        raise ClipError(f"'{name}' holds Python objects, not pixels; EchoLens never loads those. "
                        "Save the frames as a plain numeric array.")
    if len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] not in (1, 3)):
        raise ClipError(f"'{name}' holds an array of shape {shape}; EchoLens reads {_LAYOUTS}.")
    limits.check_frame_size(shape[1], shape[2], name)
    limits.check_frame_count(shape[0], name)
    limits.check_clip_bytes(shape[0], shape[1], shape[2], 3 if len(shape) == 4 else 1, name)
    check_depth(dtype, name, rescale)
    n_values = int(np.prod(shape))
    if dtype != np.uint8:
        limits.check_stored_bytes(n_values, dtype.itemsize + STRETCH_BYTES, f"{dtype} values", name)
    return shape, dtype, n_values * dtype.itemsize


def _entry(archive, key: str, name: str, fits, says: str) -> np.ndarray:
    """The NPZ entry `key` beside the frames, loaded only once its header fits (fits(shape, dtype)), else refused
    as f"'{name}' {says}": a small archive can declare gigabytes under any key, or text where a number goes."""
    member = f"{key}.npy"
    if member not in archive.zip.namelist():
        raise ClipError(f"'{name}' {says.rstrip('.')} (it is not a NumPy array).")
    with archive.zip.open(member) as fh:
        shape, dtype = _header(fh, name)
    if dtype.hasobject or not fits(tuple(shape), dtype):
        raise ClipError(f"'{name}' {says}")
    return archive[key]


def _numeric(dtype: np.dtype) -> bool:
    return dtype.kind in "iuf"


def _one_number(shape: tuple[int, ...], dtype: np.dtype) -> bool:
    """An entry's header that declares one number (an 'fps', an 'ef')."""
    return _numeric(dtype) and np.prod(shape) == 1


def _as_frames(array: np.ndarray) -> np.ndarray:
    """(T, H, W, 1) -> (T, H, W); other accepted layouts unchanged, made contiguous."""
    return np.ascontiguousarray(array[..., 0] if array.ndim == 4 and array.shape[3] == 1 else array)


def read_npy(path: Path, rescale: bool) -> Clip:
    name = path.name
    with open(path, "rb") as fh:
        _, _, n_bytes = _check_header(fh, name, rescale)
        if fh.tell() + n_bytes > path.stat().st_size:
            raise ClipError(f"'{name}' is truncated: it ends before the array it declares. "
                            "Save or copy it again.")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        raise _damaged(name) from None
    return finish(_as_frames(array), None, path, "NPY", {}, rescale)


def _number(value: np.ndarray) -> float:
    """One finite number from a one-value entry, else NaN (a string or several values is no number)."""
    return float(value.reshape(())) if value.size == 1 and _numeric(value.dtype) else np.nan


def _npz_fps(archive, name: str) -> float | None:
    if "fps" not in archive.files:
        return None
    says = "has an 'fps' entry that is not one positive number."
    value = _number(_entry(archive, "fps", name, _one_number, says))
    if not np.isfinite(value) or value <= 0:
        raise ClipError(f"'{name}' {says}")
    if not limits.FPS_RANGE[0] <= value <= limits.FPS_RANGE[1]:
        raise ClipError(f"'{name}' has an 'fps' entry of {value:g}, not a frame rate of a cine loop "
                        f"({limits.FPS_RANGE[0]:g}-{limits.FPS_RANGE[1]:g} fps). Save the clip's frame rate as 'fps'.")
    return value


def read_npz(path: Path, rescale: bool) -> Clip:
    name = path.name
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError):
        raise _damaged(name) from None
    with archive:
        arrays = [k for k in archive.files if k != "fps" and k not in TRUTH_KEYS + PROVENANCE_KEYS]
        key = "frames" if "frames" in arrays else (arrays[0] if len(arrays) == 1 else None)
        if key is None:
            found = ", ".join(arrays) or "none"
            raise ClipError(f"'{name}' holds {len(arrays)} arrays ({found}); name the clip's "
                            "frames 'frames' so EchoLens knows which one to read.")
        if key + ".npy" not in archive.zip.namelist():          # e.g. a text file zipped and named .npz
            raise ClipError(f"'{name}' holds '{key}', which is not a NumPy array: an NPZ archive holds .npy "
                            "arrays (numpy.savez). Save the frames with numpy.savez.")
        try:
            with archive.zip.open(key + ".npy") as fh:
                shape = _check_header(fh, name, rescale)[0]
            fps, truth = _npz_fps(archive, name), _npz_truth(archive, tuple(shape[:3]), name)
            provenance = _npz_provenance(archive, name)
            frames = archive[key]                             # last: every entry beside it checked first
        except ClipError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError):
            raise _damaged(name) from None
    clip = finish(_as_frames(frames), fps, path, "NPZ", provenance, rescale)
    return dataclasses.replace(clip, truth=truth) if truth is not None else clip


TRUTH_KEYS = ("ef", "edv", "esv", "phase", "ed_frames", "es_frames", "labels", "clean")
PROVENANCE_KEYS = ("phantom_population", "phantom_seed", "phantom_degradation")


def _npz_provenance(archive, name: str) -> dict:
    """{} for a clip of unknown origin; for a phantom clip the meta echo.phantom gave it, read back through
    echo.provenance (population, seed, degradation: each entry one value, checked there)."""
    present = [k for k in PROVENANCE_KEYS if k in archive.files]
    if not present:
        return {}
    if "phantom_population" not in present:
        raise ClipError(f"'{name}' has a '{present[0]}' entry without a 'phantom_population' one.")
    fields = {}
    for key in present:
        value = _entry(archive, key, name, lambda shape, dtype: np.prod(shape) == 1,
                       f"has a '{key}' entry that is not one value.")
        fields[key.removeprefix("phantom_")] = value.reshape(()).item()    # str, int or float
    return checked(fields, name)


def _npz_truth(archive, shape: tuple[int, int, int], name: str) -> GroundTruth | None:
    """Ground truth stored beside the frames, checked against their shape; None when there is none."""
    present = [k for k in TRUTH_KEYS if k in archive.files]
    if not present:
        return None
    frames = int(shape[0])
    pixels = lambda s, d: d == np.uint8 and s == tuple(shape)                   # noqa: E731
    frame_numbers = lambda s, d: _numeric(d) and np.prod(s) <= frames           # noqa: E731
    kinds = {"ef": (_one_number, "is not one number"), "edv": (_one_number, "is not one number"),
             "esv": (_one_number, "is not one number"),
             "phase": (lambda s, d: _numeric(d) and s == (frames,), "does not give one number per frame"),
             "ed_frames": (frame_numbers, f"is not frame numbers (at most {frames})"),
             "es_frames": (frame_numbers, f"is not frame numbers (at most {frames})"),
             "labels": (pixels, "does not match its frames (8-bit, same shape)"),
             "clean": (pixels, "does not match its frames (8-bit, same shape)")}
    says = {k: f"has a{'n' if k[0] in 'ae' else ''} '{k}' entry that {what}." for k, (_, what) in kinds.items()}
    values = {k: _entry(archive, k, name, kinds[k][0], says[k]) for k in present}
    for k in ("ef", "edv", "esv"):
        if k in values:
            values[k] = _number(values[k])
            if not np.isfinite(values[k]):
                raise ClipError(f"'{name}' {says[k]}")
            if values[k] < 0 or (k == "ef" and values[k] > 100):     # an EF of 200% would be taken as truth
                raise ClipError(f"'{name}' has an '{k}' entry of {values[k]:g}, which no heart has "
                                f"({'an EF lies between 0 and 100%' if k == 'ef' else 'a volume is not negative'}).")
            if k == "ef" and 0 < values[k] <= 1:                          # 0.62 read as 0.6% put errors 61 points off
                raise ClipError(f"'{name}' has an 'ef' entry of {values[k]:g}, which looks like a fraction: store EF in "
                                f"percent ({values[k]:g} -> {100 * values[k]:g}).")
    if "phase" in values:                     # a phase in radians or percent was wrapped by mod 1 into nonsense marks
        phase = values["phase"].astype(np.float64)
        if not np.all(np.isfinite(phase)):
            raise ClipError(f"'{name}' has a 'phase' entry with a missing (NaN) or infinite value at frame "
                            f"{int(np.flatnonzero(~np.isfinite(phase))[0])}: give every frame's phase.")
        if phase.min() < 0 or phase.max() > 1:
            raise ClipError(f"'{name}' has a 'phase' entry from {phase.min():g} to {phase.max():g}: a phase is the "
                            "share of the beat since end-diastole, from 0 up to 1 (radians: divide by 2 pi; "
                            "percent: by 100).")
        values["phase"] = phase
    for k in ("ed_frames", "es_frames"):
        if k in values:
            given = values[k].astype(np.float64).reshape(-1)
            odd = given[~np.isfinite(given) | (given != np.round(given))]
            if odd.size:                      # a NaN was said to lie outside the clip, 1.7 was read as frame 1
                raise ClipError(f"'{name}' lists {k.replace('_', ' ')} that are not whole frame numbers "
                                f"({', '.join(f'{v:g}' for v in odd[:3])}): give each as a frame index from 0.")
            idx = given.astype(np.int64)
            if np.any((idx < 0) | (idx >= frames)):
                raise ClipError(f"'{name}' lists {k.replace('_', ' ')} outside its {frames} frames.")
            values[k] = [int(i) for i in idx]
    return GroundTruth(**values)
