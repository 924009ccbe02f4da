"""The live display through the CLI in every mode family: on a terminal (``FORCE_COLOR`` makes
the captured stderr one) with ``NO_COLOR``, the display is live but has no colour; download bars
carry their rules' names; no frame shows a remaining time while a total grows; the last frame,
left above the summary, has the bars and no worker lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.text import Text

from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import Site, lol_args
from tests.test_display_terminal import colour_codes

ERASE_LINE = "\x1b[2K"  # what rich's live display writes before it draws a frame again


def frames(stderr: str) -> list[list[str]]:
    """Each frame the live display drew, as plain lines (the last one is what stays)."""
    drawn = [Text.from_ansi(part).plain for part in stderr.split(ERASE_LINE)]
    return [[line.rstrip() for line in frame.splitlines()] for frame in drawn if frame.strip()]


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_the_live_display_in_every_mode(
    mode: str,
    mode_args: ModeArgs,
    lol_site: Site,
    run_cli: RunCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in [("FORCE_COLOR", "1"), ("NO_COLOR", "1"), ("COLUMNS", "80")]:
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LINES", "24")
    options = [*mode_args(mode), "--workers", "2", "--threads", "2"]
    run = run_cli(*lol_args(lol_site, tmp_path / "out", *options))
    assert run.code == 0, run.err
    assert ERASE_LINE in run.err and colour_codes(run.err) == []  # live, without colour
    seen = frames(run.err)
    for frame in seen:
        assert all(cell_len(line) <= 80 for line in frame), frame
        if any(re.search(r"\d+/\d+\+", line) for line in frame):
            assert not any("eta " in line for line in frame), frame
    last = seen[-1]
    assert re.search(r"^电脑版\s.* 24/24 ", "\n".join(last), re.M), last
    assert re.search(r"^手机版\s.* 24/24 ", "\n".join(last), re.M), last  # (12 skipped)
    assert re.fullmatch(r"\d+\.\d+ kB at \S+ [kM]?B/s", last[-1]), last  # counters wrapped, whole
    assert not any(" busy / " in line or line.startswith("pid ") for line in last), last
    assert "lol-skins: finished" in run.out
