"""File names that are safe on every OS, and paths that never leave the output folder."""

from __future__ import annotations

import functools
import mimetypes
import os
import re
import stat
import unicodedata
from pathlib import Path, PurePosixPath

from yamlcrawl.types import Replace

MAX_SEGMENT_BYTES = 255
# Folders a file may be saved under, and the file: far past any real layout, and within what
# every file system and mkdir(parents=True) can take.
MAX_PATH_PARTS = 101
ELLIPSIS = "…"
# Characters Windows refuses in names (and `/`, which every OS does): their fullwidth forms
# (U+FF01..U+FF5E mirror ASCII 0x21..0x7E) keep names readable, `K/DA` becomes `K／DA`.
UNSAFE_CHARS = '/\\:*?"<>|'
_FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in UNSAFE_CHARS})
_UNDERSCORE = str.maketrans(dict.fromkeys(UNSAFE_CHARS, "_"))
_SEPARATORS_FULLWIDTH = str.maketrans({"/": "／", "\\": "＼"})
_SEPARATORS_UNDERSCORE = str.maketrans({"/": "_", "\\": "_"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")}
)
# An extension is kept when names are cut only if it looks like one (".jpg", not ". a long tail").
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}\Z")
# Bytes a name settled before its `{ext}` leaves free for it (the longest `_EXTENSION`).
EXT_ROOM = 11
# Types the standard library's table lacks or names oddly; the rest come from its built-in table
# (never the system's mime.types, so every machine gives the same names).
_PREFERRED_EXT = {
    "application/gzip": ".gz",
    "audio/aac": ".aac",
    "audio/flac": ".flac",
    "audio/ogg": ".ogg",
    "audio/wav": ".wav",
    "font/otf": ".otf",
    "font/ttf": ".ttf",
    "font/woff": ".woff",
    "font/woff2": ".woff2",
    "image/bmp": ".bmp",
    "image/jpeg": ".jpg",
    "image/vnd.microsoft.icon": ".ico",
    "image/webp": ".webp",
    "image/x-icon": ".ico",
    "text/plain": ".txt",
    "video/ogg": ".ogv",
}
# Types that say only "bytes": the URL's extension tells more.
_GENERIC_TYPES = frozenset(
    {
        "application/octet-stream",
        "binary/octet-stream",
        "application/x-download",
        "application/download",
    }
)


