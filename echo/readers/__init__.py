"""read_clip: open any supported echo clip as a Clip, choosing the reader by the file's content.

Supported: AVI and MP4/MOV video (MJPEG, H.264, anything FFmpeg decodes), DICOM multi-frame cine
loops, NumPy .npy/.npz arrays, and PNG/JPEG frames in a folder or a ZIP archive. The extension is
only used to phrase the message when content and name disagree: a PNG renamed .avi is refused as a PNG.

Every failure is a ClipError whose message says what is wrong and what to do. Limits are in
echo.limits. Pixels deeper than 8 bits (16-bit DICOM or PNG, uint16/float arrays) are refused
unless rescale=True, which maps the clip's own min..max linearly onto 0..255. A colour clip whose
channels are equal (a grey clip stored as RGB) becomes (T, H, W); real colour (Doppler) stays
(T, H, W, 3). Clip.meta holds only technical, non-identifying facts: format, codec or transfer
syntax, size, frame count, fps and whether the fps came from the file or the 30 fps default.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from echo import limits
from echo.clip import Clip, ClipError
from echo.readers.arrays import read_npy, read_npz
from echo.readers.common import DEFAULT_FPS
from echo.readers.dicom import read_dicom
from echo.readers.images import FPS_FILE, IMAGE_SUFFIXES, read_folder, read_frame_archive
from echo.readers.sniff import PROMISED, STILL_IMAGES, SUPPORTED, sniff
from echo.readers.video import read_video

log = logging.getLogger("echolens")

__all__ = ["read_clip", "reads_as_clip", "sniff", "DEFAULT_FPS", "FPS_FILE", "IMAGE_SUFFIXES", "SUPPORTED"]

_READERS = {
    "avi": lambda path, rescale: read_video(path, "avi", rescale),
    "mp4": lambda path, rescale: read_video(path, "mp4", rescale),
    "dicom": read_dicom,
    "npy": read_npy,
    "npz": read_npz,
    "zip": read_frame_archive,
}


def reads_as_clip(path: Path) -> bool:
    """Whether read_clip takes this file by its content, whatever its name (a scanner's DICOM export named
    'IM0001'); False for a file that cannot be opened or is empty."""
    try:
        return path.is_file() and path.stat().st_size > 0 and sniff(path) in _READERS
    except OSError:
        return False


def _unsupported(path: Path, content: str) -> ClipError:
    promised = PROMISED.get(path.suffix.lower())
    what = f"is named like {promised} but its content is {content}" if promised else f"is {content}"
    if content in STILL_IMAGES:
        advice = ("a single still frame, not a cine loop. Open the clip's video or DICOM file, or "
                  "all its frames in a ZIP archive (or a folder).")
    else:
        advice = f"not a format EchoLens reads. EchoLens reads {SUPPORTED}."
    return ClipError(f"'{path.name}' {what}: {advice}")


def read_clip(path: str | os.PathLike, *, rescale: bool = False) -> Clip:
    """Read the clip at `path` (a file or a folder of frames) -> Clip with uint8 frames."""
    path = Path(path)
    if not path.exists():
        raise ClipError(f"No file or folder found at '{path}'. Check the name and location.")
    if path.is_dir():
        return _named_failures(read_folder, path, rescale, "a folder of frames")
    size = path.stat().st_size
    if size == 0:
        raise ClipError(f"'{path.name}' is empty (0 bytes), as happens when a copy or download "
                        "failed. Copy or export the clip again.")
    limits.check_file_bytes(size, path.name)
    try:
        content = sniff(path)
    except OSError:
        raise ClipError(f"'{path.name}' could not be opened: check that you may read it.") from None
    reader = _READERS.get(content)
    if reader is None:
        raise _unsupported(path, content)
    return _named_failures(reader, path, rescale, PROMISED[f".{content}"])     # 'an AVI video', ...


def _named_failures(reader, path: Path, rescale: bool, what: str) -> Clip:
    """reader(path, rescale), with any failure its reader did not foresee (a damaged field a library trips
    on: a codec context missing, a DICOM tag absent, a header that does not parse) said as a ClipError that
    names the file, not as the library's bare AttributeError: the app, the CLI and the audit all show
    ClipErrors as messages."""
    try:
        return reader(path, rescale)
    except ClipError:
        raise
    except MemoryError:
        raise ClipError(f"'{path.name}' decodes into more memory than this machine has free. Export a shorter "
                        "clip or a lower resolution.") from None
    except Exception as e:                     # noqa: BLE001 - every other failure is this file's
        log.warning("reading %s failed unforeseen", path.name, exc_info=True)    # a reader's own bug shows here
        detail = str(e).replace(str(path), path.name)[:160]           # never the server's upload path
        raise ClipError(f"'{path.name}' looks like {what} but could not be read: it is damaged or written in a "
                        f"way EchoLens does not follow ({type(e).__name__}: {detail}). Export or copy it "
                        "again.") from None
