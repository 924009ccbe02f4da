"""`{ext}` at the end of save_as: the extension comes from the response's Content-Type."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.apiserver import Api, Reply
from tests.conftest import RunCli
from yamlcrawl.storage.safepath import MAX_SEGMENT_BYTES, extension_for

# (name, URL path, Content-Type the server sends, the file it must become)
FILES = [
    ("Ahri", "/img/1", "image/png", "Ahri.png"),
    ("K/DA", "/img/2.jpeg", "image/jpeg", "K／DA.jpeg"),  # the URL's spelling, the type allows it
    ("K/DA", "/img/3", "image/gif", "K／DA (2).gif"),  # same name: numbered in crawl order
    ("Raw", "/img/4.dat", "application/octet-stream", "Raw.dat"),  # a type that says nothing
    ("Blob", "/img/5", "application/octet-stream", "Blob.bin"),
    ("Notes", "/img/6", "text/plain; charset=utf-8", "Notes.txt"),
    ("Odd", "/img/7.webp", "x-unknown/thing", "Odd.webp"),  # an unknown type: the URL's
    ("Icon", "/img/8.png", "image/webp", "Icon.webp"),  # the type wins over a wrong URL
    ("None", "/img/9", "", "None"),  # no type, no extension: none
]


def body(url: str) -> bytes:
    return f"the bytes of {url}\n".encode() * 50


def serve(api: Api, files: list[tuple[str, str, str, str]]) -> None:
    def listing(q: dict[str, str]) -> Reply:
        return {"items": [{"name": name, "url": url} for name, url, _, _ in files]}, {}

    api.routes["/items"] = listing
    for _, url, content_type, _ in files:
        path = url.split("?")[0]
        headers = {"Content-Type": content_type}
        api.routes[path] = lambda q, path=path, headers=headers: (body(path), headers)


def write_crawl(tmp_path: Path, save_as: str = "{item.name}{ext}", more: str = "") -> Path:
    config = tmp_path / "crawl.yaml"
    config.write_text(
        f"""
