"""Regenerate samples/gallery/site/ and samples/gallery/expected.json (standard library only).

A JSONP API plus a plain JSON one, every file URL absolute on a fake CDN origin
(``https://cdn.example.test``, rewritten by ``serve.py --rewrite``):

* ``site/api/albums.jsonp``: ``jsonpCallback({"albums": [{"slug", "title", "photos_url"}]});``
  with non-ASCII as ``\\uXXXX`` escapes;
* ``site/api/albums/{slug}.jsonp``: ``jsonpCallback({"album": {...}, "photos": [{"id", "file",
  "caption"}]});`` as raw UTF-8 (the server sends ``application/javascript`` with no charset);
* ``site/api/avatars.json``: ``{"users": [{"login", "avatar_url"}]}``;
* ``site/photos/{slug}/*.jpg`` and ``site/avatars/*``: tiny images carrying their paths.

Run: ``python samples/gallery/build.py``. The data below is the single source of the site.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sitekit  # noqa: E402 (found through the line above)

CDN = "https://cdn.example.test"
CALLBACK = "jsonpCallback"
# slug -> (title, photos as (id, file path on the CDN or "" for none, caption))
ALBUMS: dict[str, tuple[str, tuple[tuple[str, str, str], ...]]] = {
    "harbour": (
        "Harbour at Dawn",
        (
            ("p1", "/photos/harbour/p1.jpg", "Fishing boats"),
            ("p2", "/photos/harbour/p2.jpg", "Lighthouse"),
            ("P2", "/photos/harbour/p2-wide.jpg", "LIGHTHOUSE"),  # differs only in case: " (2)"
            ("p3", "", "Lost in transit"),  # no file: skipped
        ),
    ),
    "tokyo": (
        "Tokyo: Night Walks",
        (
            ("t1", "/photos/tokyo/t1.jpg?w=1600", "Shibuya crossing"),
            ("t2", "/photos/tokyo/t2.jpg", "Ramen? Yes!"),
            ("t3", "/photos/tokyo/t3.jpg", "Neon *signs*"),
        ),
    ),
    "kyoto": (
        "京都の秋",
        (
            ("k1", "/photos/kyoto/k1.jpg", "紅葉"),
            ("k2", "/photos/kyoto/k2.jpg", "清水寺 <夜>"),
        ),
    ),
}
# (login, avatar path on the CDN or "" for none): a reserved name, an empty URL, a repeat.
USERS: tuple[tuple[str, str], ...] = (
    ("alice", "/avatars/alice.png?s=64"),
    ("con", "/avatars/con.png"),
    ("bob", "/avatars/bob.jpg"),
    ("eve", ""),
    ("alice", "/avatars/alice.png?s=64"),  # the same URL to the same path: saved once
)


def jsonp(value: Any, *, ascii_only: bool) -> bytes:
    """``jsonpCallback({...});`` and a newline, as a JSONP endpoint sends it."""
    body = sitekit.json_bytes(value, ascii_only=ascii_only)
    return CALLBACK.encode("ascii") + b"(" + body + b");\n"


def cdn(path: str) -> str:
    """An absolute URL on the fake CDN, or "" for no file."""
    return CDN + path if path else ""


def add_image(site: Path, url: str) -> str:
    """Write the image a CDN URL names under ``site`` and return its path there."""
    source = sitekit.url_path(url).lstrip("/")
    sitekit.write_file(site, source, sitekit.image_for("/" + source))
    return source


def build_albums(site: Path, expected: sitekit.ExpectedFiles) -> None:
    """The first start stage: albums.jsonp -> albums/{slug}.jsonp -> photos."""
    index = [
        {"slug": slug, "title": title, "photos_url": cdn(f"/api/albums/{slug}.jsonp")}
        for slug, (title, _) in ALBUMS.items()
    ]
    sitekit.write_file(site, "api/albums.jsonp", jsonp({"albums": index}, ascii_only=True))
    for slug, (title, photos) in ALBUMS.items():
        items = [{"id": pid, "file": cdn(path), "caption": cap} for pid, path, cap in photos]
        document = {"album": {"slug": slug, "title": title}, "photos": items}
        sitekit.write_file(site, f"api/albums/{slug}.jsonp", jsonp(document, ascii_only=False))
        for photo in items:
            # save_as: "{album_title}/{photo.id} {photo.caption}{photo.file|ext}"
            name = f"{photo['id']} {photo['caption']}{sitekit.url_ext(photo['file'])}"
            source = add_image(site, photo["file"]) if photo["file"] else ""
            expected.add(photo["file"], [title, name], source)


def build_avatars(site: Path, expected: sitekit.ExpectedFiles) -> None:
    """The second start stage: avatars.json -> one avatar per user."""
    users = [{"login": login, "avatar_url": cdn(path)} for login, path in USERS]
    data = sitekit.json_bytes({"users": users}, ascii_only=False, indent=2)
    sitekit.write_file(site, "api/avatars.json", data)
    for user in users:
        url = user["avatar_url"]
        # save_as: "avatars/{user.login}{user.avatar_url|ext}"
        source = add_image(site, url) if url else ""
        expected.add(url, ["avatars", f"{user['login']}{sitekit.url_ext(url)}"], source)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the site and expected.json, then print a summary."""
    argparse.ArgumentParser(description=__doc__.split("\n", 1)[0]).parse_args(argv)
    site = HERE / "site"
    sitekit.reset_dir(site, "site")
    expected = sitekit.ExpectedFiles()
    build_albums(site, expected)  # crawl order: the start stages in the order crawler.yaml
    build_avatars(site, expected)  # lists them, each depth first
    expected.write(HERE / "expected.json")
    sitekit.report(site, expected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
