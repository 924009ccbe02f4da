"""Numbers as people read them, one way everywhere: sizes in decimal units (``244.2 MB``, the
base rich's transfer columns use), speeds per second (``152.8 MB/s``, ``1,914 files/s``),
counts with thousands separators, durations in seconds, minutes and hours."""

from __future__ import annotations

from rich.filesize import decimal


def count_text(count: int) -> str:
    """``3,060``."""
    return f"{count:,}"


def size_text(size: int) -> str:
    """``0 bytes``, ``1 byte``, ``999 bytes``, ``8.2 kB``, ``244.2 MB``, ``1.5 GB``: powers of
    1,000, one decimal."""
    return decimal(max(size, 0))


def speed_text(size: float, seconds: float) -> str:
    """Bytes over ``seconds`` as a speed: ``152.8 MB/s``, ``8.2 kB/s``, ``512 bytes/s``; never
    ``0.00 MB/s`` for a small one."""
    return f"{size_text(round(size / max(seconds, 1e-9)))}/s"


def rate_text(count: float, seconds: float, what: str) -> str:
    """``count`` things over ``seconds``, to about three figures: ``1,914 files/s``,
    ``12.5 files/s``, ``0.48 files/s``, ``0 files/s``."""
    rate = count / max(seconds, 1e-9)
    if rate == 0:
        return f"0 {what}/s"
    if rate >= 100:
        return f"{rate:,.0f} {what}/s"
    return f"{rate:.1f} {what}/s" if rate >= 10 else f"{rate:.2f} {what}/s"


def duration_text(seconds: float) -> str:
    """``4 ms``, ``420 ms``, ``4.21 s``, ``12.3 s``, ``4 min 12 s``, ``2 h 05 min``."""
    if round(seconds, 3) < 1:
        return f"{max(seconds, 0) * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
