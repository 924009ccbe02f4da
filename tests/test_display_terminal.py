"""The live display checked in a real terminal: a crawl at ``--workers 4 --threads 16`` (64
worker threads) inside a tmux pane of 100 x 30, captured while it runs and after it ends.

While it runs, no line is wider than the pane, at most 8 worker lines show under a ``N busy /
M idle`` line, and no remaining time shows while a total still grows (``12/30+``). After it
ends, nothing of the worker table is left, in the pane or its scrollback: the bars, the counters
and the summary stay. With ``NO_COLOR`` the same, live, without a colour. Skipped where tmux is
not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from rich.cells import cell_len

from tests.apiserver import Api
from tests.support import ROOT

WIDTH, HEIGHT = 100, 30
SLOTS = 4 * 16
WORKER_LINE = re.compile(r"^pid \d+ thread \d+\b")
BUSY_LINE = re.compile(r"^(\d+) busy / (\d+) idle\b")
GROWING = re.compile(r"\b\d+/\d+\+")
TIMEOUT = 40.0  # seconds the crawl may take on a loaded machine (it takes about 3)

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed: the check of the live display in a real terminal runs the"
    " crawl in a tmux pane (apt-get install tmux)",
)


def slow_site(api: Api) -> None:
    """4 list pages of 25 heroes (0.3 s each: totals grow for a while), 3 skins a hero, each
    file 0.2 s: 300 files, about 3 s at 64 threads."""

    def heroes(query: dict[str, str]) -> tuple[object, dict[str, str]]:
        time.sleep(0.3)
        page = int(query.get("page", 1))
        items = [{"id": page * 100 + n} for n in range(25)]
        return {"items": items, "more": page < 4}, {}

    def file(query: dict[str, str]) -> tuple[object, dict[str, str]]:
        time.sleep(0.2)
        return b"\xff\xd8" + b"x" * 20_000, {"Content-Type": "image/jpeg"}

    api.routes["/list"] = heroes
    api.routes["/hero"] = lambda q: ({"skins": [{"id": n} for n in range(3)]}, {})
    api.routes["/file"] = file


def crawl_file(api: Api, folder: Path) -> Path:
    crawl = {
        "vars": {"api": api.base},
        "http": {"retries": 0},
        "stages": {
            "heroes": {
                "url": "{api}/list",
                "paginate": {"by": "page", "param": "page", "has_more": "$.more"},
                "each": "$.items[*]",
                "as": "hero",
            },
            "skins": {
                "from": "heroes",
                "url": "{api}/hero?id={hero.id}",
                "each": "$.skins[*]",
                "as": "skin",
                "downloads": [
                    {
                        "url": "{api}/file?id={hero.id}-{skin.id}",
                        "save_as": "{hero.id}/{skin.id}大图.jpg",
                    }
                ],
            },
        },
    }
    path = folder / "crawl.yaml"
    path.write_text(yaml.safe_dump(crawl, allow_unicode=True), "utf-8")
    return path


class Pane:
    """A tmux server of its own (its socket in a short temporary folder), one pane."""

    def __init__(self, socket: Path, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env
        self.command = ["tmux", "-u", "-f", str(socket.with_suffix(".conf")), "-S", str(socket)]

    def tmux(self, *args: str) -> str:
        """What a tmux command prints."""
        done = subprocess.run(
            [*self.command, *args], env=self.env, capture_output=True, text=True, timeout=10
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def capture(self, history: bool = False, escapes: bool = False) -> list[str]:
        """The pane's lines (wrapped lines joined, so one too wide shows), with its history,
        with the escapes that set colours."""
        extra = [*(["-S", "-"] if history else []), *(["-e"] if escapes else [])]
        lines = self.tmux("capture-pane", "-p", "-J", *extra).splitlines()
        return [line.rstrip() for line in lines]


KEPT_OUT = {"COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TMUX"}  # the pane's size, its colours


@pytest.fixture(params=[False, True], ids=["colour", "NO_COLOR"])
def pane(request: pytest.FixtureRequest) -> Iterator[Pane]:
    folder = Path(tempfile.mkdtemp(prefix="yc-tmux-", dir="/tmp"))  # a socket path is short
    socket = folder / "s"
    socket.with_suffix(".conf").write_text("set -g status off\nset -g history-limit 10000\n")
    env = {name: value for name, value in os.environ.items() if name not in KEPT_OUT}
    env.update(PYTHONPATH=str(ROOT), LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8")
    if request.param:
        env["NO_COLOR"] = "1"
    try:
        yield Pane(socket, env)
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def run_in_pane(pane: Pane, crawl: Path, output: Path) -> list[list[str]]:
    """Start the crawl in a 100 x 30 pane; every frame seen until it prints its exit code."""
    command = (
        f"{sys.executable} -m yamlcrawl {crawl} --mode queue --workers 4 --threads 16"
        f" -o {output}; echo EXIT=$?; sleep 600"
    )
    pane.tmux("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", "crawl", command)
    frames: list[list[str]] = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        frames.append(pane.capture())
        if any(line.startswith("EXIT=") for line in frames[-1]):
            return frames
        time.sleep(0.1)
    raise AssertionError("the crawl did not end in time:\n" + "\n".join(pane.capture(True)))


def check_frame(frame: list[str]) -> None:
    """What a frame of the live display may never show."""
    shown = "\n".join(frame)
    assert all(cell_len(line) <= WIDTH for line in frame), shown
    assert len([line for line in frame if WORKER_LINE.match(line)]) <= 8, shown
    if any(GROWING.search(line) for line in frame):
        assert "eta " not in shown, shown  # no remaining time while a total grows


def test_the_live_display_at_4_x_16_in_a_real_terminal(
    api: Api, pane: Pane, tmp_path: Path
) -> None:
    slow_site(api)
    frames = run_in_pane(pane, crawl_file(api, tmp_path), tmp_path / "out")
    for frame in frames:
        check_frame(frame)
    live = [frame for frame in frames if not any(line.startswith("EXIT=") for line in frame)]
    busy = [BUSY_LINE.match(line) for frame in live for line in frame]
    assert [m for m in busy if m and int(m[1]) + int(m[2]) == SLOTS], "no busy / idle line seen"
    assert any(WORKER_LINE.match(line) for frame in live for line in frame), "no worker line"
    assert any(GROWING.search(line) for frame in live for line in frame), "no growing total"
    everything = pane.capture(history=True)
    text = "\n".join(everything)
    assert "EXIT=0" in text, text
    left = [line for line in everything if WORKER_LINE.match(line) or BUSY_LINE.match(line)]
    assert left == [] and " idle" not in text, text  # the worker table went with the run
    assert re.search(r"^大图\s.*300/300 ", text, re.M), text  # the bars stay, named
    assert "finished" in text
    colours = colour_codes("\n".join(pane.capture(escapes=True)))
    assert (colours == []) is ("NO_COLOR" in pane.env), colours  # live, without colour


def colour_codes(written: str) -> list[str]:
    """The SGR parameters of ``written`` that set a colour (39 and 49, the terminal's own
    colours, are what tmux writes as it resets)."""
    params = [p for sgr in re.findall(r"\x1b\[([0-9;]*)m", written) for p in sgr.split(";")]
    return [p for p in params if p and int(p) in COLOURS]


COLOURS = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}
