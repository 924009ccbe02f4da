"""`emit` with lineage: `mode: append` adds only rows new to the file (by `key`), `meta: true`
adds _run_id, _fetched_at and _source_url, and Parquet keeps each column's type."""

from __future__ import annotations

import csv
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.apiserver import Api, Reply
from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.test_hostile_storage import mounted
from yamlcrawl.language import emitcheck
from yamlcrawl.language.loader import ConfigError, load_text
from yamlcrawl.storage.outdir import FolderError
from yamlcrawl.storage.records import RecordFile, Records

FORMATS = ("jsonl", "csv", "parquet")
FIRST = {
    "a": [
        {"id": 1, "title": "One", "price": 9.5, "new": True, "tags": ["x"]},
        {"id": 2, "title": "Two", "price": None, "new": False, "tags": []},
    ],
    "b": [{"id": 3, "title": "Three", "price": 12.0, "new": False, "tags": ["y", "z"]}],
}
# The next day: a new book at the top of shelf a, book 2 renamed, shelf b as it was.
SECOND = {
    "a": [
        {"id": 4, "title": "Four", "price": 3.25, "new": True, "tags": []},
        {"id": 1, "title": "One", "price": 9.5, "new": True, "tags": ["x"]},
        {"id": 2, "title": "Two, revised", "price": None, "new": False, "tags": []},
    ],
    "b": FIRST["b"],
}


def stage(view: str, mode: str) -> str:
    """A stage that reads every shelf's books (view: one per format) and emits them."""
    key = "key: '{id}'" if mode == "append" else "# no key"
    return f"""
  {view}:
    from: shelves
    url: "{{api}}/books"
    params: {{shelf: "{{shelf.id}}", view: {view}}}
    each: "$.books[*]"
    as: book
    emit:
      to: books.{view}
      mode: {mode}
      {key}
      meta: true
      fields: {{id: "{{book.id}}", title: "{{book.title}}", price: "{{book.price}}",
               new: "{{book.new}}", tags: "{{book.tags}}", shelf: "{{shelf.id}}"}}
"""


def crawl(tmp_path: Path, mode: str = "append") -> Path:
    config = tmp_path / "crawl.yaml"
    stages = "".join(stage(view, mode) for view in FORMATS)
    config.write_text(
        f"""
vars: {{api: "http://127.0.0.1"}}
stages:
  shelves:
    url: "{{api}}/shelves"
    each: "$.shelves[*]"
    as: shelf
{stages}""",
        "utf-8",
    )
    return config


def serve(api: Api, books: dict[str, list[dict[str, Any]]]) -> None:
    """Shelves a and b; shelf a's books move (a redirect) to /v2/books."""

    def shelves(q: dict[str, str]) -> Reply:
        return {"shelves": [{"id": "a"}, {"id": "b"}]}, {}

    def old_books(q: dict[str, str]) -> Reply:
        if q["shelf"] == "a":
            return {}, {"Location": f"/v2/books?shelf=a&view={q['view']}"}
        return {"books": books[q["shelf"]]}, {}

    def new_books(q: dict[str, str]) -> Reply:
        return {"books": books[q["shelf"]]}, {}

    api.routes.update({"/shelves": shelves, "/books": old_books, "/v2/books": new_books})


def rows_of(path: Path) -> list[dict[str, Any]]:
    """The file's rows as dicts (CSV: text cells)."""
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as stream:
            return list(csv.DictReader(stream))
    return pq.read_table(path).to_pylist()


