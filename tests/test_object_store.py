"""Output to an object store (``output.dir: s3://bucket/prefix``) against a local S3 server.

moto's server (tests/s3server.py) runs on 127.0.0.1 (a port of its own) behind a WSGI layer
that counts the requests by method and key; credentials are fake ones in the environment, the
endpoint is ``AWS_ENDPOINT_URL``, as a user would set them. The run's own files stay in
``.yamlcrawl-store/s3/<bucket>/<prefix>`` under the current folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver import running
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from yamlcrawl.storage.objectstore import split_output

pytest.importorskip("moto.server", reason="the s3 test needs moto[server] (the test extra)")
pytest.importorskip("s3fs", reason="output to S3 needs s3fs: pip install 'yamlcrawl[s3]'")

from tests.s3server import S3, serving

FILES = {f"f{n}.bin": hashlib.sha256(str(n).encode()).digest() * (n + 1) for n in range(6)}
CUT = "cut.bin"  # its response stops half-way: it must never appear in the bucket


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3]:
    """moto's S3 in server mode on 127.0.0.1 port 0, its requests counted."""
    with serving() as server:
        yield server


@pytest.fixture
def s3(
    s3_server: S3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[S3]:
    """The server, with fake credentials and its endpoint in this process's environment (and
    the shared Dask cluster's workers', in dask mode); the current folder is ``tmp_path``."""
    env = s3_server.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    s3_server.requests.clear()
    with _on_dask_workers(request, env):
        yield s3_server


@contextlib.contextmanager
def _on_dask_workers(request: pytest.FixtureRequest, env: dict[str, str]) -> Iterator[None]:
    """``env`` set in the shared cluster's workers while the block runs (a dask-mode test):
    they were started before this test, as a real cluster's workers are."""
    if "dask" not in request.node.name:
        yield
        return
    from distributed import Client

    with Client(request.getfixturevalue("dask_scheduler"), timeout=30) as client:
        before = client.run(_set_environment, env)
        try:
            yield
        finally:
            for worker, old in before.items():
                client.run(_set_environment, old, workers=[worker])


def _set_environment(values: dict[str, str | None]) -> dict[str, str | None]:
    """Set (or, for None, remove) environment variables; what they were before."""
    before = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return before


class _Site(BaseHTTPRequestHandler):
    """``/list`` names every file; ``/f/<name>`` sends it, but ``cut.bin`` stops half-way."""

    def do_GET(self) -> None:
        if self.path == "/list":
            names = [*FILES, CUT]
            self._send(json.dumps({"items": [{"name": name} for name in names]}).encode())
            return
        name = self.path.removeprefix("/f/")
        if name == CUT:
            self.send_response(200)
            self.send_header("Content-Length", "4096")
            self.end_headers()
            self.wfile.write(b"x" * 1000)  # and the connection closes: the body is cut short
            self.close_connection = True
            return
        self._send(FILES[name])

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.daemon_threads = True
    with running(server) as base:
        yield base


def _crawl_file(folder: Path, base: str, output: str) -> Path:
    stage = {
        "url": f"{base}/list",
        "each": "$.items[*]",
        "as": "item",
        "downloads": [{"url": f"{base}/f/{{item.name}}", "save_as": "files/{item.name}"}],
    }
    spec = {
        "http": {"retries": 0},
        "output": {"dir": output},
        "run": {"workers": 2},
        "stages": {"list": stage},
    }
    path = folder / "crawl.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    return path


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_files_go_to_the_bucket_whole_and_a_rerun_checks_them_without_downloading(
    mode: str, s3: S3, site: str, tmp_path: Path, run_cli: RunCli, mode_args: ModeArgs
) -> None:
    bucket = f"crawl-{uuid.uuid4().hex[:12]}"
    s3.client.create_bucket(Bucket=bucket)
    crawl = _crawl_file(tmp_path, site, f"s3://{bucket}/run/one")
    expected = {f"run/one/files/{name}": body for name, body in FILES.items()}

    first = run_cli(crawl, *mode_args(mode))
    assert first.code == 1, first.err  # the cut file failed; every other one is saved
    assert s3.objects(bucket) == expected  # nothing under cut.bin's key, ever
    state = tmp_path / ".yamlcrawl-store" / "s3" / bucket / "run" / "one"
    assert (state / ".yamlcrawl" / "state.sqlite").is_file()
    manifest = [json.loads(line) for line in (state / "manifest.jsonl").read_text().splitlines()]
    saved = {row["path"]: row["sha256"] for row in manifest if row["status"] == "saved"}
    assert saved == {
        f"files/{name}": hashlib.sha256(body).hexdigest() for name, body in FILES.items()
    }
    assert [row["path"] for row in manifest if row["status"] == "failed"] == [f"files/{CUT}"]
    heads = s3.client.head_object(Bucket=bucket, Key="run/one/files/f3.bin")
    assert heads["Metadata"] == {"sha256": hashlib.sha256(FILES["f3.bin"]).hexdigest()}
    assert not any(tmp_path.rglob("*.bin"))  # no file, whole or part, on the local disk
    assert f"s3://{bucket}/run/one" in " ".join(first.out.split())  # the summary's "files in"

    # A rerun: one HEAD request per file, no GET of any object, no upload.
    s3.requests.clear()
    second = run_cli(crawl, *mode_args(mode))
    assert second.code == 1, second.err
    assert s3.counted("GET", bucket) == 0
    assert s3.counted("PUT", bucket) == 0
    assert s3.counted("HEAD", bucket) == len(FILES) + 1  # and one for the cut file: missing

    # Damaged objects: another size; the same size, other bytes and no SHA-256 recorded.
    s3.client.put_object(Bucket=bucket, Key="run/one/files/f0.bin", Body=b"short")
    same_size = bytes(len(FILES["f1.bin"]))
    s3.client.put_object(Bucket=bucket, Key="run/one/files/f1.bin", Body=same_size)
    s3.requests.clear()
    third = run_cli(crawl, *mode_args(mode))
    assert third.code == 1, third.err
    assert s3.counted("PUT", bucket) == 2  # just the two damaged ones, uploaded again
    assert s3.objects(bucket) == expected


STORE_USAGE = {
    "credentials in the URL, never shown": (
        "s3://AKIA:s3cret@bucket/run",
        "--output s3://bucket/run carries credentials — expected a URL such as"
        " s3://bucket/prefix, with credentials in the environment or the AWS configuration",
    ),
    "a scheme fsspec does not know": (
        "nosuch://bucket/run",
        "the output nosuch://bucket/run has the unknown storage scheme 'nosuch'",
    ),
}


@pytest.mark.parametrize(("given", "expected"), STORE_USAGE.values(), ids=list(STORE_USAGE))
def test_a_store_that_cannot_be_used_is_one_line(
    given: str, expected: str, site: str, tmp_path: Path, run_cli: RunCli
) -> None:
    crawl = _crawl_file(tmp_path, site, "downloads")
    run = run_cli(crawl, "--output", given)
    assert run.code == 2
    assert expected in " ".join(run.err.split())
    assert "s3cret" not in run.out + run.err


def test_a_store_that_does_not_answer_stops_the_run_in_one_line(
    s3: S3, site: str, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    crawl = _crawl_file(tmp_path, site, "s3://no-such-bucket-here/run")
    missing = run_cli(crawl, "--mode", "serial")
    assert missing.code == 2
    assert missing.err.strip() == (
        "yamlcrawl: cannot use the output s3://no-such-bucket-here/run: its bucket does not exist"
    )
    assert s3.counted("PUT", "no-such-bucket-here") == 0
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    unreachable = run_cli(crawl, "--mode", "serial")
    assert unreachable.code == 2
    assert unreachable.err.strip() == (
        "yamlcrawl: cannot use the output s3://no-such-bucket-here/run: Could not connect to"
        f' the endpoint URL: "http://127.0.0.1:{port}/no-such-bucket-here"'
    )


SPLITS = {
    "a plain path": ("downloads", ("downloads", None)),
    "an absolute path": ("/data/out", ("/data/out", None)),
    "a file:// URL": ("file:///data/out", ("/data/out", None)),
    "a drive letter is no scheme": ("C:/out", ("C:/out", None)),
    "a bucket and a prefix": (
        "s3://bucket/a/b/",
        (".yamlcrawl-store/s3/bucket/a/b", "s3://bucket/a/b"),
    ),
    "a bucket alone": ("s3://bucket", (".yamlcrawl-store/s3/bucket", "s3://bucket")),
    "any fsspec URL": ("memory://box/run", (".yamlcrawl-store/memory/box/run", "memory://box/run")),
}


@pytest.mark.parametrize(("given", "expected"), SPLITS.values(), ids=list(SPLITS))
def test_output_dir_is_a_folder_or_a_store_with_a_local_folder_for_the_run(
    given: str, expected: tuple[str, str | None]
) -> None:
    assert split_output(given) == expected


def test_a_file_url_is_a_folder_as_today(
    site: str, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    crawl = _crawl_file(tmp_path, site, f"file://{tmp_path / 'out'}")
    run = run_cli(crawl, "--mode", "serial")
    assert run.code == 1, run.err  # the cut file
    saved = {path.name: path.read_bytes() for path in (tmp_path / "out" / "files").iterdir()}
    assert saved == FILES
    assert not (tmp_path / ".yamlcrawl-store").exists()


def test_any_fsspec_store_works_and_a_rerun_hashes_what_it_finds(
    site: str, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fsspec's in-memory store (this process's: serial mode) keeps no SHA-256 as metadata: a
    rerun reads each file to check it, and fetches again one that differs."""
    import fsspec

    monkeypatch.chdir(tmp_path)
    memory = fsspec.filesystem("memory")
    box = f"box-{uuid.uuid4().hex[:8]}"
    crawl = _crawl_file(tmp_path, site, f"memory://{box}/run")
    try:
        assert run_cli(crawl, "--mode", "serial").code == 1  # the cut file
        stored = {name: memory.cat_file(f"/{box}/run/files/{name}") for name in FILES}
        assert stored == FILES
        assert not memory.exists(f"/{box}/run/files/{CUT}")
        memory.pipe_file(f"/{box}/run/files/f2.bin", bytes(len(FILES["f2.bin"])))
        again = run_cli(crawl, "--mode", "serial")
        assert again.code == 1
        manifest = tmp_path / ".yamlcrawl-store" / "memory" / box / "run" / "manifest.jsonl"
        rows = [json.loads(line) for line in manifest.read_text().splitlines()]
        saved = sorted(row["path"] for row in rows if row["status"] == "saved")
        present = sorted(row["path"] for row in rows if row["status"] == "present")
        assert saved == ["files/f2.bin"]
        assert present == [f"files/{name}" for name in FILES if name != "f2.bin"]
        assert memory.cat_file(f"/{box}/run/files/f2.bin") == FILES["f2.bin"]
    finally:
        memory.rm(f"/{box}", recursive=True)
