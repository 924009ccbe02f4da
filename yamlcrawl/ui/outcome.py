"""How a run ended, in one word or three (the report's ``verdict``), in one line with its
counts (the summary's title), and as the exit code. It reads the run's counts alone.

A run *succeeded at something* when it made a file (saved, already present, or held by the
archive; a dry run: listed), or a record (written by ``emit``, or already in its file), or,
when it tried no file, fetched a page. A run with failures that succeeded at nothing ends
``nothing succeeded``, exit 3: no page could be fetched, or every file it tried failed and no
record was made. Any other run with failures ends ``finished with failures``, exit 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yamlcrawl.types import RunStats

EXIT_OK = 0  # everything was done
EXIT_FAILED = 1  # some units failed; the rest was done
EXIT_USAGE = 2  # bad config or usage, or an output folder that cannot be used
EXIT_NOTHING = 3  # units failed and nothing succeeded
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM
EXIT_HELP = {  # for --help (the README has the same table)
    EXIT_OK: "everything was done",
    EXIT_FAILED: "some units failed, or a --strict or required rule matched nothing; the rest"
    " was done",
    EXIT_USAGE: "bad config or usage, or an output folder that cannot be used",
    EXIT_NOTHING: "nothing succeeded: no page fetched, or every file tried failed",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C, SIGTERM, or the dask scheduler lost)",
}


def exit_code(stats: RunStats) -> int:
    """The exit code of a run that began."""
    if stats.interrupted:
        return EXIT_INTERRUPTED
    if stats.stopped is not None:
        return EXIT_USAGE
    if not stats.failures:
        return EXIT_OK
    return EXIT_NOTHING if nothing_succeeded(stats) else EXIT_FAILED


def nothing_succeeded(stats: RunStats) -> bool:
    """Units failed, and no file, record or (no file tried) page came of the run."""
    if not stats.failures:
        return False
    made = stats.saved + stats.present + stats.archived + stats.records + stats.records_known
    if made or (stats.dry_run and stats.planned):
        return False
    return stats.failed > 0 or _pages_fetched(stats) == 0


def verdict(stats: RunStats) -> str:
    """One word or three: ``finished``, ``dry run finished``, ``finished with failures``,
    ``nothing succeeded``, ``stopped`` or ``interrupted`` (the report's ``verdict``)."""
    if stats.interrupted:
        return "interrupted"
    if stats.stopped is not None:
        return "stopped"
    if nothing_succeeded(stats):
        return "nothing succeeded"
    if stats.failures:
        return "finished with failures"
    return "dry run finished" if stats.dry_run else "finished"


def verdict_line(stats: RunStats) -> str:
    """The verdict with what makes it: ``finished with failures (3 of 3,060 files failed)``,
    ``finished: nothing succeeded (0 of 12 pages fetched; first failure: HTTP 404 ...)``."""
    said = verdict(stats)
    if said == "nothing succeeded":
        first = (stats.failures[0].reason.splitlines() or ["failed"])[0]
        return f"finished: nothing succeeded ({_nothing_counts(stats)}; first failure: {first})"
    if said == "finished with failures":
        counts = _failure_counts(stats) or [f"{len(stats.failures):,} failed"]
        return f"{said} ({', '.join(counts)})"
    return said


def _nothing_counts(stats: RunStats) -> str:
    """``0 of 40 files saved`` when files were tried, else ``0 of 12 pages fetched``."""
    if stats.failed:
        return f"0 of {_of(stats.failed, 'file')} saved"
    return f"{_pages_fetched(stats):,} of {_of(stats.pages, 'page')} fetched"


def _failure_counts(stats: RunStats) -> list[str]:
    """``2 of 14 pages failed``, ``3 of 3,060 files failed``, ``1 rule matched nothing``."""
    counts = []
    if stats.pages_failed:
        counts.append(f"{stats.pages_failed:,} of {_of(stats.pages, 'page')} failed")
    if stats.failed:
        files = stats.saved + stats.present + stats.archived + stats.failed
        counts.append(f"{stats.failed:,} of {_of(files, 'file')} failed")
    rules = sum(1 for failure in stats.failures if failure.kind == "match")
    if rules:
        counts.append(f"{rules:,} rule{'s' if rules > 1 else ''} matched nothing")
    return counts


def _of(total: int, what: str) -> str:
    """``3,060 files``, ``1 page``."""
    return f"{total:,} {what}{'' if total == 1 else 's'}"


def _pages_fetched(stats: RunStats) -> int:
    return stats.pages - stats.pages_failed
