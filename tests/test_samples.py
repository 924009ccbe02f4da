"""The samples just run: ``python samples/run.py NAME`` serves, crawls, checks and stops, twice
in a row; the servers say a port in use in one line; the builds need nothing outside the
repository; every README shows the one command first."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LANGUAGE_MODES, ModeArgs
from tests.support import ROOT, SAMPLES

RUN = SAMPLES / "run.py"
OUT = SAMPLES / "out"
# Every sample run.py knows, with the files its expected.json lists (tomorrow: its own demo).
EXPECTED_FILES = {
    "tutorial": 8,
    "lol": 48,
    "books": 12,
    "gallery": 11,
    "feed": 4,
    "ids": 4,
    "shop": 9,
}
DEMOS = ["tomorrow"]


def python(*args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run this Python from the repository root, as a user would."""
    command = [sys.executable, *map(str, args)]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def changes_outside_out() -> set[str]:
    """``git status --porcelain`` lines for the checkout, samples/out/ (ignored) aside."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if status.returncode != 0:
        pytest.skip("not a git checkout")
    return {line for line in status.stdout.splitlines() if "samples/out/" not in line}


def report(path: Path) -> dict[str, object]:
    """The JSON report a crawl wrote with --report."""
    data: dict[str, object] = json.loads(path.read_text("utf-8"))
    return data


def test_run_py_knows_every_sample_folder() -> None:
    listed = [line.split()[0] for line in python(RUN, "--list").stdout.splitlines()]
    assert listed == [*EXPECTED_FILES, *DEMOS]
    with_expected = {path.parent.name for path in SAMPLES.glob("*/expected.json")}
    assert with_expected == set(EXPECTED_FILES)
    for name, count in EXPECTED_FILES.items():
        assert len(json.loads((SAMPLES / name / "expected.json").read_text("utf-8"))) == count


@pytest.mark.parametrize("name", list(EXPECTED_FILES))
def test_a_sample_runs_twice_in_a_row_into_samples_out(name: str, tmp_path: Path) -> None:
    before = changes_outside_out()
    for run, label in enumerate(["first", "second"]):
        done = python(RUN, name, "-q", "--report", tmp_path / f"{label}.json")
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        count = EXPECTED_FILES[name]
        assert lines[0].startswith(f"{name}: serving samples/{name}/site at http://127.0.0.1:")
        assert lines[-2:] == [
            f"{name}: {count}/{count} expected files found in samples/out/{name}",
            f"{name}: OK",
        ]
        if run == 1:  # the same port, the same URLs: nothing fetched again
            second = report(tmp_path / "second.json")
            assert (second["present"], second["saved"]) == (count, 0)
            assert second["output"] == str(OUT / name)
    assert changes_outside_out() == before
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", f"samples/out/{name}"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0


def test_tomorrow_runs_its_demo_twice_in_a_row() -> None:
    before = changes_outside_out()
    for _ in range(2):
        done = python(RUN, "tomorrow")
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[0] == "tomorrow: running samples/tomorrow/demo.py"
        assert lines[1] == "day 1: 16 requests (12 × file 200, 4 × page 200)"
        assert lines[-2:] == ["OK", "tomorrow: OK"]
    assert changes_outside_out() == before


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_the_lol_sample_runs_twice_in_every_mode(
    mode: str, mode_args: ModeArgs, tmp_path: Path
) -> None:
    output = tmp_path / "lol"
    for run in range(2):
        where = tmp_path / f"report{run}.json"
        done = python(RUN, "lol", *mode_args(mode), "--output", output, "-q", "--report", where)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.splitlines()[-1] == "lol: OK"
        assert report(where)["mode"] == mode
    assert (report(tmp_path / "report1.json")["present"], len(list(output.rglob("*.jpg")))) == (
        48,
        48,
    )


def test_a_crawl_that_misses_files_fails_the_run(tmp_path: Path) -> None:
    done = python(RUN, "books", "--output", tmp_path / "books", "--limit", "1", "-q")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "  missing: Lennon／McCartney/1965 - Yesterday.png" not in lines  # the first is kept
    assert "  missing: 村上春樹/1987 - ノルウェイの森.png" in lines
    assert lines[-2] == "books: 1/12 expected files found in " + str(tmp_path / "books")
    assert lines[-1] == "books: FAILED: 11 difference(s) from expected.json"


def test_a_crawl_that_fails_fails_the_run() -> None:
    done = python(RUN, "books", "--mode", "warp")
    assert done.returncode == 1
    assert "unknown mode 'warp' for --mode" in done.stderr  # yamlcrawl's own line
    assert done.stdout.splitlines()[-1] == (
        "books: FAILED: yamlcrawl exited 2, no folder samples/out/books-warp"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nosuch"], "argument NAME: invalid choice: 'nosuch'"),
        (["--all", "--output", "x"], "--output names one sample's folder: not with --all"),
        (["books", "--mode", "../x"], "argument --mode: not a mode name: '../x'"),
    ],
)
def test_run_py_refuses_bad_arguments(arguments: list[str], message: str) -> None:
    done = python(RUN, *arguments)
    assert done.returncode == 2
    assert message in done.stderr


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else is listening on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize(
    ("script", "arguments"),
    [
        ("serve.py", ["samples/books/site"]),
        ("newsapi.py", []),
    ],
)
def test_a_port_in_use_is_one_line(script: str, arguments: list[str], busy_port: int) -> None:
    path = SAMPLES / ("tomorrow/newsapi.py" if script == "newsapi.py" else script)
    done = python(path, *arguments, "--port", busy_port, timeout=30)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"{script}: port {busy_port} is in use (another server?): stop it, "
        "or use --port 0 for a free one\n"
    )


def test_serve_py_port_0_says_which_port_and_stops_on_sigterm() -> None:
    command = [sys.executable, str(SAMPLES / "serve.py"), "samples/books/site", "--port", "0"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            first = server.stdout.readline()
            said = re.fullmatch(
                r"Serving .* at (http://127\.0\.0\.1:(\d+)) \(Ctrl-C stops it\)\n", first
            )
            assert said is not None, first
            assert int(said[2]) != 0
            with urllib.request.urlopen(f"{said[1]}/api/authors.json", timeout=10) as response:
                assert json.load(response)["data"]["authors"]
        finally:
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0


def test_every_build_runs_from_a_copy_of_samples_alone(tmp_path: Path) -> None:
    """A fresh clone has nothing beside it: each build.py, run in a copy of samples/ whose sites
    are gone, makes the checked-in site/ and expected.json again, byte for byte."""
    copy = tmp_path / "samples"
    shutil.copytree(SAMPLES, copy, ignore=shutil.ignore_patterns("out", "__pycache__"))
    for name in EXPECTED_FILES:
        shutil.rmtree(copy / name / "site")
        (copy / name / "expected.json").unlink()
        done = subprocess.run(
            [sys.executable, copy / name / "build.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert tree(copy / name / "site") == tree(SAMPLES / name / "site"), name
        expected = (copy / name / "expected.json").read_bytes()
        assert expected == (SAMPLES / name / "expected.json").read_bytes(), name


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", [*EXPECTED_FILES, *DEMOS])
def test_each_sample_readme_shows_the_one_command_first(name: str) -> None:
    text = (SAMPLES / name / "README.md").read_text("utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, name
    assert blocks[0].splitlines()[0].startswith(f"python samples/run.py {name}")
    assert not re.search(r"&\s*(#.*)?$", text, flags=re.MULTILINE), "a server left running"
    assert "Ctrl-C" in text
    assert f"]({name}/README.md)" in (SAMPLES / "README.md").read_text("utf-8")


def test_nothing_in_samples_points_outside_the_repository() -> None:
    texts = [p for p in SAMPLES.rglob("*") if p.suffix in (".py", ".md", ".yaml")]
    outside = [
        p.relative_to(SAMPLES).as_posix()
        for p in texts
        if "out" not in p.relative_to(SAMPLES).parts[:1]
        and re.search(r"\.\./shared|parents\[3\]", p.read_text("utf-8"))
    ]
    assert outside == []
