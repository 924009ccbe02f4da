"""Regenerate samples/shop/site/ and samples/shop/expected.json (standard library only).

A paginated catalogue, list -> detail -> images (page-number pagination):

* ``site/api/products.json@page=N`` (served for ``/api/products.json?page=N``, see serve.py):
  ``{"page": N, "has_more": bool, "products": [{"id", "name", "category", "status"}, ...]}``,
  three products a page; one product is listed on two pages, as a list that shifts while it
  is read does (the crawl asks for its detail once);
* ``site/api/products/{id}.json``: ``{"id", "name", "images": [{"kind", "url"}, ...]}`` where
  ``url`` is root-relative; a discontinued product has ``"status": "discontinued"`` in the list
  and the crawl's ``where`` skips it;
* ``site/img/{id}-{kind}.png``: a tiny PNG per image, carrying its path.

Run: ``python samples/shop/build.py``. The data below is the single source of the site.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sitekit  # noqa: E402 (found through the line above)

# (id, name, category, status, image kinds): a "/", a "?", a repeated name, non-ASCII.
PRODUCTS: tuple[tuple[int, str, str, str, tuple[str, ...]], ...] = (
    (101, "Desk lamp", "lighting", "active", ("front", "side")),
    (102, "AC/DC adapter", "electrical", "active", ("front",)),
    (103, "Old lamp", "lighting", "discontinued", ("front",)),
    (104, "Why? mug", "kitchen", "active", ("front", "back")),
    (105, "Desk lamp", "lighting", "active", ("front",)),  # the same name: " (2)"
    (106, "茶杯", "kitchen", "active", ("front",)),
    (107, "Cable 2 m", "electrical", "active", ("front", "coil")),
)
PER_PAGE = 3
REPEATED = 104  # listed again at the top of the next page


def pages() -> list[list[tuple[int, str, str, str, tuple[str, ...]]]]:
    """The list as the API pages it: three a page, one product shown on two pages."""
    chunks = [list(PRODUCTS[i : i + PER_PAGE]) for i in range(0, len(PRODUCTS), PER_PAGE)]
    repeated = next(p for p in PRODUCTS if p[0] == REPEATED)
    chunks[2].insert(0, repeated)  # the list shifted between page 2 and page 3
    return chunks


def product_doc(product: tuple[int, str, str, str, tuple[str, ...]]) -> dict[str, Any]:
    """A product as the list shows it."""
    product_id, name, category, status, _ = product
    return {"id": product_id, "name": name, "category": category, "status": status}


def detail_doc(product: tuple[int, str, str, str, tuple[str, ...]]) -> dict[str, Any]:
    """A product's detail: its images, by root-relative URL."""
    product_id, name, _, _, kinds = product
    images = [{"kind": kind, "url": f"/img/{product_id}-{kind}.png"} for kind in kinds]
    return {"id": product_id, "name": name, "images": images}


def build(site: Path) -> sitekit.ExpectedFiles:
    """Write the site and return the files the crawl in ``crawler.yaml`` must save."""
    sitekit.reset_dir(site, "site")
    expected = sitekit.ExpectedFiles()
    listed = pages()
    asked: set[int] = set()
    for number, chunk in enumerate(listed, start=1):
        document = {
            "page": number,
            "has_more": number < len(listed),
            "products": [product_doc(product) for product in chunk],
        }
        data = sitekit.json_bytes(document, ascii_only=False, indent=2)
        sitekit.write_file(site, f"api/products.json@page={number}", data)
        for product in chunk:
            detail = detail_doc(product)
            data = sitekit.json_bytes(detail, ascii_only=False, indent=2)
            sitekit.write_file(site, f"api/products/{product[0]}.json", data)
            if product[3] != "active" or product[0] in asked:  # `where`, and asked once
                continue
            asked.add(product[0])
            for image in detail["images"]:
                source = image["url"].lstrip("/")
                sitekit.write_file(site, source, sitekit.image_for(image["url"]))
                # save_as: "{product.category}/{name} - {image.kind}{image.url|ext}"
                name = f"{detail['name']} - {image['kind']}{sitekit.url_ext(image['url'])}"
                url = f"http://127.0.0.1:8000{image['url']}"
                expected.add(url, [product[2], name], source)
    return expected


def main(argv: Sequence[str] | None = None) -> int:
    """Build the site and expected.json, then print a summary."""
    return sitekit.build_command(HERE, build, argv, __doc__ or "")


if __name__ == "__main__":
    sys.exit(main())
