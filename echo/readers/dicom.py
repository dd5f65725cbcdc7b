"""DICOM multi-frame cine loops read with pydicom, without letting patient data out.

Photometric interpretations: MONOCHROME1/2, RGB, YBR_FULL(_422) (converted to RGB), PALETTE
COLOR (through its lookup table). Compressed transfer syntaxes decode through pydicom's plug-ins
(pylibjpeg: JPEG baseline/extended/lossless, JPEG-LS; pillow: JPEG, JPEG 2000; RLE built in).
Frame rate: FrameTime (ms per frame), else CineRate, else RecommendedDisplayFrameRate.

Privacy: only the technical fields in `_meta` (modality, transfer syntax name, photometric
interpretation, bits allocated) plus frame count, size and rate reach Clip.meta. No header value
is ever put in an error message, pydicom's warnings and log lines (which can quote header values)
are silenced while a file is read, and pydicom exceptions are not chained onto ours.
"""
from __future__ import annotations

import logging
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut, get_decoder
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from echo import limits
from echo.clip import Clip, ClipError
from echo.readers.common import depth_error, finish

_PHOTOMETRIC = {"MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR",
                "YBR_RCT", "YBR_ICT"}
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


_QUIET_LOCK = threading.Lock()  # warning filters and logger state are process-wide


@contextmanager
def _quiet():
    """Record pydicom's warnings instead of showing them, and mute its logger, for one read.
    Reads are serialised so one read cannot unmute the logger during another."""
    logger = logging.getLogger("pydicom")
    with _QUIET_LOCK:
        was_disabled, logger.disabled = logger.disabled, True
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                yield caught
        finally:
            logger.disabled = was_disabled


def _number(ds, keyword: str) -> float | None:
    try:
        value = float(ds.get(keyword) or 0)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


def _fps(ds) -> float | None:
    frame_time_ms = _number(ds, "FrameTime")
    if frame_time_ms:
        return 1000.0 / frame_time_ms
    return _number(ds, "CineRate") or _number(ds, "RecommendedDisplayFrameRate")


def lossy_syntax(name: str) -> bool:
    """Whether a transfer syntax (by its name) compresses with loss: JPEG baseline and extended, lossy JPEG-LS and
    JPEG 2000, MPEG and HEVC video; the uncompressed, RLE and lossless JPEG ones keep every pixel."""
    return "Lossy" in name or (any(k in name for k in ("JPEG", "MPEG", "HEVC")) and "Lossless" not in name)


def _meta(ds, photometric: str, bits: int) -> dict:
    """The whitelist: the only header facts that leave this module."""
    return {"modality": str(ds.get("Modality", "") or ""),
            "transfer_syntax": (syntax := ds.file_meta.TransferSyntaxUID.name),
            # compressed with loss now, or before it was stored as it is (LossyImageCompression "01", as echo exports)
            "lossy": lossy_syntax(syntax) or str(ds.get("LossyImageCompression", "")).strip() == "01",
            "photometric": photometric, "bits_allocated": bits}


def _check_header(ds, name: str, rescale: bool) -> tuple[str, int]:
    """Refuse, before decoding, what the header already shows cannot be read; -> (photometric,
    bits allocated)."""
    keyword = next((k for k in _PIXEL_KEYWORDS if k in ds), None)
    if keyword is None:
        raise ClipError(
            f"'{name}' is a DICOM file without image data (it may be a report, a structured "
            "report or a DICOMDIR index). Open the DICOM file of the cine loop itself."
        )
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        declared = ds.get("NumberOfFrames")
        n_frames = 1 if declared in (None, "") else int(declared)         # no such field: one frame
        samples, bits = int(ds.get("SamplesPerPixel") or 1), int(ds.BitsAllocated)
    except (AttributeError, TypeError, ValueError):
        raise ClipError(f"'{name}' is a DICOM file whose image size or pixel format fields are "
                        "missing or invalid. Export it again from the echo machine.") from None
    if n_frames < 1:                    # '0' had read as one frame, then 'a single still image'
        raise ClipError(f"'{name}' is a DICOM file that contains no image frames (NumberOfFrames {n_frames}). "
                        "Export the cine loop again.")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if photometric not in _PHOTOMETRIC:
        raise ClipError(f"'{name}' uses the {photometric} colour layout, which EchoLens does not "
                        "read. Export it as greyscale or RGB.")
    limits.check_frame_size(rows, cols, name)
    limits.check_frame_count(n_frames, name)
    colour = samples == 3 or photometric == "PALETTE COLOR"
    limits.check_clip_bytes(n_frames, rows, cols, 3 if colour else 1, name)
    if keyword != "PixelData" and not rescale:
        raise depth_error(name, "floating-point")
    if bits != 8 and photometric != "PALETTE COLOR" and not rescale:
        raise depth_error(name, f"{bits}-bit")
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax.is_compressed:
        try:
            available = get_decoder(syntax).is_available
        except NotImplementedError:
            available = False
        if not available:
            raise ClipError(f"'{name}' is compressed with {syntax.name}, which this installation "
                            "cannot decode. Export it uncompressed or as JPEG baseline.")
    elif keyword == "PixelData" and len(ds.PixelData) < get_expected_length(ds):
        raise ClipError(f"'{name}' is truncated: its image data stops before the last frame. "
                        "Copy or export the file again.")
    return photometric, bits


def read_dicom(path: Path, rescale: bool) -> Clip:
    """Decode a multi-frame DICOM into (T, H, W) grey or (T, H, W, 3) RGB frames."""
    name = path.name
    damaged = ClipError(f"'{name}' looks like a DICOM file but could not be decoded: the file is "
                        "damaged. Copy or export it again.")
    with _quiet() as caught:
        try:
            ds = pydicom.dcmread(path, force=True)
        except Exception:  # pydicom raises many types for bad bytes; all mean "damaged"
            raise damaged from None
        if any("End of file" in str(w.message) for w in caught):
            raise ClipError(f"'{name}' is truncated: the DICOM file ends part-way through its "
                            "image data. Copy or export the file again.")
        if "TransferSyntaxUID" not in ds.file_meta:  # a file without the DICOM preamble
            implicit = ds.original_encoding[0] is not False
            ds.file_meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit
                                              else ExplicitVRLittleEndian)
        photometric, bits = _check_header(ds, name, rescale)
        try:
            pixels = ds.pixel_array  # (T, H, W) or (T, H, W, 3); YBR arrives as RGB
            if photometric == "PALETTE COLOR":
                pixels = apply_color_lut(pixels, ds)  # (T, H, W, 3) uint8 or uint16
        except Exception:  # decoder plug-ins raise many types for corrupt data; all mean "damaged"
            raise damaged from None
        fps, meta = _fps(ds), _meta(ds, photometric, bits)
    if photometric == "PALETTE COLOR" and pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)  # 16-bit table entries to 8 bits
    if photometric == "MONOCHROME1":  # 0 is white: invert to the usual black background
        pixels = pixels.max() - pixels if pixels.dtype != np.uint8 else 255 - pixels
    return finish(pixels, fps, path, "DICOM", meta, rescale)
