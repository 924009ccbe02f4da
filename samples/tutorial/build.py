"""Regenerate samples/tutorial/site/ and samples/tutorial/expected.json (standard library only).

The API of the README's tutorial, "Your first crawl", shaped as the crawl `yamlcrawl init`
writes expects it, list -> detail -> images:

* ``site/items.json``: ``{"items": [{"id", "name"}, ...]}``, five birds;
* ``site/items/{id}.json``: ``{"id", "title", "images": [{"id", "url"}, ...]}``, where ``url`` is
  root-relative, or empty for an image the guide does not have yet (the starter's jsonpath
  filter leaves it out); one title holds a ``/``, which a saved name keeps as ``／``;
* ``site/images/{file}``: a tiny JPEG or PNG per image, carrying its path.

Run: ``python samples/tutorial/build.py``. The data below is the single source of the site.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sitekit  # noqa: E402 (found through the line above)

# (id, title, images as (image id, file under images/ or "" for none yet))
BIRDS: tuple[tuple[int, str, tuple[tuple[str, str], ...]], ...] = (
    (1, "Robin", (("front", "robin-front.jpg"), ("nest", "robin-nest.jpg"))),
    (2, "Blackbird/Merle", (("front", "blackbird-front.jpg"),)),
    (3, "Wren", (("front", "wren-front.png"), ("song", "wren-song.png"))),
    (4, "Kingfisher", (("front", "kingfisher-front.jpg"), ("egg", ""), ("dive", "kf-dive.jpg"))),
    (5, "Barn owl", (("front", "barn-owl.jpg"),)),
)


def detail_doc(bird: tuple[int, str, tuple[tuple[str, str], ...]]) -> dict[str, Any]:
    """A bird's detail document: its title and images by root-relative URL."""
    bird_id, title, images = bird
    urls = [{"id": kind, "url": f"/images/{name}" if name else ""} for kind, name in images]
    return {"id": bird_id, "title": title, "images": urls}


def listed_json(document: dict[str, Any], key: str) -> bytes:
    """``document`` as JSON with the list at ``key`` written one entry a line, to read at a
    glance (as the tutorial shows it)."""
    entries = ",\n".join(f"    {json.dumps(entry, ensure_ascii=False)}" for entry in document[key])
    head = json.dumps({k: v for k, v in document.items() if k != key}, ensure_ascii=False)
    head = head[1:-1] + ", " if len(document) > 1 else ""
    return f'{{{head}"{key}": [\n{entries}\n]}}\n'.encode()


def build(site: Path) -> sitekit.ExpectedFiles:
    """Write the site and return the files the tutorial's ``crawler.yaml`` must save."""
    sitekit.reset_dir(site, "site")
    expected = sitekit.ExpectedFiles()
    listed = {"items": [{"id": bird[0], "name": bird[1]} for bird in BIRDS]}
    sitekit.write_file(site, "items.json", listed_json(listed, "items"))
    for bird in BIRDS:
        detail = detail_doc(bird)
        sitekit.write_file(site, f"items/{bird[0]}.json", listed_json(detail, "images"))
        for image in detail["images"]:
            if not image["url"]:  # each: "$.images[?(@.url != '')]" leaves it out
                continue
            source = image["url"].lstrip("/")
            sitekit.write_file(site, source, sitekit.image_for(image["url"]))
            # save_as: "{title}/{image.id}{image.url|ext}"
            name = f"{image['id']}{sitekit.url_ext(image['url'])}"
            expected.add(f"http://127.0.0.1:8000{image['url']}", [detail["title"], name], source)
    return expected


def main(argv: Sequence[str] | None = None) -> int:
    """Build the site and expected.json, then print a summary."""
    return sitekit.build_command(HERE, build, argv, __doc__ or "")


if __name__ == "__main__":
    sys.exit(main())
