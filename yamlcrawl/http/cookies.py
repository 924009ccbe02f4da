"""Cookies as crawl state: plain rows that travel with the units, and the jars that use them.

A cookie a server sets on a page goes with every request below that page in the crawl: its
child pages, its next pages, its files. The rows travel inside the units (to any worker
process or Dask worker), so which cookies a request sends depends on the crawl alone, never on
which worker ran what before: the same in every mode. Which of them a request sends is the
jar's business (domain, path, secure, expiry), as in a browser; `http.cookies_file` gives the
rows the crawl starts with (a Netscape cookies.txt, as curl, wget, yt-dlp and gallery-dl read).
"""

from __future__ import annotations

import http.cookiejar
import urllib.request

import requests.cookies

from yamlcrawl.storage.cookiefile import rows_of
from yamlcrawl.types import Cookie, Cookies

__all__ = ["header_for", "header_from", "jar_of", "rows_of"]


def jar_of(rows: Cookies) -> requests.cookies.RequestsCookieJar:
    """A jar holding ``rows``."""
    jar = requests.cookies.RequestsCookieJar()
    for row in rows:
        jar.set_cookie(_cookie(row))
    return jar


def header_for(rows: Cookies, url: str) -> str | None:
    """The Cookie header a request to ``url`` sends with ``rows``, or None if none applies."""
    return header_from(jar_of(rows), url) if rows else None


def header_from(jar: http.cookiejar.CookieJar, url: str) -> str | None:
    """The Cookie header a request to ``url`` sends with the jar's cookies, or None."""
    request = urllib.request.Request(url)
    jar.add_cookie_header(request)
    return request.get_header("Cookie")


def _cookie(row: Cookie) -> http.cookiejar.Cookie:
    domain, domain_specified, path, name, value, secure, expires = row
    return http.cookiejar.Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=domain_specified,
        domain_initial_dot=domain.startswith("."),
        path=path,
        path_specified=True,
        secure=secure,
        expires=expires,
        discard=expires is None,
        comment=None,
        comment_url=None,
        rest={},
    )
