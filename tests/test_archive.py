"""`output.archive`: one SQLite file shared by crawls into any output folder; what it holds, by
URL or by a download rule's `archive_key`, is not fetched again (gallery-dl's
--download-archive). Only the main process reads and writes it; runs may share it at once; a
link or a folder in its place is refused in one line; a dry run reads it and writes nothing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.apiserver import Api, Reply
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import manifest_records

ROOT = Path(__file__).resolve().parents[1]


class Skins:
    """Heroes and their skins; each skin has a full image (its URL never changes) and a thumb
    whose URL carries a version that a later run may change."""

    def __init__(self, api: Api, skins: int = 2) -> None:
        self.api = api
        self.skins = {1: list(range(1, skins + 1)), 2: list(range(1, skins + 1))}
        self.version = 1
        self.start: Callable[[], None] = lambda: None  # the start page calls it first
        api.routes["/heroes"] = self.heroes
        api.routes["/skins"] = self.list_skins
        api.routes["/img"] = self.image

    def heroes(self, q: dict[str, str]) -> Reply:
        self.start()
        return {"heroes": [{"heroId": h, "name": f"H{h}"} for h in self.skins]}, {}

    def list_skins(self, q: dict[str, str]) -> Reply:
        hero = int(q["hero"])
        return {
            "skins": [
                {
                    "skinId": s,
                    "full": f"/img?k=full-{hero}-{s}",
                    "thumb": f"/img?k=thumb-{hero}-{s}&v={self.version}",
                }
                for s in self.skins[hero]
            ]
        }, {}

    def image(self, q: dict[str, str]) -> Reply:
        return f"bytes of {q['k']}".encode(), {"Content-Type": "image/jpeg"}

    def images_asked(self) -> list[str]:
        return sorted(path for path in self.api.asked if path.startswith("/img"))

    def total(self) -> int:
        return sum(len(s) for s in self.skins.values())


def crawl_file(tmp_path: Path, archive: str | None = "archive.sqlite") -> Path:
    config = tmp_path / "crawl.yaml"
    line = f"  archive: {archive}\n" if archive is not None else ""
    config.write_text(
        f"""
name: skins
vars: {{api: "http://127.0.0.1"}}
output:
{line}  manifest: manifest.jsonl
stages:
  heroes:
    url: "{{api}}/heroes"
    each: "$.heroes[*]"
    as: hero
  skins:
    from: heroes
    url: "{{api}}/skins"
    params: {{hero: "{{hero.heroId}}"}}
    each: "$.skins[*]"
    as: skin
    downloads:
      - url: "{{api}}{{skin.full}}"
        save_as: "{{hero.name}}/{{skin.skinId}}.jpg"
      - url: "{{api}}{{skin.thumb}}"
        save_as: "{{hero.name}}/{{skin.skinId}}-thumb.jpg"
        archive_key: "{{hero.heroId}}-{{skin.skinId}}"
