"""Values as real APIs give them, end to end: format specs (`{n:03d}`, `{opened:%Y/%m}` folders),
defaults, `emit` rows, and manifest rows that say which item a skipped download belonged to."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.apiserver import Api, Reply
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import manifest_records, saved_files
from yamlcrawl.language.loader import load_text
from yamlcrawl.language.plan import build_plan
from yamlcrawl.work.pages import fan_out, item_names

SECRET = "s3cret-token-9"

CRAWL = """
vars: {api: "http://127.0.0.1", token: "${TOKEN}"}
stages:
  projects:
    url: "{api}/projects"
    each: $.projects[*]
    as: project
  issues:
    from: projects
    url: "{api}/issues"
    params: {project: "{project.slug}", key: "{token}"}
    fields: {owner: $.owner}
    each: $.issues[*]
    as: issue
    emit:
      to: issues.jsonl
      fields:
        n: "{issue.n:03d}"
        id: "{issue.n}"
        title: "{issue.title|default:untitled}"
        month: "{issue.opened:%Y-%m}"
    downloads:
      - url: "{issue.img}"
        save_as: "{issue.opened:%Y/%m}/{issue.n:03d} {issue.title|default:untitled}.png"
"""


def serve(api: Api) -> None:
    def projects(query: dict[str, str]) -> Reply:
        return {"projects": [{"slug": "core"}]}, {}

    def issues(query: dict[str, str]) -> Reply:
        assert query == {"project": "core", "key": SECRET}
        return {
            "owner": "ann",
            "issues": [
                # a number, a date-time, a `/` in a value: one file in 2024/03
                {"n": 7, "title": "Crash/Boom", "opened": "2024-03-05T10:00:00Z", "img": img(7)},
                # a number as text, a null title, epoch seconds
                {"n": "12", "title": None, "opened": 1700000000, "img": img(12)},
                # an empty title, a date, no image (the API echoes the key back: never written)
                {"note": SECRET, "n": 3, "title": "", "opened": "2023-12-31", "img": None},
                # a value no spec can format: that file fails, named, and the run goes on
                {"n": "abc", "title": "Bad", "opened": "yesterday", "img": img(99)},
            ],
        }, {}

    def img(n: int) -> str:
        return f"{api.base}/img/{n}.png"

    def picture(query: dict[str, str]) -> Reply:
        return b"PNG", {"Content-Type": "image/png"}

    api.routes["/projects"] = projects
    api.routes["/issues"] = issues
    for n in (7, 12, 99):
        api.routes[f"/img/{n}.png"] = picture


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_specs_defaults_and_the_items_of_skipped_files_in_every_mode(
    api: Api,
    run_cli: RunCli,
    mode_args: ModeArgs,
    tmp_path: Path,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve(api)
    monkeypatch.setenv("TOKEN", SECRET)
    config = tmp_path / "crawl.yaml"
    config.write_text(CRAWL, "utf-8")
    output = tmp_path / "out"
    run = run_cli(config, "--set", f"api={api.base}", "--output", output, *mode_args(mode))

    assert run.code == 1, run.out + run.err  # the one file that could not be named failed
    assert "Traceback" not in run.out + run.err
    files = {path for path in saved_files(output) if path.endswith(".png")}
    assert files == {"2024/03/007 Crash／Boom.png", "2023/11/012 untitled.png"}
    rows = (output / "issues.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(row) for row in rows] == [
        {"n": "007", "id": 7, "title": "Crash/Boom", "month": "2024-03"},
        {"n": "012", "id": "12", "title": "untitled", "month": "2023-11"},
        {"n": "003", "id": 3, "title": "untitled", "month": "2023-12"},
        {"n": None, "id": "abc", "title": "Bad", "month": None},  # a spec that cannot: null
    ]
    unfetched = [r for r in manifest_records(output) if r["status"] in ("skipped", "failed")]
    for row in unfetched:  # when it was settled; nothing came from a server
        assert datetime.fromisoformat(row.pop("time")).tzinfo == UTC
        assert row.pop("http_status") is row.pop("content_type") is None
        assert row.pop("etag") is row.pop("last_modified") is None
    project = '{"slug":"core"}'
    assert unfetched == [
        {
            "kind": "file",
            "url": "",
            "path": None,
            "bytes": 0,
            "sha256": None,
            "stage": "issues",
            "status": "skipped",
            "reason": "no URL ({issue.img}: the value is null or matched nothing)",
            "item": {
                "project": project,
                "owner": "ann",
                "issue": '{"note":"***","n":3,"title":"","opened":"2023-12-31","img":…',  # cut
            },
        },
        {
            "kind": "file",
            "url": f"{api.base}/img/99.png",
            "path": None,
            "bytes": 0,
            "sha256": None,
            "stage": "issues",
            "status": "failed",
            "error": "cannot name the file: {issue.opened:%Y/%m}: 'yesterday' is not an ISO"
            " 8601 date or epoch seconds (for '%Y/%m')",
            "item": {
                "project": project,
                "owner": "ann",
                "issue": '{"n":"abc","title":"Bad","opened":"yesterday","img":"http:/…',
            },
        },
    ]
    everything = "".join(path.read_text("utf-8", "replace") for path in output.rglob("*.json*"))
    assert SECRET not in everything


def test_a_value_where_cannot_format_leaves_its_item_out_and_says_why() -> None:
    text = (
        "stages:\n  s:\n    url: x\n    each: $.i[*]\n    as: i\n    where: {'{i:03d}': {lt: 3}}\n"
    )
    plan = build_plan(load_text(text, "crawler.yaml", environ={}).spec)
    contexts, found, passed, uncompared = fan_out(plan, plan.stage("s"), {}, {"i": [1, "x", 2]})
    assert ([c["i"] for c in contexts], found, passed) == ([1, 2], 3, 2)
    assert uncompared.warning() == (
        "where left out 1 item it could not compare; the first:"
        " {i:03d}: 'x' is not a whole number (for '03d')"
    )


def test_an_items_names_leave_vars_out_and_are_masked_before_they_are_cut() -> None:
    text = "vars: {token: x}\nstages:\n  s: {url: x, each: '$.i[*]', as: item}\n"
    plan = replace(build_plan(load_text(text, "crawler.yaml", environ={}).spec), secrets=(SECRET,))
    context = {"token": SECRET, "page": 2, "item": {"long": "x" * 45 + SECRET}}
    # cut first, 5 characters of the secret would have stayed: too few to be found and masked
    assert item_names(plan, context) == (("page", 2), ("item", '{"long":"' + "x" * 45 + '***"}'))
