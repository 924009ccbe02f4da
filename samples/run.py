"""Run a sample end to end: serve its site, crawl it, check the files, stop the server.

    python samples/run.py books                  # the crawl file's own mode
    python samples/run.py books --mode serial    # any mode gives the same files
    python samples/run.py --all                  # every sample, one after the other
    python samples/run.py --list                 # the samples and what each shows

The site is served from this process (``serve.py``'s ``start_server``) on a free port, so
nothing else may be running and no port is ever in the way. The crawl is ``python -m yamlcrawl``
with the sample's crawl file, its base URL set to that server, into ``samples/out/NAME`` (or
``samples/out/NAME-MODE`` with ``--mode``; ``samples/out/`` is ignored by git), or ``--output
DIR``. The folder is kept: run the same command again and the crawl finds every file already
there. Then ``check.py`` compares the folder with the sample's ``expected.json``, byte for byte.
Any option this script does not know (``--workers 8``, ``-v``, ``--fresh``) goes to yamlcrawl.

``tomorrow`` is a live API, not a folder of files: its own ``demo.py`` serves it and crawls it
on day 1 and day 2 (into a temporary folder) and checks what each run cost.

Exit status 0 when every sample run passed its check, 1 when one did not, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))

from check import compare, expected_count  # noqa: E402 (found through the line above)
from serve import SampleServer, start_server  # noqa: E402

# Where a sample's server listens first: below Linux's ephemeral ports, so rarely taken.
PORTS = range(20000, 30000)


@dataclass(frozen=True)
class Sample:
    """A sample site and how its crawl is pointed at it.

    Attributes:
        name: the folder under ``samples/``.
        crawl: the crawl file.
        var: the crawl's variable that holds the API's base URL.
        path: what follows the server's URL in that variable.
        rewrite: absolute origins in the documents that the server points at itself.
        shows: what the sample is about, for ``--list``.
    """

    name: str
    crawl: Path
    var: str
    shows: str
    path: str = ""
    rewrite: tuple[str, ...] = ()

    @property
    def folder(self) -> Path:
        """``samples/NAME``: expected.json and site/."""
        return HERE / self.name


SAMPLES: dict[str, Sample] = {
    sample.name: sample
    for sample in (
        Sample(
            "tutorial",
            HERE / "tutorial" / "crawler.yaml",
            "api",
            "the README's first crawl: list -> detail -> images (8 files)",
        ),
        Sample(
            "lol",
            ROOT / "crawler.yaml",
            "img",
            "the League of Legends skins: real documents and every naming hazard (48 files)",
            "/images/lol/act/img",
            ("https://game.gtimg.cn",),
        ),
        Sample("books", HERE / "books" / "crawler.yaml", "api", "nested REST JSON (12 files)"),
        Sample(
            "gallery",
            HERE / "gallery" / "crawler.yaml",
            "api",
            "JSONP, absolute CDN URLs, two start stages (11 files)",
            rewrite=("https://cdn.example.test",),
        ),
        Sample("feed", HERE / "feed" / "crawler.yaml", "api", "paged by cursor (4 files)"),
        Sample("ids", HERE / "ids" / "crawler.yaml", "api", "ids -> detail -> file (4 files)"),
        Sample("shop", HERE / "shop" / "crawler.yaml", "api", "paged by number (9 files)"),
    )
}
# A live API with its own script, not a site folder.
DEMOS: dict[str, str] = {"tomorrow": "a news API crawled on day 1 and day 2 (demo.py)"}


def output_folder(name: str, mode: str | None) -> Path:
    """``samples/out/NAME``, or ``samples/out/NAME-MODE`` for a mode asked for."""
    return OUT / (f"{name}-{mode}" if mode else name)


def shown(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def preferred_port(output: Path) -> int:
    """The same port every time for one output folder: a rerun then asks for the same URLs,
    and finds its files present (a name saved from another URL is fetched again)."""
    digest = hashlib.sha256(str(output.resolve()).encode("utf-8")).digest()
    return PORTS.start + int.from_bytes(digest[:4], "big") % len(PORTS)


def serve(sample: Sample, output: Path) -> tuple[SampleServer, str]:
    """Serve the sample's site on its preferred port, or on any free one if that is taken."""
    site = sample.folder / "site"
    try:
        return start_server(site, sample.rewrite, port=preferred_port(output))
    except OSError:
        return start_server(site, sample.rewrite)


