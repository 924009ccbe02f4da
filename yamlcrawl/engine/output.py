"""Where a run's files go: the output folder (a run), or nowhere (``--dry-run``, which lists).

The coordinator runs the same loop either way; the output says what differs, in one place:
which folder the run's own files (events socket, throttle) live in, which subscribers keep the
run's record (manifest, resume state, `emit` files), what an earlier run finished, and whether
a named file is fetched at all. A dry run fetches pages, names files and lists them (a
subscriber of the user interface prints the list); it takes no folder and writes nothing in it.
"""

from __future__ import annotations

import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import Protocol

from yamlcrawl.engine.emitfiles import record_files
from yamlcrawl.language.plan import Plan
from yamlcrawl.language.redact import redact, redact_value
from yamlcrawl.storage.archive import Archive, NoArchive, archive_inside
from yamlcrawl.storage.objectstore import check_store
from yamlcrawl.storage.outdir import FolderError, OutputFolder, folder_full, sweep_temporaries
from yamlcrawl.storage.pagecache import MB, PageCache
from yamlcrawl.storage.partials import PartialFiles
from yamlcrawl.storage.records import Records
from yamlcrawl.storage.state import NoState, StateStore
from yamlcrawl.storage.store import Manifest
from yamlcrawl.types import DownloadUnit, FileResult, RunStats, Subscriber


class Output(Protocol):
    """What a run does with the files it names."""

    saves: bool  # named files are fetched and saved (False: a dry run lists them)
    state: StateStore | NoState  # what earlier runs finished
    archive: Archive | NoArchive  # output.archive: what any crawl naming it downloaded
    page_cache: PageCache  # pages earlier runs kept, for conditional requests

    def take(self, plan: Plan) -> Path:
        """Take the place the run writes to; returns the folder for the run's own files.

        Raises:
            FolderError: the output folder cannot be used (busy, unusable).
        """

    def reserved(self, plan: Plan) -> list[str]:
        """Names no download may take (the manifest, `emit` files)."""

    def open(self, plan: Plan, fresh: bool) -> list[Subscriber]:
        """Open the run's record (manifest, state, `emit` files): the subscribers that keep it.

        Raises:
            FolderError: one of them cannot be used; the message says which and why.
        """

    def remove_partial_files(self) -> None:
        """After an interrupt: no temporary file of an unfinished download stays behind."""

    def resumable(self, unit: DownloadUnit) -> DownloadUnit:
        """``unit``, marked if an earlier run kept part of it (storage/partials.py)."""

    def close(self, completed: bool, stats: RunStats) -> None:
        """Put the record in place (``completed``) or drop what is unfinished, and let go.

        A failure to write here is noted in ``stats.stopped``.
        """


class SaveFiles:
    """A run: files saved in the output folder, taken (locked) for the run."""

    saves = True

    def __init__(self) -> None:
        self.state: StateStore | NoState = NoState()
        self.archive: Archive | NoArchive = NoArchive()
        self.page_cache = PageCache.off(Path())
        self._folder: OutputFolder | None = None
        self._root = Path()
        self._manifest: Manifest | None = None
        self._records: Records | None = None
        self._partials: PartialFiles | None = None

    def take(self, plan: Plan) -> Path:
        """Lock the output folder (before anything is made in it)."""
        self._root = Path(plan.output.dir)
        self._folder = OutputFolder(self._root)
        try:
            self._folder.open()
            if plan.output.store:
                check_store(plan.output.store)
        except BaseException:
            self._folder.close()
            raise
        return self._root

    def reserved(self, plan: Plan) -> list[str]:
        """The manifest, every `emit` file, and the archive if it is in the folder."""
        manifest = [plan.output.manifest] if plan.output.manifest else []
        return manifest + _emit_names(plan) + _archive_name(plan)

    def open(self, plan: Plan, fresh: bool) -> list[Subscriber]:
        """The state, the archive, the manifest (if kept), the `emit` files, then the
        full-folder stop. The archive first: the manifest is emptied when it opens."""
        self.archive = open_archive(plan, read_only=False)
        name = plan.output.manifest
        manifest = Manifest(
            self._root / name if name else None,
            partial(redact_value, secrets=plan.secrets),
            folder=self._root,
        )
        self._manifest = manifest
        self.state = StateStore(self._root, fresh)
        self.page_cache = PageCache.open(self._root, _cache_bytes(plan), fresh)
        self._partials = PartialFiles(self._root, fresh)  # `--fresh` drops them
        emits = record_files(plan)
        by_stage = {s.name: s.emit[0] for s in plan.stages if s.emit}
        if emits:
            self._records = Records(self._root, emits, by_stage)
        kept: list[Subscriber] = [self.state, self.page_cache]
        if isinstance(self.archive, Archive):
            kept.append(self.archive)
        if name:
            kept.append(manifest)
        if self._records is not None:
            kept.append(self._records)
        return [*kept, _StopWhenFull(self._root)]

    def remove_partial_files(self) -> None:
        """Every temporary file left is one of an unfinished download (its workers stopped)."""
        sweep_temporaries(self._root)

    def resumable(self, unit: DownloadUnit) -> DownloadUnit:
        """``unit``, marked if an earlier run kept part of it."""
        return unit if self._partials is None else self._partials.mark(unit)

    def close(self, completed: bool, stats: RunStats) -> None:
        """Put `emit` files in place (a run that got to its end) or drop them, close the
        manifest and the state, and let go of the folder."""
        steps = (partial(self._finish_records, completed, stats), self._close_manifest)
        try:
            for step in (*steps, self.state.close, self.archive.close, self.page_cache.close):
                try:
                    step()
                except FolderError as exc:
                    stats.stopped = stats.stopped or str(exc)
        finally:
            if self._folder is not None:
                self._folder.close()

    def _finish_records(self, completed: bool, stats: RunStats) -> None:
        if self._records is not None:
            self._records.finish(complete=completed)
            stats.records = self._records.written
            stats.records_known = self._records.known

    def _close_manifest(self) -> None:
        if self._manifest is not None:
            self._manifest.close()


