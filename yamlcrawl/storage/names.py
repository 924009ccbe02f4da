"""One name registry per run: which file gets which name, by the conflict policy.

Requests are settled one at a time in crawl order (the caller's order is the only order there
is), so the same requests always get the same names, whatever order their pages arrived in.
Two names are the same file when they are the same on a case-insensitive, normalising file
system (:func:`~yamlcrawl.storage.safepath.conflict_key`). A name whose ``{ext}`` the response
settles takes every extension of its own: ``name{ext}`` and ``name.json`` in one folder clash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from yamlcrawl.storage.outdir import kept_for_yamlcrawl
from yamlcrawl.storage.safepath import (
    UnsafePathError,
    conflict_key,
    family_key,
    numbered,
    resolve_inside,
)
from yamlcrawl.types import FileRequest, OnConflict

RefusedStatus = Literal["skipped", "duplicate", "failed"]
DUPLICATE = "the same URL to the same path again"


@dataclass(frozen=True, slots=True)
class Settled:
    """A request's final name, relative to the output folder (without the `{ext}` to come)."""

    path: str


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a request gets no name: skipped (by its rule or the policy), a duplicate, or failed
    (its name could not be made, or it would leave the folder: ``path`` is that name)."""

    status: RefusedStatus
    reason: str
    path: str | None = None


class NameRegistry:
    """The names this run has given, and the policy for the next one."""

    def __init__(
        self, root: Path | str, on_conflict: OnConflict, reserved: Iterable[str] = ()
    ) -> None:
        """A registry for the output folder ``root``; ``reserved`` names (the manifest, the
        `emit` files) are taken from the start, so no download replaces them, whatever
        ``on_conflict`` says: the run's own files are never overwritten, only numbered past."""
        self._root = root
        self._policy = on_conflict
        # Names taken: exact ones (conflict keys), the same without extension (family keys),
        # and names whose {ext} the response settles, which take every extension of theirs.
        self._claims: set[str] = set()
        self._families: set[str] = set()
        self._ext_to_come: set[str] = set()
        self._seen: set[tuple[str, str, bool]] = set()  # (URL, conflict key, ext to come)
        self._reserved = {conflict_key(name) for name in reserved}
        self._reserved_families = {family_key(name) for name in reserved}
        for name in reserved:
            self._take(PurePosixPath(name), ext_to_come=False)

    def settle(self, request: FileRequest) -> Settled | Refused:
        """Give ``request`` its final name, or say why it gets none. Call in crawl order."""
        if request.skip is not None:
            return Refused("skipped", request.skip)
        if request.problem is not None:
            return Refused("failed", request.problem)
        path = PurePosixPath(request.path)
        ext = request.ext_to_come
        asked = (request.url, conflict_key(path), ext)
        if asked in self._seen:
            return Refused("duplicate", DUPLICATE)
        self._seen.add(asked)
        if self._taken(path, ext):
            if self._policy == "skip":
                return Refused("skipped", f"{request.planned} is taken by another URL")
            if self._policy == "suffix" or self._is_reserved(path, ext):
                path = self._free_number(path, ext)
        problem = self._outside(path)
        if problem is not None:
            return Refused("failed", problem, str(path))
        self._take(path, ext)
        return Settled(str(path))

    def _outside(self, path: PurePosixPath) -> str | None:
        """Why ``path`` may not be written (it leaves the folder, or is yamlcrawl's own)."""
        try:
            resolve_inside(self._root, path)
        except UnsafePathError as exc:
            return str(exc)
        reserved = kept_for_yamlcrawl(path)
        return None if reserved is None else str(UnsafePathError(path, reserved))

    def _is_reserved(self, path: PurePosixPath, ext_to_come: bool) -> bool:
        """Whether ``path`` could be one of the run's own files (the manifest, `emit` files)."""
        if ext_to_come:
            return conflict_key(path) in self._reserved_families
        return conflict_key(path) in self._reserved

    def _taken(self, path: PurePosixPath, ext_to_come: bool) -> bool:
        """Whether a file already named could end up at ``path`` (with any `{ext}`)."""
        if ext_to_come:
            key = conflict_key(path)
            return key in self._ext_to_come or key in self._families
        return conflict_key(path) in self._claims or family_key(path) in self._ext_to_come

    def _take(self, path: PurePosixPath, ext_to_come: bool) -> None:
        if ext_to_come:
            self._ext_to_come.add(conflict_key(path))
        else:
            self._claims.add(conflict_key(path))
            self._families.add(family_key(path))

    def _free_number(self, path: PurePosixPath, ext_to_come: bool) -> PurePosixPath:
        number = 2
        while self._taken(numbered(path, number, ext_to_come), ext_to_come):
            number += 1
        return numbered(path, number, ext_to_come)
