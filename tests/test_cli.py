"""Command-line conventions: options anywhere, ./crawler.yaml by default, the modes in --help,
a mistake answered with its command's usage, `-` where a path to write is taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import ROOT, Run
from yamlcrawl.backends import BUILTIN
from yamlcrawl.ui import cli
from yamlcrawl.ui.starter import starter

CRAWL = (ROOT / "crawler.yaml").read_text("utf-8")


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def yamlcrawl(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """The command as a shell runs it: argparse's own exits give their code too."""
    code = 0
    try:
        code = cli.main(list(args))
    except SystemExit as exit:  # --help, --version, a usage error
        code = int(exit.code or 0)
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


# argv -> argv with the command first
ORDERED: dict[str, tuple[list[str], list[str]]] = {
    "a file alone is run": (["c.yaml"], ["run", "c.yaml"]),
    "nothing is run of ./crawler.yaml": ([], ["run"]),
    "an option before the file": (["-v", "c.yaml"], ["run", "-v", "c.yaml"]),
    "an option's value is not the file": (
        ["--mode", "pool", "c.yaml", "--limit", "3"],
        ["run", "--mode", "pool", "c.yaml", "--limit", "3"],
    ),
    "a command after options comes first": (
        ["--set", "x=1", "validate", "c.yaml"],
        ["validate", "--set", "x=1", "c.yaml"],
    ),
    "a command with no file": (["plan"], ["plan"]),
    "a file named like a command, after run": (["run", "plan"], ["run", "plan"]),
    "or as a path": (["./plan"], ["run", "./plan"]),
    "or after --": (["--", "plan"], ["run", "--", "plan"]),
    "the top-level help": (["--help"], ["--help"]),
    "a file's help is run's": (["c.yaml", "--help"], ["run", "c.yaml", "--help"]),
}


@pytest.mark.parametrize(("argv", "ordered"), ORDERED.values(), ids=list(ORDERED))
def test_the_command_comes_first(argv: list[str], ordered: list[str]) -> None:
    assert cli.with_command(argv, cli._parsers()[1]) == ordered


NO_FILE = "yamlcrawl: no crawler.yaml here — give the file, or `yamlcrawl init`"
# arguments, with ./crawler.yaml or not -> (exit code, the last line of stderr)
REFUSED: dict[str, tuple[list[str], bool, int, str]] = {
    "no file and no ./crawler.yaml": ([], False, 2, NO_FILE),
    "an option and no ./crawler.yaml": (["-q"], False, 2, NO_FILE),
    "validate, no ./crawler.yaml": (["validate"], False, 2, NO_FILE),
    "plan, no ./crawler.yaml": (["plan"], False, 2, NO_FILE),
    "a mistyped option before the file": (
        ["--limt", "3", "crawler.yaml"],
        True,
        2,
        "yamlcrawl run: error: unrecognized option '--limt'; did you mean '--limit'?",
    ),
    "a mistyped option after it": (
        ["crawler.yaml", "--mdoe=pool"],
        True,
        2,
        "yamlcrawl run: error: unrecognized option '--mdoe'; did you mean '--mode'?",
    ),
    "an option plan does not take": (
        ["plan", "--limit", "3"],
        True,
        2,
        "yamlcrawl plan: error: unrecognized option '--limit'",
    ),
    "two files": (
        ["crawler.yaml", "other.yaml"],
        True,
        2,
        "yamlcrawl run: error: unrecognized arguments: other.yaml",
    ),
    "a mistyped command": (
        ["valdiate"],
        False,
        2,
        "yamlcrawl: there is no file 'valdiate'; did you mean the command 'validate'?",
    ),
    "a mistyped command with its file": (
        ["valdiate", "crawler.yaml"],
        True,
        2,
        "yamlcrawl run: error: unrecognized arguments: crawler.yaml;"
        " did you mean the command 'validate'?",
    ),
    "--output -": (
        ["--output", "-"],
        True,
        2,
        "yamlcrawl: --output takes a folder, and '-' (stdout) cannot hold files — expected a"
        " folder path, such as --output downloads",
    ),
    "--set without =": (
        ["--set", "http.rate"],
        True,
        2,
        "yamlcrawl: --set takes NAME=VALUE (a var) or PATH=VALUE (a setting, such as"
        " http.rate=2), not 'http.rate'",
    ),
    "--set of a setting, refused as the file's value would be": (
        ["validate", "--set", "http.rate=fast"],
        True,
        2,
        "--set http.rate=fast: got the text 'fast' at http.rate — expected a number > 0:"
        " requests per second, across all workers of the run",
    ),
}


