"""Settings from outside the file: ``${ENV}`` in any value and ``--set`` by path, typed as YAML
reads the file, secret where a secret could be, and taking effect in a run in every mode."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent
from typing import Any

import jsonschema
import pytest
import yaml

from tests.apiserver import Api
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import manifest_records, saved_files
from yamlcrawl.backends import modes
from yamlcrawl.language.loader import load_text
from yamlcrawl.language.plan import build_plan
from yamlcrawl.ui.starter import json_schema

MODES = modes()

CRAWL = """
    vars: {api: "http://h", token: "t"}
    http:
      rate: ${RATE:-2}
      headers:
        X-Id: ${ID:-7}
        X-Key: "Key ${KEY:-none}"
    output: {manifest: manifest.jsonl}
    stages:
      list:
        url: "{api}/list"
        params:
          page: ${PAGE:-1}
        each: $.items[*]
        as: item
        where: {"{item.n}": {gt: 0}}
"""


def _value(spec: Any, path: str) -> Any:
    for part in path.split("."):
        spec = spec[part] if isinstance(spec, dict) else getattr(spec, part)
    return spec


# --set pairs, environment -> the value at a spec path, as the run gets it
TYPED: dict[str, tuple[dict[str, str], dict[str, str], str, Any]] = {
    "a fallback is typed": ({}, {}, "http.rate", 2.0),
    "from the environment, typed": ({}, {"RATE": "0.5"}, "http.rate", 0.5),
    "--set over the environment": ({"http.rate": "3"}, {"RATE": "0.5"}, "http.rate", 3.0),
    "--set empty is null, as in the file": ({"http.rate": ""}, {}, "http.rate", None),
    "--set a whole number": ({"run.workers": "3"}, {}, "run.workers", 3),
    "--set a boolean": ({"http.verify": "false"}, {}, "http.verify", False),
    "--set false where text or false is taken": (
        {"output.manifest": "false"},
        {},
        "output.manifest",
        False,
    ),
    "--set a list": ({"http.retry_on": "[429, 503]"}, {}, "http.retry_on", [429, 503]),
    "--set a text setting": ({"output.dir": "my out"}, {}, "output.dir", "my out"),
    "a number where text is taken stays text": ({}, {"ID": "123"}, "http.headers.X-Id", "123"),
    "--set a number where text is taken": (
        {'http.headers."X-New"': "0x1F"},
        {},
        "http.headers.X-New",
        "0x1F",
    ),
    "inside a longer text: text": ({}, {"KEY": "123"}, "http.headers.X-Key", "Key 123"),
    "a query parameter": ({}, {"PAGE": "2"}, "stages.list.params.page", "2"),
    "--set a stage's url": (
        {"stages.list.url": "http://mirror/list"},
        {},
        "stages.list.url",
        "http://mirror/list",
    ),
    "--set a var by path: text, as by name": ({"vars.n": "007"}, {}, "vars.n", "007"),
    "--set a var by name": ({"token": "true"}, {}, "vars.token", "true"),
}


@pytest.mark.parametrize(("overrides", "environ", "path", "value"), TYPED.values(), ids=list(TYPED))
def test_values_from_outside_are_typed_as_the_file_would_be(
    overrides: dict[str, str], environ: dict[str, str], path: str, value: Any
) -> None:
    loaded = load_text(dedent(CRAWL), "crawler.yaml", overrides, MODES, environ)
    got = _value(loaded.spec, path)
    assert got == value
    assert type(got) is type(value)


# environment -> (secrets kept, notes validate prints)
SECRETS: dict[str, tuple[str, dict[str, str], tuple[str, ...], list[str]]] = {
    "a header": ("http: {headers: {X-Key: '${KEY}'}}", {"KEY": "k3y-value"}, ("k3y-value",), []),
    "a proxy with a password": (
        "http: {proxies: {https: '${PROXY}'}}",
        {"PROXY": "http://u:pw@proxy:3128"},
        ("http://u:pw@proxy:3128",),
        [],
    ),
    "part of a stage's url": ("", {"BASE": "http://user:pass@h"}, ("http://user:pass@h",), []),
    "a number is no secret": ("http: {rate: '${KEY}'}", {"KEY": "123456"}, (), []),
    "the output folder is no secret": ("output: {dir: '${KEY}'}", {"KEY": "/data/out"}, (), []),
    "a short header gets a note": (
        "http: {headers: {X-Key: '${KEY}'}}",
        {"KEY": "k"},
        (),
        [
            "crawler.yaml:1:25: note: http.headers.X-Key takes a value of 1 characters from"
            " ${KEY}: shorter than 6, it is not treated as a secret (shown as it is, never"
            " replaced by ***)"
        ],
    ),
}


@pytest.mark.parametrize(
    ("settings", "environ", "secrets", "notes"), SECRETS.values(), ids=list(SECRETS)
)
def test_a_value_from_the_environment_is_a_secret_where_one_could_be(
    settings: str, environ: dict[str, str], secrets: tuple[str, ...], notes: list[str]
) -> None:
    text = f"{settings}\nstages: {{a: {{url: '${{BASE:-http://h}}/list'}}}}\n"
    loaded = load_text(text, "crawler.yaml", modes=MODES, environ=environ)
    assert loaded.secrets == secrets
    assert [note.render(loaded.source) for note in loaded.notes] == notes


def test_set_replaces_a_secret_from_the_environment() -> None:
    text = "http: {headers: {X-Key: '${KEY}'}}\nstages: {a: {url: http://h}}\n"
    overrides = {"http.headers.X-Key": "plain"}
    loaded = load_text(text, "crawler.yaml", overrides, MODES, {"KEY": "k3y-value"})
    assert loaded.secrets == ()
    assert loaded.spec.http.headers == {"X-Key": "plain"}


def test_the_plan_carries_settings_from_outside() -> None:
    loaded = load_text(
        dedent(CRAWL),
        "crawler.yaml",
        {"run.workers": "3"},
        MODES,
        {"RATE": "4", "KEY": "k3y-value"},
    )
    plan = build_plan(loaded.spec, loaded.source, loaded.secrets)
    assert (plan.http.rate, plan.workers, plan.http_headers) == (
        4.0,
        3,
        (("X-Id", "7"), ("X-Key", "Key k3y-value")),
    )
    assert plan.secrets == ("k3y-value",)


SECRET = "Hunter2-secret-key"
E2E = """
    vars: {api: "http://127.0.0.1:9"}
    run:
      workers: ${WORKERS:-1}
    http:
      headers:
        X-Api-Key: ${API_KEY}
    stages:
      list:
        url: "{api}/list?key=${API_KEY}"
        each: $.items[*]
        as: item
        downloads:
          - {url: "{api}/file?n={item}", save_as: "{item}.txt"}
