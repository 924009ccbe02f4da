"""Secrets from the environment: masked in every form a template gives them, only they, never
inside checksums; refused in file names unless the crawl says they are fine there."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from textwrap import dedent

import pytest

from tests.apiserver import Api
from tests.conftest import RunCli
from tests.support import manifest_records
from yamlcrawl.backends import modes
from yamlcrawl.language.loader import ConfigError, load_text
from yamlcrawl.language.redact import redact, redact_value

MODES = modes()

# secret, text shown, what may be shown of it
REDACTED: dict[str, tuple[str, str, str]] = {
    "as it is": ("Tok3n-value", "GET /x?key=Tok3n-value", "GET /x?key=***"),
    "|upper": ("Tok3n-value", "GET /x?key=TOK3N-VALUE", "GET /x?key=***"),
    "|lower": ("Tok3n-value", "GET /x?key=tok3n-value", "GET /x?key=***"),
    "|strip": (" Tok3n-value ", "name Tok3n-value.", "name ***."),
    "|quote": ("Tok3n/value+1", "key=Tok3n%2Fvalue%2B1", "key=***"),
    "percent-encoded in a query": ("Tok3n value", "key=Tok3n+value", "key=***"),
    "|upper|quote": ("Tok3n/value", "key=TOK3N%2FVALUE", "key=***"),
    "|basename": ("dir/Tok3n-value", "file Tok3n-value", "file ***"),
    "too short to be a secret": ("a", "http://h/a/banana.jpg", "http://h/a/banana.jpg"),
    "five characters are not yet a secret": ("12345", "id=123456", "id=123456"),
    "six characters are": ("123456", "id=1234567", "id=***7"),
    "|hash is a digest, not the value": (
        "Tok3n-value",
        hashlib.sha256(b"Tok3n-value").hexdigest()[:16],
        hashlib.sha256(b"Tok3n-value").hexdigest()[:16],
    ),
}


@pytest.mark.parametrize("secret, text, shown", REDACTED.values(), ids=REDACTED.keys())
def test_every_form_of_a_secret_is_masked_and_nothing_else(
    secret: str, text: str, shown: str
) -> None:
    assert redact(text, (secret,)) == shown


def test_a_checksum_is_never_redacted() -> None:
    digest = "0badc0ffee" + "0" * 54
    record = {"url": "http://h/0badc0ffee", "path": "x", "sha256": digest}
    assert redact_value(record, ("0badc0ffee",)) == {
        "url": "http://h/***",
        "path": "x",
        "sha256": digest,
    }


# environment value -> (secrets kept, notes validate prints)
FROM_ENV: dict[str, tuple[str, tuple[str, ...], list[str]]] = {
    "a token": ("s3cr3t-token", ("s3cr3t-token",), []),
    "a short value": (
        "eu",
        (),
        [
            "crawler.yaml:1:15: note: vars.token takes a value of 2 characters from ${TOKEN}:"
            " shorter than 6, it is not treated as a secret (shown as it is, never replaced by"
            " ***)"
        ],
    ),
    "an empty value": ("", (), []),
}


@pytest.mark.parametrize("value, secrets, notes", FROM_ENV.values(), ids=FROM_ENV.keys())
def test_only_values_long_enough_are_secrets(
    value: str, secrets: tuple[str, ...], notes: list[str]
) -> None:
    text = 'vars: {token: "${TOKEN}"}\nstages: {a: {url: "http://h/{token}"}}\n'
    loaded = load_text(text, "crawler.yaml", modes=MODES, environ={"TOKEN": value})
    assert loaded.secrets == secrets
    assert [note.render(loaded.source) for note in loaded.notes] == notes


def _with_save_as(save_as: str, output: str = "") -> str:
    return dedent(
        f"""\
        vars: {{token: "${{TOKEN}}", region: "${{REGION:-cn}}", plain: "p"}}
        {output}
        stages:
          a:
            url: http://h/list
            downloads:
              - {{url: "http://h/f", save_as: "{save_as}"}}
        """
    )


REFUSED = (
    " — expected no value from the environment in a file name (names on disk are never"
    " redacted), or output.allow_secrets_in_names: true"
)
IN_NAMES: dict[str, tuple[str, str, list[str]]] = {
    "a token in a file name": (
        "{token}.bin",
        "",
        [
            "crawler.yaml:7:38: save_as uses 'token', which takes ${TOKEN} from the environment,"
            " at stages.a.downloads[0].save_as" + REFUSED
        ],
    ),
    "filtered, in a folder": (
        "{region|upper}/{token|hash}.bin",
        "",
        [
            "crawler.yaml:7:38: save_as uses 'region', which takes ${REGION} from the"
            " environment, at stages.a.downloads[0].save_as" + REFUSED,
            "crawler.yaml:7:38: save_as uses 'token', which takes ${TOKEN} from the environment,"
            " at stages.a.downloads[0].save_as" + REFUSED,
        ],
    ),
    "a plain var": ("{plain}.bin", "", []),
    "opted in": ("{region}/{token}.bin", "output: {allow_secrets_in_names: true}", []),
}


@pytest.mark.parametrize("save_as, output, problems", IN_NAMES.values(), ids=IN_NAMES.keys())
def test_a_value_from_the_environment_in_a_file_name_is_refused_unless_allowed(
    save_as: str, output: str, problems: list[str]
) -> None:
    text = _with_save_as(save_as, output)
    environ = {"TOKEN": "s3cr3t-token"}
    if problems:
        with pytest.raises(ConfigError) as caught:
            load_text(text, "crawler.yaml", modes=MODES, environ=environ)
        assert str(caught.value).splitlines() == problems
    else:
        load_text(text, "crawler.yaml", modes=MODES, environ=environ)


def test_set_replaces_a_value_from_the_environment_so_it_may_name_files() -> None:
    text = _with_save_as("{token}.bin")
    load_text(text, "crawler.yaml", {"token": "t"}, modes=MODES, environ={"TOKEN": "s3cr3t"})


def test_a_short_value_from_the_environment_leaves_urls_and_checksums_whole(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHORT", "a")
    api.routes["/list"] = lambda q: ({"items": ["banana", "cherry"]}, {})
    api.routes["/file"] = lambda q: (q["n"].encode(), {})
    crawl = tmp_path / "crawl.yaml"
    crawl.write_text(
        "vars: {api: x, flag: '${SHORT}'}\nstages:\n  s:\n    url: '{api}/list?f={flag}'\n"
        "    each: $.items[*]\n    as: item\n"
        "    downloads: [{url: '{api}/file?n={item}', save_as: '{item}.txt'}]\n",
        "utf-8",
    )
    output = tmp_path / "out"
    run = run_cli(crawl, "--set", f"api={api.base}", "--output", output)
    assert run.code == 0, run.err
    records = manifest_records(output)
    assert [(r["url"], r["path"], r["sha256"]) for r in records] == [
        (f"{api.base}/file?n={n}", f"{n}.txt", hashlib.sha256(n.encode()).hexdigest())
        for n in ("banana", "cherry")
    ]


def test_a_secret_through_filters_is_masked_everywhere_it_is_shown(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "Se/cret-Token"
    monkeypatch.setenv("TOKEN", secret)
    api.routes["/list"] = lambda q: ({"items": ["a"]}, {})
    crawl = tmp_path / "crawl.yaml"
    crawl.write_text(
        "vars: {api: x, token: '${TOKEN}'}\n"
        "output: {allow_secrets_in_names: true}\n"
        "stages:\n  s:\n    url: '{api}/list'\n    each: $.items[*]\n    as: item\n"
        "    downloads:\n"
        "      - {url: '{api}/up?k={token|upper}', save_as: 'u-{token|upper|quote}.bin'}\n"
        "      - {url: '{api}/low/{token|lower|quote}', save_as: 'l-{token|lower|quote}.bin'}\n",
        "utf-8",
    )
    output, log, report = tmp_path / "out", tmp_path / "log.txt", tmp_path / "report.json"
    args = ["--output", output, "-v", "--log-file", log, "--report", report]
    run = run_cli(crawl, "--set", f"api={api.base}", *args)
    assert run.code == 3  # neither file route exists: both fail (nothing succeeded), URLs shown
    shown = run.out + run.err + log.read_text() + report.read_text()
    shown += (output / "manifest.jsonl").read_text()
    assert json.loads(report.read_text())["failed"] == 2
    for form in ("SE/CRET-TOKEN", "SE%2FCRET-TOKEN", "se%2Fcret-token", "Se/cret", "cret-Token"):
        assert form.casefold() not in shown.casefold()
    assert "/up?k=***" in shown
    assert "/low/***" in shown
