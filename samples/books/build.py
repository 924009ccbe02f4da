"""Regenerate samples/books/site/ and samples/books/expected.json (standard library only).

A nested REST shape with numbers and root-relative URLs:

* ``site/api/authors.json``: ``{"data": {"authors": [{"id", "name", "country"}, ...]}}``;
* ``site/api/authors/{id}/books.json``: ``{"author": {...}, "books": [{"id", "title", "year",
  "cover", "has_cover"}, ...]}``, where ``cover`` is ``/covers/{id}.png`` (once with a query)
  or ``null`` when ``has_cover`` is false;
* ``site/covers/{id}.png``: a tiny PNG per cover, carrying its path.

Run: ``python samples/books/build.py``. The data below is the single source of the site.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sitekit  # noqa: E402 (found through the line above)

# (id, name, country): a "/", a ":", a trailing ".", non-ASCII (one of them written in NFD).
AUTHORS: tuple[tuple[int, str, str], ...] = (
    (7, "Lennon/McCartney", "United Kingdom"),
    (12, "Anonymous: The Collective", "Nowhere"),
    (19, "村上春樹", "Japan"),
    (23, unicodedata.normalize("NFD", "Gabriel García Márquez"), "Colombia"),
    (31, "Martin Luther King Jr.", "United States"),
)
# author id -> (book id, title, year, has_cover, cover query)
BOOKS: dict[int, tuple[tuple[int, str, int, bool, str], ...]] = {
    7: (
        (70, "Yesterday", 1965, True, ""),
        (71, "YESTERDAY", 1965, True, "?v=2"),  # the same name but for case: " (2)"
        (72, "Help!", 1965, False, ""),
    ),
    12: (
        (120, "Who Goes There?", 1938, True, ""),
        (121, "Either/Or", 1843, True, ""),
        (122, "<Untitled> *draft*", 2001, False, ""),
    ),
    19: (
        (190, "ノルウェイの森", 1987, True, ""),
        (191, "1Q84", 2009, True, ""),
        (192, "海辺のカフカ", 2002, False, ""),
        (193, "騎士団長殺し", 2017, True, ""),
    ),
    23: (
        (230, "Cien años de soledad", 1967, True, ""),
        (231, 'Relato de un "náufrago"', 1970, True, ""),
    ),
    31: (
        (310, "Strength to Love", 1963, True, ""),
        (311, "Why We Can't Wait", 1964, True, ""),
        (312, "Where Do We Go from Here: Chaos or Community?", 1967, True, ""),
    ),
}


def author_doc(author_id: int, name: str, country: str) -> dict[str, Any]:
    """One author object, as both documents show it."""
    return {"id": author_id, "name": name, "country": country}


def book_doc(book: tuple[int, str, int, bool, str]) -> dict[str, Any]:
    """One book object: ``cover`` is a root-relative URL, or null without a cover."""
    book_id, title, year, has_cover, query = book
    cover = f"/covers/{book_id}.png{query}" if has_cover else None
    return {"id": book_id, "title": title, "year": year, "cover": cover, "has_cover": has_cover}


def build(site: Path) -> sitekit.ExpectedFiles:
    """Write the site and return the files the crawl in ``crawler.yaml`` must save."""
    sitekit.reset_dir(site, "site")
    authors = [author_doc(*author) for author in AUTHORS]
    listing = {"data": {"authors": authors}}
    sitekit.write_file(
        site, "api/authors.json", sitekit.json_bytes(listing, ascii_only=False, indent=2)
    )
    expected = sitekit.ExpectedFiles()
    for author in authors:
        books = [book_doc(book) for book in BOOKS[author["id"]]]
        document = {"author": author, "books": books}
        data = sitekit.json_bytes(document, ascii_only=False, indent=2)
        sitekit.write_file(site, f"api/authors/{author['id']}/books.json", data)
        for book in books:
            if not book["has_cover"]:  # `each: "$.books[?(@.has_cover == true)]"`
                continue
            source = sitekit.url_path(book["cover"]).lstrip("/")
            sitekit.write_file(site, source, sitekit.image_for("/" + source))
            # save_as: "{author.name}/{book.year} - {book.title}{book.cover|ext}"
            name = f"{book['year']} - {book['title']}{sitekit.url_ext(book['cover'])}"
            expected.add(f"http://127.0.0.1:8000{book['cover']}", [author["name"], name], source)
    return expected


def main(argv: Sequence[str] | None = None) -> int:
    """Build the site and expected.json, then print a summary."""
    return sitekit.build_command(HERE, build, argv, __doc__ or "")


if __name__ == "__main__":
    sys.exit(main())
