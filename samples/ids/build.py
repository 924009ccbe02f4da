"""Regenerate samples/ids/site/ and samples/ids/expected.json (standard library only).

An id-list endpoint whose ids feed a detail endpoint, files with no name worth keeping:

* ``site/api/ids.json``: ``{"ids": [5, 8, 13, 5, 21]}`` (5 twice: its detail is asked for
  once);
* ``site/api/items/{id}.json``: ``{"id", "sku", "file"}``, ``file`` a download endpoint's URL
  with no name and no extension (``/files/download?id=A-005``);
* ``site/files/download@id={sku}``: a tiny image per item, PNG or JPEG, served with the type its
  bytes show.

The crawl names each file by a hash of its URL and the extension its Content-Type names
(`{file|hash}{ext}`): stable across runs, unique per URL. Run: ``python samples/ids/build.py``.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sitekit  # noqa: E402 (found through the line above)

IDS = (5, 8, 13, 5, 21)
SKUS = {5: "A-005", 8: "B-008", 13: "C-013", 21: "D-021"}


def build(site: Path) -> sitekit.ExpectedFiles:
    """Write the site and return the files the crawl in ``crawler.yaml`` must save."""
    sitekit.reset_dir(site, "site")
    sitekit.write_file(
        site, "api/ids.json", sitekit.json_bytes({"ids": list(IDS)}, ascii_only=True)
    )
    expected = sitekit.ExpectedFiles()
    asked: set[int] = set()
    for item_id in IDS:
        sku = SKUS[item_id]
        document = {"id": item_id, "sku": sku, "file": f"/files/download?id={sku}"}
        sitekit.write_file(
            site, f"api/items/{item_id}.json", sitekit.json_bytes(document, ascii_only=True)
        )
        if item_id in asked:  # the same request again: made once
            continue
        asked.add(item_id)
        source = f"files/download@id={sku}"
        ext = ".jpg" if item_id % 2 else ".png"  # what the bytes are, so what {ext} becomes
        sitekit.write_file(site, source, sitekit.image_for(f"/{source}{ext}"))
        # save_as: "{file|hash}{ext}": 16 hex digits of the URL's SHA-256, the type's extension
        digest = hashlib.sha256(document["file"].encode("utf-8")).hexdigest()[:16]
        name = digest + ext
        expected.add(f"http://127.0.0.1:8000{document['file']}", [name], source)
    return expected


def main(argv: Sequence[str] | None = None) -> int:
    """Build the site and expected.json, then print a summary."""
    return sitekit.build_command(HERE, build, argv, __doc__ or "")


if __name__ == "__main__":
    sys.exit(main())