class UnsafePathError(ValueError):
    """A path that would escape the output folder; the message says which and why."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"'{path}' {reason}")
        self.reason = reason


def escape_value(value: str, replace: Replace = "fullwidth") -> str:
    """Keep `/` and `\\` inside a template value from making folders."""
    table = _SEPARATORS_FULLWIDTH if replace == "fullwidth" else _SEPARATORS_UNDERSCORE
    return value.translate(table)


def safe_segment(segment: str, replace: Replace = "fullwidth") -> str:
    """One file or folder name made safe on Windows, macOS and Linux.

    NFC-normalised; unsafe ASCII replaced; control characters become `_`; trailing dots and
    spaces trimmed; reserved device names get `_` after their stem; at most 255 bytes of UTF-8,
    cut at a character boundary, keeping the extension.
    """
    name = unicodedata.normalize("NFC", segment)
    name = _CONTROL.sub("_", name)
    name = name.translate(_FULLWIDTH if replace == "fullwidth" else _UNDERSCORE)
    name = name.rstrip(" .") or "_"
    name = _unreserve(name)
    return fit_bytes(name)


def _unreserve(name: str) -> str:
    """``CON`` -> ``CON_``, ``nul.txt`` -> ``nul_.txt``: reserved on Windows with any extension."""
    stem, dot, rest = name.partition(".")
    if stem.rstrip(" ").upper() in _RESERVED:
        return f"{stem}_{dot}{rest}"
    return name


def fit_bytes(name: str, limit: int = MAX_SEGMENT_BYTES) -> str:
    """Cut ``name`` to ``limit`` bytes of UTF-8, whole characters only, keeping its extension.

    The middle goes, not the end: ``<head>…<tail>.jpg`` keeps the start of the name and its
    last quarter, where templates usually put what tells files apart (``电脑版``, ``手机版``).
    """
    if len(name.encode("utf-8")) <= limit:
        return name
    match = _EXTENSION.search(name)
    ext = match.group(0) if match and match.start() > 0 else ""
    stem = name[: len(name) - len(ext)]
    budget = limit - len(ext.encode("utf-8")) - len(ELLIPSIS.encode("utf-8"))
    tail = stem.encode("utf-8")[-(budget // 4) :].decode("utf-8", errors="ignore")
    head_budget = budget - len(tail.encode("utf-8"))
    head = stem.encode("utf-8")[:head_budget].decode("utf-8", errors="ignore")
    return (head.rstrip(" .") or "_") + ELLIPSIS + tail + ext


def relative_path(rendered: str, replace: Replace = "fullwidth") -> PurePosixPath:
    """Split a rendered ``save_as`` on `/` and make each segment safe.

    Raises:
        UnsafePathError: the path is absolute, empty, has an empty, ``.`` or ``..`` segment, or
            more than :data:`MAX_PATH_PARTS` segments.
    """
    if rendered.startswith("/"):
        raise UnsafePathError(rendered, "starts with '/' (an absolute path or an empty folder)")
    if rendered.startswith("\\") or re.match(r"[A-Za-z]:[\\/]", rendered):
        raise UnsafePathError(rendered, "is an absolute path")
    segments = rendered.split("/")
    if len(segments) > MAX_PATH_PARTS:
        raise UnsafePathError(
            rendered, f"is {len(segments) - 1} folders deep (at most {MAX_PATH_PARTS - 1})"
        )
    for segment in segments:
        if segment in (".", ".."):
            raise UnsafePathError(rendered, f"has a '{segment}' segment")
        if not segment:
            raise UnsafePathError(rendered, "has an empty folder or file name")
    return PurePosixPath(*(safe_segment(segment, replace) for segment in segments))


def numbered(path: PurePosixPath, number: int, ext_to_come: bool = False) -> PurePosixPath:
    """``a/name.jpg`` -> ``a/name (2).jpg``, still within the byte limit.

    With ``ext_to_come``, ``path`` is a name whose extension the response will settle: the
    number goes at its end and :data:`EXT_ROOM` bytes stay free.
    """
    name = path.name
    match = None if ext_to_come else _EXTENSION.search(name)
    ext = match.group(0) if match and match.start() > 0 else ""
    tail = f" ({number}){ext}"
    room = EXT_ROOM if ext_to_come else 0
    budget = MAX_SEGMENT_BYTES - room - len(tail.encode("utf-8"))
    return path.with_name(fit_bytes(name[: len(name) - len(ext)], budget) + tail)


def leave_room_for_ext(path: PurePosixPath) -> PurePosixPath:
    """A name whose extension the response will settle, cut so that one still fits."""
    return path.with_name(fit_bytes(path.name, MAX_SEGMENT_BYTES - EXT_ROOM))


def conflict_key(path: PurePosixPath | str) -> str:
    """Two paths with the same key are the same file on a case-insensitive file system."""
    return unicodedata.normalize("NFC", str(path)).casefold()


def family_key(path: PurePosixPath | str) -> str:
    """The conflict key of ``path`` without its extension: what a ``name{ext}`` may become."""
    text = str(path)
    match = _EXTENSION.search(text)
    if match is not None and match.start() > text.rfind("/") + 1:
        text = text[: match.start()]
    return conflict_key(text)


def extension_for(content_type: str | None, url: str) -> str:
    """The extension a file named by ``{ext}`` gets: from its Content-Type, else its URL.

    The URL's own extension wins when the type allows it (``.jpeg`` for ``image/jpeg``) or says
    nothing (``application/octet-stream``); a type that names none leaves the URL's; no type
    and no extension in the URL give ``""``.
    """
    from_url = _url_extension(url)
    mime = (content_type or "").partition(";")[0].strip().lower()
    if not mime or (mime in _GENERIC_TYPES and from_url):
        return from_url
    table = _types()
    if from_url.lower() in table.guess_all_extensions(mime):
        return from_url
    guessed = _PREFERRED_EXT.get(mime) or table.guess_extension(mime)
    return guessed if guessed and _EXTENSION.fullmatch(guessed) else from_url


def _url_extension(url: str) -> str:
    path = url.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:
        path = path.split("://", 1)[1].partition("/")[2]
    name = path.rpartition("/")[2]  # a URL ending in / names a folder: no extension
    match = _EXTENSION.search(name)
    return match.group(0) if match and match.start() > 0 else ""


@functools.cache
def _types() -> mimetypes.MimeTypes:
    return mimetypes.MimeTypes()  # the built-in table only: no files are passed to it


def resolve_inside(root: Path | str, relative: PurePosixPath | str) -> Path:
    """The absolute path of ``relative`` under ``root``, refusing any that lands outside it.

    Symlinks inside ``root`` (a folder or the file itself) are followed, so a link pointing out
    is caught too. Called for every file, twice: plain names with no link on the way cost one
    ``lstat`` per component, and only a path with a link in it is resolved in full.

    Raises:
        UnsafePathError: the path resolves outside ``root``.
    """
    base = _real_root(os.fspath(root))
    parts = relative.parts if isinstance(relative, PurePosixPath) else _split(relative)
    lexical = os.path.join(base, *parts)  # noqa: PTH118 (strings: this runs for every file)
    if _plain(parts) and not _passes_a_link(base, parts):
        return Path(lexical)
    target = os.path.realpath(lexical)
    if target == base or not target.startswith(base.rstrip(os.sep) + os.sep):
        raise UnsafePathError(relative, f"resolves outside the output folder {root}")
    return Path(target)


def _split(relative: str) -> tuple[str, ...]:
    # The paths this module makes split on "/" alone; pathlib (slower) for anything else.
    if relative and not relative.startswith("/") and "//" not in relative:
        return tuple(relative.split("/"))
    return PurePosixPath(relative).parts


@functools.lru_cache(maxsize=16)
def _real_root(root: str) -> str:
    # The output folder itself does not move during a run; its real path is looked up once.
    return os.path.realpath(root)


def _plain(parts: tuple[str, ...]) -> bool:
    return bool(parts) and all(p not in ("", ".", "..") and os.sep not in p for p in parts)


def _passes_a_link(base: str, parts: tuple[str, ...]) -> bool:
    """Whether any of the folders and file of ``parts`` under ``base`` is a symlink now."""
    path = base
    for part in parts:
        path = os.path.join(path, part)  # noqa: PTH118 (as above)
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return True
        except (FileNotFoundError, NotADirectoryError):
            return False  # nothing below a missing folder can be a link yet
    return False
