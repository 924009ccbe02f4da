"""Crawl the news API on day 1, then on day 2, then day 2 into a new folder sharing the archive;
print what each run asked the server for.

    python samples/tomorrow/demo.py [--mode queue] [--keep DIR]

The API (newsapi.py) runs in this process on a free port; the crawls run `python -m yamlcrawl`
with samples/tomorrow/crawler.yaml into a temporary folder (or DIR), which is removed after.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from newsapi import NewsServer, start  # noqa: E402


def crawl(server: NewsServer, output: Path, archive: Path, mode: str) -> dict[str, object]:
    """One crawl into ``output``; its report, with what the server was asked in ``asked``."""
    report = output.parent / f"{output.name}-report.json"
    server.log.clear()
    command = [
        sys.executable, "-m", "yamlcrawl", str(HERE / "crawler.yaml"), "-q",
        "--set", f"api={server.base_url}", "--output", str(output),
        "--set", f"output.archive={archive}", "--mode", mode, "--report", str(report),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"yamlcrawl exited {done.returncode}:\n{done.stderr}")
    result: dict[str, object] = json.loads(report.read_text("utf-8"))
    result["asked"] = Counter(_kind(path, status) for path, status, _ in server.log)
    return result


def _kind(path: str, status: int) -> str:
    return f"{'file' if path.startswith('/media/') else 'page'} {status}"


def show(title: str, report: dict[str, object]) -> None:
    """One line per run: requests by kind and status, then what the run did."""
    asked = report["asked"]
    assert isinstance(asked, Counter)
    kinds = ", ".join(f"{count} × {kind}" for kind, count in sorted(asked.items()))
    print(f"{title}: {asked.total()} requests ({kinds or 'none'})")
    keys = ("saved", "present", "archived", "not_newer", "pages_not_modified", "records")
    print("    " + ", ".join(f"{key} {report.get(key, 0)}" for key in keys))


def main() -> int:
    """Run the three crawls and print what each cost."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mode", default="queue")
    parser.add_argument("--keep", type=Path, help="crawl into this folder and keep it")
    args = parser.parse_args()
    server = start(day=1)
    with tempfile.TemporaryDirectory() as scratch:
        where = args.keep or Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        archive = where / "archive.sqlite"
        show("day 1", crawl(server, where / "news-out", archive, args.mode))
        server.day = 2
        show("day 2", crawl(server, where / "news-out", archive, args.mode))
        show(
            "day 2, a new folder, the same archive",
            crawl(server, where / "other", archive, args.mode),
        )
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
