"""A download: a file already whole on disk is kept; otherwise it streams to a temporary and takes
its name when complete.
"""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

from yamlcrawl.http.fetch import FetchError, download_to
from yamlcrawl.language.plan import Plan
from yamlcrawl.storage.outdir import describe, stops_the_run, temporary_path
from yamlcrawl.storage.safepath import (
    UnsafePathError,
    extension_for,
    resolve_inside,
)
from yamlcrawl.types import (
    DownloadUnit,
    FileResult,
    unit_id,
)
from yamlcrawl.work.cancel import StoppedError, stop_if_asked
from yamlcrawl.work.events import ByteCounter, Event, emit, report_retry, worker_name
from yamlcrawl.work.requests import private_headers


def download_file(plan: Plan, unit: DownloadUnit) -> FileResult:
    """Save one file, or find it already there; failures are in the result."""
    try:
        present = _already_there(plan, unit)
        if present is not None:
            return present
        target = resolve_inside(plan.output.dir, unit.path)
        uid = unit_id(unit)
        emit(plan.events, Event("start", worker_name(), uid, f"downloading {unit.planned}"))
        counter = ByteCounter(plan.events, uid)

        def on_bytes(amount: int) -> None:
            stop_if_asked(amount)
            counter.add(amount)

        # No last report of the bytes: the result carries them, one datagram less per file.
        saved = download_to(
            plan.http,
            unit.url,
            target,
            headers=dict(unit.headers),
            on_bytes=on_bytes,
            on_retry=partial(report_retry, plan, uid),
            final_for_type=partial(_typed_target, plan, unit) if unit.ext_to_come else None,
            private=_download_private(plan, unit),
            temporary=temporary_path(plan.output.dir),
        )
    except FetchError as exc:
        return FileResult(unit, "failed", error=str(exc), attempts=exc.attempts)
    except StoppedError as exc:
        return FileResult(unit, "failed", error=str(exc))
    except UnsafePathError as exc:
        return FileResult(unit, "failed", error=f"cannot write {unit.planned}: {exc}")
    except OSError as exc:
        why = f"cannot write {unit.planned}: {describe(exc)}"
        return FileResult(unit, "failed", error=why, folder_full=stops_the_run(exc))
    return FileResult(
        unit,
        "saved",
        bytes=saved.bytes,
        sha256=saved.sha256,
        attempts=saved.attempts,
        saved_as=_sibling(unit.path, saved.path.name) if unit.ext_to_come else None,
    )


def _download_private(plan: Plan, unit: DownloadUnit) -> tuple[str, ...]:
    """A download's private headers; a header any of its stage's downloads builds from a
    secret counts for all of them (the unit does not say which rule it came from)."""
    rules = plan.stage(unit.stage).downloads
    templates = plan.http_headers + tuple(pair for rule in rules for pair in rule.headers)
    return private_headers(plan, templates, dict(unit.headers))


def _already_there(plan: Plan, unit: DownloadUnit) -> FileResult | None:
    """The result for a file an earlier run saved whole (or that is simply there), else None.

    A name settled by ``{ext}`` is known only from the resume state: without it, the file is
    fetched again.
    """
    where = unit.found if unit.ext_to_come else unit.path
    if unit.overwrite or where is None:
        return None
    target = resolve_inside(plan.output.dir, where)
    if not target.is_file():
        return None
    present = _verified(target, unit.expect)
    if present is None:
        return None
    return present_result(unit, present, where if unit.ext_to_come else None)


def _typed_target(plan: Plan, unit: DownloadUnit, content_type: str | None) -> Path:
    """Where a ``{ext}`` file goes once its response's Content-Type is known."""
    return resolve_inside(plan.output.dir, unit.path + extension_for(content_type, unit.url))


def _sibling(path: str, name: str) -> str:
    head, _, _ = path.rpartition("/")
    return f"{head}/{name}" if head else name


def _verified(target: Path, expect: tuple[int, str] | None) -> tuple[int, str] | None:
    """Size and SHA-256 of a file already there, or None if it is not the one expected."""
    if expect is not None and target.stat().st_size != expect[0]:
        return None  # damaged: cut short or grown, fetch it again
    size, digest = _size_and_sha256(target)
    if expect is not None and digest != expect[1]:
        return None
    return size, digest


def present_result(
    unit: DownloadUnit, found: tuple[int, str], saved_as: str | None = None
) -> FileResult:
    """A file found complete on disk."""
    return FileResult(unit, "present", bytes=found[0], sha256=found[1], saved_as=saved_as)


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 16):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
