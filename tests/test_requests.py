"""What a page request carries: cookies and credentials; and secrets kept out of every output."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.apiserver import Api, Reply
from tests.conftest import RunCli
from tests.support import manifest_records
from yamlcrawl.language.redact import redact

SECRET = "s3cr3t/t0ken+x"  # a slash and a plus: percent-encoded differently in a URL


def crawl_file(tmp_path: Path, http: str, stage: str = "") -> Path:
    config = tmp_path / "crawl.yaml"
    config.write_text(
        f"""
vars:
  api: "http://127.0.0.1"
  token: ${{API_TOKEN}}
  user: reader
http:
{http}
stages:
  list:
    url: "{{api}}/list"
{stage}
    each: "$.items[*]"
    as: item
    downloads:
      - url: "{{api}}/file?key={{token}}&n={{item}}"
        save_as: "{{item}}.json"
""",
        "utf-8",
    )
    return config


def serve(api: Api, items: list[str]) -> None:
    def listing(q: dict[str, str]) -> Reply:
        return {"items": items}, {}

    def file(q: dict[str, str]) -> Reply:
        return {"n": q["n"]}, {}

    api.routes["/list"] = listing
    api.routes["/file"] = file


@pytest.mark.parametrize("mode", ["serial", "queue"])
def test_cookies_and_bearer_token_go_with_page_requests(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET)
    serve(api, ["a"])
    http = "  cookies: {lang: zh}\n  auth: {bearer: '{token}'}"
    config = crawl_file(tmp_path, http, "    cookies: {region: '{user}'}")
    run = run_cli(config, "--set", f"api={api.base}", "--output", tmp_path / "out", "--mode", mode)
    assert run.code == 0, run.out + run.err
    page = api.headers[api.asked.index("/list")]
    assert page["Authorization"] == f"Bearer {SECRET}"
    assert page["Cookie"] == "lang=zh; region=reader"
    download = next(h for p, h in zip(api.asked, api.headers, strict=True) if p.startswith("/file"))
    assert download["Authorization"] is None  # credentials are for the API, not any file host


def test_basic_auth_of_a_stage_replaces_http_auth(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET)
    serve(api, [])
    stage = "    auth: {basic: {user: '{user}', password: '{token}'}}"
    config = crawl_file(tmp_path, "  auth: {bearer: nope}", stage)
    run = run_cli(config, "--set", f"api={api.base}", "--output", tmp_path / "out")
    assert run.code == 0, run.out + run.err
    expected = base64.b64encode(f"reader:{SECRET}".encode()).decode()
    assert api.headers[0]["Authorization"] == f"Basic {expected}"


def test_secrets_never_reach_any_output(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key in every file URL; one file fails; -v and a log file show every URL: no key."""
    monkeypatch.setenv("API_TOKEN", SECRET)
    serve(api, ["a", "b"])
    api.routes["/file"] = lambda q: ({"n": q["n"]}, {}) if q["n"] == "a" else (None, {})
    output = tmp_path / "out"
    config = crawl_file(tmp_path, "  auth: {bearer: '{token}'}")
    config.write_text(config.read_text().replace("/file?", "/{item}/file?"))  # b: 404
    api.routes["/a/file"] = api.routes.pop("/file")
    log, report = tmp_path / "log.txt", tmp_path / "report.json"
    args = ["--output", output, "-v", "--log-file", log, "--report", report]
    run = run_cli(config, "--set", f"api={api.base}", *args)
    assert run.code == 1  # b failed: HTTP 404
    assert any(r["status"] == "failed" for r in manifest_records(output))
    shown = run.out + run.err + log.read_text() + report.read_text()
    shown += (output / "manifest.jsonl").read_text()
    assert "key=***" in shown
    for form in (SECRET, "s3cr3t%2Ft0ken%2Bx", "s3cr3t%2Ft0ken+x"):
        assert form not in shown
    assert json.loads(report.read_text())["failed"] == 1