def run_twice(
    api: Api, run_cli: RunCli, tmp_path: Path, args: list[str], mode: str = "append"
) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """The crawl run with FIRST, then SECOND, into one folder: both reports, the folder."""
    output, config = tmp_path / "out", crawl(tmp_path, mode)
    reports = []
    for day, books in enumerate((FIRST, SECOND)):
        serve(api, books)
        report = tmp_path / f"report{day}.json"
        run = run_cli(config, "--set", f"api={api.base}", "-o", output, "--report", report, *args)
        assert run.code == 0, run.out + run.err
        reports.append(json.loads(report.read_text("utf-8")))
    return reports[0], reports[1], output


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_a_second_run_appends_only_the_new_rows_with_their_lineage(
    api: Api, run_cli: RunCli, mode_args: ModeArgs, tmp_path: Path, mode: str
) -> None:
    started = datetime.now(UTC)
    first, second, output = run_twice(api, run_cli, tmp_path, mode_args(mode))
    assert (first["records"], first["records_known"]) == (9, 0)  # 3 books in each of 3 files
    assert (second["records"], second["records_known"]) == (3, 9)  # book 4; 1, 2, 3 were there
    assert first["run_id"] != second["run_id"]
    for view in FORMATS:
        rows = rows_of(output / f"books.{view}")
        assert [str(row["id"]) for row in rows] == ["1", "2", "3", "4"], view
        assert rows[1]["title"] == "Two", view  # the file keeps the first version of book 2
        assert [row["_run_id"] for row in rows] == [first["run_id"]] * 3 + [second["run_id"]]
        shelf_a = f"{api.base}/v2/books?shelf=a&view={view}"  # where the redirect led
        shelf_b = f"{api.base}/books?shelf=b&view={view}"
        assert [row["_source_url"] for row in rows] == [shelf_a, shelf_a, shelf_b, shelf_a]
        for row in rows:
            fetched = row["_fetched_at"]
            when = fetched if isinstance(fetched, datetime) else datetime.fromisoformat(fetched)
            assert when.utcoffset() == timedelta(0), view
            assert started - timedelta(seconds=1) <= when <= datetime.now(UTC), view
    jsonl = (output / "books.jsonl").read_text("utf-8").splitlines()
    assert list(json.loads(jsonl[0])) == [
        *("id", "title", "price", "new", "tags", "shelf"),
        *("_run_id", "_fetched_at", "_source_url"),
    ]


