"""The manifest as a script reads it: every file row says when it finished (UTC, ISO 8601), the
HTTP status, the Content-Type, the bytes and SHA-256, the ETag and Last-Modified where the
server gave them, the stage, and the names the file's item binds; page rows say when, and the
HTTP status where a response came."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.apiserver import Api
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import manifest_records

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
JPEG = b"\xff\xd8\xff" + bytes(300)
MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"


def serve(api: Api) -> None:
    """Two products with images (one with an ETag and a date, one with neither), one without
    an image, one whose image is gone; and a page that is gone. Image URLs are relative, so
    each item's names stay under the manifest's 60 characters a value."""
    items = [
        {"id": 1, "name": "lamp", "img": "/img/1.png"},
        {"id": 2, "name": "desk", "img": "/img/2.jpg"},
        {"id": 3, "name": "chair", "img": None},
        {"id": 4, "name": "rug", "img": "/img/gone.png"},
    ]
    api.routes["/products"] = lambda q: ({"shop": "north", "items": items}, {})
    api.routes["/img/1.png"] = lambda q: (
        PNG,
        {"Content-Type": "image/png", "ETag": '"png-1"', "Last-Modified": MODIFIED},
    )
    api.routes["/img/2.jpg"] = lambda q: (JPEG, {"Content-Type": "image/jpeg"})


def crawl(folder: Path, api: Api) -> Path:
    """Products fan out to their images; a second start page is gone (404)."""
    spec: dict[str, Any] = {
        "vars": {"api": api.base},
        "http": {"retries": 0},
        "stages": {
            "products": {
                "url": "{api}/products",
                "fields": {"shop": "$.shop"},
                "each": "$.items[*]",
                "as": "product",
                "downloads": [{"url": "{product.img}", "save_as": "{shop}/{product.name}{ext}"}],
            },
            "missing": {"url": "{api}/no-such-page"},
        },
    }
    path = folder / "crawl.yaml"
    path.write_text(yaml.safe_dump(spec), "utf-8")
    return path


def utc(text: str) -> datetime:
    """A manifest time: ISO 8601, in UTC, and recent."""
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=10)
    return moment


def item(product_id: int, name: str, img: str | None) -> dict[str, Any]:
    """The names a product's file binds: the stage's field and the item."""
    shown = f'"{img}"' if img is not None else "null"
    return {"shop": "north", "product": f'{{"id":{product_id},"name":"{name}","img":{shown}}}'}


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_every_row_has_what_a_script_needs(
    api: Api, run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path, mode: str
) -> None:
    serve(api)
    output = tmp_path / "out"
    run = run_cli(crawl(tmp_path, api), "--output", output, *mode_args(mode))
    assert run.code == 1, run.out + run.err  # the gone image and the gone page
    rows = manifest_records(output)
    for row in rows:
        utc(row.pop("time"))
    files = sorted((r for r in rows if r["kind"] == "file"), key=lambda r: r["item"]["product"])
    assert files == [
        {
            "kind": "file",
            "url": f"{api.base}/img/1.png",
            "path": "north/lamp.png",
            "bytes": len(PNG),
            "sha256": hashlib.sha256(PNG).hexdigest(),
            "stage": "products",
            "status": "saved",
            "http_status": 200,
            "content_type": "image/png",
            "etag": '"png-1"',
            "last_modified": MODIFIED,
            "item": item(1, "lamp", "/img/1.png"),
        },
        {
            "kind": "file",
            "url": f"{api.base}/img/2.jpg",
            "path": "north/desk.jpg",
            "bytes": len(JPEG),
            "sha256": hashlib.sha256(JPEG).hexdigest(),
            "stage": "products",
            "status": "saved",
            "http_status": 200,
            "content_type": "image/jpeg",
            "etag": None,
            "last_modified": None,
            "item": item(2, "desk", "/img/2.jpg"),
        },
        {
            "kind": "file",
            "url": "",
            "path": None,
            "bytes": 0,
            "sha256": None,
            "stage": "products",
            "status": "skipped",
            "reason": "no URL ({product.img}: the value is null or matched nothing)",
            "http_status": None,
            "content_type": None,
            "etag": None,
            "last_modified": None,
            "item": item(3, "chair", None),
        },
        {
            "kind": "file",
            "url": f"{api.base}/img/gone.png",
            "path": "north/rug{ext}",
            "bytes": 0,
            "sha256": None,
            "stage": "products",
            "status": "failed",
            "error": f"GET {api.base}/img/gone.png failed: HTTP 404 Not Found",
            "http_status": 404,
            "content_type": None,
            "etag": None,
            "last_modified": None,
            "item": item(4, "rug", "/img/gone.png"),
        },
    ]
    pages = [r for r in rows if r["kind"] == "page"]
    assert pages == [
        {
            "kind": "page",
            "url": f"{api.base}/no-such-page",
            "stage": "missing",
            "status": "failed",
            "error": f"GET {api.base}/no-such-page failed: HTTP 404 Not Found",
            "http_status": 404,
        }
    ]


def test_a_file_already_present_has_no_response_but_its_item(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    serve(api)
    output = tmp_path / "out"
    run_cli(crawl(tmp_path, api), "--output", output)
    first = {r["path"]: r for r in manifest_records(output) if r["kind"] == "file"}
    run_cli(crawl(tmp_path, api), "--output", output)
    again = {r["path"]: r for r in manifest_records(output) if r["kind"] == "file"}
    lamp = again["north/lamp.png"]
    assert lamp["status"] == "present"
    assert (lamp["http_status"], lamp["content_type"], lamp["etag"]) == (None, None, None)
    assert lamp["item"] == item(1, "lamp", "/img/1.png")
    assert utc(lamp["time"]) >= utc(first["north/lamp.png"]["time"])
