"""A download: the HTTP layer's stream wired to storage's file slot.

A file already whole on disk is kept; otherwise the body streams to a temporary and takes its
name when complete (storage/files.py owns both). A large body cut off is kept part-way and
continued with a Range request, in this run's next attempt or a later run's
(storage/partials.py, http/ranges.py).
"""

from __future__ import annotations

from functools import partial

from yamlcrawl.http.cookies import header_for
from yamlcrawl.http.fetch import FetchError, download_to
from yamlcrawl.language.plan import Plan
from yamlcrawl.storage.files import FileSlot, Written, already_present
from yamlcrawl.storage.objectstore import open_store
from yamlcrawl.storage.outdir import describe, stops_the_run
from yamlcrawl.storage.partials import PartialPlace
from yamlcrawl.storage.safepath import UnsafePathError
from yamlcrawl.types import BodyStart, DownloadUnit, FileResult, unit_id
from yamlcrawl.work.cancel import StoppedError
from yamlcrawl.work.context import RunContext
from yamlcrawl.work.events import ByteCounter, Event, report_retry, worker_name
from yamlcrawl.work.requests import private_headers


def download_file(run: RunContext, unit: DownloadUnit) -> FileResult:
    """Save one file, or find it already there; failures are in the result."""
    plan = run.plan
    typed = unit.ext_to_come  # the response settles the name: the result says which it got
    try:
        store = open_store(plan.output.store) if plan.output.store else None
        present = already_present(plan.output.dir, unit, store)
        if present is not None:
            saved_as = present.path if typed else None
            return FileResult(unit, "present", present.bytes, present.sha256, saved_as=saved_as)
        ext_from = unit.url if typed else None
        keep = _keep(plan, unit)
        root = plan.output.dir
        with FileSlot(root, unit.path, ext_from=ext_from, keep=keep, store=store) as slot:
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
        failed = (str(exc), exc.attempts, exc.status)
        return FileResult(
            unit, "failed", error=failed[0], attempts=failed[1], http_status=failed[2]
        )
    except StoppedError as exc:
        return FileResult(unit, "failed", error=str(exc))
    except UnsafePathError as exc:
        return FileResult(unit, "failed", error=f"cannot write {unit.planned}: {exc}")
    except OSError as exc:
        why = f"cannot write {unit.planned}: {describe(exc)}"
        return FileResult(unit, "failed", error=why, folder_full=stops_the_run(exc))
    return _saved(unit, saved, attempts, slot)


def _saved(unit: DownloadUnit, saved: Written, attempts: int, slot: FileSlot) -> FileResult:
    """A file saved, with what its response said (the manifest's row for scripts)."""
    said = slot.response or BodyStart(0, None)
    return FileResult(
        unit,
        "saved",
        saved.bytes,
        saved.sha256,
        attempts=attempts,
        saved_as=saved.path if unit.ext_to_come else None,
        http_status=said.status or None,
        content_type=said.content_type,
        etag=said.etag or None,
        last_modified=said.last_modified or None,
        resumed=slot.resumed,
    )


def _keep(plan: Plan, unit: DownloadUnit) -> PartialPlace | None:
    """Where the download keeps a large body part-way (``http.resume_above``), to continue it:
    nowhere with an object store, whose workers share no disk."""
    above = plan.http.resume_above
    if above is None or plan.output.store:  # a part on a worker's disk: no other sees it
        return None
    return PartialPlace(plan.output.dir, unit.path, unit.url, above, look=unit.partial)


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
