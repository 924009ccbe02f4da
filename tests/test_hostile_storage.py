"""The output folder against a hostile server, a hostile neighbour and a clumsy user.

Temporary names never collide with a crawl's names; links planted in the folder are never
followed; a second run into a folder in use stops at once; a full, read-only or odd folder gives
one line and exit 2; reports never replace a link or a device; resume does not trust a name
whose URL changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.apiserver import Api, Reply
from tests.conftest import MakeSession, RunCli
from tests.support import Recorder
from yamlcrawl.backends import modes
from yamlcrawl.engine.coordinator import Coordinator
from yamlcrawl.http.fetch import download_to
from yamlcrawl.language.loader import load_spec
from yamlcrawl.language.plan import build_plan
from yamlcrawl.storage.files import FileSlot
from yamlcrawl.storage.outdir import FolderBusyError, OutputFolder, temporary_path
from yamlcrawl.types import HttpSettings
from yamlcrawl.work.cancel import CancelToken

MODES = ["serial", "process", "queue", "pool", "thread", "dask"]
# name -> (URL path, bytes): a server-chosen name `X.part` next to `X`, and one in a folder
FILES = {
    "X": ("/f/1", b"the real X\n" * 3000),
    "X.part": ("/f/2", b"not X at all\n" * 2000),
    "d/Y": ("/f/3", b"Y in a folder\n" * 100),
}
CRAWL = """
vars: {{api: "{api}"}}
stages:
  items:
    url: "{{api}}/items"
    each: "$.items[*]"
    as: item
    emit: {{to: rows.jsonl, fields: {{name: "{{item.name}}"}}}}
    downloads:
      - url: "{{api}}{{item.url}}"
        save_as: "{{item.name|path}}"
