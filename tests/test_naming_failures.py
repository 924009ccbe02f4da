"""A file that cannot be named fails as it happens, on stderr, as every failure does (with -q
too), besides the summary, the manifest and the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apiserver import Api
from tests.conftest import RunCli
from tests.support import list_crawl

ITEMS = [{"id": 1, "name": "ok"}, {"id": 2}, {"id": 3, "name": ".yamlcrawl/state.sqlite"}]


def crawl(api: Api, tmp_path: Path) -> Path:
    api.routes["/list"] = lambda q: ({"items": ITEMS}, {})
    api.routes["/file"] = lambda q: (b"bytes", {"Content-Type": "image/png"})
    download = {"url": "{api}/file?id={item.id}", "save_as": "{item.name|path}"}
    return list_crawl(tmp_path, api.base, download)


@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["normal", "quiet"])
def test_a_file_that_cannot_be_named_is_shown_failed_as_it_happens(
    api: Api, run_cli: RunCli, tmp_path: Path, quiet: list[str]
) -> None:
    run = run_cli(crawl(api, tmp_path), "-o", tmp_path / "out", *quiet)
    assert run.code == 1, run.out + run.err
    assert run.err.splitlines() == [
        f"failed file [list] {api.base}/file?id=2: cannot name the file: {{item.name|path}}:"
        " item has no 'name'",
        f"failed file [list] {api.base}/file?id=3: '.yamlcrawl/state.sqlite' is in .yamlcrawl/,"
        " kept for yamlcrawl's own state",
    ]
    assert "2 failed:" in run.out
