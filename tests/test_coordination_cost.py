"""What each saved file costs beyond its bytes (issue 16, "coordination cheaper per file"): the
system calls of putting it in place, and the messages its result takes home. Counted, not
timed: counts do not flake on a loaded machine."""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import textwrap
from multiprocessing import Pipe
from pathlib import Path

import pytest

from yamlcrawl.backends.queue import HOLD, _Outbox
from yamlcrawl.storage.files import FileSlot
from yamlcrawl.storage.outdir import temporary_path
from yamlcrawl.types import DownloadUnit, FileResult, PageResult, PageUnit

ROOT = Path(__file__).resolve().parent.parent
FILES = 20
# One saved file, written in five chunks of 16 KiB (what libcurl hands over): the folder and
# the name checked for links (lstat), the temporary created, the chunks written together, closed,
# renamed into place. No fstat, ioctl or lseek of a buffered file object, no random draw.
PER_FILE = {"lstat": 2, "openat": 1, "write": 2, "close": 1, "rename": 1}

SAVE_FILES = """
import os, sys
from yamlcrawl.storage.files import FileSlot
root, count = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(root, "d"))
chunk = b"x" * 16384
def save(name):
    with FileSlot(root, name) as slot:
        slot.begin("image/jpeg")
        for _ in range(5):
            slot.write(chunk)
        slot.commit()
save("d/warm-up.jpg")  # the tmp folder made, the modules' first calls made
os.access("/yamlcrawl-count-from-here", os.F_OK)
for n in range(count):
    save(f"d/{n}.jpg")
os.access("/yamlcrawl-count-to-here", os.F_OK)
"""


def system_calls(tmp_path: Path) -> collections.Counter[str]:
    """The system calls of saving ``FILES`` files with a FileSlot, by name (strace)."""
    log = tmp_path / "strace.txt"
    command = [sys.executable, "-c", textwrap.dedent(SAVE_FILES), str(tmp_path / "out"), "20"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(["strace", "-f", "-o", str(log), *command], check=True, env=env)
    lines = log.read_text("utf-8").splitlines()
    first = next(n for n, line in enumerate(lines) if "count-from-here" in line)
    last = next(n for n, line in enumerate(lines) if "count-to-here" in line)
    counts: collections.Counter[str] = collections.Counter()
    for line in lines[first + 1 : last]:
        found = re.match(r"(?:\d+\s+)?(\w+)\((.*)", line)
        if found is not None:
            counts[_kind(found.group(1), found.group(2))] += 1
    return counts


def _kind(name: str, arguments: str) -> str:
    """stat calls by what they ask: an open descriptor's (fstat) or a name's (lstat)."""
    if name in ("newfstatat", "fstatat64", "lstat", "stat", "statx", "fstat"):
        return "fstat" if name == "fstat" or "AT_EMPTY_PATH" in arguments else "lstat"
    return name


def _strace_works() -> bool:
    """strace is installed and may trace here (a container may forbid ptrace)."""
    if shutil.which("strace") is None:
        return False
    done = subprocess.run(["strace", "-o", os.devnull, "true"], capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.skipif(not _strace_works(), reason="counts system calls with strace")
def test_a_saved_file_costs_seven_system_calls(tmp_path: Path) -> None:
    counts = system_calls(tmp_path)
    assert dict(counts) == {name: n * FILES for name, n in PER_FILE.items()}, counts


def test_temporary_names_draw_no_randomness_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_random(size: int) -> bytes:
        raise AssertionError("a random draw for one temporary name")

    monkeypatch.setattr(os, "urandom", no_random)
    names = {temporary_path(tmp_path) for _ in range(1000)}
    assert len(names) == 1000
    assert all(p.name.endswith(".part") for p in names)


def test_a_forked_worker_names_its_temporaries_apart_from_its_parent(tmp_path: Path) -> None:
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover  (runs in the child)
        os.write(writer, temporary_path(tmp_path).name.encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    theirs = os.read(reader, 200).decode()
    os.close(reader)
    ours = temporary_path(tmp_path).name
    assert theirs.split("-")[0] != ours.split("-")[0]  # a prefix of its own, drawn at the fork


@pytest.mark.parametrize(
    ("chunks", "most_per_call"),
    [
        ([b"a" * 100, b"b" * 70_000, b"c" * 5], 1 << 20),  # gathered, then the rest at commit
        ([b"a" * 200_000], 1 << 20),  # a large chunk as it is
        ([b"a" * 100, b"b" * 70_000, b"c" * 5], 999),  # short writes are finished
        ([b"a" * 200_000, b"b" * 3], 4096),
    ],
)
def test_every_byte_lands_in_order_however_the_chunks_and_writes_fall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunks: list[bytes], most_per_call: int
) -> None:
    real_write = os.write

    def short_write(descriptor: int, data: bytes | bytearray | memoryview) -> int:
        return real_write(descriptor, bytes(data[:most_per_call]))

    monkeypatch.setattr(os, "write", short_write)
    with FileSlot(tmp_path, "a.jpg") as slot:
        slot.begin(None)
        for chunk in chunks:
            slot.write(chunk)
        written = slot.commit()
    assert (tmp_path / "a.jpg").read_bytes() == b"".join(chunks)
    assert written.bytes == sum(map(len, chunks))


def test_a_discarded_slot_begins_again_without_the_old_bytes(tmp_path: Path) -> None:
    with FileSlot(tmp_path, "a.jpg") as slot:
        slot.begin(None)
        slot.write(b"old")
        slot.discard()
        slot.begin(None)
        slot.write(b"new")
        slot.commit()
    assert (tmp_path / "a.jpg").read_bytes() == b"new"
    assert list((tmp_path / ".yamlcrawl" / "tmp").iterdir()) == []


def _file_result(n: int) -> FileResult:
    unit = DownloadUnit((n,), "skins", f"http://x/{n}.jpg", f"{n}.jpg", (), False)
    return FileResult(unit, "saved", 3, "abc")


def _page_result() -> PageResult:
    return PageResult(PageUnit((0,), "heroes", {}), "http://x/list", None)


def test_a_files_result_goes_home_with_the_next_announcement_in_one_message() -> None:
    home, away = Pipe(duplex=False)
    outbox = _Outbox(away)
    outbox.send(("start", "file 1"))  # an announcement goes at once: a death will name it
    assert home.recv() == [("start", "file 1")]
    outbox.hold(("done", _file_result(1)), at_once=False)
    outbox.hold(("done", _file_result(2)), at_once=False)
    assert outbox.holds() and not home.poll()  # held: nothing sent yet
    outbox.send(("start", "file 3"))  # the next announcement takes what is held along
    assert home.recv() == [
        ("done", _file_result(1)),
        ("done", _file_result(2)),
        ("start", "file 3"),
    ]
    assert not outbox.holds() and not home.poll()


def test_a_pages_result_goes_at_once_and_flush_sends_what_is_held() -> None:
    home, away = Pipe(duplex=False)
    outbox = _Outbox(away)
    outbox.hold(("done", _file_result(1)), at_once=False)
    outbox.hold(("done", _page_result()), at_once=True)  # a page leads to more units
    assert home.recv() == [("done", _file_result(1)), ("done", _page_result())]
    outbox.flush()
    assert not home.poll()  # nothing was held: no empty message
    outbox.hold(("done", _file_result(2)), at_once=False)
    outbox.flush()  # what a consumer thread does when no unit comes within HOLD s
    assert home.recv() == [("done", _file_result(2))]
    assert HOLD <= 0.01  # a held result is never late by more than that
