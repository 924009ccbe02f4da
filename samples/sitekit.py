"""Shared helpers for the sample build scripts (standard library only).

Three parts:

* tiny, valid, deterministic images (`tiny_jpeg`, `tiny_png`) whose bytes carry the URL path
  they are served at, so every image is unique and traceable;
* byte-exact JSON writers (`json_bytes`, `write_file`, `reset_dir`);
* an oracle for the file names a crawl must produce (`safe_segment`, `ExpectedFiles`). It is a
  hand-written reading of the rules in the README's language reference ("Paths in
  `save_as`" and "Conflicts"), kept apart from the yamlcrawl package on purpose: the tests
  compare the two.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import struct
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# --------------------------------------------------------------------------- images

# The standard luminance DC table of JPEG Annex K (categories 0..11).
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_VALUES = tuple(range(12))
# An AC table with one symbol only: end-of-block (0x00), code "0". Every block is flat.
_AC_BITS = (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
_AC_VALUES = (0x00,)


def _segment(marker: int, payload: bytes) -> bytes:
    """One JPEG marker segment: 0xFF, the marker, a big-endian length, the payload."""
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _huffman_codes(bits: Sequence[int], values: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Canonical Huffman codes (JPEG Annex C): symbol -> (code, length)."""
    codes: dict[int, tuple[int, int]] = {}
    code = 0
    index = 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes[values[index]] = (code, length)
            code += 1
            index += 1
        code <<= 1
    return codes


class _BitWriter:
    """Entropy-coded JPEG data: bits packed MSB first, 0xFF bytes stuffed with 0x00."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.count = 0

    def write(self, value: int, length: int) -> None:
        """Append the low ``length`` bits of ``value``."""
        for shift in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> shift) & 1)
            self.count += 1
            if self.count == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0x00)
                self.acc = 0
                self.count = 0

    def finish(self) -> bytes:
        """Pad the last byte with 1 bits, as the standard asks, and return the data."""
        if self.count:
            self.write((1 << (8 - self.count)) - 1, 8 - self.count)
        return bytes(self.out)


def _jpeg_scan(levels: Sequence[int]) -> bytes:
    """The scan of flat 8x8 grey blocks: only a DC difference and an end-of-block each."""
    dc_codes = _huffman_codes(_DC_BITS, _DC_VALUES)
    eob_code, eob_length = _huffman_codes(_AC_BITS, _AC_VALUES)[0x00]
    writer = _BitWriter()
    previous = 0
    for level in levels:
        dc = 8 * (level - 128)  # a flat block's DCT coefficient with a quantiser of 1
        diff = dc - previous
        previous = dc
        category = abs(diff).bit_length()
        code, length = dc_codes[category]
        writer.write(code, length)
        if category:
            writer.write(diff if diff > 0 else diff + (1 << category) - 1, category)
        writer.write(eob_code, eob_length)
    return writer.finish()


def tiny_jpeg(label: str, blocks_wide: int = 4, blocks_high: int = 3) -> bytes:
    """A small valid baseline greyscale JPEG, unique per ``label``.

    The label (the URL path the image is served at) is stored in a COM segment; the grey
    levels of its 8x8 blocks are derived from the label's SHA-256.

    Args:
        label: text to carry; UTF-8 encoded into the comment.
        blocks_wide: width in 8-pixel blocks.
        blocks_high: height in 8-pixel blocks.

    Returns:
        The JPEG file's bytes.
    """
    digest = hashlib.sha256(label.encode("utf-8")).digest()
    levels = [digest[i % len(digest)] for i in range(blocks_wide * blocks_high)]
    height, width = 8 * blocks_high, 8 * blocks_wide
    dht_dc = bytes((0x00, *_DC_BITS, *_DC_VALUES))
    dht_ac = bytes((0x10, *_AC_BITS, *_AC_VALUES))
    return b"".join(
        (
            b"\xff\xd8",
            _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            _segment(0xFE, label.encode("utf-8")),
            _segment(0xDB, bytes(1) + bytes([1] * 64)),
            _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + bytes((1, 0x11, 0))),
            _segment(0xC4, dht_dc),
            _segment(0xC4, dht_ac),
            _segment(0xDA, bytes((1, 1, 0x00, 0, 63, 0))),
            _jpeg_scan(levels),
            b"\xff\xd9",
        )
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type and data."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _zlib_stored(data: bytes) -> bytes:
    """A zlib stream of stored (uncompressed) deflate blocks: the same bytes with any zlib."""
    out = bytearray(b"\x78\x01")
    chunks = [data[i : i + 0xFFFF] for i in range(0, len(data), 0xFFFF)] or [b""]
    for number, chunk in enumerate(chunks):
        final = 1 if number == len(chunks) - 1 else 0
        out += bytes((final,)) + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk
    out += struct.pack(">I", zlib.adler32(data) & 0xFFFFFFFF)
    return bytes(out)


def tiny_png(label: str, width: int = 12, height: int = 16) -> bytes:
    """A small valid RGB PNG, unique per ``label``, which its tEXt chunk carries.

    Args:
        label: Latin-1 text (a URL path) stored under the keyword ``Source``.
        width: pixels.
        height: pixels.

    Returns:
        The PNG file's bytes.
    """
    digest = hashlib.sha256(label.encode("utf-8")).digest()
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type None
        for x in range(width):
            rows += bytes((digest[0] ^ (8 * x), digest[1] ^ (8 * y), digest[2 + (x + y) % 30]))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"tEXt", b"Source\x00" + label.encode("latin-1")),
            _png_chunk(b"IDAT", _zlib_stored(bytes(rows))),
            _png_chunk(b"IEND", b""),
        )
    )


def image_for(url_path: str) -> bytes:
    """The generated image for a URL path, by its extension (.jpg/.jpeg or .png)."""
    suffix = Path(url_path).suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        return tiny_jpeg(url_path)
    if suffix == ".png":
        return tiny_png(url_path)
    raise ValueError(f"no image generator for {url_path!r}")


# --------------------------------------------------------------------------- files


def json_bytes(value: Any, *, ascii_only: bool, indent: int | None = None) -> bytes:
    """JSON as UTF-8 bytes: compact (as the live APIs send it) unless ``indent`` is given.

    Args:
        value: the document.
        ascii_only: True writes non-ASCII as ``\\uXXXX`` escapes, False as raw UTF-8.
        indent: pretty-print with this indent, ending the file with a newline.

    Returns:
        The encoded document.
    """
    if indent is None:
        text = json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"))
    else:
        text = json.dumps(value, ensure_ascii=ascii_only, indent=indent) + "\n"
    return text.encode("utf-8")


def write_file(root: Path, relative: str, data: bytes) -> None:
    """Write ``data`` to ``root/relative`` (a POSIX path), creating folders."""
    target = root.joinpath(*relative.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def reset_dir(path: Path, marker: str) -> None:
    """Delete and recreate a generated folder, refusing one whose name is not ``marker``."""
    if path.name != marker:
        raise ValueError(f"refusing to reset {path}: not a {marker!r} folder")
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def url_path(url: str) -> str:
    """The path of a URL or of a root-relative reference, query and fragment dropped."""
    return urlsplit(url).path


def url_ext(url: str) -> str:
    """The ``ext`` filter: the last segment's extension with its dot, or empty."""
    last = url_path(url).rsplit("/", 1)[-1]
    dot = last.rfind(".")
    return last[dot:] if dot > 0 else ""


