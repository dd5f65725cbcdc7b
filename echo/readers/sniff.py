"""Tell a file's format from its first bytes (its "magic"), not from its name, and describe
content EchoLens does not read so the message can say what the file really is."""
from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

from echo.readers.images import ZIP_UNREADABLE, archive_files, entries_over_limit, is_frame_name

SUPPORTED = ("AVI or MP4 video, a DICOM cine loop, a NumPy .npy/.npz array, "
             "or PNG/JPEG frames in a ZIP archive (or a folder)")
# Extensions that promise a format, so a mismatch can be named in the message.
PROMISED = {".avi": "an AVI video", ".mp4": "an MP4 video", ".m4v": "an MP4 video",
            ".mov": "a QuickTime video", ".dcm": "a DICOM file", ".dicom": "a DICOM file",
            ".npy": "a NumPy array", ".npz": "a NumPy archive", ".zip": "a ZIP archive of frames"}
_ISO_BOXES = (b"moov", b"mdat", b"free", b"wide", b"skip")  # first box of an old-style MOV
_OTHER = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"%PDF", "a PDF document"), (b"\x1a\x45\xdf\xa3", "a WebM/Matroska video"),
          (b"OggS", "an Ogg file"), (b"BM", "a BMP image"), (b"II*\x00", "a TIFF image"),
          (b"MM\x00*", "a TIFF image"))
STILL_IMAGES = ("a PNG image", "a JPEG image", "a BMP image", "a TIFF image")


def sniff(path: Path) -> str:
    """'avi', 'mp4', 'dicom', 'npy', 'npz' or 'zip' (PNG/JPEG frames) for readable content, else a description such as
    'a PNG image' or 'text'."""
    with open(path, "rb") as fh:
        head = fh.read(512)  # (n,) bytes
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[4:8] == b"ftyp" or (head[4:8] in _ISO_BOXES and _plausible_box(head, path)):
        return "mp4"
    if head[128:132] == b"DICM":
        return "dicom"
    # DICOM written without its 128-byte preamble starts straight with group 0002 or 0008 tags.
    if path.suffix.lower() in (".dcm", ".dicom") and head[:2] in (b"\x02\x00", b"\x08\x00"):
        return "dicom"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if head[:4] == b"PK\x03\x04":
        return "npz" if path.suffix.lower() == ".npz" else _zip_content(path)
    if head[:4] == b"PK\x05\x06":                   # a ZIP's end record first: no entries at all
        return "an empty ZIP archive (it holds no files)"
    if head[:4] == b"RIFF":
        return f"a RIFF {head[8:12].decode('latin-1').strip()} file (not an AVI video)"
    for magic, description in _OTHER:
        if head.startswith(magic):
            return description
    try:  # incremental: a character cut at byte 512 is not an error
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "data of an unrecognised kind"
    return "text" if b"\x00" not in head else "data of an unrecognised kind"


def _plausible_box(head: bytes, path: Path) -> bool:
    """A first box whose length field fits the file (0: to the end, 1: 64-bit length follows)."""
    length = int.from_bytes(head[:4], "big")
    return length in (0, 1) or 8 <= length <= path.stat().st_size


def _zip_content(path: Path) -> str:
    """'npz' for a ZIP holding only .npy arrays, 'zip' for one holding PNG/JPEG frames (and no arrays) or one
    named .zip the reader must refuse (damaged, or listing more files than a clip's archive), else a
    description."""
    if entries_over_limit(path) is not None:
        return "zip"                                # the reader says how many: the list is not parsed here
    try:
        with zipfile.ZipFile(path) as archive:
            every = [i.filename for i in archive.infolist() if not i.is_dir()]   # macOS's copies included
            names = [n for n, _ in archive_files(archive)]
    except ZIP_UNREADABLE:                     # named .zip: its reader says it is damaged
        return "zip" if path.suffix.lower() == ".zip" else "a damaged ZIP archive"
    if every and all(n.endswith(".npy") for n in every):
        return "npz"
    arrays = [n for n in every if n.endswith(".npy")]
    frames = [n for n in names if is_frame_name(n.name)]
    listed = {str(n) for n in names}
    if "[Content_Types].xml" in listed:        # Word, Excel, PowerPoint: their pictures are not frames
        return "an Office document"
    if "mimetype" in listed:                   # OpenDocument, EPUB: the same
        return "an OpenDocument or EPUB file"
    if frames and arrays:
        return "a ZIP archive holding both PNG/JPEG frames and .npy arrays (one clip a file)"
    if frames:
        return "zip"
    return "a ZIP archive holding no PNG/JPEG frames" if every else "an empty ZIP archive"
