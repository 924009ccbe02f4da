"""The JSON report for scripts (`--report`): when the run began and ended (UTC, ISO 8601), which
yamlcrawl ran it, its files and pages counted by the statuses the manifest writes, and each
failure's cause as data (`error`: the HTTP status where a response said one, and a short kind),
besides the text and every key it had before."""

from __future__ import annotations

import importlib.metadata
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import yamlcrawl
from tests.apiserver import Api, Reply
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import manifest_records
from yamlcrawl.http import attempt
from yamlcrawl.types import Failure, HttpSettings
from yamlcrawl.ui.failures import Cause, cause_of

SLOW = 2.0  # seconds the slow file keeps its answer: four times http.timeout


def serve(api: Api) -> None:
    def items(q: dict[str, str]) -> Reply:
        return {
            "items": [
                {"id": "a", "url": "/file?n=a"},
                {"id": "b", "url": "/file?n=b"},
                {"id": "b", "url": "/file?n=b"},  # the same file again: a duplicate
                {"id": "gone", "url": "/gone"},  # 404: no such route
                {"id": "slow", "url": "/slow"},  # answers after the timeout
                {"id": "none"},  # no URL: skipped
            ]
        }, {}

    def file(q: dict[str, str]) -> Reply:
        return f"file {q['n']}".encode(), {"Content-Type": "image/png"}

    def slow(q: dict[str, str]) -> Reply:
        time.sleep(SLOW)
        return b"late", {"Content-Type": "image/png"}

    api.routes["/items"] = items
    api.routes["/file"] = file
    api.routes["/slow"] = slow


def crawl_file(tmp_path: Path) -> Path:
    config = tmp_path / "crawl.yaml"
    config.write_text(
        """
vars: {api: "http://127.0.0.1"}
http: {timeout: 0.5, retries: 0}
stages:
  items:
    url: "{api}/items"
    each: "$.items[*]"
    as: item
    downloads:
      - {url: "{api}{item.url}", save_as: "{item.id}.png"}
  nowhere:
    url: "{api}/nowhere"
""",
        "utf-8",
    )
    return config


def utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == timedelta(0), text
    return parsed


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_the_report_has_times_version_counts_and_causes(
    api: Api, run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path, mode: str
) -> None:
    serve(api)
    output, report = tmp_path / "out", tmp_path / "report.json"
    before = datetime.now(UTC)
    run = run_cli(
        crawl_file(tmp_path), "--set", f"api={api.base}", "-o", output, "--report", report,
        *mode_args(mode),
    )  # fmt: skip
    after = datetime.now(UTC)
    assert run.code == 1, run.out + run.err
    data = json.loads(report.read_text("utf-8"))

    started, finished = utc(data["started"]), utc(data["finished"])
    slack = timedelta(seconds=1)  # milliseconds are rounded; clocks are read at other moments
    assert before - slack <= started <= finished <= after + slack
    assert data["version"] == yamlcrawl.__version__ == importlib.metadata.version("yamlcrawl")

    assert data["files_by_status"] == {
        "saved": 2,
        "present": 0,
        "archived": 0,
        "skipped": 1,
        "duplicate": 1,
        "failed": 2,
    }
    files = [r for r in manifest_records(output) if r["kind"] == "file"]
    assert sum(data["files_by_status"].values()) == len(files) == 6
    for status, count in data["files_by_status"].items():
        assert count == sum(r["status"] == status for r in files), status
    assert data["pages_by_status"] == {"fetched": 1, "failed": 1, "duplicate": 0, "empty": 0}
    assert data["pages"] == data["pages_by_status"]["fetched"]
    assert (data["saved"], data["skipped"], data["failed"]) == (2, 1, 3)  # the keys it had

    causes = {f["url"].rsplit("/", 1)[1]: (f["error"], f["reason"]) for f in data["failures"]}
    assert causes["gone"] == ({"status": 404, "reason": "http_status"}, causes["gone"][1])
    assert causes["gone"][1].endswith(": HTTP 404 Not Found")
    assert causes["slow"][0] == {"status": None, "reason": "timeout"}
    assert causes["slow"][1].endswith(": timed out after 0.5 s")
    assert causes["nowhere"][0] == {"status": 404, "reason": "http_status"}


