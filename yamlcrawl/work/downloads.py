"""A download: the HTTP layer's stream wired to storage's file slot.

A file already whole on disk is kept; otherwise the body streams to a temporary and takes its
name when complete (storage/files.py owns both).
"""

from __future__ import annotations

from functools import partial

from yamlcrawl.http.cookies import header_for
from yamlcrawl.http.fetch import FetchError, download_to
from yamlcrawl.language.plan import Plan
from yamlcrawl.storage.files import FileSlot, already_present
from yamlcrawl.storage.outdir import describe, stops_the_run
from yamlcrawl.storage.safepath import UnsafePathError
from yamlcrawl.types import DownloadUnit, FileResult, unit_id
from yamlcrawl.work.cancel import StoppedError
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.events import ByteCounter, Event, report_retry, worker_name
from yamlcrawl.work.requests import private_headers


def download_file(run: RunContext, unit: DownloadUnit) -> FileResult:
    """Save one file, or find it already there; failures are in the result."""
    plan = run.plan
    typed = unit.ext_to_come  # the response settles the name: the result says which it got
    try:
        present = already_present(plan.output.dir, unit)
        if present is not None:
            saved_as = present.path if typed else None
            return FileResult(unit, "present", present.bytes, present.sha256, saved_as=saved_as)
        with FileSlot(plan.output.dir, unit.path, ext_from=unit.url if typed else None) as slot:
            uid = unit_id(unit)
            run.events.emit(Event("start", worker_name(), uid, f"downloading {unit.planned}"))
            counter = ByteCounter(run.events, uid)
            give_up_if_stopped = run.cancel.check

            def on_bytes(amount: int) -> None:
                give_up_if_stopped()
                counter.add(amount)

            # No last report of the bytes: the result carries them, one datagram less per file.
            attempts = download_to(
                run.session,
                unit.url,
                slot,
                headers=_with_cookies(unit),
                on_bytes=on_bytes,
                on_retry=partial(report_retry, run.events, uid),
                private=_download_private(plan, unit),
            )
            saved = slot.commit()
    except FetchError as exc:
        return FileResult(unit, "failed", error=str(exc), attempts=exc.attempts)
    except StoppedError as exc:
        return FileResult(unit, "failed", error=str(exc))
    except UnsafePathError as exc:
        return FileResult(unit, "failed", error=f"cannot write {unit.planned}: {exc}")
    except OSError as exc:
        why = f"cannot write {unit.planned}: {describe(exc)}"
        return FileResult(unit, "failed", error=why, folder_full=stops_the_run(exc))
    saved_as = saved.path if typed else None
    return FileResult(
        unit, "saved", saved.bytes, saved.sha256, attempts=attempts, saved_as=saved_as
    )


def _with_cookies(unit: DownloadUnit) -> dict[str, str]:
    """A download's headers, with the cookies its page left that apply to its URL (after its
    own Cookie header, if its rule gives one)."""
    headers = dict(unit.headers)
    found = header_for(unit.cookies, unit.url)
    if found:
        given = next((name for name in headers if name.lower() == "cookie"), "Cookie")
        headers[given] = f"{headers[given]}; {found}" if given in headers else found
    return headers


def _download_private(plan: Plan, unit: DownloadUnit) -> tuple[str, ...]:
    """A download's private headers; a header any of its stage's downloads builds from a
    secret counts for all of them (the unit does not say which rule it came from)."""
    rules = plan.stage(unit.stage).downloads
    templates = plan.http_headers + tuple(pair for rule in rules for pair in rule.headers)
    return private_headers(plan, templates, dict(unit.headers))
