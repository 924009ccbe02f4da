"""Regenerate samples/lol/site/ and samples/lol/expected.json (standard library only).

Inputs, all in this folder: the real League of Legends documents in ``fixtures/`` (see its
SOURCES.md; ``--fixtures`` points elsewhere) and the two synthetic hero documents in
``synthetic/``.
Output, byte for byte the same on every run:

* ``site/images/lol/act/img/js/heroList/hero_list.js``: heroes 1, 17, 21, 103 and 555 in the
  2026 list shape, Chinese as ``\\uXXXX`` escapes as the live endpoint sends it;
* ``site/images/lol/act/img/js/hero/{heroId}.js``: heroes 1, 17 and 103 copied unchanged from
  the fixtures, 21 with ``\\uXXXX`` escapes and 555 as raw UTF-8;
* every ``mainImg``, ``loadingImg`` and ``chromaImg`` at the path its URL names, as a tiny
  valid JPEG or PNG carrying that path;
* ``expected.json``: the files the crawl in ``crawler.yaml`` must save, computed from the
  rules of the README's language reference by ``sitekit.ExpectedFiles``.

Run: ``python samples/lol/build.py [--fixtures DIR]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import sitekit  # noqa: E402 (found through the line above)

ORIGIN = "https://game.gtimg.cn"
API_PREFIX = "/images/lol/act/img"
FIXTURE_HEROES = ("1", "17", "103")
# Synthetic heroes: file name -> written with \uXXXX escapes (True) or raw UTF-8 (False).
SYNTHETIC_HEROES = {"21": True, "555": False}
LIST_DEFAULTS = {"isARAMweekfree": "0", "ispermanentweekfree": "0"}
IMAGE_KEYS = ("mainImg", "loadingImg", "chromaImg")
# What the crawl saves per skin: (the skin's URL key, the name's ending).
DOWNLOADS = (("mainImg", "电脑版.jpg"), ("loadingImg", "手机版.jpg"))


def site_path(url: str) -> str:
    """The file under ``site/`` that mirrors a ``https://game.gtimg.cn`` URL."""
    if not url.startswith(ORIGIN + "/"):
        raise ValueError(f"not on {ORIGIN}: {url!r}")
    return sitekit.url_path(url).lstrip("/")


def list_entry(template: dict[str, Any], hero: dict[str, Any]) -> dict[str, Any]:
    """A hero_list entry with the keys of ``template``, filled from a hero document's ``hero``.

    Keys the hero document lacks take ``LIST_DEFAULTS``; ``instance_id`` is a UUID derived from
    the hero id (the real ones are not in the fixtures), so the build stays deterministic.
    """
    entry: dict[str, Any] = {}
    for key in template:
        if key == "instance_id":
            entry[key] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ORIGIN}/hero/{hero['heroId']}"))
        elif key in hero:
            entry[key] = hero[key]
        else:
            entry[key] = LIST_DEFAULTS[key]
    return entry


def load_documents(fixtures: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Read the hero list excerpt and the five hero documents.

    Returns:
        The parsed 2026 list excerpt, and heroId -> the bytes to serve for that hero.
    """
    excerpt = json.loads((fixtures / "hero_list.2026.excerpt.json").read_text("utf-8"))
    served: dict[str, bytes] = {}
    for hero_id in FIXTURE_HEROES:
        (match,) = fixtures.glob(f"hero_{hero_id}.*.json")
        served[hero_id] = match.read_bytes()
    for hero_id, ascii_only in SYNTHETIC_HEROES.items():
        document = json.loads((HERE / "synthetic" / f"hero_{hero_id}.json").read_text("utf-8"))
        served[hero_id] = sitekit.json_bytes(document, ascii_only=ascii_only)
    return excerpt, served


def hero_list(excerpt: dict[str, Any], documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The 2026-shaped list of exactly the heroes that have documents, ordered by id."""
    first = excerpt["hero"][0]
    if first["heroId"] != "1":
        raise ValueError("the excerpt's first entry is not hero 1")
    entries = [first] + [
        list_entry(first, documents[hero_id]["hero"]) for hero_id in documents if hero_id != "1"
    ]
    entries.sort(key=lambda entry: int(entry["heroId"]))
    rest = {key: value for key, value in excerpt.items() if key != "hero"}
    return {"hero": entries, **rest}


def build_site(site: Path, fixtures: Path) -> sitekit.ExpectedFiles:
    """Write the whole site and return the expected files of a crawl over it."""
    excerpt, served = load_documents(fixtures)
    documents = {hero_id: json.loads(data) for hero_id, data in served.items()}
    listing = hero_list(excerpt, documents)
    sitekit.reset_dir(site, "site")
    js = f"{API_PREFIX.lstrip('/')}/js"
    sitekit.write_file(
        site, f"{js}/heroList/hero_list.js", sitekit.json_bytes(listing, ascii_only=True)
    )
    expected = sitekit.ExpectedFiles()
    for entry in listing["hero"]:
        hero_id = entry["heroId"]
        sitekit.write_file(site, f"{js}/hero/{hero_id}.js", served[hero_id])
        document = documents[hero_id]
        for skin in document["skins"]:
            for key in IMAGE_KEYS:
                if skin[key]:
                    sitekit.write_file(
                        site, site_path(skin[key]), sitekit.image_for(sitekit.url_path(skin[key]))
                    )
        add_expected(expected, document)
    return expected


def add_expected(expected: sitekit.ExpectedFiles, document: dict[str, Any]) -> None:
    """Feed one hero's downloads in crawl order: skins in order, 电脑版 then 手机版."""
    hero_name = document["hero"]["name"]  # the crawl's `hero_name: "$.hero.name"`
    for skin in document["skins"]:
        for key, ending in DOWNLOADS:
            url = skin[key]
            source = site_path(url) if url else ""
            expected.add(url, [hero_name, f"{skin['name']}{ending}"], source)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the site and expected.json, then print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--fixtures",
        type=Path,
        default=HERE / "fixtures",
        help="folder of the real LoL documents (default: samples/lol/fixtures)",
    )
    args = parser.parse_args(argv)
    if not (args.fixtures / "SOURCES.md").is_file():
        parser.error(f"no LoL fixtures in {args.fixtures} (see --fixtures)")
    site = HERE / "site"
    expected = build_site(site, args.fixtures)
    expected.write(HERE / "expected.json")
    sitekit.report(site, expected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