""",
        "utf-8",
    )
    return config


def archive_rows(path: Path) -> set[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return set(db.execute("SELECT kind, entry FROM archive"))


def statuses(output: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in manifest_records(output):
        if record["kind"] == "file":
            counts[record["status"]] = counts.get(record["status"], 0) + 1
    return counts


def archive_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("archive*"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_second_folder_saves_only_what_the_archive_lacks(
    api: Api,
    run_cli: RunCli,
    mode_args: ModeArgs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # the archive's path is relative to the current folder
    site = Skins(api)
    config = crawl_file(tmp_path)
    args = [config, "--set", f"api={api.base}", *mode_args(mode)]
    first = run_cli(*args, "--output", "one")
    assert first.code == 0, first.out + first.err
    assert statuses(tmp_path / "one") == {"saved": 8}
    archive = tmp_path / "archive.sqlite"
    assert archive_rows(archive) == {
        *(("url", f"{api.base}/img?k=full-{h}-{s}") for h in (1, 2) for s in (1, 2)),
        *(("key", f"{h}-{s}") for h in (1, 2) for s in (1, 2)),
    }

    # A new skin for hero 2, and every thumb's URL changed: the key still says it is the same.
    site.skins[2].append(3)
    site.version = 2
    api.asked.clear()
    report = tmp_path / "report.json"
    second = run_cli(*args, "--output", "two", "--report", report)
    assert second.code == 0, second.out + second.err
    assert site.images_asked() == [
        "/img?k=full-2-3",
        "/img?k=thumb-2-3&v=2",
    ]  # nothing the archive holds was asked for
    assert sorted(p.name for p in (tmp_path / "two").rglob("*.jpg")) == ["3-thumb.jpg", "3.jpg"]
    assert statuses(tmp_path / "two") == {"saved": 2, "archived": 8}
    records = manifest_records(tmp_path / "two")
    reasons = {r["path"]: r["reason"] for r in records if r.get("status") == "archived"}
    assert reasons["H1/1.jpg"] == "in the archive (its URL)"
    assert reasons["H1/1-thumb.jpg"] == "in the archive (key 1-1)"
    data = json.loads(report.read_text("utf-8"))
    assert (data["saved"], data["archived"]) == (2, 8)
    assert data["files_by_status"]["archived"] == 8
    assert "in the archive" in second.out
    assert len(archive_rows(archive)) == 10  # the two new files are recorded

    # A dry run lists only what the archive lacks, and leaves the archive as it was.
    site.skins[1].append(3)
    before = digest(archive), archive_files(tmp_path)
    dry = run_cli(*args, "--output", "three", "--dry-run")
    assert dry.code == 0, dry.out + dry.err
    listed = sorted(line.split("\t")[0] for line in dry.out.splitlines() if "\t" in line)
    assert listed == ["H1/3-thumb.jpg", "H1/3.jpg"]
    assert (digest(archive), archive_files(tmp_path)) == before  # no -wal, -shm left either


def test_a_folder_checks_its_own_files_and_fresh_keeps_the_archive(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder's own record goes first: a file it saved and lost is fetched again, whatever
    the archive says. `--fresh` forgets the folder's record, not the archive, which other
    folders share: every file is then in the archive. `--set output.archive=` runs without it;
    files found present are recorded too."""
    monkeypatch.chdir(tmp_path)
    Skins(api)
    args = [crawl_file(tmp_path), "--set", f"api={api.base}", "--output", "one"]
    assert run_cli(*args).code == 0
    (tmp_path / "one" / "H1" / "1.jpg").unlink()
    again = run_cli(*args)
    assert again.code == 0, again.out + again.err
    assert statuses(tmp_path / "one") == {"saved": 1, "present": 7}
    assert (tmp_path / "one" / "H1" / "1.jpg").read_bytes() == b"bytes of full-1-1"

    before = digest(tmp_path / "archive.sqlite")
    fresh = run_cli(*args, "--fresh")
    assert fresh.code == 0, fresh.out + fresh.err
    assert statuses(tmp_path / "one") == {"archived": 8}
    assert digest(tmp_path / "archive.sqlite") == before

    api.asked.clear()
    without = run_cli(*args, "--fresh", "--set", "output.archive=")
    assert without.code == 0, without.out + without.err
    assert statuses(tmp_path / "one") == {"saved": 8}
    assert "in the archive" not in without.out

    # A new archive learns what a folder has from files found present, not only saved ones.
    (tmp_path / "archive.sqlite").unlink()
    learns = run_cli(*args)
    assert learns.code == 0, learns.out + learns.err
    assert statuses(tmp_path / "one") == {"present": 8}
    assert len(archive_rows(tmp_path / "archive.sqlite")) == 8