def test_parquet_keeps_each_columns_type(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    _, _, output = run_twice(api, run_cli, tmp_path, [])
    table = pq.read_table(output / "books.parquet")
    assert {field.name: field.type for field in table.schema} == {
        "id": pa.int64(),
        "title": pa.string(),
        "price": pa.float64(),  # 9.5, null, 12.0, 3.25
        "new": pa.bool_(),
        "tags": pa.string(),  # nested values: their JSON text
        "shelf": pa.string(),
        "_run_id": pa.string(),
        "_fetched_at": pa.timestamp("us", tz="UTC"),
        "_source_url": pa.string(),
    }
    rows = table.drop_columns(["_run_id", "_fetched_at", "_source_url"]).to_pylist()
    assert rows[0] == {
        "id": 1, "title": "One", "price": 9.5, "new": True, "tags": '["x"]', "shelf": "a"
    }  # fmt: skip
    assert rows[1]["price"] is None and rows[2]["tags"] == '["y","z"]'


def test_csv_and_json_lines_keep_the_old_bytes(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    output, config = tmp_path / "out", crawl(tmp_path)
    serve(api, FIRST)
    assert run_cli(config, "--set", f"api={api.base}", "-o", output, "-q").code == 0
    before = {view: (output / f"books.{view}").read_bytes() for view in ("jsonl", "csv")}
    serve(api, SECOND)
    run = run_cli(config, "--set", f"api={api.base}", "-o", output)
    assert run.code == 0, run.out + run.err
    assert "records already in their file" in run.out
    for view, old in before.items():
        new = (output / f"books.{view}").read_bytes()
        assert new.startswith(old) and new.count(b"\n") == old.count(b"\n") + 1, view
    csv_rows = rows_of(output / "books.csv")
    assert [row["new"] for row in csv_rows] == ["true", "false", "false", "true"]
    assert csv_rows[1]["price"] == "" and csv_rows[2]["tags"] == '["y","z"]'


def test_a_third_run_with_nothing_new_leaves_every_file_as_it_was(
    api: Api, run_cli: RunCli, tmp_path: Path
) -> None:
    _, _, output = run_twice(api, run_cli, tmp_path, [])
    before = {view: (output / f"books.{view}").read_bytes() for view in FORMATS}
    run = run_cli(crawl(tmp_path), "--set", f"api={api.base}", "-o", output, "-q")
    assert run.code == 0, run.out + run.err
    assert {view: (output / f"books.{view}").read_bytes() for view in FORMATS} == before


def test_replace_writes_only_this_runs_rows(api: Api, run_cli: RunCli, tmp_path: Path) -> None:
    _, second, output = run_twice(api, run_cli, tmp_path, [], mode="replace")
    assert (second["records"], second["records_known"]) == (12, 0)
    for view in FORMATS:
        rows = rows_of(output / f"books.{view}")
        assert [str(row["id"]) for row in rows] == ["4", "1", "2", "3"], view
        assert rows[2]["title"] == "Two, revised", view
        assert {row["_run_id"] for row in rows} == {second["run_id"]}, view


def output_folder(root: Path) -> Path:
    """A folder as a run has it: with its private temporaries' folder."""
    (root / ".yamlcrawl" / "tmp").mkdir(parents=True)
    return root


def test_without_a_key_a_row_is_new_when_its_content_is(tmp_path: Path) -> None:
    output_folder(tmp_path)
    columns = ("id", "title")
    file = RecordFile("rows.jsonl", columns, append=True, meta=True)
    for run, rows in enumerate(
        (
            [{"id": 1, "title": "a"}, {"id": 2, "title": "b"}, {"id": 1, "title": "a"}],
            [{"id": 2, "title": "b"}, {"id": 2, "title": "B"}, {"id": 3, "title": None}],
        )
    ):
        records = Records(tmp_path, [file], run_id=f"run{run}")
        records.add("rows.jsonl", rows, (f"run{run}", "2026-01-01T00:00:00Z", f"http://h/{run}"))
        records.finish(complete=True)
    rows = rows_of(tmp_path / "rows.jsonl")
    assert [(row["id"], row["title"], row["_run_id"]) for row in rows] == [
        (1, "a", "run0"),
        (2, "b", "run0"),  # the repeat of row 1 in the same run: not new either
        (2, "B", "run1"),
        (3, None, "run1"),
    ]


def append_runs(root: Path, file: RecordFile, *runs: list[dict[str, Any]]) -> list[int]:
    """Each run's rows appended to ``file`` in turn (a run that completes): rows written."""
    written = []
    for rows in runs:
        records = Records(root, [file])
        records.add(file.name, rows)
        records.finish(complete=True)
        written.append(records.written)
    return written


@pytest.mark.parametrize("name", ["rows.csv", "rows.jsonl", "rows.parquet"])
def test_the_same_rows_again_are_not_new_in_any_format(tmp_path: Path, name: str) -> None:
    file = RecordFile(name, ("id", "price", "ok", "tags", "note"), append=True)
    rows = [
        {"id": 1, "price": 12.0, "ok": True, "tags": ["a", 1], "note": None},
        {"id": 2, "price": 1e3, "ok": False, "tags": {"k": "v"}, "note": "x" * 200_000},
        {"id": 3, "price": 2.5, "ok": None, "tags": [], "note": '村上, "春樹"\nnext line'},
    ]
    assert append_runs(output_folder(tmp_path), file, rows, rows, [*rows, {"id": 4}]) == [3, 0, 1]
    assert [str(row["id"]) for row in rows_of(tmp_path / name)] == ["1", "2", "3", "4"]


def test_a_parquet_column_made_float_still_knows_its_whole_numbers(tmp_path: Path) -> None:
    file = RecordFile("rows.parquet", ("id", "price"), append=True)
    one, two = {"id": 1, "price": 5}, {"id": 2, "price": 2.5}
    assert append_runs(output_folder(tmp_path), file, [one], [one, two], [one, two]) == [1, 1, 0]
    table = pq.read_table(tmp_path / "rows.parquet")
    assert table.schema.field("price").type == pa.float64()
    assert table.to_pylist() == [{"id": 1, "price": 5.0}, {"id": 2, "price": 2.5}]


def test_a_csv_with_only_its_header_gets_no_second_one(tmp_path: Path) -> None:
    (output_folder(tmp_path) / "rows.csv").write_bytes(b"id,title\r\n")
    append_runs(tmp_path, RecordFile("rows.csv", ("id", "title"), append=True), [{"id": 1}])
    assert (tmp_path / "rows.csv").read_bytes() == b"id,title\r\n1,\r\n"


def test_an_interrupted_run_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    file = RecordFile("rows.jsonl", ("id",), append=True)
    append_runs(output_folder(tmp_path), file, [{"id": 1}])
    before = (tmp_path / "rows.jsonl").read_bytes()
    records = Records(tmp_path, [file])
    records.add(file.name, [{"id": 2}])
    records.finish(complete=False)
    assert (tmp_path / "rows.jsonl").read_bytes() == before
    assert list((tmp_path / ".yamlcrawl" / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "existing", "expected"),
    [
        (
            "rows.csv",
            b"id,name\r\n1,a\r\n",
            "cannot append to the records file rows.csv: its columns are id, name — expected"
            " the columns id, title; write to a new file, or run once with mode: replace",
        ),
        (
            "rows.jsonl",
            b'{"id": 1, "title": "a"}\n[1]\n',
            "cannot append to the records file rows.jsonl: line 2 is not a JSON object —"
            " expected the columns id, title; write to a new file, or run once with mode:"
            " replace",
        ),
        (
            "rows.jsonl",
            b'{"id": 1, "title": "a", "_run_id": "x"}\n',
            "cannot append to the records file rows.jsonl: line 1 has the columns id, title,"
            " _run_id — expected the columns id, title; write to a new file, or run once with"
            " mode: replace",
        ),
        (
            "rows.jsonl",
            b'{"id": 1, "title": "\xff"}\n',
            "cannot append to the records file rows.jsonl: it is not UTF-8 text — expected"
            " the columns id, title; write to a new file, or run once with mode: replace",
        ),
        (
            "rows.parquet",
            b"PAR1 not really",
            "cannot append to the records file rows.parquet: it is not a Parquet file pyarrow"
            " can read (",
        ),
    ],
)
def test_a_file_that_cannot_be_appended_to_is_one_line_and_kept(
    tmp_path: Path, name: str, existing: bytes, expected: str
) -> None:
    output_folder(tmp_path)
    (tmp_path / name).write_bytes(existing)
    with pytest.raises(FolderError) as caught:
        Records(tmp_path, [RecordFile(name, ("id", "title"), append=True)])
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)
    assert (tmp_path / name).read_bytes() == existing
    assert not list((tmp_path / ".yamlcrawl" / "tmp").iterdir())


def test_a_link_in_the_files_place_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "secret.jsonl"
    outside.write_text('{"id": 1, "title": "a"}\n', "utf-8")
    root = output_folder(tmp_path / "out")
    (root / "rows.jsonl").symlink_to(outside)
    with pytest.raises(FolderError, match="resolves outside the output folder"):
        Records(root, [RecordFile("rows.jsonl", ("id", "title"), append=True)])


def test_parquet_without_pyarrow_is_one_line_at_load_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(emitcheck, "have_pyarrow", lambda: False)
    text = "stages:\n  a:\n    url: x\n    emit: {to: rows.parquet, fields: {id: '{x}'}}\n"
    with pytest.raises(ConfigError) as caught:
        load_text(text, "crawler.yaml", environ={}, overrides={"x": "1"})
    assert str(caught.value) == (
        "crawler.yaml:4:16: 'rows.parquet' is Parquet, which needs pyarrow (not installed), at"
        " stages.a.emit.to — expected pip install 'yamlcrawl[parquet]' first, or a .jsonl or"
        " .csv file"
    )


def test_a_full_disk_while_parquet_is_rewritten_is_one_line_and_keeps_the_file(
    tmp_path: Path,
) -> None:
    file = RecordFile("rows.parquet", ("id", "text"), append=True)
    noise = [{"id": n, "text": os.urandom(1500).hex()} for n in range(50)]  # 150 KB, incompressible
    with mounted(tmp_path / "small", "size=256k") as root:
        output_folder(root)
        records = Records(root, [file])
        records.add("rows.parquet", [{"id": -1, "text": "first"}])
        records.finish(complete=True)
        before = (root / "rows.parquet").read_bytes()
        records = Records(root, [file])
        records.add("rows.parquet", noise)  # the spool takes it; spool and Parquet do not fit
        with pytest.raises(FolderError) as caught:
            records.finish(complete=True)
        assert str(caught.value) == (
            "cannot write the records file rows.parquet: No space left on device"
        )
        assert (root / "rows.parquet").read_bytes() == before
        assert list((root / ".yamlcrawl" / "tmp").iterdir()) == []


def test_the_plan_shows_how_each_file_is_kept(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    run = run_cli("plan", crawl(tmp_path))
    assert run.code == 0, run.err
    lines = [line.strip(" │└├─") for line in run.out.splitlines()]
    assert (
        "emit -> books.parquet (append by {id}, meta): id = {book.id}, title = {book.title},"
        " price = {book.price}, new = {book.new}, tags = {book.tags}, shelf = {shelf.id}"
    ) in lines
