"""A pool replaced after a worker died stops its other workers quietly: no traceback, no
KeyboardInterrupt on stderr from workers told to stop (they were idle, or are stopped cleanly)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.support import Site, lol_args, saved_files
from yamlcrawl.types import DownloadUnit, FileResult
from yamlcrawl.ui import cli
from yamlcrawl.work import run as work


def test_replacing_the_pool_prints_no_traceback(
    slow_lol_site: Site,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = tmp_path / "died"
    real = work.download_file

    def dies_once(run: Any, unit: DownloadUnit) -> FileResult:
        if unit.path.endswith("K／DA 阿狸电脑版.jpg") and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return real(run, unit)

    monkeypatch.setattr(work, "download_file", dies_once)
    output = tmp_path / "out"
    args = lol_args(slow_lol_site, output, "--mode", "pool", "--workers", "4", "-q")
    code = cli.main([str(arg) for arg in [*args, "--start-method", "fork"]])
    captured = capfd.readouterr()
    assert marker.exists(), "the victim was never downloaded"
    assert code == 0, captured.out + captured.err
    assert len(saved_files(output)) == 48
    assert "Traceback" not in captured.err, captured.err
    assert "KeyboardInterrupt" not in captured.err, captured.err
