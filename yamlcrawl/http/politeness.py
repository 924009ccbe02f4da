"""``http.rate`` and ``http.per_host``, held across every worker process of a run.

The processes share nothing but the output folder, so the limits live there, in small files
under ``.yamlcrawl/throttle/`` locked with ``flock``: the kernel releases a lock when its holder
dies, so a killed worker can never leave the others waiting. ``per_host: N`` is N slot files
per host, each held by one request at a time; ``rate: R`` is one file holding the time the next
request may start, each request moving it on by 1/R seconds. (On a system without ``fcntl``
the limits hold per process.)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from yamlcrawl.storage.outdir import NOFOLLOW

try:
    import fcntl
except ImportError:  # pragma: no cover  (Windows)
    fcntl = None  # type: ignore[assignment]

SLOT_POLL = 0.01  # seconds between two looks for a free per-host slot
_local = threading.Lock()  # threads of one process: flock is per open file, so serialise here


@contextlib.contextmanager
def polite(
    folder: str | None, url: str, rate: float | None, per_host: int | None
) -> Iterator[None]:
    """Wait for a slot for ``url``'s host and for the rate, then hold the slot for the request."""
    if folder is None or fcntl is None or (rate is None and per_host is None):
        yield
        return
    base = Path(folder)
    base.mkdir(parents=True, exist_ok=True)
    host = urlsplit(url).hostname or ""
    with _host_slot(base, host, per_host):
        if rate is not None:
            _wait_for_rate(base / "rate", rate)
        yield


@contextlib.contextmanager
def _host_slot(base: Path, host: str, per_host: int | None) -> Iterator[None]:
    if per_host is None:
        yield
        return
    tag = hashlib.sha1(host.encode("utf-8")).hexdigest()[:12]
    while True:
        for slot in range(per_host):
            fd = os.open(base / f"host-{tag}-{slot}", os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        time.sleep(SLOT_POLL)


def _wait_for_rate(path: Path, rate: float) -> None:
    """Take the next start time from the shared file, move it on, and sleep until it comes."""
    with _local:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            now = time.time()
            try:
                start = max(now, float(raw))
            except ValueError:
                start = now
            os.pwrite(fd, f"{start + 1.0 / rate:<32.6f}".encode("ascii"), 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    if start > now:
        time.sleep(start - now)
