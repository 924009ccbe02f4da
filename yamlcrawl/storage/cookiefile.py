"""A Netscape cookies.txt file (`http.cookies_file`), read into the plain rows that carry
cookies through a crawl (types.Cookies; http/cookies.py sends them)."""

from __future__ import annotations

import http.cookiejar

from yamlcrawl.types import Cookies

__all__ = ["read_cookies_file", "rows_of"]


def rows_of(jar: http.cookiejar.CookieJar) -> Cookies:
    """The jar's cookies as rows, expired ones left out, in one order whatever the jar's."""
    jar.clear_expired_cookies()
    rows = (
        (c.domain, c.domain_specified, c.path, c.name, c.value or "", c.secure, c.expires)
        for c in jar
    )
    return tuple(sorted(rows, key=lambda row: row[:4]))


def read_cookies_file(path: str) -> Cookies:
    """The cookies of a Netscape cookies.txt file (session cookies included), as curl, wget,
    yt-dlp and gallery-dl read it.

    Raises:
        OSError: The file cannot be read.
        http.cookiejar.LoadError: It is not a cookies.txt file.
    """
    jar = http.cookiejar.MozillaCookieJar(path)
    jar.load(ignore_discard=True)
    return rows_of(jar)
