"""Compare a crawl's output folder with a sample's expected.json (standard library only).

Run ``python samples/check.py samples/lol samples/out/lol``: every expected path must exist
with the bytes of its ``source`` under ``samples/lol/site/``, and no other file may be there
(the manifest and yamlcrawl's own `.yamlcrawl/` state folder excepted). Exit status 0 when all
is as expected, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path


def compare(sample: Path, output: Path, manifest: str = "manifest.jsonl") -> list[str]:
    """Every difference between ``output`` and ``sample/expected.json``, one line each.

    Args:
        sample: a sample folder holding ``expected.json`` and ``site/``.
        output: the crawl's output folder.
        manifest: a file name at the top of ``output`` that is not compared.

    Returns:
        Lines such as ``missing: 九尾妖狐/K／DA 阿狸电脑版.jpg``; empty when they agree.
    """
    expected = json.loads((sample / "expected.json").read_text("utf-8"))
    wanted = {entry["path"]: entry["source"] for entry in expected}
    found = {
        path.relative_to(output).as_posix()
        for path in output.rglob("*")
        if path.is_file() and path != output / manifest and ".yamlcrawl" not in path.parts
    }
    problems = [f"missing: {path}" for path in wanted if path not in found]
    problems += [f"unexpected: {path}" for path in sorted(found - wanted.keys())]
    for path, source in wanted.items():
        if (
            path in found
            and (output / path).read_bytes() != (sample / "site" / source).read_bytes()
        ):
            problems.append(f"wrong bytes: {path} (expected those of site/{source})")
    return problems


def expected_count(sample: Path) -> int:
    """How many files ``sample/expected.json`` lists."""
    return len(json.loads((sample / "expected.json").read_text("utf-8")))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the differences and a verdict."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("sample", type=Path, help="the sample folder, e.g. samples/lol")
    parser.add_argument("output", type=Path, help="the crawl's output folder, e.g. samples/out/lol")
    parser.add_argument("--manifest", default="manifest.jsonl", help="manifest name to ignore")
    args = parser.parse_args(argv)
    if not args.output.is_dir():
        parser.error(f"not a folder: {args.output}")
    problems = compare(args.sample, args.output, args.manifest)
    for line in problems:
        print(line)
    total = expected_count(args.sample)
    print(f"{total - sum(p.startswith('missing') for p in problems)}/{total} expected files found")
    print("OK" if not problems else f"{len(problems)} difference(s)")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
