"""Validate and run times of a chain of N stages: both should grow linearly with N.

    python benchmarks/stages.py [--sizes 250 500 1000 2000 4000] [--run-max 4000]

Each chain is ``s0 <- s1 <- ... <- s{N-1}``: every stage fetches one small page from a local
server (``samples/serve.py``), binds a field, and names its parent's field in its URL, so
every stage's scope holds every ancestor's names. "validate" is ``load_text`` + ``build_plan``
in this process; "run" is the whole ``yamlcrawl`` command in serial mode (interpreter start
included), one request per stage. Prints seconds and microseconds per stage for each size.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from samples.serve import start_server  # noqa: E402
from yamlcrawl.language.loader import load_text  # noqa: E402
from yamlcrawl.language.plan import build_plan  # noqa: E402


def chain(stages: int) -> str:
    """A crawl file whose stages form one chain, each using its parent's field in its URL."""
    lines = ['vars: {api: "http://127.0.0.1:1"}', "stages:"]
    for i in range(stages):
        lines.append(f"  s{i}:")
        if i:
            lines.append(f"    from: s{i - 1}")
        query = f"?from={{v{i - 1}}}" if i else ""
        lines.append(f'    url: "{{api}}/p.json{query}"')
        lines.append(f"    fields: {{v{i}: $.v}}")
    return "\n".join(lines) + "\n"


def validate_seconds(text: str) -> float:
    """Seconds to load, check and plan ``text``."""
    start = time.perf_counter()
    loaded = load_text(text, "chain.yaml", environ={})
    build_plan(loaded.spec, loaded.source, loaded.secrets)
    return time.perf_counter() - start


def run_seconds(crawl: Path, base: str, output: Path) -> float:
    """Seconds for one whole serial ``yamlcrawl`` run of ``crawl``; it must succeed."""
    command = [
        sys.executable, "-m", "yamlcrawl", str(crawl), "-q", "--fresh",
        "--set", f"api={base}", "--output", str(output), "--mode", "serial",
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    """Time every size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000, 2000, 4000])
    parser.add_argument("--run-max", type=int, default=4000, help="largest chain to run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        site = Path(scratch) / "site"
        site.mkdir()
        (site / "p.json").write_text('{"v": 1}', "utf-8")
        server, base = start_server(site)
        try:
            print(f"{'stages':>7} {'validate s':>11} {'µs/stage':>9} {'run s':>8} {'ms/stage':>9}")
            for size in args.sizes:
                text = chain(size)
                took = validate_seconds(text)
                row = f"{size:>7} {took:>11.3f} {took / size * 1e6:>9.0f}"
                if size <= args.run_max:
                    crawl = Path(scratch) / f"chain{size}.yaml"
                    crawl.write_text(text, "utf-8")
                    ran = run_seconds(crawl, base, Path(scratch) / f"out{size}")
                    row += f" {ran:>8.2f} {ran / size * 1e3:>9.2f}"
                print(row, flush=True)
        finally:
            server.shutdown()
            server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
