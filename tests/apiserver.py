"""A JSON API for tests: routes by path, each a function of the query; every request recorded."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Reply = tuple[Any, dict[str, str]]  # JSON body (or bytes sent as they are), extra headers
Route = Callable[[dict[str, str]], Reply]


class Api:
    """Routes by path; each gets the query as a dict. Records every request's path and query."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.asked: list[str] = []
        self.headers: list[Message] = []  # of each request, in the order asked
        self.bodies: list[tuple[str, bytes]] = []  # (method, body) of each request
        self.base = ""


def send_answer(
    handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
) -> None:
    """Send a whole response: status, Content-Length, the headers (those not ""), the body."""
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers.items():
        if value:  # a route sends "" to leave a header out
            handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        api = self.server.api
        length = int(self.headers.get("Content-Length") or 0)
        api.bodies.append((self.command, self.rfile.read(length) if length else b""))
        parts = urllib.parse.urlsplit(self.path)
        api.asked.append(self.path)
        api.headers.append(self.headers)
        route = api.routes.get(parts.path)
        if route is None:
            body, headers, status = b'"no such route"', {}, 404
        else:
            data, headers = route(dict(urllib.parse.parse_qsl(parts.query)))
            body = data if isinstance(data, bytes) else json.dumps(data).encode()
            status = 302 if "Location" in headers else 200  # a reply with a Location redirects
        send_answer(self, status, {"Content-Type": "application/json", **headers}, body)

    do_POST = do_GET  # noqa: N815 (the name http.server looks up)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's backlog of 5: a crawl opening 64 connections at once on a loaded machine
    # had some of its SYNs dropped and retried for 15 s, past the crawl's timeout
    request_queue_size = 128
    api: Api


@pytest.fixture
def api() -> Iterator[Api]:
    with serving() as served:
        yield served


@contextlib.contextmanager
def serving() -> Iterator[Api]:
    """An `Api` served on 127.0.0.1 (a port of its own) while the block runs."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.api = Api()
    with running(server) as base:
        server.api.base = base
        yield server.api


@contextlib.contextmanager
def running(server: ThreadingHTTPServer) -> Iterator[str]:
    """Serve ``server`` (bound to 127.0.0.1) on a thread while the block runs; its base URL."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
