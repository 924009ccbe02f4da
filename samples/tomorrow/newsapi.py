"""A news API that changes overnight: the site of the "Run it again tomorrow" sample and its tests.

On day 1 it has posts 1 to 12. On day 2 posts 13, 14 and 15 are new and post 7 was edited
(its ``updated_at`` moved on, its title changed); nothing else changed, and the authors list is
byte for byte the same. Posts are listed newest first, by ``updated_at``, five to a page.

Routes (GET only):

==========================  ===================================================================
``/api/posts?page=N``       ``{"posts": [{"id", "title", "author", "updated_at", "image"}, ...],
                            "next": "/api/posts?page=N+1" or null}``
``/api/authors``            ``[{"id": 1, "name": "Ada"}, ...]``: the same on both days
``/media/{id}.png``         a tiny PNG per post (an edited post keeps its picture)
``/media/film.bin``         a 3 MiB file, the same on both days
==========================  ===================================================================

Every answer has an ``ETag`` (a hash of its body) and a ``Last-Modified``, and honours
``If-None-Match`` and ``If-Modified-Since`` with ``304 Not Modified``; files also honour
``Range`` with ``If-Range``, as a static file server does. ``server.log`` holds every request as
``(path with query, status, body bytes sent)``.

    python samples/tomorrow/newsapi.py --day 1 --port 8000
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import sys
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from serve import listen_error
from sitekit import tiny_png

PER_PAGE = 5
FILM_BYTES = 3 * 1024 * 1024
AUTHORS = [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}, {"id": 3, "name": "Edsger"}]
_DAY1 = "2026-12-01T{:02d}:00:00Z"
_DAY2 = "2026-12-02T{:02d}:00:00Z"
_LAST_MODIFIED = {1: "Tue, 01 Dec 2026 23:00:00 GMT", 2: "Wed, 02 Dec 2026 23:00:00 GMT"}


def posts_on(day: int) -> list[dict[str, Any]]:
    """Every post on ``day`` (1 or 2), newest first."""
    posts = [_post(n, f"Post {n}", _DAY1.format(n)) for n in range(1, 13)]
    if day >= 2:
        posts[6] = _post(7, "Post 7 (edited)", _DAY2.format(1))
        posts += [_post(n, f"Post {n}", _DAY2.format(n - 10)) for n in range(13, 16)]
    return sorted(posts, key=lambda post: post["updated_at"], reverse=True)


def _post(number: int, title: str, updated_at: str) -> dict[str, Any]:
    return {
        "id": number,
        "title": title,
        "author": 1 + number % len(AUTHORS),
        "updated_at": updated_at,
        "image": f"/media/{number}.png",
    }


def film() -> bytes:
    """The large file: the same bytes every day (not compressible, so Range is measurable)."""
    blocks = (hashlib.sha256(b"film %d" % i).digest() for i in range(FILM_BYTES // 32))
    return b"".join(blocks)


@dataclass
class Answer:
    """A body with its type and the day it last changed."""

    body: bytes
    content_type: str
    changed: int  # the day its content last changed


class NewsServer(ThreadingHTTPServer):
    """The API on one day (``server.day``, settable while it runs), with a log of requests."""

    daemon_threads = True

    def __init__(self, port: int = 0, day: int = 1) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.day = day
        self.log: list[tuple[str, int, int]] = []
        self._lock = threading.Lock()
        self._film = film()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def note(self, path: str, status: int, sent: int) -> None:
        """Log one request."""
        with self._lock:
            self.log.append((path, status, sent))

    def answer(self, path: str, query: dict[str, str]) -> Answer | None:
        """What ``path`` holds today, or None (404)."""
        if path == "/api/authors":
            return Answer(_json(AUTHORS), "application/json", 1)
        if path == "/api/posts":
            return self._page(query)
        if path == "/media/film.bin":
            return Answer(self._film, "application/octet-stream", 1)
        name = path.removeprefix("/media/").removesuffix(".png")
        if path.startswith("/media/") and name.isdigit():
            number = int(name)
            if number <= 12 or (self.day >= 2 and number <= 15):
                return Answer(tiny_png(f"post {number}"), "image/png", 1 if number <= 12 else 2)
        return None

    def _page(self, query: dict[str, str]) -> Answer | None:
        page = int(query.get("page", "1")) if query.get("page", "1").isdigit() else 0
        posts = posts_on(self.day)
        chunk = posts[(page - 1) * PER_PAGE : page * PER_PAGE]
        if page < 1 or not chunk:
            return None
        more = page * PER_PAGE < len(posts)
        body = _json({"posts": chunk, "next": f"/api/posts?page={page + 1}" if more else None})
        return Answer(body, "application/json", self.day)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def etag_of(body: bytes) -> str:
    """The strong ETag the server sends for ``body``."""
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


class _Handler(BaseHTTPRequestHandler):
    server: NewsServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        split = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(split.query))
        answer = self.server.answer(split.path, query)
        if answer is None:
            self._send(404, {"Content-Type": "application/json"}, b'{"error": "not found"}')
            return
        etag = etag_of(answer.body)
        modified = _LAST_MODIFIED[answer.changed]
        headers = {"ETag": etag, "Last-Modified": modified, "Content-Type": answer.content_type}
        if self._not_modified(etag, answer.changed):
            self._send(304, {"ETag": etag, "Last-Modified": modified}, b"")
            return
        headers["Accept-Ranges"] = "bytes"
        start = self._range_start(etag, modified, len(answer.body))
        if start is None:
            self._send(200, headers, answer.body)
            return
        size = len(answer.body)
        headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        self._send(206, headers, answer.body[start:])

    def _not_modified(self, etag: str, changed: int) -> bool:
        asked = self.headers.get("If-None-Match")
        if asked is not None:
            return etag in (tag.strip() for tag in asked.split(","))
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            when = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return when >= email.utils.parsedate_to_datetime(_LAST_MODIFIED[changed])

    def _range_start(self, etag: str, modified: str, size: int) -> int | None:
        wanted = self.headers.get("Range", "")
        if not wanted.startswith("bytes=") or not wanted.endswith("-"):
            return None
        condition = self.headers.get("If-Range")
        if condition is not None and condition not in (etag, modified):
            return None  # the file changed: the whole of it, from the start
        first = wanted[len("bytes=") : -1]
        return int(first) if first.isdigit() and int(first) < size else None

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.note(self.path, status, len(body))

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the log is ``server.log``."""


def start(day: int = 1, port: int = 0) -> NewsServer:
    """The API serving from a daemon thread; ``server.shutdown()`` stops it."""
    server = NewsServer(port, day)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    """Serve until Ctrl-C; a port that cannot be had is one line and exit status 2."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--day", type=int, choices=(1, 2), default=1)
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args()
    try:
        server = NewsServer(args.port, args.day)
    except OSError as error:
        print(listen_error("newsapi.py", "127.0.0.1", args.port, error), file=sys.stderr)
        return 2
    print(f"serving day {args.day} at {server.base_url}/api/posts (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