class DryRun:
    """``--dry-run``: files are named and listed, none fetched; nothing is written in the
    output folder (the run's own files go to a scratch folder, removed at the end)."""

    saves = False

    def __init__(self) -> None:
        self.state: StateStore | NoState = NoState()
        self.archive: Archive | NoArchive = NoArchive()
        self.page_cache = PageCache.off(Path())
        self._scratch: str | None = None

    def take(self, plan: Plan) -> Path:
        """A scratch folder of its own."""
        self._scratch = tempfile.mkdtemp(prefix="yamlcrawl-")
        return Path(self._scratch)

    def reserved(self, plan: Plan) -> list[str]:
        """The `emit` files and the archive (as a run would; there is no manifest)."""
        return _emit_names(plan) + _archive_name(plan)

    def open(self, plan: Plan, fresh: bool) -> list[Subscriber]:
        """No record is kept; the archive (if there is one) and the page cache (not with
        ``--fresh``) are read, not written."""
        self.archive = open_archive(plan, read_only=True)
        if not fresh:
            self.page_cache = PageCache.read_only(Path(plan.output.dir), _cache_bytes(plan))
        return []

    def remove_partial_files(self) -> None:
        """Nothing was downloaded."""

    def resumable(self, unit: DownloadUnit) -> DownloadUnit:
        """Nothing is downloaded."""
        return unit

    def close(self, completed: bool, stats: RunStats) -> None:
        """Close the archive and the page cache, remove the scratch folder."""
        try:
            self.page_cache.close()
            self.archive.close()
        except FolderError as exc:
            stats.stopped = stats.stopped or str(exc)
        finally:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)


def _cache_bytes(plan: Plan) -> int:
    """The bound of the page cache (``output.page_cache``, in MB) in bytes."""
    return int(plan.output.page_cache * MB)


def _emit_names(plan: Plan) -> list[str]:
    return [stage.emit[0] for stage in plan.stages if stage.emit]


def _archive_name(plan: Plan) -> list[str]:
    """The archive's name in the output folder, if the user put it there."""
    inside = plan.output.archive and archive_inside(plan.output.dir, plan.output.archive)
    return [inside] if inside else []


def open_archive(plan: Plan, read_only: bool) -> Archive | NoArchive:
    """The archive the crawl names (its path relative to the current folder), or none.

    Raises:
        FolderError: it cannot be used (the message says why).
    """
    if plan.output.archive is None:
        return NoArchive()
    path, folder = Path(plan.output.archive), Path(plan.output.dir)
    masked = partial(redact, secrets=plan.secrets) if plan.secrets else None
    return Archive(path, folder, plan.name, read_only=read_only, redact=masked)


class _StopWhenFull(Subscriber):
    """A download the folder could not take (full, read-only) stops the run, once it is
    counted and recorded and before it is shown: every next file would fail the same way."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def file_done(self, result: FileResult) -> None:
        """Stop the run at a file the folder could not take."""
        if result.folder_full:
            raise folder_full(self.root, result.error or "")
