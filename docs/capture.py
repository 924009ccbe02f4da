"""Record docs/run.svg: a frame of the live display in the middle of a real run, and its summary.

    python docs/capture.py

Serves the LoL mirror (every response delayed 150 ms, so the run lasts long enough to be seen),
crawls it with crawler.yaml in `queue` mode with 4 workers, and once 20 files are saved draws
the live display as it is at that moment into an SVG, followed by the run's closing summary.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from samples.serve import start_server  # noqa: E402
from yamlcrawl.backends import modes  # noqa: E402
from yamlcrawl.engine.coordinator import Coordinator  # noqa: E402
from yamlcrawl.language.loader import load_spec  # noqa: E402
from yamlcrawl.language.plan import Plan, build_plan  # noqa: E402
from yamlcrawl.ui.display import Display  # noqa: E402
from yamlcrawl.ui.summary import Summary  # noqa: E402


class Capture(Display):
    """The live display, drawing one mid-run frame into a recording console."""

    def __init__(self, plan: Plan, screen: Console) -> None:
        super().__init__(plan, Console(file=io.StringIO()), live=False)
        self.screen = screen
        self.taken = False

    def wants_worker_events(self) -> bool:
        """The worker lines are part of the frame."""
        return True

    def tick(self) -> None:
        """Take the frame once 20 files are saved."""
        if not self.taken and self.stats.saved >= 20:
            self.screen.print(self)
            self.screen.print()
            self.taken = True


def main() -> int:
    """Run the crawl and write docs/run.svg."""
    server, base = start_server(ROOT / "samples/lol/site", delay=0.15)
    loaded = load_spec(ROOT / "crawler.yaml", {"img": f"{base}/images/lol/act/img"}, modes())
    screen = Console(record=True, width=104, file=io.StringIO(), force_terminal=True)
    screen.print("$ yamlcrawl crawler.yaml --mode queue --set img=http://127.0.0.1:8000/...\n")
    with tempfile.TemporaryDirectory() as output:
        plan = build_plan(loaded.spec, "crawler.yaml").with_overrides(
            mode="queue", workers=4, output_dir=output
        )
        summary = Summary(plan.with_overrides(output_dir="downloads"), screen)
        Coordinator(plan, [Capture(plan, screen), summary]).run()
    server.shutdown()
    server.server_close()
    screen.save_svg(str(ROOT / "docs/run.svg"), title="yamlcrawl crawler.yaml")
    print("wrote docs/run.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
