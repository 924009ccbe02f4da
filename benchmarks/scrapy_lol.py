"""The LoL skin crawl written the idiomatic Scrapy way, for the benchmarks.

A spider reads the hero list, requests each hero's page (with the Referer the real site wants),
and yields one item per skin image; Scrapy's ``FilesPipeline``, with ``file_path()`` overridden,
saves each as ``{hero name}/{skin name}电脑版.jpg`` (mainImg) or ``…手机版.jpg`` (loadingImg)
under ``FILES_STORE``. Skins with an empty image URL (chromas) are skipped. Scrapy's default
concurrency is kept on purpose: the benchmark compares against Scrapy as it comes.

Run it as a fresh process (what the benchmark times)::

    scrapy runspider benchmarks/scrapy_lol.py -a img=http://127.0.0.1:18080/images/lol/act/img \\
        -s FILES_STORE=out

or ``python benchmarks/scrapy_lol.py IMG OUTPUT``, which runs that same command. The output
folder should start empty (the pipeline re-downloads files already there, but leaves stray
files alone). Download errors are logged as warnings; they do not change the exit status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.http import Request, Response, TextResponse
from scrapy.pipelines.files import FilesPipeline

REFERER = "https://lol.qq.com/data/info-defail.shtml?id={hero_id}"
"""The Referer the real API expects on a hero page request."""

IMAGE_FIELDS = (("mainImg", "电脑版"), ("loadingImg", "手机版"))
"""The skin fields holding image URLs, and the suffix of the saved file's name for each."""


def page_json(response: Response) -> Any:
    """Decode a JSON page.

    Args:
        response: The page's response.

    Returns:
        The decoded JSON.

    Raises:
        TypeError: If the response is not text (Scrapy gives JSON as a TextResponse).
    """
    if not isinstance(response, TextResponse):
        raise TypeError(f"{response.url} is not a text response")
    return response.json()


class SkinImage(scrapy.Item):
    """One image to save: its URL (``file_urls``, as FilesPipeline wants) and relative path."""

    file_urls = scrapy.Field()
    files = scrapy.Field()
    path = scrapy.Field()


class SkinFilesPipeline(FilesPipeline):
    """FilesPipeline that saves each image under the path its item names, not a SHA1 name."""

    def file_path(
        self,
        request: Request,
        response: Response | None = None,
        info: Any = None,
        *,
        item: Any = None,
    ) -> str:
        """Name the file of a request.

        Args:
            request: The image request.
            response: The image response (unused).
            info: The pipeline's spider info (unused).
            item: The SkinImage the request comes from.

        Returns:
            The item's ``path``: ``{hero name}/{skin name}电脑版.jpg`` or ``…手机版.jpg``.
        """
        return str(item["path"])


class LolSkinSpider(scrapy.Spider):
    """Crawl the hero list, every hero's page, and every skin image of the LoL API.

    Args:
        img: The API's image root, e.g. ``http://127.0.0.1:18080/images/lol/act/img``.
        *args: Passed to ``scrapy.Spider``.
        **kwargs: Passed to ``scrapy.Spider``.
    """

    name = "lol_skins"
    custom_settings: dict[Any, Any] | None = {  # noqa: RUF012 (as Scrapy declares it)
        "ITEM_PIPELINES": {SkinFilesPipeline: 1},
        # a negative age makes every file "expired": a run always downloads (like the others)
        "FILES_EXPIRES": -1,
        "ROBOTSTXT_OBEY": False,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "DOWNLOAD_TIMEOUT": 30,
        # nothing but 127.0.0.1: no proxy from the environment, no extension that phones out
        "HTTPPROXY_ENABLED": False,
    }

    def __init__(self, img: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.img = img.rstrip("/")
        self.start_urls = [f"{self.img}/js/heroList/hero_list.js"]

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Request]:
        """Request every hero's page from the hero list.

        Args:
            response: The hero list, ``{"hero": [{"heroId": "1", ...}, ...]}``.
            **kwargs: Unused callback arguments.

        Yields:
            One request per hero, with the Referer the real site wants.
        """
        for hero in page_json(response)["hero"]:
            hero_id = hero["heroId"]
            yield Request(
                f"{self.img}/js/hero/{hero_id}.js",
                headers={"Referer": REFERER.format(hero_id=hero_id)},
                callback=self.parse_hero,
            )

    def parse_hero(self, response: Response) -> Iterator[SkinImage]:
        """Turn a hero's page into one item per skin image.

        Args:
            response: The hero page, ``{"hero": {"name": ...}, "skins": [...]}``.

        Yields:
            A SkinImage for every non-empty ``mainImg`` and ``loadingImg``.
        """
        page = page_json(response)
        hero_name = page["hero"]["name"]
        for skin in page["skins"]:
            for field, suffix in IMAGE_FIELDS:
                url = skin.get(field)
                if url:
                    path = f"{hero_name}/{skin['name']}{suffix}.jpg"
                    yield SkinImage(file_urls=[url], path=path)


def run_scrapy_command(img: str, output: Path) -> list[str]:
    """Build the command line that runs this crawl in a fresh process.

    Args:
        img: The API's image root, e.g. ``http://127.0.0.1:18080/images/lol/act/img``.
        output: The folder to save the images in (FILES_STORE); should start empty.

    Returns:
        ``python -m scrapy runspider <this file> -a img=IMG -s FILES_STORE=OUTPUT -s
        LOG_LEVEL=WARNING``.
    """
    return [
        sys.executable,
        "-m",
        "scrapy",
        "runspider",
        str(Path(__file__).resolve()),
        "-a",
        f"img={img}",
        "-s",
        f"FILES_STORE={Path(output).resolve()}",
        # also on the command line: the spider's settings come too late for the start-up log
        "-s",
        "LOG_LEVEL=WARNING",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the crawl as ``scrapy runspider`` does, in a child process.

    Args:
        argv: The command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        Scrapy's exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("img", help="image root, e.g. http://127.0.0.1:18080/images/lol/act/img")
    parser.add_argument("output", type=Path, help="the folder to save the images in")
    args = parser.parse_args(argv)
    return subprocess.run(run_scrapy_command(args.img, args.output), check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