def python(arguments: Sequence[str]) -> int:
    """Run this Python with this repository's package first on the path; its exit status."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *arguments], env=env, check=False).returncode


def crawl_arguments(sample: Sample, base: str, output: Path, mode: str | None) -> list[str]:
    """The yamlcrawl command line for ``sample`` against a server at ``base``."""
    arguments = [str(sample.crawl), "--set", f"{sample.var}={base}{sample.path}"]
    arguments += ["--output", str(output)]
    return arguments + (["--mode", mode] if mode else [])


def check(sample: Sample, output: Path) -> list[str]:
    """Print check.py's verdict on ``output``; return the differences."""
    problems = compare(sample.folder, output)
    for line in problems:
        print(f"  {line}")
    total = expected_count(sample.folder)
    found = total - sum(line.startswith("missing") for line in problems)
    print(f"{sample.name}: {found}/{total} expected files found in {shown(output)}", flush=True)
    return problems


def run_sample(sample: Sample, mode: str | None, output: Path, extra: Sequence[str]) -> bool:
    """Serve, crawl, stop the server, check; True when the crawl exited 0 and the check agrees."""
    server, base = serve(sample, output)
    print(f"{sample.name}: serving samples/{sample.name}/site at {base}", flush=True)
    try:
        code = python(["-m", "yamlcrawl", *crawl_arguments(sample, base, output, mode), *extra])
    finally:
        server.shutdown()
        server.server_close()
    reasons = [f"yamlcrawl exited {code}"] if code else []
    if not output.is_dir():
        reasons.append(f"no folder {shown(output)}")
    elif problems := check(sample, output):
        reasons.append(f"{len(problems)} difference(s) from expected.json")
    print(f"{sample.name}: {'FAILED: ' + ', '.join(reasons) if reasons else 'OK'}", flush=True)
    return not reasons


def run_demo(name: str, mode: str | None, output: Path | None, extra: Sequence[str]) -> bool:
    """A live-API sample: its demo.py serves, crawls, checks and stops itself, into a temporary
    folder it removes (or ``output``, a new one, kept)."""
    print(f"{name}: running samples/{name}/demo.py", flush=True)
    options = (["--mode", mode] if mode else []) + (["--keep", str(output)] if output else [])
    passed = python([str(HERE / name / "demo.py"), *options, *extra]) == 0
    print(f"{name}: {'OK' if passed else 'FAILED'}", flush=True)
    return passed


def run_one(name: str, mode: str | None, output: Path | None, extra: Sequence[str]) -> bool:
    """Run the sample called ``name``, site or demo."""
    if name in DEMOS:
        return run_demo(name, mode, output, extra)
    return run_sample(SAMPLES[name], mode, output or output_folder(name, mode), extra)


def mode_name(text: str) -> str:
    """A mode's name, as it will be part of a folder's (yamlcrawl says which modes exist)."""
    if not re.fullmatch(r"[a-z]+", text):
        raise argparse.ArgumentTypeError(f"not a mode name: {text!r}")
    return text


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """NAME or --all or --list, [--mode M] [--output DIR]; the rest goes to yamlcrawl."""
    names = [*SAMPLES, *DEMOS]
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        epilog="Any other option goes to yamlcrawl (e.g. --workers 8, -v, --fresh).",
        allow_abbrev=False,
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("name", nargs="?", choices=names, metavar="NAME", help=", ".join(names))
    which.add_argument("--all", action="store_true", help="run every sample")
    which.add_argument("--list", action="store_true", help="list the samples")
    parser.add_argument(
        "--mode", type=mode_name, help="the execution mode (default: the crawl file's own)"
    )
    parser.add_argument(
        "--output",
        "--keep",
        type=Path,
        metavar="DIR",
        help="crawl into DIR (default: samples/out/NAME[-MODE], kept for a rerun)",
    )
    args, extra = parser.parse_known_args(argv)
    if args.all and args.output:
        parser.error("--output names one sample's folder: not with --all")
    return args, extra


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sample, or all of them; exit 0 only when every check passed."""
    args, extra = parse_args(argv)
    if args.list:
        for name, sample in SAMPLES.items():
            print(f"{name:<9} {sample.shows}")
        for name, shows in DEMOS.items():
            print(f"{name:<9} {shows}")
        return 0
    if not args.all:
        return 0 if run_one(args.name, args.mode, args.output, extra) else 1
    results = {name: run_one(name, args.mode, None, extra) for name in [*SAMPLES, *DEMOS]}
    failed = [name for name, passed in results.items() if not passed]
    print(f"{len(results) - len(failed)}/{len(results)} samples OK", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
