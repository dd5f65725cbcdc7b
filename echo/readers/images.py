"""PNG/JPEG frames, one image per frame, read with pillow: from a folder, or from a ZIP archive of
one (what an upload box can take).

Frames are the .png/.jpg/.jpeg files in natural order (frame2 before frame10); other files are
ignored. The frame rate is the single number in an optional 'fps.txt' beside them, else 30 fps,
recorded as meta["fps_source"] = "default". Grey and colour frames may be mixed (the clip becomes
RGB unless every frame is grey); 16-bit PNGs need rescale=True. An archive's frames may sit in one
folder inside it (as zipping a folder makes them; '\\' separators as Windows tools write them); frames in
two folders are refused, not merged, as are password-protected archives and two frames of one name.
"""
from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

import numpy as np
from PIL import Image, UnidentifiedImageError

from echo import limits
from echo.clip import Clip, ClipError
from echo.readers.common import finish, stack_frames

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FPS_FILE = "fps.txt"
_DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "F")  # kept as they are so depth is refused/rescaled


def natural_key(name: str) -> list:
    """Sort key that orders the digit runs in a name by value: frame2 < frame10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def is_frame_name(name: str) -> bool:
    """A file name that holds a frame: a PNG/JPEG suffix, not hidden."""
    return name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith(".")


def member_path(name: str) -> PurePosixPath:
    """An archive member's path as a folder tree: Windows tools write 'clip\\0.png', others './clip/0.png'."""
    return PurePosixPath(*[part for part in name.replace("\\", "/").split("/") if part not in ("", ".")])


@dataclass(frozen=True)
class FrameSource:
    """Where a clip's frame images are: `where` names it in messages ("folder 'x'", "archive 'x.zip'")."""
    where: str
    names: list[str]                    # frame names in natural order
    n_bytes: int                        # their size, uncompressed
    unpacked: bool                      # n_bytes is what an archive's frames take once unpacked
    open: Callable[[str], BinaryIO]     # a frame's bytes by name, read whole (an archive's checksum checked)
    peek: Callable[[str], BinaryIO]     # the same, read lazily: for an image header
    fps_text: str | None                # the content of fps.txt beside the frames, if any

    @property
    def fmt(self) -> str:
        """The clip's format as its metadata names it: only an archive's frames are unpacked."""
        return "image archive" if self.unpacked else "image folder"


def folder_frames(folder: Path) -> FrameSource:
    """The frames of a folder of images, and its fps.txt."""
    files = sorted((p for p in folder.iterdir() if p.is_file() and is_frame_name(p.name)),
                   key=lambda p: natural_key(p.name))
    fps_file = folder / FPS_FILE
    frame_file = lambda name: open(folder / name, "rb")
    return FrameSource(f"folder '{folder.name}'", [p.name for p in files], sum(p.stat().st_size for p in files),
                       False, frame_file, frame_file,
                       fps_file.read_bytes()[:64].decode("utf-8", "replace") if fps_file.is_file() else None)


def max_archive_entries() -> int:
    """The most files an archive of one clip may list: its frames, macOS's copies of them, an fps.txt, folders."""
    return 2 * limits.MAX_FRAMES + 16