vars: {{api: "http://127.0.0.1"}}
stages:
  items:
    url: "{{api}}/items"
    each: "$.items[*]"
    as: item
    downloads:
      - url: "{{api}}{{item.url}}"
        save_as: "{save_as}"
{more}""",
        "utf-8",
    )
    return config


def saved_files(output: Path) -> dict[str, bytes]:
    return {
        p.relative_to(output).as_posix(): p.read_bytes()
        for p in output.rglob("*")
        if p.is_file() and ".yamlcrawl" not in p.parts and p.name != "manifest.jsonl"
    }


def manifest(output: Path) -> list[dict[str, object]]:
    lines = (output / "manifest.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    ("content_type", "url", "ext"),
    [
        ("image/jpeg", "http://h/a", ".jpg"),
        ("image/jpeg", "http://h/a.JPEG", ".JPEG"),
        ("image/png", "http://h/a.jpg", ".png"),
        ("IMAGE/PNG; charset=binary", "http://h/a", ".png"),
        ("image/webp", "http://h/a?x=1.gif", ".webp"),
        ("audio/flac", "http://h/a", ".flac"),
        ("application/octet-stream", "http://h/a.tar.gz", ".gz"),
        ("application/octet-stream", "http://h/a", ".bin"),
        (None, "http://h/a.gif?size=2", ".gif"),
        (None, "http://h/a", ""),
        ("", "http://h/folder.d/", ""),
        ("x-unknown/thing", "http://h/a.dat#top", ".dat"),
        ("x-unknown/thing", "http://h/a", ""),
        ("text/html", "http://h.example", ".html"),
    ],
)
def test_the_extension_a_response_gives(content_type: str | None, url: str, ext: str) -> None:
    assert extension_for(content_type, url) == ext


@pytest.mark.parametrize("mode", ["serial", "process", "queue", "pool", "thread", "dask"])
def test_every_file_gets_the_extension_its_type_names_in_every_mode(
    api: Api, run_cli: RunCli, tmp_path: Path, mode: str
) -> None:
    serve(api, FILES)
    output = tmp_path / "out"
    run = run_cli(
        write_crawl(tmp_path), "--set", f"api={api.base}", "--output", output, "--mode", mode
    )
    assert run.code == 0, run.out + run.err
    assert saved_files(output) == {name: body(url) for _, url, _, name in FILES}
    records = manifest(output)
    assert sorted(str(r["path"]) for r in records) == sorted(name for *_, name in FILES)
    assert {r["status"] for r in records} == {"saved"}
    assert not list(output.rglob("*.part"))


def test_a_rerun_finds_them_by_their_settled_names(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    serve(api, FILES)
    output = tmp_path / "out"
    args = (write_crawl(tmp_path), "--set", f"api={api.base}", "--output", output, "--mode", "pool")
    assert run_cli(*args).code == 0
    (output / "K／DA (2).gif").unlink()
    (output / "Notes.txt").write_bytes(b"damaged")
    api.asked.clear()

    run = run_cli(*args)

    assert run.code == 0, run.out + run.err
    assert sorted(api.asked) == ["/img/3", "/img/6", "/items"]  # only the missing and damaged
    assert saved_files(output) == {name: body(url) for _, url, _, name in FILES}
    status = {str(r["path"]): r["status"] for r in manifest(output)}
    assert status["K／DA (2).gif"] == status["Notes.txt"] == "saved"
    assert status["Ahri.png"] == status["K／DA.jpeg"] == "present"

    api.asked.clear()
    assert run_cli(*args, "--fresh").code == 0
    assert len(api.asked) == len(FILES) + 1  # --fresh: everything again


def test_a_name_to_be_settled_takes_every_extension_of_its_stem(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    serve(api, FILES[:1])
    second_rule = """      - url: "{api}{item.url}"
        save_as: "{item.name}.png"
      - url: "{api}{item.url}?again"
        save_as: "{item.name}{ext}"
      - url: "{api}{item.url}"
        save_as: "{item.name}{ext}"
"""
    output = tmp_path / "out"
    config = write_crawl(tmp_path, more=second_rule)
    for mode in ("serial", "queue"):
        run = run_cli(config, "--set", f"api={api.base}", "--output", output / mode, "--mode", mode)
        assert run.code == 0, run.out + run.err
        # Ahri{ext} came first and could have become any Ahri.*: the others are numbered
        assert sorted(saved_files(output / mode)) == ["Ahri (2).png", "Ahri (3).png", "Ahri.png"]
        statuses = sorted(str(r["status"]) for r in manifest(output / mode))
        assert statuses == ["duplicate", "saved", "saved", "saved"]  # the last rule = the first


def test_a_long_name_leaves_room_for_its_extension(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    long = "長" * 120  # 360 bytes of UTF-8
    serve(api, [(long, "/img/1", "image/png", ""), (long, "/img/2", "image/jpeg", "")])
    output = tmp_path / "out"
    run = run_cli(write_crawl(tmp_path), "--set", f"api={api.base}", "--output", output)
    assert run.code == 0, run.out + run.err
    names = sorted(saved_files(output))
    assert [Path(n).suffix for n in names] == [".jpg", ".png"]
    assert all(len(n.encode()) <= MAX_SEGMENT_BYTES for n in names)
    assert names[0].endswith(" (2).jpg")


def test_a_dry_run_lists_the_names_with_ext_to_come(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    serve(api, FILES[:3])
    run = run_cli(write_crawl(tmp_path), "--set", f"api={api.base}", "--dry-run")
    assert run.code == 0, run.err
    listed = [line.split("\t")[0] for line in run.out.splitlines() if "\t" in line]
    assert listed == ["Ahri{ext}", "K／DA{ext}", "K／DA (2){ext}"]