@pytest.mark.parametrize(("args", "crawl", "code", "last"), REFUSED.values(), ids=list(REFUSED))
def test_usage_mistakes_get_one_clear_line(
    args: list[str],
    crawl: bool,
    code: int,
    last: str,
    here: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if crawl:
        (here / "crawler.yaml").write_text(CRAWL, "utf-8")
    run = yamlcrawl(capsys, *args)
    assert (run.code, run.err.splitlines()[-1]) == (code, last)
    assert not (here / "downloads").exists()


def test_a_mistyped_option_is_answered_with_the_run_usage(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = yamlcrawl(capsys, "-v", "crawler.yaml", "--limt", "3")
    assert run.err.startswith("usage: yamlcrawl run [-h] [--set NAME=VALUE]")


# arguments -> what stdout says (./crawler.yaml is the LoL crawl; nothing is fetched)
ACCEPTED: dict[str, tuple[list[str], str]] = {
    "validate ./crawler.yaml": (["validate"], "crawler.yaml: valid — stages: 2, download rules: 2"),
    "an option before validate's file": (
        ["--set", "img=http://h", "validate", "crawler.yaml"],
        "crawler.yaml: valid — stages: 2, download rules: 2",
    ),
    "plan ./crawler.yaml": (["plan", "--mode", "pool"], "skins: GET {img}/js/hero/"),
    "a file named plan": (["validate", "plan"], "plan: valid — stages: 2, download rules: 2"),
    "a file named plan, as a path": (
        ["validate", "./plan"],
        "plan: valid — stages: 2, download rules: 2",
    ),
    "dotted --set in the plan": (
        ["plan", "--set", "http.rate=2.5", "--set", "run.workers=3", "--mode", "queue"],
        "http: timeout 15 s, retries 3, rate 2.5 per second, deadline 300 s",
    ),
}


@pytest.mark.parametrize(("args", "said"), ACCEPTED.values(), ids=list(ACCEPTED))
def test_commands_find_their_file(
    args: list[str], said: str, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "crawler.yaml").write_text(CRAWL, "utf-8")
    (here / "plan").write_text(CRAWL, "utf-8")
    run = yamlcrawl(capsys, *args)
    assert run.code == 0, run.err
    assert said in run.out


def test_plan_shows_workers_set_by_path(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "crawler.yaml").write_text(CRAWL, "utf-8")
    run = yamlcrawl(capsys, "plan", "--mode", "queue", "--set", "run.workers=3")
    assert "a JoinableQueue feeding 3 daemon consumer processes" in run.out


def test_help_lists_every_mode_with_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert tuple(cli.MODES_HELP) == BUILTIN
    run = yamlcrawl(capsys, "--help")
    assert run.code == 0
    for mode, meaning in cli.MODES_HELP.items():
        assert f"  {mode} " in run.out
        assert meaning in " ".join(run.out.split())


def test_init_dash_prints_the_starter(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = yamlcrawl(capsys, "init", "-")
    assert (run.code, run.out) == (0, starter())
    assert list(here.iterdir()) == []


def test_a_crawl_runs_with_options_before_its_file(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "crawler.yaml").write_text(CRAWL, "utf-8")
    # Options first, no file: ./crawler.yaml, pointed at an address that refuses at once; by
    # default it would be tried 3 more times.
    run = yamlcrawl(
        capsys, "-q", "--mode", "serial", "--set", "img=http://127.0.0.1:9",
        "--set", "http.retries=0", "--report", "-",
    )  # fmt: skip
    assert run.code == 3  # the only page fails (nothing listens on port 9): nothing succeeded
    assert '"retries": 0,' in run.out
    assert '"pages_failed": 1,' in run.out