# --------------------------------------------------------------------------- the oracle

MAX_SEGMENT_BYTES = 255
_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in '/\\:*?"<>|'}  # "/" -> "／" (U+FF0F) ...
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)
_TRIMMED = " ."


def _split_ext(name: str) -> tuple[str, str]:
    """Split ``name`` into stem and extension (last dot, 1-10 ASCII letters or digits)."""
    dot = name.rfind(".")
    ext = name[dot:] if dot > 0 else ""
    if not (2 <= len(ext) <= 11 and ext[1:].isascii() and ext[1:].isalnum()):
        return name, ""
    return name[:dot], ext


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _prefix(text: str, budget: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 fits in ``budget`` bytes."""
    kept: list[str] = []
    used = 0
    for char in text:
        size = _utf8_len(char)
        if used + size > budget:
            break
        kept.append(char)
        used += size
    return "".join(kept)


def _cut(stem: str, budget: int) -> str:
    """``stem`` in ``budget`` bytes: its head, "…", and as much of its end as fits in a quarter."""
    inner = budget - _utf8_len("…")
    tail = _prefix(stem[::-1], inner // 4)[::-1]
    head = _prefix(stem, inner - _utf8_len(tail))
    return head.rstrip(_TRIMMED) + "…" + tail


def safe_segment(text: str) -> str:
    """One rendered ``save_as`` segment made safe, in the order the README lists the rules.

    NFC first (NBSP stays), then ``/ \\ : * ? " < > |`` to their fullwidth forms, control
    characters (Unicode category Cc) to ``_``, trailing dots and spaces trimmed, a Windows
    reserved stem (compared case-insensitively, as Windows does) gets ``_``, and a segment over
    255 bytes of UTF-8 has its stem cut at a character boundary so stem + extension fits, after
    which trailing dots and spaces are trimmed again.

    Args:
        text: the segment as rendered from the template (values inserted, filters applied).

    Returns:
        The segment as it must appear on disk.
    """
    name = unicodedata.normalize("NFC", text)
    name = "".join(_FULLWIDTH.get(c, c) for c in name)
    name = "".join("_" if unicodedata.category(c) == "Cc" else c for c in name)
    name = name.rstrip(_TRIMMED)
    stem, ext = _split_ext(name)
    if stem.upper() in _RESERVED:
        name = f"{stem}_{ext}"
    if _utf8_len(name) > MAX_SEGMENT_BYTES:
        stem, ext = _split_ext(name)
        name = _cut(stem, MAX_SEGMENT_BYTES - _utf8_len(ext)) + ext
    if not name or name in (".", ".."):
        raise ValueError(f"segment {text!r} has nothing left: the samples must not need this")
    return name


def _numbered(path: str, number: int) -> str:
    """``folder/name.jpg`` -> ``folder/name (2).jpg``; the samples never need a further cut."""
    folder, _, name = path.rpartition("/")
    stem, ext = _split_ext(name)
    numbered = f"{stem} ({number}){ext}"
    if _utf8_len(numbered) > MAX_SEGMENT_BYTES:
        raise ValueError(f"{numbered!r} passes 255 bytes: the README does not say how to cut it")
    return f"{folder}/{numbered}" if folder else numbered


def _key(path: str) -> str:
    """Paths that name the same file on a case-insensitive file system share this key."""
    return unicodedata.normalize("NFC", path).casefold()


class ExpectedFiles:
    """The files a crawl saves with ``on_conflict: suffix``, fed in crawl order."""

    def __init__(self) -> None:
        """Start with no files."""
        self.entries: list[dict[str, str]] = []
        self.skipped_no_url = 0
        self.same_url_again = 0
        self.suffixed = 0
        self._taken: set[str] = set()
        self._seen: set[tuple[str, str]] = set()

    def add(self, url: str, segments: Sequence[str], source: str) -> None:
        """Record one download rule applied to one item.

        Args:
            url: the rendered URL; empty means skipped ("no URL").
            segments: the rendered ``save_as`` split where the template has ``/``.
            source: the file under ``site/`` the URL is served from.
        """
        if not url:
            self.skipped_no_url += 1
            return
        path = "/".join(safe_segment(segment) for segment in segments)
        if (url, _key(path)) in self._seen:
            self.same_url_again += 1
            return
        self._seen.add((url, _key(path)))
        final, number = path, 1
        while _key(final) in self._taken:
            number += 1
            final = _numbered(path, number)
        if number > 1:
            self.suffixed += 1
        self._taken.add(_key(final))
        self.entries.append({"path": final, "source": source})

    def write(self, target: Path) -> None:
        """Write ``expected.json``: a list of ``{"path", "source"}`` in crawl order."""
        target.write_bytes(json_bytes(self.entries, ascii_only=False, indent=2))

    def summary(self, name: str) -> str:
        """One line of counts for the build's output."""
        return (
            f"{name}: {len(self.entries)} files expected, {self.suffixed} renamed ' (n)', "
            f"{self.skipped_no_url} skipped (no URL), {self.same_url_again} repeats of a URL"
        )


def report(site: Path, expected: ExpectedFiles) -> None:
    """Print what a build made: the site's size and expected.json's counts."""
    files = [path for path in site.rglob("*") if path.is_file()]
    images = sum(1 for path in files if path.read_bytes()[:3] in (b"\x89PN", b"\xff\xd8\xff"))
    size = sum(path.stat().st_size for path in files)
    print(f"site: {len(files)} files ({images} images), {size} bytes")
    print(expected.summary("expected.json"))


def build_command(
    here: Path, build: Callable[[Path], ExpectedFiles], argv: Sequence[str] | None, doc: str
) -> int:
    """A sample's build.py main: build ``here/site`` and ``here/expected.json``, then report."""
    argparse.ArgumentParser(description=doc.split("\n", 1)[0]).parse_args(argv)
    site = here / "site"
    expected = build(site)
    expected.write(here / "expected.json")
    report(site, expected)
    return 0
