"""Helpers the end-to-end tests share: sample sites, CLI runs, output inspection."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import requests.adapters
import urllib3
import yaml

from samples.serve import SampleServer, start_server
from yamlcrawl.http.fetch import download_to
from yamlcrawl.http.session import Session, new_page_session
from yamlcrawl.storage.files import FileSlot
from yamlcrawl.types import HttpSettings, Subscriber
from yamlcrawl.work.events import Event

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
REWRITES = {"lol": ("https://game.gtimg.cn",), "gallery": ("https://cdn.example.test",)}


@dataclass(frozen=True)
class Saved:
    """A file :func:`download` saved."""

    bytes: int
    sha256: str
    attempts: int
    path: Path


def download(session: Session, url: str, final: Path, **options: Any) -> Saved:
    """``download_to`` into a storage slot for ``final``, outside any crawl's folder: its
    temporary is a new hidden name beside it, so a test sees every file it leaves."""
    temporary = final.with_name(f".{uuid.uuid4().hex}.part")
    with FileSlot(final.parent, final.name, temporary=temporary) as slot:
        attempts = download_to(session, url, slot, **options)
        written = slot.commit()
    return Saved(written.bytes, written.sha256, attempts, final.parent / written.path)


@dataclass
class Site:
    """A sample site being served, and what its crawl must save."""

    name: str
    root: Path
    server: SampleServer
    base: str

    @property
    def expected(self) -> list[dict[str, str]]:
        """``[{"path": ..., "source": ...}]`` from the sample's expected.json."""
        data: list[dict[str, str]] = json.loads(
            (SAMPLES / self.name / "expected.json").read_text("utf-8")
        )
        return data

    def source_bytes(self, source: str) -> bytes:
        """The bytes the site serves for ``source`` (a path under site/)."""
        return (self.root / source).read_bytes()


@dataclass
class Run:
    """One ``yamlcrawl`` invocation's exit code and output."""

    code: int
    out: str
    err: str


def lol_args(site: Site, output: Path | str, *extra: Any) -> list[Any]:
    """The README's command for the LoL mirror: crawler.yaml with ``--set img=...``."""
    img = f"{site.base}/images/lol/act/img"
    return [ROOT / "crawler.yaml", "--set", f"img={img}", "--output", output, *extra]


def list_crawl(
    folder: Path, base: str, download: dict[str, str], run: dict[str, Any] | None = None
) -> Path:
    """A crawl file in ``folder``: one stage, ``list``, that fans out over ``{base}/list``'s
    ``items`` (each bound to ``item``), with one ``download`` rule."""
    stage = {"url": "{api}/list", "each": "$.items[*]", "as": "item", "downloads": [download]}
    spec = {"vars": {"api": base}, "run": run or {}, "stages": {"list": stage}}
    path = folder / "crawl.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")
    return path


@contextlib.contextmanager
def lol_served(host: str, delay: float) -> Iterator[Site]:
    """The LoL mirror served on ``host`` (a cluster's bridge address), every answer ``delay``
    seconds late."""
    root = SAMPLES / "lol" / "site"
    server, base = start_server(root, REWRITES["lol"], host=host, delay=delay)
    try:
        yield Site("lol", root, server, base)
    finally:
        server.shutdown()
        server.server_close()


def lol_serial_run(site: Site, output: Path) -> Path:
    """The LoL crawl of ``site`` in serial mode, in this process and without the site's
    delay, into ``output``: what every other run must match."""
    from yamlcrawl.ui import cli

    delay, site.server.delay = site.server.delay, 0.0
    try:
        assert cli.main([str(a) for a in lol_args(site, output, "--mode", "serial", "-q")]) == 0
    finally:
        site.server.delay = delay
    return output


# What a file's record says of how it was got. A task that ran again after a fault finds the
# file its first worker finished before the fault: "present", as on a resume, not "saved".
HOW_GOT = {"status", "http_status", "content_type"}


def same_records(got: list[dict[str, Any]], serial: Path, *, faults: bool = False) -> None:
    """``got`` (a manifest's records) are the serial run's but for their times (and, after
    ``faults``, how each file was got: saved, or found present)."""
    left_out = {"time", *(HOW_GOT if faults else ())}

    def comparable(records: list[dict[str, Any]]) -> list[str]:
        kept = [{k: v for k, v in r.items() if k not in left_out} for r in records]
        return sorted(json.dumps(record, sort_keys=True) for record in kept)

    reference = manifest_records(serial)
    assert comparable(got) == comparable(reference)
    statuses = {r["status"] for r in got} - {"present"}
    assert statuses == {r["status"] for r in reference} - {"present"}


def manifest_records(output: Path) -> list[dict[str, Any]]:
    """The manifest's records, in the order written."""
    lines = (output / "manifest.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def saved_files(output: Path) -> dict[str, bytes]:
    """Every file under ``output`` but the manifest, by relative POSIX path."""
    return {
        path.relative_to(output).as_posix(): path.read_bytes()
        for path in sorted(output.rglob("*"))
        if path.is_file() and path.name != "manifest.jsonl" and ".yamlcrawl" not in path.parts
    }


class Recorder(Subscriber):
    """A display that keeps what workers said."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def wants_worker_events(self) -> bool:
        return True

    def worker_events(self, events: list[Event]) -> None:
        self.events += events


@dataclass(frozen=True)
class Request:
    """A request as a transport receives it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None


def response(
    status: int = 200,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    *,
    length: int | None = None,
) -> urllib3.BaseHTTPResponse:
    """A response as the network would hand it over, body unread; ``length`` is the
    Content-Length it announces (the body's own by default), which urllib3 does not enforce."""
    announced = {"Content-Length": str(len(body) if length is None else length), **(headers or {})}
    return urllib3.HTTPResponse(
        body=io.BytesIO(body),
        headers=announced,
        status=status,
        preload_content=False,
        decode_content=True,
        enforce_content_length=False,
    )


@dataclass
class MockTransport:
    """A transport that answers every request with ``handler(request)`` and no network, as
    httpx's MockTransport does; give it to a session as ``transport=mock.factory`` (files)
    and ``pages=mock.pages`` (pages)."""

    handler: Callable[[Request], urllib3.BaseHTTPResponse]
    requests: list[Request] = field(default_factory=list)

    def factory(self, settings: HttpSettings) -> MockTransport:
        """The session's transport, whatever its settings."""
        return self

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        timeout: float,
        max_redirects: int,
        body: bytes | None = None,
        private: Collection[str] = (),
    ) -> urllib3.BaseHTTPResponse:
        """Note the request and answer it."""
        asked = Request(method, url, dict(headers), body)
        self.requests.append(asked)
        return self.handler(asked)

    def close(self) -> None:
        """Nothing to close."""

    def pages(self, settings: HttpSettings) -> requests.Session:
        """The session's page client, whose every request goes to ``handler``."""
        client = new_page_session(settings)
        adapter = _MockAdapter(self)
        client.mount("http://", adapter)
        client.mount("https://", adapter)
        return client


class _MockAdapter(requests.adapters.HTTPAdapter):
    """requests' end of a `MockTransport`."""

    def __init__(self, mock: MockTransport) -> None:
        super().__init__()
        self.mock = mock

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        asked = Request(str(request.method), str(request.url), dict(request.headers), body)
        self.mock.requests.append(asked)
        return self.build_response(request, self.mock.handler(asked))
