"""Resume: a rerun fetches only what is missing or damaged; --fresh fetches it all; a run whose
main process is killed outright, rerun, ends with every file exactly once and byte-correct."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ModeArgs, RunCli
from tests.support import Site, lol_args, manifest_records, saved_files
from tests.test_interrupt import descendants, left_behind

MODES = ["serial", "process", "queue", "pool", "thread", "dask"]


def expected_files(site: Site) -> dict[str, bytes]:
    return {e["path"]: site.source_bytes(e["source"]) for e in site.expected}


def images_fetched(site: Site) -> list[str]:
    return [path for path in site.server.requests if path.endswith(".jpg")]


def test_a_rerun_fetches_only_what_is_missing_or_damaged(
    lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    assert run_cli(*lol_args(lol_site, output, "-q")).code == 0
    (output / "九尾妖狐/K／DA 阿狸电脑版.jpg").unlink()
    damaged = output / "迅捷斥候/迅捷斥候手机版.jpg"
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    truncated = output / "黑暗之女/黑暗之女电脑版.jpg"
    truncated.write_bytes(truncated.read_bytes()[:50])
    (output / ".yamlcrawl/tmp/0123abcd.part").write_bytes(b"left by a killed run")
    lol_site.server.requests.clear()
    assert run_cli(*lol_args(lol_site, output, "-q")).code == 0
    assert sorted(images_fetched(lol_site)) == [
        "/images/lol/act/img/skin/big1000.jpg",
        "/images/lol/act/img/skin/big_f9461e54-78af-4a95-b08b-d1a7cf7f9cdc.jpg",
        "/images/lol/act/img/skinloading/0751f02e-72e5-40c3-bde0-00d01e8bc0f9.jpg",
    ]
    assert saved_files(output) == expected_files(lol_site)
    statuses = [r["status"] for r in manifest_records(output) if r["kind"] == "file"]
    assert (statuses.count("saved"), statuses.count("present")) == (3, 45)


def test_fresh_fetches_everything_again(lol_site: Site, run_cli: RunCli, tmp_path: Path) -> None:
    output = tmp_path / "out"
    assert run_cli(*lol_args(lol_site, output, "-q")).code == 0
    lol_site.server.requests.clear()
    assert run_cli(*lol_args(lol_site, output, "-q", "--fresh")).code == 0
    assert len(images_fetched(lol_site)) == 48
    assert saved_files(output) == expected_files(lol_site)


def crawl_until_busy(site: Site, output: Path, mode: str) -> subprocess.Popen[bytes]:
    """Start crawler.yaml in a process (a session of its own) and return once 12 images left."""
    command = [sys.executable, "-m", "yamlcrawl", *map(str, lol_args(site, output))]
    with (output.parent / "stderr.txt").open("wb") as errors:  # kept for failure messages
        crawl = subprocess.Popen(
            [*command, "--mode", mode, "--workers", "3", "-q"],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,  # as a shell gives a job: Ctrl-C reaches its whole group
        )
    deadline = time.monotonic() + 20
    while len(images_fetched(site)) < 12:
        assert time.monotonic() < deadline and crawl.poll() is None, "the run ended too soon"
        time.sleep(0.01)
    return crawl


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("mode", MODES)
def test_sigkill_of_the_main_process_then_a_rerun_gives_every_file_once(
    mode: str, slow_lol_site: Site, run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path
) -> None:
    """The killed run's dask mode is a local cluster (its processes must not be left behind);
    the rerun's joins the shared one."""
    output = tmp_path / "out"
    crawl = crawl_until_busy(slow_lol_site, output, mode)
    workers = descendants(crawl.pid)
    crawl.kill()
    crawl.wait()
    time.sleep(1.5)  # orphaned workers notice their parent is gone and stop
    assert left_behind(workers) == []
    assert len(saved_files(output)) < 48
    run = run_cli(*lol_args(slow_lol_site, output, *mode_args(mode), "-q"))
    assert run.code == 0, run.out
    assert saved_files(output) == expected_files(slow_lol_site)
    assert not list(output.rglob("*.part"))


def test_the_state_can_be_read_by_several_processes_while_written(tmp_path: Path) -> None:
    from yamlcrawl.storage.state import StateStore

    store = StateStore(tmp_path)
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    for n in range(300):
        store.record(f"f{n}.jpg", f"http://h/{n}", n, f"{n:064x}")
    outputs = [reader.communicate(timeout=30)[0] for reader in readers]
    store.close()
    assert all(reader.returncode == 0 for reader in readers)
    assert all(line.strip() == "ok" for line in outputs)
    assert StateStore(tmp_path).lookup("f299.jpg") is not None


READER = """
import sys, time
from pathlib import Path
from yamlcrawl.storage.state import StateStore
store = StateStore(Path(sys.argv[1]))
for _ in range(200):
    found = store.lookup("f10.jpg")
    assert found is None or (found.bytes, found.url) == (10, "http://h/10"), found
    time.sleep(0.001)
print("ok")
"""


@pytest.mark.parametrize(
    ("mode", "how"),
    [
        ("queue", "SIGINT"),
        ("pool", "SIGTERM"),
        ("thread", "SIGINT"),
        ("process", "SIGTERM"),
        ("dask", "SIGINT"),
        ("dask", "SIGTERM"),
    ],
)
def test_an_interrupted_run_then_a_rerun_gives_every_file_once(
    mode: str, how: str, slow_lol_site: Site, run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    crawl = crawl_until_busy(slow_lol_site, output, mode)
    if how == "SIGINT":
        os.killpg(crawl.pid, signal.SIGINT)
    else:
        crawl.send_signal(signal.SIGTERM)
    code = crawl.wait(timeout=10)
    said = (tmp_path / "stderr.txt").read_text(errors="replace")
    assert code == 130, said
    assert not list(output.rglob("*.part")), said
    run = run_cli(*lol_args(slow_lol_site, output, *mode_args(mode), "-q"))
    assert run.code == 0, run.out + run.err
    saved, expected = saved_files(output), expected_files(slow_lol_site)
    wrong = sorted(k for k in saved.keys() | expected.keys() if saved.get(k) != expected.get(k))
    assert not wrong, f"{wrong}\n{said}\n{run.out}{run.err}"


def test_a_rerun_retries_only_what_failed(
    broken_lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    image = broken_lol_site.root / "images/lol/act/img/skinloading/1001.jpg"
    kept = image.read_bytes()
    image.unlink()
    output = tmp_path / "out"
    assert run_cli(*lol_args(broken_lol_site, output, "-q")).code == 1
    image.write_bytes(kept)  # the server is mended
    broken_lol_site.server.requests.clear()
    assert run_cli(*lol_args(broken_lol_site, output, "-q")).code == 0
    assert images_fetched(broken_lol_site) == ["/images/lol/act/img/skinloading/1001.jpg"]
    assert saved_files(output) == expected_files(broken_lol_site)
