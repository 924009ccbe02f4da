"""Regenerate samples/feed/site/ and samples/feed/expected.json (standard library only).

A feed paged by cursor:

* ``site/api/posts.json`` (the first page) and ``site/api/posts.json@cursor=C`` (served for
  ``/api/posts.json?cursor=C``, see serve.py): ``{"posts": [{"id", "title", "date", "image"},
  ...], "next_cursor": "C" | null}``; the cursors are opaque strings, as real APIs make them;
* ``site/media/{id}.png``: a tiny PNG per post with an image (one post has none: ``null``).

The crawl saves each image as ``{date|path}/{title}.png``: the date's ``/`` makes folders.
Run: ``python samples/feed/build.py``. The data below is the single source of the site.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sitekit  # noqa: E402 (found through the line above)

# Pages of (id, title, date, has image); the cursor that leads to each page after the first.
PAGES: tuple[tuple[tuple[int, str, str, bool], ...], ...] = (
    ((1, "Hello, world", "2026/11/01", True), (2, "On/Off", "2026/11/01", True)),
    ((3, "No picture today", "2026/11/02", False), (4, "¿Qué tal?", "2026/11/03", True)),
    ((5, "Hello, world", "2026/11/01", True),),  # the same folder and title as post 1: " (2)"
)
CURSORS = ("", "eyJwIjoyfQ", "eyJwIjozfQ")  # opaque, base64-looking


def post_doc(post: tuple[int, str, str, bool]) -> dict[str, Any]:
    """A post as the feed shows it; ``image`` is root-relative, or null."""
    post_id, title, date, has_image = post
    image = f"/media/{post_id}.png" if has_image else None
    return {"id": post_id, "title": title, "date": date, "image": image}


def build(site: Path) -> sitekit.ExpectedFiles:
    """Write the site and return the files the crawl in ``crawler.yaml`` must save."""
    sitekit.reset_dir(site, "site")
    expected = sitekit.ExpectedFiles()
    for number, posts in enumerate(PAGES):
        following = CURSORS[number + 1] if number + 1 < len(PAGES) else None
        document = {"posts": [post_doc(post) for post in posts], "next_cursor": following}
        name = "api/posts.json" + (f"@cursor={CURSORS[number]}" if number else "")
        sitekit.write_file(site, name, sitekit.json_bytes(document, ascii_only=False, indent=2))
        for post in document["posts"]:
            if post["image"] is None:
                expected.add("", [], "")  # `{post.image}` is null: skipped, "no URL"
                continue
            source = post["image"].lstrip("/")
            sitekit.write_file(site, source, sitekit.image_for(post["image"]))
            # save_as: "{post.date|path}/{post.title}{post.image|ext}"
            segments = [*post["date"].split("/"), post["title"] + sitekit.url_ext(post["image"])]
            expected.add(f"http://127.0.0.1:8000{post['image']}", segments, source)
    return expected


def main(argv: Sequence[str] | None = None) -> int:
    """Build the site and expected.json, then print a summary."""
    return sitekit.build_command(HERE, build, argv, __doc__ or "")


if __name__ == "__main__":
    sys.exit(main())
