"""The README's tutorial, "Your first crawl", as a newcomer follows it: `yamlcrawl init`, point
the starter at the tutorial's own API (samples/tutorial/site, served on a free port here),
`validate`, `--dry-run --limit 3`, run, run again. Also: what `init` writes is whole (the schema
its first line names is there), and the tutorial's crawler.yaml is the starter with one edit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from samples.check import compare
from samples.serve import start_server
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import ROOT, SAMPLES
from yamlcrawl.ui.starter import json_schema, starter

TUTORIAL = SAMPLES / "tutorial"
STARTER_API = "api: https://api.example.com"
TUTORIAL_API = "api: http://127.0.0.1:8000"  # the edit the tutorial's step 5 makes


@pytest.fixture
def tutorial_api() -> Iterator[str]:
    """The tutorial's site served on a free port: its base URL."""
    server, base = start_server(TUTORIAL / "site", ())
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


def tutorial_section() -> str:
    """The README's tutorial, from its heading to the next section of the same level."""
    text = (ROOT / "README.md").read_text("utf-8")
    start = text.index("## Your first crawl")
    return text[start : text.index("\n## ", start + 1)]


def counts(report: Path) -> dict[str, int]:
    """The files a run's report counts by status."""
    data = json.loads(report.read_text("utf-8"))
    by_status: dict[str, int] = data["files_by_status"]
    return {status: n for status, n in by_status.items() if n}


def test_init_writes_the_schema_its_first_line_names(run_cli: RunCli, tmp_path: Path) -> None:
    target = tmp_path / "crawler.yaml"
    run = run_cli("init", target)
    assert run.code == 0
    assert run.out == (
        f"wrote {target} and {tmp_path / 'crawler.schema.json'} (the schema, for editors):"
        f" edit it, then `yamlcrawl validate {target}`\n"
    )
    text = target.read_text("utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=./crawler.schema.json"
    schema = json.loads((tmp_path / "crawler.schema.json").read_text("utf-8"))
    assert schema == json_schema()
    jsonschema.validate(yaml.safe_load(text), schema)
    # A second crawl in the same folder keeps the schema there, unless --force.
    (tmp_path / "crawler.schema.json").write_text("{}", "utf-8")
    run = run_cli("init", tmp_path / "other.yaml")
    assert run.out.startswith(f"wrote {tmp_path / 'other.yaml'} (")
    assert "crawler.schema.json was there: kept)" in run.out
    assert (tmp_path / "crawler.schema.json").read_text("utf-8") == "{}"
    assert run_cli("init", tmp_path / "other.yaml", "--force").code == 0
    assert json.loads((tmp_path / "crawler.schema.json").read_text("utf-8")) == schema


def test_the_tutorial_crawl_is_the_starter_with_its_api_pointed_at_the_server() -> None:
    ours = (TUTORIAL / "crawler.yaml").read_text("utf-8")
    body = ours[ours.index("name: my-crawl") :]
    started = starter()
    assert STARTER_API in started and TUTORIAL_API in body
    assert body == started[started.index("name: my-crawl") :].replace(STARTER_API, TUTORIAL_API)
    assert f"  {TUTORIAL_API}\n" in tutorial_section()


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_the_tutorial_as_the_readme_tells_it(
    run_cli: RunCli,
    mode_args: ModeArgs,
    tutorial_api: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # `downloads` is relative to the current folder
    assert run_cli("init").code == 0
    crawl = Path("crawler.yaml")
    crawl.write_text(crawl.read_text("utf-8").replace(STARTER_API, f"api: {tutorial_api}"))
    assert run_cli("validate").code == 0
    dry = run_cli("crawler.yaml", "--dry-run", "--limit", "3", *mode_args(mode))
    assert dry.code == 0
    listed = [line for line in dry.out.splitlines() if "\t" in line]  # path<TAB>url
    assert len(listed) == 5
    shown = tutorial_section().splitlines()
    for line in listed:  # the README shows the listing as it is, on port 8000
        assert line.replace(tutorial_api, "http://127.0.0.1:8000") in shown, line
    assert not Path("downloads").exists()  # a dry run saves nothing
    first = run_cli("crawler.yaml", *mode_args(mode), "-q", "--report", "first.json")
    assert first.code == 0
    assert counts(Path("first.json")) == {"saved": 8}
    assert compare(TUTORIAL, Path("downloads")) == []
    again = run_cli(*mode_args(mode), "-q", "--report", "again.json")
    assert again.code == 0
    assert counts(Path("again.json")) == {"present": 8}


def test_the_tutorial_sample_checks_as_its_header_says(
    run_cli: RunCli, tutorial_api: str, tmp_path: Path
) -> None:
    out = tmp_path / "tutorial-out"
    run = run_cli(TUTORIAL / "crawler.yaml", "--set", f"api={tutorial_api}", "--output", out)
    assert run.code == 0
    assert compare(TUTORIAL, out) == []
