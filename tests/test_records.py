"""`emit`: records to JSON Lines or CSV, in crawl order in every mode, put in place whole."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.apiserver import Api, Reply
from tests.conftest import RunCli

BOOKS = {
    "1": [
        {"id": 11, "title": "Either/Or", "year": 1843},
        {"id": 12, "title": "Fear", "year": None},
    ],
    "2": [{"id": 21, "title": '村上, "春樹"', "year": 1987}],
}


def crawl(tmp_path: Path, to: str) -> Path:
    config = tmp_path / "crawl.yaml"
    config.write_text(
        f"""
vars: {{api: "http://127.0.0.1"}}
stages:
  authors:
    url: "{{api}}/authors"
    each: "$.authors[*]"
    as: author
  books:
    from: authors
    url: "{{api}}/books"
    params: {{author: "{{author.id}}"}}
    each: "$.books[*]"
    as: book
    where: {{"{{book.id}}": {{not: "12"}}}}
    emit:
      to: {to}
      fields: {{author: "{{author.name}}", id: "{{book.id}}", title: "{{book.title}}",
                year: "{{book.year}}", label: "#{{book.id}}"}}
""",
        "utf-8",
    )
    return config


def serve(api: Api) -> None:
    def authors(q: dict[str, str]) -> Reply:
        return {"authors": [{"id": "1", "name": "Kierkegaard"}, {"id": "2", "name": "村上"}]}, {}

    def books(q: dict[str, str]) -> Reply:
        return {"books": BOOKS[q["author"]]}, {}

    api.routes["/authors"] = authors
    api.routes["/books"] = books


@pytest.mark.parametrize("mode", ["serial", "queue", "pool", "thread"])
def test_json_lines_in_crawl_order_in_every_mode(
    api: Api, run_cli: RunCli, tmp_path: Path, mode: str
) -> None:
    serve(api)
    output = tmp_path / "out"
    config = crawl(tmp_path, "records/books.jsonl")
    run = run_cli(config, "--set", f"api={api.base}", "--output", output, "--mode", mode)
    assert run.code == 0, run.out + run.err
    lines = (output / "records/books.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"author": "Kierkegaard", "id": 11, "title": "Either/Or", "year": 1843, "label": "#11"},
        {"author": "村上", "id": 21, "title": '村上, "春樹"', "year": 1987, "label": "#21"},
    ]  # book 12 failed `where`; numbers stay numbers; the order is the crawl's
    assert not list(output.rglob("*.part"))
    assert "records written" in run.out and "2" in run.out


def test_the_report_counts_what_where_left_out(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    serve(api)
    config, report = crawl(tmp_path, "books.jsonl"), tmp_path / "report.json"
    args = ("--set", f"api={api.base}", "--output", tmp_path / "out", "--report", report)
    run = run_cli(config, *args)
    assert run.code == 0, run.out + run.err
    assert json.loads(report.read_text("utf-8"))["left_out"] == 1  # book 12
    assert "left out by where" in run.out


def test_csv_with_a_header_and_empty_for_missing(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    serve(api)
    BOOKS["1"][0]["year"] = None  # a null is written as an empty cell
    try:
        output = tmp_path / "out"
        run = run_cli(crawl(tmp_path, "books.csv"), "--set", f"api={api.base}", "--output", output)
    finally:
        BOOKS["1"][0]["year"] = 1843
    assert run.code == 0, run.out + run.err
    with (output / "books.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows == [
        ["author", "id", "title", "year", "label"],
        ["Kierkegaard", "11", "Either/Or", "", "#11"],
        ["村上", "21", '村上, "春樹"', "1987", "#21"],
    ]


def test_a_rerun_writes_the_file_whole_again(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    serve(api)
    output = tmp_path / "out"
    config = crawl(tmp_path, "books.jsonl")
    for _ in range(2):
        run = run_cli(config, "--set", f"api={api.base}", "--output", output, "-q")
        assert run.code == 0, run.out + run.err
    assert len((output / "books.jsonl").read_text("utf-8").splitlines()) == 2
