"""crawler.yaml and the other samples, crawled end to end from servers on 127.0.0.1."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import LANGUAGE_MODES, ModeArgs, RunCli
from tests.support import ROOT, SAMPLES, Site, lol_args, manifest_records, saved_files

# Names the original program lost or mangled, pinned here by hand (expected.json has them all).
HAZARDOUS = {
    "九尾妖狐/K／DA 阿狸电脑版.jpg": (
        "images/lol/act/img/skin/big_f9461e54-78af-4a95-b08b-d1a7cf7f9cdc.jpg"
    ),
    "九尾妖狐/至臻 K／DA 阿狸手机版.jpg": (
        "images/lol/act/img/skinloading/c87295e3-2123-4d69-af79-6206d104632b.jpg"
    ),
    "迅捷斥候/提莫：＂约德尔人的一大步＂电脑版.jpg": (
        "images/lol/act/img/skin/big_aeeed8ed-1541-42ad-8dc4-8a647fb62f6c.jpg"
    ),
    "黑暗之女/“你看见过我的熊猫吗？”安妮手机版.jpg": "images/lol/act/img/skinloading/1008.jpg",
}


def test_crawler_yaml_saves_every_lol_image_exactly_once(
    lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    run = run_cli(*lol_args(lol_site, output, "-q"))
    assert run.code == 0, run.err
    files = saved_files(output)
    expected = {
        entry["path"]: lol_site.source_bytes(entry["source"]) for entry in lol_site.expected
    }
    assert len(expected) == 48
    assert files == expected
    for path, source in HAZARDOUS.items():
        assert files[path] == lol_site.source_bytes(source)
    images = [p for p in lol_site.server.requests if p.endswith(".jpg")]
    assert len(images) == len(set(images)) == 48
    assert not list(output.rglob("*.part"))


def test_the_manifest_records_every_file_with_its_hash(
    lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    assert run_cli(*lol_args(lol_site, output, "-q")).code == 0
    records = manifest_records(output)
    saved = [r for r in records if r["status"] == "saved"]
    skipped = [r for r in records if r["status"] == "skipped"]
    assert len(saved) == 48 and len(skipped) == 12
    assert {r["reason"] for r in skipped} == {"no URL (empty)"}
    for record in saved:
        data = (output / record["path"]).read_bytes()
        assert record["bytes"] == len(data)
        assert record["sha256"] == hashlib.sha256(data).hexdigest()
        assert record["stage"] == "skins"
        assert record["url"].startswith(lol_site.base)


def test_other_samples_give_their_expected_files(
    other_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    config = SAMPLES / other_site.name / "crawler.yaml"
    run = run_cli(config, "--set", f"api={other_site.base}", "--output", output, "-q")
    assert run.code == 0, run.err
    expected = {e["path"]: other_site.source_bytes(e["source"]) for e in other_site.expected}
    assert saved_files(output) == expected


def test_a_second_run_finds_everything_present_and_fetches_no_image(
    lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    assert run_cli(*lol_args(lol_site, output, "-q")).code == 0
    before = saved_files(output)
    lol_site.server.requests.clear()
    run = run_cli(*lol_args(lol_site, output))
    assert run.code == 0
    assert saved_files(output) == before
    assert [p for p in lol_site.server.requests if p.endswith(".jpg")] == []
    statuses = {r["status"] for r in manifest_records(output) if r["kind"] == "file"}
    assert statuses == {"present", "skipped"}


@pytest.mark.parametrize("mode", LANGUAGE_MODES)
def test_dry_run_lists_the_files_and_saves_none(
    lol_site: Site, run_cli: RunCli, tmp_path: Path, mode_args: ModeArgs, mode: str
) -> None:
    output = tmp_path / "out"  # not made: not even dask mode's check that workers share it
    run = run_cli(*lol_args(lol_site, output, "--dry-run", *mode_args(mode)))
    assert run.code == 0
    listed = [line.split("\t")[0] for line in run.out.splitlines() if "\t" in line]
    assert listed == [entry["path"] for entry in lol_site.expected]
    assert not output.exists()
    assert not [p for p in lol_site.server.requests if p.endswith(".jpg")]


def test_limit_takes_the_first_items_of_every_fan_out(
    lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    assert run_cli(*lol_args(lol_site, output, "--limit", "2", "-q")).code == 0
    assert sorted(saved_files(output)) == [
        "迅捷斥候/提莫：＂约德尔人的一大步＂手机版.jpg",
        "迅捷斥候/提莫：＂约德尔人的一大步＂电脑版.jpg",
        "迅捷斥候/迅捷斥候手机版.jpg",
        "迅捷斥候/迅捷斥候电脑版.jpg",
        "黑暗之女/哥特萝莉 安妮手机版.jpg",
        "黑暗之女/哥特萝莉 安妮电脑版.jpg",
        "黑暗之女/黑暗之女手机版.jpg",
        "黑暗之女/黑暗之女电脑版.jpg",
    ]


def test_a_missing_image_fails_alone_exit_1_and_is_listed(
    broken_lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    victim = HAZARDOUS["九尾妖狐/K／DA 阿狸电脑版.jpg"]
    (broken_lol_site.root / victim).unlink()
    output = tmp_path / "out"
    run = run_cli(*lol_args(broken_lol_site, output, "-q"))
    assert run.code == 1
    assert len(saved_files(output)) == 47
    assert "1 failed:" in run.out
    assert "九尾妖狐/K／DA 阿狸电脑版.jpg: GET" in run.out
    assert "HTTP 404" in run.out
    failed = [r for r in manifest_records(output) if r["status"] == "failed"]
    assert [r["path"] for r in failed] == ["九尾妖狐/K／DA 阿狸电脑版.jpg"]


def test_a_page_that_is_not_json_fails_that_page_with_what_came_back(
    broken_lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    page = broken_lol_site.root / "images/lol/act/img/js/hero/17.js"
    page.write_text("<html><body>502 Bad Gateway</body></html>")
    output = tmp_path / "out"
    run = run_cli(*lol_args(broken_lol_site, output, "-q"))
    assert run.code == 1
    assert len(saved_files(output)) == 48 - 6
    assert "/js/hero/17.js returned HTTP 200 application/json" in run.out
    assert "b'<html><body>502 Bad Gateway</body></html>'" in run.out
    pages = [r for r in manifest_records(output) if r["kind"] == "page"]
    assert len(pages) == 1 and pages[0]["status"] == "failed"


TAB_SKIN = "e35d9b25-64c2-4b74-a334-1c960f0aaf84"  # hero 555's last skin with an image
HOSTILE = """
    vars: {{api: "{base}"}}
    output: {{on_conflict: {policy}}}
    stages:
      heroes:
        url: "{{api}}/images/lol/act/img/js/hero/555.js"
        each: "$.skins[?(@.mainImg != '')]"
        as: skin
        downloads:
          - url: "{{skin.mainImg}}"
            save_as: "{{skin.name|path}}.jpg"
          - url: "{{skin.mainImg}}"
            save_as: "same.jpg"