def test_a_run_that_never_began_reports_its_times_and_zero_counts(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(api)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "archive.sqlite").symlink_to("elsewhere.sqlite")
    report = tmp_path / "report.json"
    config = crawl_file(tmp_path)
    run = run_cli(config, "-o", "out", "--set", "output.archive=archive.sqlite", "--report", report)
    assert run.code == 2
    data = json.loads(report.read_text("utf-8"))
    assert utc(data["started"]) <= utc(data["finished"])
    assert data["stopped"] == (
        "cannot use the archive archive.sqlite: it is a symbolic link, which yamlcrawl does not"
        " follow"
    )
    assert set(data["files_by_status"].values()) == set(data["pages_by_status"].values()) == {0}
    assert (data["archive"], data["archived"]) == ("archive.sqlite", 0)


def _failed(cause: str) -> str:
    return f"GET http://h/x.png failed: {cause}"


SETTINGS = HttpSettings(timeout=0.5, deadline=3)


def _attempt_cause(status: int, reason: str) -> str:
    with pytest.raises(attempt.AttemptError) as caught:
        attempt.check_status(status, reason, "", SETTINGS)
    return caught.value.cause


# Each sentence as the layer that fails a unit writes it, and the cause the report gives it.
CAUSES: dict[str, tuple[Failure | str, Cause]] = {
    "an HTTP status": (_failed(_attempt_cause(404, "")), Cause(404, "http_status")),
    "an HTTP status after retries": (
        "GET http://h/x.png failed after 4 attempts: " + _attempt_cause(503, "Busy: later"),
        Cause(503, "http_status"),
    ),
    "not JSON": (
        "GET http://h/list returned HTTP 200 text/html, not JSON (Expecting value: line 1"
        " column 1): b'<html>'",
        Cause(200, "bad_json"),
    ),
    "JSON too deep": (
        "GET http://h/list refused: the JSON is nested more than 200 levels deep",
        Cause(None, "bad_json"),
    ),
    "a timeout": (_failed("timed out after 0.5 s"), Cause(None, "timeout")),
    "the deadline": (_failed(attempt.past_deadline(SETTINGS).cause), Cause(None, "deadline")),
    "too large as it came": (_failed(attempt.too_big(10).cause), Cause(None, "too_large")),
    "too large as announced": (
        _failed(attempt.declared_too_big(20, 10).cause),  # type: ignore[union-attr]
        Cause(None, "too_large"),
    ),
    "too many items": (
        "the page has 12 items at $.i[*], more than run.max_items (10) — page the list",
        Cause(None, "too_many_items"),
    ),
    "a refused URL": (
        "GET ftp://h/x refused: the URL is not an http or https URL",
        Cause(None, "bad_url"),
    ),
    "redirects": (_failed("more than 10 redirects"), Cause(None, "redirects")),
    "a host that does not resolve": (
        _failed("could not resolve the host name (Name or service not known)"),
        Cause(None, "dns"),
    ),
    "a refused connection": (_failed("connection refused"), Cause(None, "connection")),
    "TLS": (_failed("TLS error (certificate verify failed: x)"), Cause(None, "tls")),
    "a body cut short": (_failed("body ended after 5 of 10 bytes"), Cause(None, "broken_body")),
    "an unsafe name": (
        "cannot name the file: '..' is not a name at {x}",
        Cause(None, "unsafe_name"),
    ),
    "an archive key": (
        "cannot make its archive key: {skin.nope}: skin has no 'nope'",
        Cause(None, "archive_key"),
    ),
    "a full folder": ("cannot write a.png: No space left on device", Cause(None, "folder")),
    "a lost worker": (
        "worker process 12 was killed by SIGKILL (2 times)",
        Cause(None, "lost"),
    ),
    "a bug": ("unexpected KeyError: 'x'", Cause(None, "unexpected")),
    "a rule that matched nothing": (
        Failure("match", "s", "http://h", None, "stages.s.each matched nothing"),
        Cause(None, "unmatched"),
    ),
    "anything else": ("something new", Cause(None, "other")),
}


@pytest.mark.parametrize(("failure", "cause"), CAUSES.values(), ids=list(CAUSES))
def test_each_sentence_has_its_cause(failure: Failure | str, cause: Cause) -> None:
    if isinstance(failure, str):
        failure = Failure("file", "s", "http://h/x.png", "x.png", failure)
    assert cause_of(failure) == cause
