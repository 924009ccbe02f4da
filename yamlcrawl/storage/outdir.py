"""The output folder of a run: taken with a lock, checked, and written without following links.

A run keeps its own files in the folder's private ``.yamlcrawl/``: the resume state, the lock,
the throttle files, and every temporary file (``.yamlcrawl/tmp/``), so no temporary name can
collide with a name the crawl produces. A file yamlcrawl writes is opened with ``O_NOFOLLOW``,
and a private folder that is a symbolic link, or not a folder, is refused: a link planted in
the output folder is never followed to write outside it.

The lock is ``flock`` on ``.yamlcrawl/lock`` (holding the pid): a second run into the same
folder stops at once, and the kernel lets go of it when its holder dies, however it dies.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import stat
import time
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows: no lock, runs are not kept apart)
    fcntl = None  # type: ignore[assignment]

STATE_DIR = ".yamlcrawl"  # in the output folder; reserved, no download may be saved there
LOCK_FILE = "lock"
TMP_DIR = "tmp"
PARTIAL_DIR = "partial"  # large downloads kept part-way (storage/partials.py), never swept
THROTTLE_DIR = "throttle"
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# The folder cannot take more: a run that meets one of these stops (every next file would fail).
FOLDER_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
_REASONS = {
    errno.ELOOP: "it is a symbolic link, which yamlcrawl does not follow",
    errno.EISDIR: "it is a folder",
    errno.ENOTDIR: "a part of its path is not a folder",
}
_held: set[int] = set()  # lock descriptors of this process, closed in forked children


class FolderError(Exception):
    """The output folder, or a file yamlcrawl keeps in it, cannot be used: one line, exit 2."""


class FolderBusyError(FolderError):
    """Another run holds the output folder."""


def describe(exc: OSError) -> str:
    """Why a write failed, in a few words (a link, a folder, a full disk...)."""
    return _REASONS.get(exc.errno or 0) or exc.strerror or str(exc)


def folder_full(root: Path | str, what: str) -> FolderError:
    """The one line of a run stopped because ``root`` cannot take more (``what`` failed)."""
    return FolderError(
        f"the output folder {root} cannot take more files ({what}):"
        " the run stopped; what it saved is whole, and a rerun fetches the rest"
    )


def stops_the_run(exc: BaseException) -> bool:
    """Whether ``exc`` says the whole folder cannot take more (full, over quota, read-only)."""
    return isinstance(exc, OSError) and exc.errno in FOLDER_FULL


def open_new(path: Path | str, *, exclusive: bool = False) -> int:
    """Open ``path`` for writing, created or emptied, never through a symbolic link.

    With ``exclusive``, the name must not exist yet (a temporary file).
    """
    flags = os.O_WRONLY | os.O_CREAT | NOFOLLOW | CLOEXEC
    flags |= os.O_EXCL if exclusive else os.O_TRUNC
    return os.open(path, flags, 0o666)


def open_existing(path: Path | str, size: int) -> int:
    """Open ``path`` (which must exist) to write on after its first ``size`` bytes (anything
    after them is cut), never through a symbolic link."""
    fd = os.open(path, os.O_WRONLY | NOFOLLOW | CLOEXEC)
    try:
        os.ftruncate(fd, size)
        os.lseek(fd, size, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_read(path: Path | str) -> int:
    """Open ``path`` for reading, never through a symbolic link."""
    return os.open(path, os.O_RDONLY | NOFOLLOW | CLOEXEC)


def open_text(path: Path | str, *, exclusive: bool = False) -> IO[str]:
    """:func:`open_new` as a UTF-8 text stream (newlines written as they are)."""
    return open(open_new(path, exclusive=exclusive), "w", encoding="utf-8", newline="")


def private_path(root: Path | str, *names: str) -> Path:
    """A path inside the output folder's ``.yamlcrawl/``."""
    return Path(root, STATE_DIR, *names)


def kept_for_yamlcrawl(relative: PurePosixPath) -> str | None:
    """Why a crawl may not write ``relative`` (a safe path in the output folder), or None: the
    private ``.yamlcrawl/`` is yamlcrawl's own, in any case."""
    if relative.parts[0].casefold() == STATE_DIR:
        return f"is in {STATE_DIR}/, kept for yamlcrawl's own state"
    return None


def throttle_path(root: Path | str) -> str:
    """Where a run keeps its politeness limits (``rate``, ``per_host``)."""
    return str(private_path(root, THROTTLE_DIR))


