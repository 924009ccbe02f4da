"""A small static HTTP server for the offline sample sites.

Run ``python samples/serve.py samples/lol/site --port 8000`` and point a crawl at
``http://127.0.0.1:8000``; ``--port 0`` takes a free port and the first line printed says which.
Ctrl-C stops it. A port already in use is one line on stderr and exit status 2.

In JSON and JSONP bodies every occurrence of a ``--rewrite`` origin (default
``https://game.gtimg.cn``) becomes the server's own ``http://127.0.0.1:PORT``, so the absolute
image URLs inside the documents lead back to the mirror. The JSON-escaped spelling of
the origin (``https:\\/\\/game.gtimg.cn``, as older LoL documents write it) is rewritten too.

A request with a query is answered from ``<path>@<query>`` when that file exists (so
``products.json?page=2`` from ``products.json@page=2``): paginated APIs mirror as files. A file
whose name has no known extension (``download@id=7``) is sent with the type its first bytes
show (PNG, JPEG, GIF), as a real download endpoint would.

Tests import it: ``server, base_url = start_server(root)`` serves from a daemon thread; after
the crawl, ``server.requests`` lists the paths asked for, and ``server.shutdown()`` followed by
``server.server_close()`` stops it.
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading
import time
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

DEFAULT_REWRITE: tuple[str, ...] = ("https://game.gtimg.cn",)
CONTENT_TYPES: dict[str, str] = {
    ".js": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".jsonp": "application/javascript",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}
TEXT_SUFFIXES = frozenset({".js", ".json", ".jsonp"})
FALLBACK_TYPE = "application/octet-stream"
MAGIC_TYPES: dict[bytes, str] = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
}


def content_type(suffix: str, body: bytes) -> str:
    """The Content-Type for a file: by its extension, else by its first bytes."""
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    magic = next((kind for head, kind in MAGIC_TYPES.items() if body.startswith(head)), None)
    return magic or FALLBACK_TYPE


class SampleServer(ThreadingHTTPServer):
    """A threading HTTP server over one folder, with a thread-safe log of what was asked.

    Attributes:
        root: the served folder, resolved.
        rewrite: origins replaced by ``base_url`` in text bodies.
        verbose: log one line per request to stderr.
        delay: seconds every response waits before it starts (a stand-in for a far server).
        base_url: ``http://HOST:PORT`` of this server.
        requests: every GET or HEAD request's path (percent-decoded, query dropped), in
            arrival order, whatever the response.
        responses: ``(method, path, status)`` for the same requests.
    """

    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 drops connections a 64-thread crawl opens at once
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        root: Path,
        rewrite: Sequence[str] = DEFAULT_REWRITE,
        *,
        verbose: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Bind to ``address`` (port 0 picks a free port) and prepare to serve ``root``."""
        super().__init__(address, SampleHandler)
        self.root = root.resolve()
        self.rewrite = tuple(origin.rstrip("/") for origin in rewrite if origin)
        self.verbose = verbose
        self.delay = delay
        host = address[0] if address[0] not in ("", "0.0.0.0") else "127.0.0.1"
        self.base_url = f"http://{host}:{self.server_address[1]}"
        self.requests: list[str] = []
        self.responses: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-response (a crawl stopped on purpose) is not news."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def record(self, method: str, path: str, status: int) -> None:
        """Append one request to ``requests`` and ``responses`` (thread-safe)."""
        with self._lock:
            self.requests.append(path)
            self.responses.append((method, path, int(status)))

    def rewrite_body(self, body: bytes) -> bytes:
        """Replace each rewrite origin, plain or with ``\\/`` escapes, by ``base_url``."""
        base = self.base_url.encode("ascii")
        for origin in self.rewrite:
            plain = origin.encode("utf-8")
            body = body.replace(plain, base)
            body = body.replace(plain.replace(b"/", b"\\/"), base.replace(b"/", b"\\/"))
        return body

    def locate(self, path: str) -> tuple[HTTPStatus, Path | None]:
        """The file under ``root`` that a decoded URL path names.

        Returns:
            ``(OK, file)``; ``(FORBIDDEN, None)`` for ``..`` segments, backslashes, NUL bytes
            and anything that resolves outside ``root`` (symbolic links included);
            ``(NOT_FOUND, None)`` for a missing file or a folder.
        """
        parts = [part for part in path.split("/") if part]
        if any(part in (".", "..") or "\\" in part or "\x00" in part for part in parts):
            return HTTPStatus.FORBIDDEN, None
        target = self.root.joinpath(*parts).resolve()
        if not target.is_relative_to(self.root):
            return HTTPStatus.FORBIDDEN, None
        if not target.is_file():
            return HTTPStatus.NOT_FOUND, None
        return HTTPStatus.OK, target