"""


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_setting_from_the_environment_and_a_dotted_set_take_effect_in_every_mode(
    mode: str,
    api: Api,
    run_cli: RunCli,
    mode_args: ModeArgs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("API_KEY", SECRET)
    monkeypatch.setenv("WORKERS", "2")
    api.routes["/list"] = lambda q: ({"items": ["a", "b"]} if q.get("key") == SECRET else {}, {})
    api.routes["/file"] = lambda q: (q["n"].encode(), {})
    crawl = tmp_path / "crawl.yaml"
    crawl.write_text(dedent(E2E), "utf-8")
    output, log, report = tmp_path / "out", tmp_path / "log.txt", tmp_path / "report.json"
    run = run_cli(
        *mode_args(mode), "-v", crawl,  # options before the file
        "--set", f"vars.api={api.base}", "--set", "run.workers=3",
        "--output", output, "--log-file", log, "--report", report,
    )  # fmt: skip
    assert run.code == 0, run.err
    assert saved_files(output) == {"a.txt": b"a", "b.txt": b"b"}
    assert all(headers["X-Api-Key"] == SECRET for headers in api.headers)
    summary = json.loads(report.read_text())
    assert summary["workers"] == 3
    if mode == "dask":  # the summary shows the cluster as it is (the shared 2 x 2), not the file's
        assert len(summary["cluster"]["workers"]) == 2
    else:
        assert mode == "serial" or f"{mode}, 3 workers" in run.out
    shown = run.out + run.err + log.read_text() + report.read_text()
    shown += json.dumps(manifest_records(output))
    assert SECRET not in shown
    assert "/list?key=***" in shown


def test_the_editor_schema_takes_a_value_from_the_environment_for_a_number() -> None:
    schema = json_schema()
    crawl = yaml.safe_load(dedent(CRAWL) + "run: {workers: '${WORKERS:-2}', limit: '${LIMIT}'}\n")
    jsonschema.validate(crawl, schema)
    crawl["http"]["rate"] = "fast"
    with pytest.raises(jsonschema.ValidationError, match="'fast' is not valid"):
        jsonschema.validate(crawl, schema)