def temporary_path(root: Path | str) -> Path:
    """A new name for a file being written, in ``.yamlcrawl/tmp/``: on the output folder's file
    system (so the rename into place is atomic), never next to a name the crawl uses.

    The name is the process's own random prefix and a count: unguessable, unique among the
    processes of a run, and without a draw from the system's random source for every file.
    """
    return private_path(root, TMP_DIR, temporary_name())


def temporary_name() -> str:
    """A new file name for a temporary, unique among the processes of a run."""
    return f"{_temporaries.prefix}{next(_temporaries.count):x}.part"


class _TemporaryNames:
    """This process's prefix for temporary names (drawn anew in a forked child) and count."""

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        """A new random prefix, and the count from zero."""
        self.prefix = os.urandom(12).hex() + "-"
        self.count = itertools.count()


_temporaries = _TemporaryNames()
os.register_at_fork(after_in_child=_temporaries.renew)


def ensure_folder(path: Path) -> None:
    """Make ``path`` a folder of yamlcrawl's own, refusing a link or a file there.

    Raises:
        FolderError: it is a symbolic link or not a folder, or it cannot be made.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        try:
            path.mkdir()
        except FileExistsError:
            pass  # made at the same moment by a worker: checked below
        except OSError as exc:
            raise FolderError(f"cannot make {path}: {describe(exc)}") from None
        mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise FolderError(f"{path} is a symbolic link, which yamlcrawl does not follow")
    if not stat.S_ISDIR(mode):
        raise FolderError(f"{path} is not a folder (yamlcrawl keeps its own files there)")


def refuse_links(*paths: Path) -> None:
    """Refuse any of ``paths`` that is a symbolic link (a file another library will open)."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise FolderError(f"{path} is a symbolic link, which yamlcrawl does not follow")


def sweep_temporaries(root: Path | str) -> None:
    """Remove every temporary file of the output folder (after a run, or one killed outright);
    a link in the folder's place is not followed."""
    try:
        folder = os.open(private_path(root, TMP_DIR), os.O_RDONLY | os.O_DIRECTORY | NOFOLLOW)
    except OSError:
        return
    try:
        for name in os.listdir(folder):  # noqa: PTH208 (a descriptor, not a path)
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=folder)
    finally:
        os.close(folder)


class OutputFolder:
    """The output folder, held by this run from :meth:`open` to :meth:`close`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock: int | None = None
        self._ready = False  # every private folder checked: temporaries may be swept

    def open(self) -> None:
        """Make the folder and its private folders, take the lock, drop stale temporaries.

        Raises:
            FolderBusyError: another run holds the folder (its pid is in the message).
            FolderError: the folder cannot be used (why is in the message).
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise FolderError(f"cannot use the output folder {self.root}: it is a file") from None
        except OSError as exc:
            raise FolderError(
                f"cannot use the output folder {self.root}: {describe(exc)}"
            ) from None
        try:
            for names in ((), (TMP_DIR,), (THROTTLE_DIR,), (PARTIAL_DIR,)):
                ensure_folder(private_path(self.root, *names))
                if not names:
                    self._take_lock()
        except FolderBusyError:
            raise
        except FolderError as exc:
            self.close()
            raise FolderError(f"cannot use the output folder {self.root}: {exc}") from None
        self._ready = True
        sweep_temporaries(self.root)  # left by a run killed outright

    def _take_lock(self) -> None:
        path = private_path(self.root, LOCK_FILE)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | NOFOLLOW | CLOEXEC, 0o644)
        except OSError as exc:
            raise FolderError(f"cannot open the lock file {path}: {describe(exc)}") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise FolderBusyError(
                    f"the output folder {self.root} is in use by another yamlcrawl run"
                    f" (pid {holder}): wait for it to end, or choose another --output"
                ) from None
        self._lock = fd
        _held.add(fd)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError as exc:
            raise FolderError(f"cannot write the lock file {path}: {describe(exc)}") from None

    def close(self) -> None:
        """Drop the run's temporaries and let go of the folder."""
        if self._lock is not None:
            if self._ready:
                sweep_temporaries(self.root)
            _held.discard(self._lock)
            os.close(self._lock)  # the kernel releases the flock with its last descriptor
            self._lock = None
            self._ready = False

    def __enter__(self) -> OutputFolder:
        self.open()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _holder(fd: int) -> str:
    """The pid the run holding the lock wrote (it writes it just after taking the lock)."""
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text:
            return text
        time.sleep(0.01)
    return "unknown"


def _forget_locks() -> None:
    # A forked worker must not keep the run's lock alive after the run itself has gone.
    for fd in _held:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks)
