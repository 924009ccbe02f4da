"""The run context: what one run hands every unit along with the plan.

The plan is the crawl as loaded, the same for every run of it. What belongs to one run is here:
its id, its HTTP session (settings, transport, sleep and clock, throttle folder), where workers
send their events, and its cancel token. The coordinator makes it once per run; every backend
hands it to `run_unit` with each unit, in whichever process or Dask task the unit runs. It
pickles as plain data: the transport and connections are made in each process from the
settings (`Session`), and the cancel token is that process's token for the run (`cancel`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yamlcrawl.http.session import Session
from yamlcrawl.language.plan import Plan
from yamlcrawl.work.cancel import CancelToken
from yamlcrawl.work.events import EventSender


@dataclass(frozen=True)
class RunContext:
    """One run of a plan.

    Attributes:
        plan: The crawl, as loaded (never rewritten for a run).
        session: How requests are made.
        cancel: Set when the run is asked to stop; downloads look at it between chunks.
        events: Where workers say what they do: the main process's socket, a Dask topic, or
            nowhere (no one watches).
        writes: Whether workers write into the output folder (a dry run's write nothing, so
            nothing there may be made for them, not even a check that they can).
    """

    plan: Plan
    session: Session
    cancel: CancelToken
    events: EventSender = field(default_factory=EventSender)
    writes: bool = True

    @property
    def run(self) -> str:
        """The run's id, unique per run."""
        return self.cancel.run