def test_an_archive_key_that_names_a_missing_member_fails_that_file(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Skins(api)
    config = crawl_file(tmp_path)
    config.write_text(config.read_text("utf-8").replace('{skin.skinId}"\n', '{skin.nope}"\n'))
    run = run_cli(config, "--set", f"api={api.base}", "--output", "one")
    assert run.code == 1
    failed = [r for r in manifest_records(tmp_path / "one") if r["status"] == "failed"]
    assert len(failed) == 4
    assert failed[0]["error"] == ("cannot make its archive key: {skin.nope}: skin has no 'nope'")


def test_an_archive_in_the_output_folder_is_never_a_download_s_name(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Skins(api, skins=1)
    (tmp_path / "one" / "H1").mkdir(parents=True)
    config = crawl_file(tmp_path, archive="one/H1/1.jpg")
    run = run_cli(config, "--set", f"api={api.base}", "--output", "one")
    assert run.code == 0, run.out + run.err
    assert sorted(p.name for p in (tmp_path / "one" / "H1").iterdir()) == [
        "1 (2).jpg",
        "1-thumb.jpg",
        "1.jpg",
    ]
    assert archive_rows(tmp_path / "one" / "H1" / "1.jpg") == {
        ("url", f"{api.base}/img?k=full-1-1"),
        ("url", f"{api.base}/img?k=full-2-1"),
        ("key", "1-1"),
        ("key", "2-1"),
    }


def test_two_runs_share_one_archive_at_the_same_time(api: Api, tmp_path: Path) -> None:
    """Two runs into two folders, held together at their start pages, then downloading the
    same files at once: both finish, every file is in one folder or the other or both, and the
    archive holds each once."""
    site = Skins(api, skins=30)
    barrier = threading.Barrier(2, timeout=60)
    site.start = barrier.wait  # neither run goes on until both have asked for their start
    config = crawl_file(tmp_path)
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "yamlcrawl",
                str(config),
                "--set",
                f"api={api.base}",
                "--mode",
                "queue",
                "--workers",
                "2",
                "--output",
                folder,
                "--quiet",
            ],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in ("one", "two")
    ]
    outcomes = [(run.wait(timeout=120), *run.communicate()) for run in runs]
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    for folder in ("one", "two"):
        counts = statuses(tmp_path / folder)
        assert set(counts) <= {"saved", "archived"}
        assert sum(counts.values()) == site.total() * 2
    assert len(archive_rows(tmp_path / "archive.sqlite")) == site.total() * 2
    with contextlib.closing(sqlite3.connect(tmp_path / "archive.sqlite")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _unwritable(path: Path) -> None:
    """An archive that cannot be written: read-only to anyone but root; immutable for root."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE t (x)")
    if os.geteuid() != 0:
        path.chmod(0o444)
        path.parent.chmod(0o555)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make a file immutable here: {made.stderr!r}")


def _writable_again(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)
    else:
        path.parent.chmod(0o755)


def _link(target: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.symlink_to(target)

    return make


# (the archive's path, what is put there, the one line it gives)
HOSTILE: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "a symbolic link to an archive": (
        "archive.sqlite",
        _link("real.sqlite"),
        "it is a symbolic link, which yamlcrawl does not follow",
    ),
    "a dangling symbolic link": (
        "archive.sqlite",
        _link("nowhere.sqlite"),
        "it is a symbolic link, which yamlcrawl does not follow",
    ),
    "a folder": ("archive.sqlite", lambda p: p.mkdir(), "it is a folder, not a file"),
    "its journal a symbolic link": (
        "archive.sqlite",
        lambda p: p.with_name("archive.sqlite-wal").symlink_to("real.sqlite"),
        "archive.sqlite-wal is a symbolic link, which yamlcrawl does not follow",
    ),
    "a folder that does not exist": (
        "nowhere/archive.sqlite",
        lambda p: None,
        "its folder nowhere does not exist",
    ),
    "a file where a folder should be": (
        "real.sqlite/archive.sqlite",
        lambda p: None,
        "a part of its path is not a folder",
    ),
    "not a database": (
        "archive.sqlite",
        lambda p: p.write_text("skins I have\n", "utf-8"),
        "file is not a database",
    ),
    "read-only": (
        "ro/archive.sqlite",
        _unwritable,
        "attempt to write a readonly database",
    ),
}


@pytest.mark.parametrize(("name", "make", "why"), HOSTILE.values(), ids=list(HOSTILE))
def test_an_archive_place_that_cannot_hold_it_is_one_line(
    api: Api,
    run_cli: RunCli,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    make: Callable[[Path], None],
    why: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Skins(api)
    (tmp_path / "real.sqlite").write_bytes(b"")  # a link's target: it stays as it is
    (tmp_path / "ro").mkdir()
    path = tmp_path / name
    make(path)
    try:
        run = run_cli(crawl_file(tmp_path, archive=name), "--set", f"api={api.base}", "-o", "out")
    finally:
        if name.startswith("ro/"):
            _writable_again(path)
    assert run.code == 2
    assert run.err == f"yamlcrawl: cannot use the archive {name}: {why}\n"
    assert api.asked == []  # nothing was fetched
    assert (tmp_path / "real.sqlite").read_bytes() == b""
    assert not list((tmp_path / "out").rglob("*.jpg"))


@pytest.mark.parametrize("name", ["a symbolic link to an archive", "a folder"])
def test_a_dry_run_refuses_the_same_places(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Skins(api)
    place, make, why = HOSTILE[name]
    make(tmp_path / place)
    config = crawl_file(tmp_path, archive=place)
    run = run_cli(config, "--set", f"api={api.base}", "-o", "out", "--dry-run")
    assert (run.code, run.err) == (2, f"yamlcrawl: cannot use the archive {place}: {why}\n")


def test_a_dry_run_without_the_archive_makes_none(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Skins(api, skins=1)
    run = run_cli(crawl_file(tmp_path), "--set", f"api={api.base}", "-o", "out", "--dry-run")
    assert run.code == 0, run.out + run.err
    assert len([line for line in run.out.splitlines() if "\t" in line]) == 4
    assert archive_files(tmp_path) == []


def test_a_secret_in_a_url_never_reaches_the_archive(
    api: Api, run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKIN_TOKEN", "s3cr3t-t0ken")
    Skins(api, skins=1)
    config = crawl_file(tmp_path)
    text = config.read_text("utf-8").replace("vars: {", 'vars: {token: "${SKIN_TOKEN}", ')
    config.write_text(text.replace('"{api}{skin.full}"', '"{api}{skin.full}&t={token}"'))
    args = [config, "--set", f"api={api.base}"]
    assert run_cli(*args, "-o", "one").code == 0
    assert any("t=s3cr3t-t0ken" in path for path in api.asked)
    rows = archive_rows(tmp_path / "archive.sqlite")
    assert ("url", f"{api.base}/img?k=full-1-1&t=***") in rows
    assert "s3cr3t" not in (tmp_path / "archive.sqlite").read_bytes().decode("latin-1")
    second = run_cli(*args, "-o", "two")
    assert second.code == 0, second.out + second.err
    assert statuses(tmp_path / "two") == {"archived": 4}