@pytest.mark.parametrize(
    ("body", "sent", "content_type"),
    [
        (
            "json: {ids: ['{item}'], label: 'n-{item}', page: {size: 2}}",
            {"ids": [7], "label": "n-7", "page": {"size": 2}},  # '{item}' alone stays a number
            "application/json",
        ),
        ("form: {q: 'K/DA {user}', n: '{item}'}", "q=K%2FDA+reader&n=7", None),
    ],
)
def test_json_and_form_bodies(
    api: Api, run_cli: RunCli, tmp_path: Path, body: str, sent: object, content_type: str | None
) -> None:
    api.routes["/ids"] = lambda q: ({"items": [7]}, {})
    api.routes["/search"] = lambda q: ({"items": []}, {})
    config = tmp_path / "crawl.yaml"
    config.write_text(
        f"""
vars: {{api: "http://127.0.0.1", user: reader}}
stages:
  ids:
    url: "{{api}}/ids"
    each: "$.items[*]"
    as: item
  search:
    from: ids
    url: "{{api}}/search"
    method: POST
    {body}
""",
        "utf-8",
    )
    run = run_cli(config, "--set", f"api={api.base}", "--output", tmp_path / "out")
    assert run.code == 0, run.out + run.err
    method, raw = api.bodies[api.asked.index("/search")]
    assert method == "POST"
    headers = api.headers[api.asked.index("/search")]
    if content_type == "application/json":
        assert json.loads(raw) == sent
        assert headers["Content-Type"] == "application/json"
    else:
        assert raw.decode() == sent
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_redact_plain_and_encoded() -> None:
    text = "GET http://h/x?key=s3cr3t%2Ft0ken%2Bx and s3cr3t/t0ken+x"
    assert redact(text, (SECRET,)) == "GET http://h/x?key=*** and ***"
    assert redact("nothing", ()) == "nothing"


def test_a_dry_run_lists_urls_without_secrets(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", SECRET)
    serve(api, ["a"])
    config = crawl_file(tmp_path, "  timeout: 5")
    run = run_cli(config, "--set", f"api={api.base}", "--output", tmp_path / "o", "--dry-run")
    assert run.code == 0, run.err
    assert "key=***&n=a" in run.out
    assert SECRET not in run.out and "s3cr3t%2F" not in run.out


def test_auth_needs_exactly_one_kind() -> None:
    from yamlcrawl.backends import modes
    from yamlcrawl.language.loader import ConfigError, load_text

    text = "http:\n  auth: {}\nstages:\n  a: {url: x}\n"
    with pytest.raises(ConfigError) as caught:
        load_text(text, "crawler.yaml", modes=modes(), environ={})
    assert str(caught.value) == (
        "crawler.yaml:2:9: no credentials at http.auth — expected exactly one of 'bearer: TOKEN',"
        " 'basic: {user: ..., password: ...}' or 'digest: {user: ..., password: ...}'"
    )


@pytest.mark.parametrize("mode", ["serial", "queue"])
def test_the_same_request_twice_is_made_once(
    api: Api, run_cli: RunCli, tmp_path: Path, mode: str
) -> None:
    api.routes["/ids"] = lambda q: ({"items": [1, 2, 1, 3, 2]}, {})
    api.routes["/item"] = lambda q: ({"name": f"n{q['id']}"}, {})
    api.routes["/file"] = lambda q: ({"n": q["n"]}, {})
    config = tmp_path / "crawl.yaml"
    config.write_text(
        """
vars: {api: "http://127.0.0.1"}
stages:
  ids: {url: "{api}/ids", each: "$.items[*]", as: id}
  item:
    from: ids
    url: "{api}/item"
    params: {id: "{id}"}
    fields: {name: $.name}
    downloads: [{url: "{api}/file?n={name}", save_as: "{name}.json"}]
""",
        "utf-8",
    )
    output = tmp_path / "out"
    run = run_cli(config, "--set", f"api={api.base}", "--output", output, "--mode", mode)
    assert run.code == 0, run.out + run.err
    assert sorted(p for p in api.asked if p.startswith("/item")) == [
        "/item?id=1",
        "/item?id=2",
        "/item?id=3",
    ]
    duplicates = [r for r in manifest_records(output) if r["status"] == "duplicate"]
    assert [r["url"] for r in duplicates] == [f"{api.base}/item?id=1", f"{api.base}/item?id=2"]
    assert sorted(p.name for p in output.glob("*.json")) == ["n1.json", "n2.json", "n3.json"]
