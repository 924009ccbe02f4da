"""Execution modes: one module per mode, registered here by name.

A backend is topology only. The coordinator (``yamlcrawl.engine.coordinator``) hands it units
and takes back results; the backend decides where :func:`yamlcrawl.work.run.run_unit` runs, and
hands it the run context (``yamlcrawl.work.context``) with each unit.
This protocol is the whole contract.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from yamlcrawl.language.plan import Plan
from yamlcrawl.types import ClusterShape, Result, Unit

if TYPE_CHECKING:  # not at run time: `modes()` is asked before any HTTP library is loaded
    from yamlcrawl.work.context import RunContext


class BackendError(Exception):
    """A mode that cannot start here (a missing package, an unreachable cluster): one paragraph
    saying what is wrong and what is expected."""


class Backend(Protocol):
    """Where units of work run. Every unit submitted yields exactly one result."""

    def capacity(self) -> int:
        """How many units may be in flight at once."""
        ...

    def submit(self, unit: Unit) -> None:
        """Start a unit (or queue it, within capacity)."""
        ...

    def poll(self, timeout: float) -> list[Result]:
        """Results finished since the last call; waits up to ``timeout`` s for at least one."""
        ...

    def close(self) -> None:
        """The run is over: release workers and resources."""
        ...

    def abort(self) -> None:
        """The run was interrupted: stop every worker now, leave nothing running."""
        ...


class BackendClass(Protocol):
    """A backend class: built for a run, and able to describe its topology without running."""

    def __call__(self, run: RunContext) -> Backend:
        """Start the backend's workers for ``run`` (its plan, session, events, cancel token)."""
        ...

    def describe(self, plan: Plan) -> list[str]:
        """The processes, queues and pools this mode will run for ``plan``, as lines of text."""
        ...


_REGISTRY: dict[str, BackendClass] = {}


def register(name: str) -> Callable[[BackendClass], BackendClass]:
    """Class decorator: make a backend available as ``run.mode: NAME``."""

    def add(backend: BackendClass) -> BackendClass:
        _REGISTRY[name] = backend
        return backend

    return add


def modes() -> tuple[str, ...]:
    """Every mode name: the built-in ones in their order, then any other."""
    _load_builtin()
    others = tuple(name for name in _REGISTRY if name not in BUILTIN)
    return BUILTIN + others


def create_backend(run: RunContext) -> Backend:
    """The backend for the run's ``plan.mode``."""
    _load_builtin()
    return _REGISTRY[run.plan.mode](run)


def describe(plan: Plan) -> list[str]:
    """The topology ``plan.mode`` will run, without starting anything."""
    _load_builtin()
    return _REGISTRY[plan.mode].describe(plan)


def cluster_shape(backend: Backend) -> ClusterShape | None:
    """The cluster a backend found at its start (dask mode's ``cluster_shape``); None for a
    mode that runs on this machine alone."""
    shape = getattr(backend, "cluster_shape", None)
    return shape() if callable(shape) else None


BUILTIN = ("serial", "process", "queue", "pool", "thread", "dask")


def _load_builtin() -> None:
    """Import the built-in modes; each module registers itself, in this order."""
    for name in BUILTIN:
        importlib.import_module(f"yamlcrawl.backends.{name}")
