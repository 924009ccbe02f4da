"""Generate a LoL-shaped benchmark site: ~170 heroes, 13 skins each (4 of them chromas), two
images per normal skin of ~40 KB and ~120 KB: about 3,000 files and 250 MB.

    python benchmarks/lolsite.py ROOT --base http://127.0.0.1:18080

The JSON names its images by absolute URL under ``--base`` (the server the benchmark starts).
Beside the site it writes ``ROOT/expected.json`` (each file the crawl must save: path, bytes,
SHA-256) and ``ROOT/urls.txt`` (image URL and path, for download-only tools), and serves the
same list as JSON (``js/images.json``) for the images-only crawl, ``benchmarks/images.yaml``.
Deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

API = "images/lol/act/img"
SKINS_PER_HERO = 13
CHROMA_EVERY = 3  # skins 2, 5, 8, 11 of each hero are chromas: no images


@dataclass(frozen=True)
class Image:
    """One image the site serves and the crawl must save."""

    url: str
    site_path: str
    save_as: str
    size: int


def hero_document(
    rng: random.Random, hero: int, base: str
) -> tuple[dict[str, object], list[Image]]:
    """One hero's JSON and the images it names."""
    name = f"英雄{hero:03d}"
    skins: list[dict[str, str]] = []
    images: list[Image] = []
    for index in range(SKINS_PER_HERO):
        skin_name = f"{name} 皮肤{index:02d}"
        chroma = index % CHROMA_EVERY == CHROMA_EVERY - 1
        skin = {
            "skinId": f"{hero}{index:03d}",
            "name": skin_name,
            "chromas": "1" if chroma else "0",
        }
        skin["mainImg"] = skin["loadingImg"] = ""
        if not chroma:
            tag = uuid.UUID(int=rng.getrandbits(128), version=4)
            big = Image(
                f"{base}/{API}/skin/big_{tag}.jpg",
                f"{API}/skin/big_{tag}.jpg",
                f"{name}/{skin_name}电脑版.jpg",
                rng.randint(32_000, 48_000),
            )
            loading = Image(
                f"{base}/{API}/skinloading/{tag}.jpg",
                f"{API}/skinloading/{tag}.jpg",
                f"{name}/{skin_name}手机版.jpg",
                rng.randint(100_000, 140_000),
            )
            skin["mainImg"], skin["loadingImg"] = big.url, loading.url
            images += [big, loading]
        skins.append(skin)
    return {"hero": {"heroId": str(hero), "name": name}, "skins": skins}, images


def build(root: Path, base: str, heroes: int, seed: int) -> list[Image]:
    """Write the site under ``root``; return every image in crawl order."""
    rng = random.Random(seed)
    listing = {"hero": [{"heroId": str(h), "name": f"英雄{h:03d}"} for h in range(1, heroes + 1)]}
    write(root / API / "js/heroList/hero_list.js", json.dumps(listing).encode())
    images: list[Image] = []
    for hero in range(1, heroes + 1):
        document, found = hero_document(rng, hero, base)
        write(root / API / f"js/hero/{hero}.js", json.dumps(document).encode())
        images += found
    for image in images:
        write(root / image.site_path, rng.randbytes(image.size))
    return images


def image_entry(image: Image) -> dict[str, str]:
    """An image as the images-only crawl (benchmarks/images.yaml) reads it from the site."""
    folder, file = image.save_as.split("/")
    return {"url": image.url, "folder": folder, "file": file}


def write(path: Path, data: bytes) -> None:
    """Write ``data`` at ``path``, making folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def relocate(site: Path, base: str, target: Path, new_base: str) -> None:
    """Make ``target`` the site built under ``site`` for ``base``, but naming its images under
    ``new_base`` (another server address): the documents and URL lists rewritten, every image
    a hard link to the original's (the same bytes, so ``expected.json`` holds as it is)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted(site.rglob("*")):
        copy = target / path.relative_to(site)
        if path.is_dir():
            copy.mkdir(parents=True, exist_ok=True)
        elif path.suffix in {".js", ".json", ".txt"}:
            copy.write_text(path.read_text("utf-8").replace(base, new_base), "utf-8")
        elif not copy.exists():
            os.link(path, copy)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the site, expected.json and urls.txt; print their size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--base", default="http://127.0.0.1:18080")
    parser.add_argument("--heroes", type=int, default=170)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    images = build(args.root, args.base.rstrip("/"), args.heroes, args.seed)
    expected = [
        {
            "path": image.save_as,
            "bytes": image.size,
            "sha256": hashlib.sha256((args.root / image.site_path).read_bytes()).hexdigest(),
        }
        for image in images
    ]
    (args.root / "expected.json").write_text(json.dumps(expected, ensure_ascii=False), "utf-8")
    lines = [f"{image.url}\t{image.save_as}" for image in images]
    (args.root / "urls.txt").write_text("\n".join(lines) + "\n", "utf-8")
    listing = [image_entry(image) for image in images]
    write(args.root / API / "js/images.json", json.dumps(listing, ensure_ascii=False).encode())
    total = sum(image.size for image in images)
    print(f"{args.root}: {args.heroes} heroes, {len(images)} images, {total / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