"""


def _hostile(site: Site, tmp_path: Path, policy: str) -> Path:
    config = tmp_path / "hostile.yaml"
    config.write_text(textwrap.dedent(HOSTILE.format(base=site.base, policy=policy)), "utf-8")
    return config


def test_hostile_names_never_leave_the_output_folder(
    lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    output = tmp_path / "nest" / "out"
    run = run_cli(_hostile(lol_site, tmp_path, "suffix"), "--output", output, "-q")
    assert run.code == 1  # `../../etc/passwd` kept as folders by |path is refused
    assert "'../../etc/passwd.jpg' has a '..' segment" in run.out
    outside = {p for p in tmp_path.rglob("*") if output not in (p, *p.parents)}
    assert outside == {tmp_path / "hostile.yaml", tmp_path / "nest"}
    files = saved_files(output)
    assert "CON_.jpg" in files  # `CON.jpg` is a device on Windows, whatever the extension
    assert "C：＼Windows＼x.jpg" in files
    assert sorted(p for p in files if p.startswith("same")) == [
        "same (2).jpg",
        "same (3).jpg",
        "same (4).jpg",
        "same (5).jpg",
        "same (6).jpg",
        "same.jpg",
    ]


def test_on_conflict_skip_keeps_the_first(lol_site: Site, run_cli: RunCli, tmp_path: Path) -> None:
    output = tmp_path / "out"
    run_cli(_hostile(lol_site, tmp_path, "skip"), "--output", output, "-q")
    records = manifest_records(output)
    saved = [r["url"] for r in records if r["path"] == "same.jpg" and r["status"] == "saved"]
    first = "/images/lol/act/img/skin/big_e43f18b2-c93b-48c8-aed6-04132c4aa17e.jpg"
    assert saved == [lol_site.base + first]
    taken = [r for r in records if "is taken by another URL" in r.get("reason", "")]
    assert len(taken) == 5


def test_on_conflict_overwrite_keeps_the_last_in_crawl_order(
    lol_site: Site, run_cli: RunCli, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    run_cli(_hostile(lol_site, tmp_path, "overwrite"), "--output", output, "-q")
    last = "images/lol/act/img/skin/big_" + TAB_SKIN + ".jpg"
    assert (output / "same.jpg").read_bytes() == lol_site.source_bytes(last)
    writes = [r for r in manifest_records(output) if r["path"] == "same.jpg"]
    assert [r["status"] for r in writes] == ["saved"] * 6


def test_an_output_folder_that_cannot_be_made_is_a_usage_error(
    run_cli: RunCli, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    run = run_cli(ROOT / "crawler.yaml", "--output", blocker / "out")
    assert run.code == 2
    assert run.err.startswith(f"yamlcrawl: cannot make the output folder {blocker / 'out'}: ")


def test_validate_prints_problems_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("run:\n  mode: pol\nstages:\n  a:\n    url: '{nope}'\n")
    result = subprocess.run(
        [sys.executable, "-m", "yamlcrawl", "validate", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{bad}:2:9: unknown mode 'pol' at run.mode"
        " — expected one of: serial, process, queue, pool, thread, dask; did you mean 'pool'?",
        f"{bad}:5:10: template names 'nope', which nothing binds, at stages.a.url"
        " — expected one of: (nothing is bound here)"
        " (bound by vars, --set, or an ancestor's as/fields)",
    ]


def test_validate_accepts_the_shipped_crawls(run_cli: RunCli) -> None:
    for config in (ROOT / "crawler.yaml", *SAMPLES.glob("*/crawler.yaml")):
        run = run_cli("validate", config)
        assert run.code == 0, run.err
        assert "valid" in run.out


def test_usage_errors_exit_2(run_cli: RunCli, tmp_path: Path) -> None:
    assert run_cli(ROOT / "crawler.yaml", "--set", "no-equals-sign").code == 2
    assert run_cli(ROOT / "crawler.yaml", "--mode", "warp").code == 2
    assert run_cli(tmp_path / "missing.yaml").code == 2