"""
LINK = "it is a symbolic link, which yamlcrawl does not follow"


def serve(api: Api, files: dict[str, tuple[str, bytes]] = FILES) -> None:
    """Serve ``files`` (name -> URL path, bytes) and, at /items, the list of them."""

    def items(q: dict[str, str]) -> Reply:
        return {"items": [{"name": name, "url": url} for name, (url, _) in files.items()]}, {}

    api.routes["/items"] = items
    for url, body in files.values():
        api.routes[url] = lambda q, body=body: (body, {"Content-Type": "application/octet-stream"})


def crawl_file(tmp_path: Path, api: Api) -> Path:
    config = tmp_path / "crawl.yaml"
    config.write_text(CRAWL.format(api=api.base), "utf-8")
    return config


def on_disk(output: Path) -> dict[str, bytes]:
    """Every file the crawl left outside `.yamlcrawl/`, by relative path (links not followed)."""
    return {
        p.relative_to(output).as_posix(): p.read_bytes()
        for p in sorted(output.rglob("*"))
        if p.is_file() and not p.is_symlink() and ".yamlcrawl" not in p.relative_to(output).parts
    }


def expected(extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    rows = b"".join(json.dumps({"name": n}).encode() + b"\n" for n in FILES)
    return {**{n: body for n, (_, body) in FILES.items()}, "rows.jsonl": rows, **(extra or {})}


def without_manifest(files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k != "manifest.jsonl"}


def fetched(api: Api) -> list[str]:
    return sorted(path for path in api.asked if path.startswith("/f/"))


# --- 1. temporaries never collide with a crawl's names ----------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_download_named_like_another_ones_temporary_leaves_both_whole(
    mode: str, api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    serve(api)
    config, output = crawl_file(tmp_path, api), tmp_path / "out"
    args = (config, "--mode", mode, "--workers", "2", "-o", output, "-q")
    first = run_cli(*args)
    assert first.code == 0, first.out + first.err
    assert without_manifest(on_disk(output)) == expected()
    api.asked.clear()
    again = run_cli(*args)
    assert again.code == 0, again.out + again.err
    assert without_manifest(on_disk(output)) == expected()
    assert fetched(api) == []  # both found whole: nothing fetched again, nothing removed
    assert list((output / ".yamlcrawl" / "tmp").iterdir()) == []


class Looking(CancelToken):
    """A cancel token that, each time a download looks at it (with every chunk written), notes
    the temporaries being written and the files outside them that are not whole."""

    def __init__(self, output: Path) -> None:
        super().__init__()
        self.output = output
        self.looks: list[tuple[int, list[str]]] = []

    def check(self) -> None:
        writing = len(list((self.output / ".yamlcrawl" / "tmp").glob("*.part")))
        files = without_manifest(on_disk(self.output))
        self.looks.append((writing, [n for n, body in files.items() if body != FILES[n][1]]))
        super().check()


def test_a_download_in_progress_writes_only_inside_yamlcrawl(api: Api, tmp_path: Path) -> None:
    serve(api)
    output = tmp_path / "out"
    output.mkdir()
    loaded = load_spec(crawl_file(tmp_path, api), modes=modes())
    plan = build_plan(loaded.spec, loaded.source).with_overrides(output_dir=str(output))
    cancel = Looking(output)
    stats = Coordinator(plan, [Recorder()], cancel=cancel).run()
    assert stats.ok, stats.failures
    # two temporaries (the download and the `emit` file), and only whole files outside them
    assert cancel.looks and all(looks_like == (2, []) for looks_like in cancel.looks)


def test_temporary_names_are_new_every_time_and_inside_the_private_folder(tmp_path: Path) -> None:
    names = {temporary_path(tmp_path) for _ in range(100)}
    assert len(names) == 100
    assert {p.parent for p in names} == {tmp_path / ".yamlcrawl" / "tmp"}


def test_a_file_slot_writes_to_a_new_name_in_the_private_folder_and_never_an_existing_file(
    api: Api, tmp_path: Path, session: MakeSession
) -> None:
    api.routes["/a"] = lambda q: (b"new bytes", {})
    (tmp_path / "a.jpg.part").write_bytes(b"someone else's file")
    with FileSlot(tmp_path, "a.jpg") as slot:
        assert download_to(session(HttpSettings(user_agent="t")), f"{api.base}/a", slot) == 1
        written = slot.commit()
    assert (written.bytes, written.path) == (9, "a.jpg")
    assert (tmp_path / "a.jpg").read_bytes() == b"new bytes"
    assert (tmp_path / "a.jpg.part").read_bytes() == b"someone else's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".yamlcrawl", "a.jpg", "a.jpg.part"]
    assert list((tmp_path / ".yamlcrawl" / "tmp").iterdir()) == []


# --- 2. planted symbolic links are never followed ---------------------------------------------

FOLDER = "yamlcrawl: cannot use the output folder {out}: "
STATE = "yamlcrawl: cannot use the resume state {out}/.yamlcrawl/state.sqlite: "
PAGES = "yamlcrawl: cannot use the page cache {out}/.yamlcrawl/pages.sqlite: "
LINKED = "{out}/{planted} is a symbolic link, which yamlcrawl does not follow"
OUTSIDE = "resolves outside the output folder {out}"
# (what is planted in the output folder, what it points at, exit code, the first line of
# stderr (exit 2) or the failure's reason (exit 1))
PLANTED = [
    ("manifest.jsonl", "file", 2, "yamlcrawl: cannot write the manifest {out}/{planted}: " + LINK),
    (".yamlcrawl", "folder", 2, FOLDER + LINKED),
    (".yamlcrawl/lock", "file", 2, FOLDER + "cannot open the lock file {out}/{planted}: " + LINK),
    (".yamlcrawl/tmp", "folder", 2, FOLDER + LINKED),
    (".yamlcrawl/throttle", "folder", 2, FOLDER + LINKED),
    (".yamlcrawl/state.sqlite", "file", 2, STATE + LINKED),
    (".yamlcrawl/state.sqlite-wal", "file", 2, STATE + LINKED),
    (".yamlcrawl/pages.sqlite", "file", 2, PAGES + LINKED),
    (".yamlcrawl/pages.sqlite-journal", "file", 2, PAGES + LINKED),
    ("rows.jsonl", "file", 2, "yamlcrawl: cannot write the records file {planted}: " + OUTSIDE),
    ("X", "file", 1, "'X' " + OUTSIDE),
    ("d", "folder", 1, "'d/Y' " + OUTSIDE),
    # names yamlcrawl no longer writes: left alone, and the crawl is whole
    ("rows.jsonl.part", "file", 0, ""),
    ("X.part.part", "file", 0, ""),
]


@pytest.mark.parametrize(("planted", "kind", "code", "said"), PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_symbolic_link_is_never_followed(
    planted: str, kind: str, code: int, said: str, api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    serve(api)
    output, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    target = outside / "target"
    if kind == "folder":
        target.mkdir()
        (target / "kept").write_bytes(b"outside, untouched")
    else:
        target.write_bytes(b"outside, untouched")
    link = output / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=kind == "folder")
    report = tmp_path / "report.json"
    run = run_cli(crawl_file(tmp_path, api), "-o", output, "-q", "--report", report)
    assert run.code == code, run.out + run.err
    assert [p.name for p in outside.iterdir()] == ["target"]
    if kind == "folder":
        assert [p.name for p in target.iterdir()] == ["kept"]
        assert (target / "kept").read_bytes() == b"outside, untouched"
    else:
        assert target.read_bytes() == b"outside, untouched"
    assert link.is_symlink()  # a link is never replaced by yamlcrawl either
    said = said.format(out=output, planted=planted)
    if code == 2:
        assert run.err.splitlines()[0] == said
    elif code == 1:
        failures = json.loads(report.read_text("utf-8"))["failures"]
        assert [f["reason"] for f in failures] == [said]
    else:
        assert without_manifest(on_disk(output)) == expected()


# --- 3. one run at a time in a folder ---------------------------------------------------------

HOLDER = """
import sys, time
from pathlib import Path
from yamlcrawl.storage.outdir import OutputFolder
OutputFolder(Path(sys.argv[1])).open()
print("held", flush=True)
time.sleep(120)
"""


def busy(output: Path, pid: int) -> str:
    return (
        f"yamlcrawl: the output folder {output} is in use by another yamlcrawl run (pid {pid}):"
        " wait for it to end, or choose another --output\n"
    )


@contextlib.contextmanager
def holder(output: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding ``output`` (as a run does) until the block ends or it is killed."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(output)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        yield process
    finally:
        process.kill()
        process.communicate()


def test_a_second_run_stops_at_once_naming_the_first_and_touching_nothing(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    serve(api)
    config, output, report = crawl_file(tmp_path, api), tmp_path / "out", tmp_path / "r.json"
    with holder(output) as other:
        before = sorted(p.relative_to(output) for p in output.rglob("*"))
        run = run_cli(config, "-o", output, "--report", report)
        assert (run.code, run.err, run.out) == (2, busy(output, other.pid), "")
        assert sorted(p.relative_to(output) for p in output.rglob("*")) == before
        assert api.asked == [] and not report.exists()
        dry = run_cli(config, "-o", output, "--dry-run")  # writes nothing: needs no lock
        assert dry.code == 0, dry.err
        assert run_cli("validate", config).code == 0
        other.kill()  # SIGKILL: the kernel lets go of its lock
        other.wait()
        after = run_cli(config, "-o", output, "-q")
        assert after.code == 0, after.err
    assert without_manifest(on_disk(output)) == expected()


def test_two_concurrent_runs_the_second_stops_with_the_first_ones_pid(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    release = threading.Event()
    serve(api)
    listing = api.routes["/items"]

    def slow_items(q: dict[str, str]) -> Reply:
        release.wait(20)
        return listing(q)

    api.routes["/items"] = slow_items
    config, output = crawl_file(tmp_path, api), tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    first = subprocess.Popen(
        [sys.executable, "-m", "yamlcrawl", str(config), "-o", str(output), "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while "/items" not in api.asked:  # it holds the folder once it asks for its first page
            assert time.monotonic() < deadline and first.poll() is None, "the first run never began"
            time.sleep(0.02)
        second = run_cli(config, "-o", output, "--mode", "thread")
        assert (second.code, second.err) == (2, busy(output, first.pid))
        release.set()
        out, err = first.communicate(timeout=30)
        assert first.returncode == 0, out + err
    finally:
        release.set()
        if first.poll() is None:
            first.kill()
            first.wait()
    assert without_manifest(on_disk(output)) == expected()


def test_forked_workers_do_not_keep_a_finished_runs_lock(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path)
    folder.open()
    readable, writable = os.pipe()
    child = os.fork()
    if child == 0:  # a worker outliving its run for a while
        os.write(writable, b"started")
        time.sleep(3)
        os._exit(0)
    os.close(writable)
    assert os.read(readable, 16) == b"started"
    os.close(readable)
    try:
        folder.close()
        with OutputFolder(tmp_path):  # the child's copy of the lock went with the fork
            pass
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    other = OutputFolder(tmp_path)
    other.open()
    with pytest.raises(FolderBusyError, match=rf"\(pid {os.getpid()}\)"):
        OutputFolder(tmp_path).open()
    other.close()


# --- 4. a folder that cannot be used ----------------------------------------------------------


@contextlib.contextmanager
def mounted(where: Path, options: str) -> Iterator[Path]:
    """A fresh tmpfs at ``where`` (skip when this machine does not let us mount one)."""
    where.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mount.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)


def odd_private_folder(output: Path) -> None:
    output.mkdir()
    (output / ".yamlcrawl").write_text("a file, not a folder")


def manifest_folder(output: Path) -> None:
    (output / "manifest.jsonl").mkdir(parents=True)


# (case, how the folder is made unusable, first line of stderr ({out}: the output folder))
UNUSABLE: list[tuple[str, Callable[[Path], None], str]] = [
    (
        ".yamlcrawl is a file",
        odd_private_folder,
        "yamlcrawl: cannot use the output folder {out}: {out}/.yamlcrawl is not a folder"
        " (yamlcrawl keeps its own files there)",
    ),
    (
        "manifest.jsonl is a folder",
        manifest_folder,
        "yamlcrawl: cannot write the manifest {out}/manifest.jsonl: it is a folder",
    ),
    (
        "the output folder is a file",
        lambda out: out.write_text("a file"),
        "yamlcrawl: cannot make the output folder {out}: it is a file",
    ),
]


@pytest.mark.parametrize(("case", "spoil", "said"), UNUSABLE, ids=[u[0] for u in UNUSABLE])
def test_an_unusable_folder_gives_one_line_a_report_and_exit_2(
    case: str,
    spoil: Callable[[Path], None],
    said: str,
    api: Api,
    run_cli: RunCli,
    tmp_path: Path,
) -> None:
    serve(api)
    output, report = tmp_path / "out", tmp_path / "report.json"
    spoil(output)
    run = run_cli(crawl_file(tmp_path, api), "-o", output, "--report", report)
    assert run.code == 2, run.out + run.err
    assert run.err.splitlines() == [said.format(out=output)]
    assert "Traceback" not in run.out + run.err
    if report.exists():  # a folder made but unusable: the report says so
        data = json.loads(report.read_text("utf-8"))
        assert (data["verdict"], data["stopped"]) == ("stopped", said.format(out=output)[11:])
    assert api.asked == []


def test_a_read_only_folder_gives_one_line_and_exit_2(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    serve(api)
    config, report = crawl_file(tmp_path, api), tmp_path / "report.json"
    with mounted(tmp_path / "ro", "size=1m") as output:
        remount_read_only(output)
        run = run_cli(config, "-o", output, "--report", report)
        assert (run.code, run.err.splitlines()) == (
            2,
            [
                f"yamlcrawl: cannot use the output folder {output}:"
                f" cannot make {output}/.yamlcrawl: Read-only file system"
            ],
        )
        assert json.loads(report.read_text("utf-8"))["verdict"] == "stopped"


def test_a_folder_gone_read_only_since_the_last_run_gives_one_line_and_exit_2(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    serve(api)
    config = crawl_file(tmp_path, api)
    with mounted(tmp_path / "ro", "size=1m") as output:
        assert run_cli(config, "-o", output, "-q").code == 0
        remount_read_only(output)
        run = run_cli(config, "-o", output)
        assert (run.code, run.err.splitlines()) == (
            2,
            [
                f"yamlcrawl: cannot use the output folder {output}: cannot open the lock file"
                f" {output}/.yamlcrawl/lock: Read-only file system"
            ],
        )
        assert without_manifest(on_disk(output)) == expected()


BIG = {f"f{n}.bin": (f"/big/{n}", hashlib.sha256(bytes([n])).digest() * 4096) for n in range(6)}


@pytest.mark.parametrize("mode", MODES)
def test_a_full_disk_stops_the_run_with_one_line_the_summary_and_the_report(
    mode: str, api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    serve(api, BIG)  # six files of 128 KiB on a 512 KiB disk
    config, report = crawl_file(tmp_path, api), tmp_path / "report.json"
    config.write_text(config.read_text("utf-8").replace("    emit:", "    # emit:"), "utf-8")
    with mounted(tmp_path / "small", "size=512k") as output:
        run = run_cli(config, "--mode", mode, "--workers", "2", "-o", output, "--report", report)
        assert run.code == 2, run.out + run.err
        # (the test server may print a broken pipe of its own: a worker stopped reading)
        said = [line for line in run.err.splitlines() if line.startswith("yamlcrawl")]
        assert len(said) == 1, run.err
        assert not any("yamlcrawl/" in line for line in run.err.splitlines())  # no traceback
        first = said[0]
        assert first.startswith(f"yamlcrawl: the output folder {output} cannot take more files ")
        assert first.endswith(
            ": No space left on device): the run stopped; what it saved is whole,"
            " and a rerun fetches the rest"
        ), first
        assert "stopped" in run.out  # the summary so far
        data = json.loads(report.read_text("utf-8"))
        assert data["verdict"] == "stopped" and data["stopped"] == first[11:]
        saved = without_manifest(on_disk(output))
        assert 0 < len(saved) < len(BIG)
        assert all(body == BIG[name][1] for name, body in saved.items())  # whole, or absent
        assert list((output / ".yamlcrawl" / "tmp").iterdir()) == []
        assert data["saved"] <= len(saved)  # a worker may land one as the run stops


# --- 5. reports and logs written in place when the target is not a regular file ---------------


def simple_run(api: Api, tmp_path: Path) -> Path:
    serve(api, {"a": ("/f/a", b"aaa")})
    return crawl_file(tmp_path, api)


def test_report_dash_prints_the_json_alone_on_stdout(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    run = run_cli(simple_run(api, tmp_path), "-o", tmp_path / "out", "--report", "-")
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert (data["verdict"], data["saved"]) == ("finished", 1)
    assert "files saved" in run.err  # the summary goes to stderr instead


def test_a_report_through_a_link_keeps_the_link(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("old")
    link.symlink_to(real)
    run = run_cli(simple_run(api, tmp_path), "-o", tmp_path / "out", "--report", link)
    assert run.code == 0, run.err
    assert link.is_symlink() and link.readlink() == real
    assert json.loads(real.read_text("utf-8"))["saved"] == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".json", ".part")) == [
        "link.json",
        "real.json",
    ]


def test_a_report_into_a_fifo_is_written_in_place(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with fifo.open("rb") as stream:
            received.append(stream.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    run = run_cli(simple_run(api, tmp_path), "-o", tmp_path / "out", "--report", fifo)
    with contextlib.suppress(OSError):  # a run that never opened it: the reader sees its end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    reader.join(10)
    assert run.code == 0, run.err
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert json.loads(received[0])["saved"] == 1


def test_a_report_and_a_log_into_a_character_device_never_replace_it(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # /dev/null's numbers
    except OSError as exc:
        pytest.skip(f"cannot make a device file here: {exc.strerror}")
    link = tmp_path / "stdout-like"
    link.symlink_to(null)
    config = simple_run(api, tmp_path)
    run = run_cli(config, "-o", tmp_path / "out", "--report", link, "--log-file", null)
    assert run.code == 0, run.err
    assert stat.S_ISCHR(null.lstat().st_mode) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "crawl.yaml",
        "null",
        "out",
        "stdout-like",
    ]


def test_log_file_dash_writes_the_log_on_stdout(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    run = run_cli(simple_run(api, tmp_path), "-o", tmp_path / "out", "--log-file", "-")
    assert run.code == 0, run.err
    assert "progress elapsed=" in run.out


def test_a_report_inside_the_output_folder_never_follows_a_link_out(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("untouched")
    config, output = simple_run(api, tmp_path), tmp_path / "out"
    output.mkdir()
    (output / "run.json").symlink_to(outside)
    run = run_cli(config, "-o", output, "--report", output / "run.json")
    assert run.code == 0, run.err
    assert run.err.splitlines() == [
        f"yamlcrawl: cannot write the report {output / 'run.json'}:"
        f" resolves outside the output folder {output}"
    ]
    assert outside.read_text() == "untouched"


# --- 6. resume does not trust a name whose URL changed ----------------------------------------

MOVING = """
vars: {{api: "{api}", version: "1"}}
stages:
  one:
    url: "{{api}}/items"
    downloads:
      - url: "{{api}}/pic?v={{version}}"
        save_as: pic.bin
"""


def test_a_rerun_fetches_a_file_again_when_its_url_changed(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    api.routes["/items"] = lambda q: ({}, {})
    api.routes["/pic"] = lambda q: (f"picture version {q['v']}".encode(), {})
    config, output = tmp_path / "crawl.yaml", tmp_path / "out"
    config.write_text(MOVING.format(api=api.base), "utf-8")
    assert run_cli(config, "-o", output, "-q").code == 0
    assert (output / "pic.bin").read_bytes() == b"picture version 1"
    same = run_cli(config, "-o", output, "-q", "--report", tmp_path / "same.json")
    assert json.loads((tmp_path / "same.json").read_text())["present"] == 1, same.err
    moved = run_cli(config, "-o", output, "-q", "--set", "version=2")
    assert moved.code == 0, moved.err
    assert (output / "pic.bin").read_bytes() == b"picture version 2"
    lines = (output / "manifest.jsonl").read_text("utf-8").splitlines()
    statuses = [json.loads(line)["status"] for line in lines]
    assert statuses == ["saved"]