def archive_entries(path: Path) -> int | None:
    """How many files a ZIP's end record lists (its ZIP64 record's where the plain one says 0xFFFF), read from
    the file's tail before the list itself is parsed (a list of millions of entries takes gigabytes to parse);
    None where no end record is found."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - (1 << 16) - 22 - 76))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 12:
        return None
    entries = int.from_bytes(tail[at + 10:at + 12], "little")
    at64 = tail.rfind(b"PK\x06\x06", 0, at)                  # the ZIP64 end record, just before its locator
    if entries == 0xFFFF and at64 >= 0 and len(tail) >= at64 + 40:
        entries = int.from_bytes(tail[at64 + 32:at64 + 40], "little")
    return entries


def entries_over_limit(path: Path) -> int | None:
    """How many files a ZIP's end record lists where that is more than an archive of one clip holds
    (max_archive_entries), else None: the sniffer and the reader both ask before the list is parsed."""
    entries = archive_entries(path)
    return entries if entries is not None and entries > max_archive_entries() else None


def archive_files(archive: zipfile.ZipFile) -> list[tuple[PurePosixPath, zipfile.ZipInfo]]:
    """The archive's files (not its folders) as folder paths, macOS's __MACOSX copies of them left out."""
    files = [(member_path(i.filename), i) for i in archive.infolist() if not i.is_dir()]
    return [(path, i) for path, i in files if path.parts and path.parts[0] != "__MACOSX"]


def archive_frames(archive: zipfile.ZipFile, name: str) -> FrameSource:
    """The frames of a ZIP archive: files with an image suffix in one folder of it (macOS's __MACOSX
    copies left out), and an fps.txt (any case) in that folder or one above it. Members are read into
    memory one at a time, never extracted to disk: a member's name cannot reach outside, and one that
    inflates past its declared size is cut there and fails its checksum."""
    where = f"archive '{name}'"
    files = archive_files(archive)
    members = [(path, i) for path, i in files if is_frame_name(path.name)]
    folders = sorted({str(path.parent) for path, _ in members})
    if len(folders) > 1:
        shown = ", ".join("the top level" if f == "." else f"'{f}'" for f in folders[:3]) + (
            " ..." if len(folders) > 3 else "")
        raise ClipError(f"Archive '{name}' holds frames in {len(folders)} folders ({shown}): put one clip's "
                        "frames in an archive of their own.")
    locked = [path.name for path, i in members if i.flag_bits & 0x1]
    if locked:
        raise ClipError(f"Archive '{name}' is password-protected (frame '{locked[0]}'): EchoLens cannot open it. "
                        "Make the archive again without a password.")
    odd = sorted({i.compress_type for _, i in members} - {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                                                        zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
    if odd:
        raise ClipError(f"Archive '{name}' is compressed with a method EchoLens cannot unpack (ZIP method {odd[0]}). "
                        "Make the archive again with ordinary (deflate) compression.")
    by_name = {}
    for path, info in sorted(members, key=lambda m: natural_key(m[0].name)):
        if by_name.setdefault(path.name, info) is not info:
            raise ClipError(f"Archive '{name}' holds two frames named '{path.name}': keep one.")
    folder = PurePosixPath(folders[0]) if folders else PurePosixPath(".")
    fps_files = {path.parent: i for path, i in files if path.name.lower() == FPS_FILE}
    fps = next((fps_files[f] for f in (folder, *folder.parents) if f in fps_files), None)
    fps_text = None
    if fps is not None:
        with archive.open(fps) as fh:
            fps_text = fh.read(64).decode("utf-8", "replace")      # a number; more is not one
    return FrameSource(where, list(by_name), sum(i.file_size for i in by_name.values()), True,
                       lambda frame: io.BytesIO(archive.read(by_name[frame])),
                       lambda frame: archive.open(by_name[frame]), fps_text)


def _damaged(name: str, where: str) -> ClipError:
    return ClipError(f"Frame '{name}' in {where} could not be read: it is damaged "
                     "or not a PNG/JPEG image. Replace or remove it.")


# what a damaged frame raises: pillow's errors, a damaged archive member's (a checksum, a broken deflate stream)
# What opening a ZIP's list of files raises when it cannot be read: damaged (a byte changed can give a 'zip file
# version 22.4' Python does not read), cut short
ZIP_UNREADABLE = (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, ValueError)
_BROKEN = (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, zipfile.BadZipFile, zlib.error,
           EOFError, NotImplementedError)          # the last: a member packed by a method zipfile does not read


def _size(frames: FrameSource, name: str) -> tuple[int, int]:
    """(width, height) from the image header, without decoding pixels (or unpacking an archive's member)."""
    try:
        with frames.peek(name) as fh, Image.open(fh) as image:
            return image.size
    except _BROKEN:
        raise _damaged(name, frames.where) from None


def _load(frames: FrameSource, name: str) -> np.ndarray:
    """One frame: (H, W) grey, (H, W, 3) RGB, or (H, W) deeper than 8 bits."""
    try:
        with frames.open(name) as fh, Image.open(fh) as image:
            if image.mode not in ("L", "RGB", *_DEEP_MODES):
                image = image.convert("L" if image.mode in ("1", "LA", "La") else "RGB")
            return np.asarray(image)
    except _BROKEN:
        raise _damaged(name, frames.where) from None


def _fps(frames: FrameSource) -> float | None:
    if frames.fps_text is None:
        return None
    try:
        fps = float(frames.fps_text.strip())
    except ValueError:
        fps = float("nan")
    if not np.isfinite(fps) or fps <= 0:
        raise ClipError(f"'{FPS_FILE}' in {frames.where} must hold one positive number, "
                        "the frame rate in frames per second (for example 50).")
    low, high = limits.FPS_RANGE
    if not low <= fps <= high:
        raise ClipError(f"'{FPS_FILE}' in {frames.where} gives {fps:g} frames per second, not a frame rate of a cine "
                        f"loop ({low:g}-{high:g} fps). Write the clip's frame rate in it (for example 50).")
    return fps


def read_folder(folder: Path, rescale: bool) -> Clip:
    """A folder of PNG/JPEG frames (module docstring)."""
    return _read_frames(folder_frames(folder), folder, rescale)


def read_frame_archive(path: Path, rescale: bool) -> Clip:
    """A ZIP archive of PNG/JPEG frames (module docstring); its list of files is counted before it is parsed."""
    entries = entries_over_limit(path)
    if entries is not None:
        raise ClipError(f"'{path.name}' lists {entries} files; an archive "
                        f"of one clip holds at most {max_archive_entries()} (its frames, at most "
                        f"{limits.MAX_FRAMES}, and an fps.txt). Put one clip's frames in an archive of their own.")
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_UNREADABLE:
        raise ClipError(f"'{path.name}' is a damaged ZIP archive: its list of files could not be read. "
                        "Make the archive again.") from None
    with archive:
        return _read_frames(archive_frames(archive, path.name), path, rescale)


def _read_frames(frames: FrameSource, path: Path, rescale: bool) -> Clip:
    """The clip of `frames`, each limit checked before the pixels it guards are decoded."""
    name, names = path.name, frames.names
    if not names:
        raise ClipError(f"{frames.where[0].upper()}{frames.where[1:]} contains no PNG or JPEG frames. Put the "
                        "clip's frames in it as numbered .png or .jpg files.")
    limits.check_file_bytes(frames.n_bytes, name, unpacked=frames.unpacked)
    limits.check_frame_count(len(names), name)
    sizes = [_size(frames, n) for n in names]  # T x (W, H)
    width, height = sizes[0]
    for frame, size in zip(names, sizes):
        if size != sizes[0]:
            raise ClipError(f"Frame '{frame}' in {frames.where} is {size[0]} x {size[1]} "
                            f"pixels but '{names[0]}' is {width} x {height}; all frames "
                            "must have one size.")
    limits.check_frame_size(height, width, name)
    limits.check_clip_bytes(len(names), height, width, 3, name)
    pixels = [_load(frames, n) for n in names]  # T x (H, W) or (H, W, 3)
    if any(f.ndim == 3 for f in pixels):
        pixels = [f if f.ndim == 3 else np.repeat(f[..., None], 3, axis=-1) for f in pixels]
    lossy = any(n.lower().endswith((".jpg", ".jpeg")) for n in names)          # JPEG frames: lossy-coded
    return finish(stack_frames(pixels), _fps(frames), path, frames.fmt, {"lossy": lossy}, rescale)
