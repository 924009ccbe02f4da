"""Crawl the news API on day 1, then on day 2, then day 2 into a new folder sharing the archive;
print what each run asked the server for, and check it is what the README says.

    python samples/tomorrow/demo.py [--mode queue] [--keep DIR] [yamlcrawl options]

The API (newsapi.py) runs in this process on a free port; the crawls run `python -m yamlcrawl`
with samples/tomorrow/crawler.yaml into a temporary folder (or DIR, which must be new or empty:
the story starts from nothing), which is removed after. Options this script does not know go to
yamlcrawl. Exit status 0 when every run cost what it should, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from newsapi import NewsServer, start  # noqa: E402

# What each run must cost: requests by kind and status, then the report's counts.
EXPECTED: dict[str, tuple[dict[str, int], dict[str, int]]] = {
    "day 1": (
        {"file 200": 12, "page 200": 4},
        {"saved": 12, "present": 0, "archived": 0, "not_newer": 0, "pages_not_modified": 0,
         "records": 15},
    ),
    "day 2": (
        {"file 200": 3, "page 200": 2, "page 304": 1},
        {"saved": 3, "present": 1, "archived": 0, "not_newer": 6, "pages_not_modified": 1,
         "records": 4},
    ),
    "day 2, a new folder, the same archive": (
        {"page 200": 4},
        {"saved": 0, "present": 0, "archived": 15, "not_newer": 0, "pages_not_modified": 0,
         "records": 18},
    ),
}  # fmt: skip
COUNTS = tuple(EXPECTED["day 1"][1])


def crawl(
    server: NewsServer, output: Path, archive: Path, mode: str, extra: Sequence[str] = ()
) -> dict[str, object]:
    """One crawl into ``output``; its report, with what the server was asked in ``asked``."""
    report = output.parent / f"{output.name}-report.json"
    server.log.clear()
    command = [
        sys.executable, "-m", "yamlcrawl", str(HERE / "crawler.yaml"), "-q",
        "--set", f"api={server.base_url}", "--output", str(output),
        "--set", f"output.archive={archive}", "--mode", mode, "--report", str(report), *extra,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"yamlcrawl exited {done.returncode}:\n{done.stderr}")
    result: dict[str, object] = json.loads(report.read_text("utf-8"))
    result["asked"] = Counter(_kind(path, status) for path, status, _ in server.log)
    return result


def _kind(path: str, status: int) -> str:
    return f"{'file' if path.startswith('/media/') else 'page'} {status}"


def show(title: str, report: dict[str, object]) -> bool:
    """Two lines per run: requests by kind and status, then what the run did; a third naming
    what differs from ``EXPECTED``. True when nothing does."""
    asked = report["asked"]
    assert isinstance(asked, Counter)
    kinds = ", ".join(f"{count} × {kind}" for kind, count in sorted(asked.items()))
    print(f"{title}: {asked.total()} requests ({kinds or 'none'})")
    counts = {key: report.get(key, 0) for key in COUNTS}
    print("    " + ", ".join(f"{key} {value}" for key, value in counts.items()))
    want_asked, want_counts = EXPECTED[title]
    if dict(asked) == want_asked and counts == want_counts:
        return True
    wanted = ", ".join(f"{count} × {kind}" for kind, count in sorted(want_asked.items()))
    print(f"    expected: {wanted}; " + ", ".join(f"{k} {v}" for k, v in want_counts.items()))
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three crawls, print what each cost, and check it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], allow_abbrev=False)
    parser.add_argument("--mode", default="queue")
    parser.add_argument("--keep", type=Path, help="crawl into this new folder and keep it")
    args, extra = parser.parse_known_args(argv)
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: not empty (the demo starts from nothing)")
    server = start(day=1)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            where = args.keep or Path(scratch)
            where.mkdir(parents=True, exist_ok=True)
            archive = where / "archive.sqlite"
            runs = [("day 1", "news-out"), ("day 2", "news-out")]
            runs.append(("day 2, a new folder, the same archive", "other"))
            passed = []
            for title, folder in runs:
                server.day = 2 if title.startswith("day 2") else 1
                report = crawl(server, where / folder, archive, args.mode, extra)
                passed.append(show(title, report))
    finally:
        server.shutdown()
        server.server_close()
    print("OK" if all(passed) else "FAILED: a run cost other than it should")
    return 0 if all(passed) else 1


if __name__ == "__main__":
    raise SystemExit(main())