class SampleHandler(BaseHTTPRequestHandler):
    """Serves GET and HEAD from the server's root; anything else gets 501."""

    protocol_version = "HTTP/1.1"
    server_version = "yamlcrawl-samples/1.0"
    # Headers and body go out in separate writes: with Nagle's algorithm on, a kept-alive
    # connection waits for the client's delayed ACK (~40 ms) before every body.
    disable_nagle_algorithm = True
    timeout = 30

    @property
    def site(self) -> SampleServer:
        """The server, with its real type."""
        assert isinstance(self.server, SampleServer)
        return self.server

    def do_GET(self) -> None:
        """Send a file with its body."""
        self._serve(with_body=True)

    def do_HEAD(self) -> None:
        """Send a file's headers only."""
        self._serve(with_body=False)

    def _serve(self, *, with_body: bool) -> None:
        """Answer one request: 200 with the (rewritten) file, 403 or 404."""
        url = urlsplit(self.path)
        path = unquote(url.path)
        if self.site.delay:
            time.sleep(self.site.delay)
        status, target = self.site.locate(path)
        if url.query:  # `products.json?page=2` is the file `products.json@page=2`, if there
            with_query = self.site.locate(f"{path}@{unquote(url.query)}")
            if with_query[1] is not None:
                status, target = with_query
        if target is None:
            self.site.record(self.command, path, status)
            self.send_error(status)
            return
        suffix = target.suffix.lower()
        body = target.read_bytes()
        if suffix in TEXT_SUFFIXES:
            body = self.site.rewrite_body(body)
        self.site.record(self.command, path, HTTPStatus.OK)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type(suffix, body))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Log to stderr only with ``--verbose``."""
        if self.site.verbose:
            super().log_message(format, *args)


def start_server(
    root: Path,
    rewrite: Sequence[str] = DEFAULT_REWRITE,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    verbose: bool = False,
    delay: float = 0.0,
) -> tuple[SampleServer, str]:
    """Serve ``root`` from a daemon thread.

    Args:
        root: the site folder.
        rewrite: origins to replace by the server's base URL in .js/.json/.jsonp bodies.
        host: the address to bind.
        port: the port to bind; 0 picks a free one.
        verbose: log one line per request.
        delay: seconds every response waits before it starts.

    Returns:
        The running server (a ``ThreadingHTTPServer``; stop it with ``shutdown()`` then
        ``server_close()``) and its base URL, e.g. ``http://127.0.0.1:41234``.

    Raises:
        NotADirectoryError: ``root`` is not a folder.
    """
    if not root.is_dir():
        raise NotADirectoryError(f"not a folder: {root}")
    server = SampleServer((host, port), root, rewrite, verbose=verbose, delay=delay)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"sample-server-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return server, server.base_url


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: ROOT [--host H] [--port N] [--rewrite ORIGIN]... [--delay-ms MS]."""
    parser = argparse.ArgumentParser(
        description="Serve a yamlcrawl sample site (static files, origins rewritten)."
    )
    parser.add_argument("root", type=Path, help="the site folder, e.g. samples/lol/site")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (8000; 0 = any free port)")
    parser.add_argument(
        "--rewrite",
        action="append",
        metavar="ORIGIN",
        help="origin replaced by this server's URL in .js/.json/.jsonp bodies; repeatable "
        f"(default: {' '.join(DEFAULT_REWRITE)})",
    )
    parser.add_argument("--verbose", action="store_true", help="log one line per request")
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="wait this long before every response, like a server far away (0)",
    )
    return parser.parse_args(argv)


def listen_error(prog: str, host: str, port: int, error: OSError) -> str:
    """The one line a server that cannot listen prints instead of a traceback.

    Args:
        prog: the script's name, starting the line (``serve.py``).
        host: the address asked for.
        port: the port asked for.
        error: what ``bind`` raised.
    """
    if error.errno == errno.EADDRINUSE:
        return (
            f"{prog}: port {port} is in use (another server?): stop it, "
            "or use --port 0 for a free one"
        )
    return f"{prog}: cannot listen on {host}:{port}: {error.strerror or error}"


def _exit_on_signal(signum: int, frame: object) -> None:
    """SIGTERM stops the server as Ctrl-C does (the socket is closed on the way out)."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted; print the base URL first (the chosen port with --port 0).

    Returns:
        The exit status: 0 after Ctrl-C or SIGTERM; 2 when the root is not a folder or the
        port cannot be had (in use, or not allowed), said in one line.
    """
    args = parse_args(argv)
    root: Path = args.root
    if not root.is_dir():
        print(f"serve.py: not a folder: {root}", file=sys.stderr)
        return 2
    rewrite: list[str] = args.rewrite if args.rewrite is not None else list(DEFAULT_REWRITE)
    try:
        server = SampleServer(
            (args.host, args.port), root, rewrite, verbose=args.verbose, delay=args.delay_ms / 1000
        )
    except OSError as error:
        print(listen_error("serve.py", args.host, args.port, error), file=sys.stderr)
        return 2
    print(f"Serving {server.root} at {server.base_url} (Ctrl-C stops it)", flush=True)
    for origin in server.rewrite:
        print(f"  rewriting {origin} -> {server.base_url}", flush=True)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
