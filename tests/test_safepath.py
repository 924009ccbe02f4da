"""Safe names on every OS, with the hazardous names real LoL data carries."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from yamlcrawl.storage.safepath import (
    UnsafePathError,
    conflict_key,
    escape_value,
    numbered,
    relative_path,
    resolve_inside,
    safe_segment,
)

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("K/DA 阿狸", "K／DA 阿狸"),
        ("至臻 K/DA 阿狸", "至臻 K／DA 阿狸"),
        ('提莫:"约德尔人的一大步"', "提莫：＂约德尔人的一大步＂"),
        ("电玩女神 厄运小姐 K.O.", "电玩女神 厄运小姐 K.O"),
        ("“你看见过我的熊猫吗？”安妮", "“你看见过我的熊猫吗？”安妮"),
        ("trailing space ", "trailing space"),
        ("doubled  inner", "doubled  inner"),
        (f"星之守护者{NBSP}拉克丝", f"星之守护者{NBSP}拉克丝"),
        ("a*b?c<d>e|f", "a＊b？c＜d＞e｜f"),
        ("tab\there\x00nul\x7f", "tab_here_nul_"),
        ("C:\\Windows\\x", "C：＼Windows＼x"),
        ("../../etc/passwd", "..／..／etc／passwd"),
        ("CON", "CON_"),
        ("con.jpg", "con_.jpg"),
        ("LPT9.txt", "LPT9_.txt"),
        ("CONSOLE", "CONSOLE"),
        ("...", "_"),
        ("e\u0301", "\u00e9"),
    ],
)
def test_a_value_becomes_one_safe_name(value: str, expected: str) -> None:
    assert safe_segment(escape_value(value)) == expected


def test_underscore_replacement() -> None:
    assert safe_segment(escape_value("K/DA: a?", "underscore"), "underscore") == "K_DA_ a_"


def test_long_names_lose_their_middle_keeping_head_tail_and_extension() -> None:
    safe = safe_segment("测" * 90 + "电脑版.jpg")
    assert len(safe.encode("utf-8")) <= 255
    assert safe == "测" * 62 + "…" + "测" * 17 + "电脑版.jpg"
    assert safe_segment("测" * 90 + "手机版.jpg") != safe  # what tells them apart survives


def test_a_cut_never_leaves_a_trailing_dot_or_space() -> None:
    name = "a" * 250 + " . .jpgx" * 3
    assert not safe_segment(name).rstrip().endswith((".", " "))


def test_numbered_names_stay_within_the_limit() -> None:
    long = PurePosixPath("英雄") / safe_segment("测" * 90 + ".jpg")
    second = numbered(long, 2)
    assert second.parent == PurePosixPath("英雄")
    assert second.name.endswith(" (2).jpg")
    assert len(second.name.encode("utf-8")) <= 255
    assert numbered(PurePosixPath("a/b.jpg"), 3) == PurePosixPath("a/b (3).jpg")
    assert numbered(PurePosixPath("noext"), 2) == PurePosixPath("noext (2)")


def test_relative_path_splits_only_on_template_slashes() -> None:
    rendered = "九尾妖狐/" + escape_value("K/DA 阿狸") + "电脑版.jpg"
    assert relative_path(rendered) == PurePosixPath("九尾妖狐", "K／DA 阿狸电脑版.jpg")


@pytest.mark.parametrize(
    ("rendered", "message"),
    [
        ("/etc/passwd", "'/etc/passwd' starts with '/' (an absolute path or an empty folder)"),
        ("a/../../b", "'a/../../b' has a '..' segment"),
        ("./a", "'./a' has a '.' segment"),
        ("a//b", "'a//b' has an empty folder or file name"),
        ("a/", "'a/' has an empty folder or file name"),
        ("C:/Windows", "'C:/Windows' is an absolute path"),
        ("\\\\server\\share", "'\\\\server\\share' is an absolute path"),
    ],
)
def test_paths_that_leave_the_folder_are_refused(rendered: str, message: str) -> None:
    with pytest.raises(UnsafePathError) as caught:
        relative_path(rendered)
    assert str(caught.value) == message


def test_conflict_keys_ignore_case_and_normalisation() -> None:
    upper, lower = PurePosixPath("A/Sunset.JPG"), PurePosixPath("a/sunset.jpg")
    assert conflict_key(upper) == conflict_key(lower)
    assert conflict_key(PurePosixPath("e\u0301")) == conflict_key(PurePosixPath("\u00e9"))


def test_resolve_inside_refuses_a_symlink_that_points_out(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    assert resolve_inside(root, PurePosixPath("hero/a.jpg")) == (root / "hero/a.jpg").resolve()
    with pytest.raises(UnsafePathError, match="resolves outside the output folder"):
        resolve_inside(root, PurePosixPath("link/a.jpg"))
    (root / "hero").mkdir()
    (root / "hero" / "a.jpg").symlink_to(outside / "a.jpg")  # the file itself, dangling
    with pytest.raises(UnsafePathError, match="resolves outside the output folder"):
        resolve_inside(root, PurePosixPath("hero/a.jpg"))
    (root / "hero" / "b.jpg").symlink_to(root / "c.jpg")  # a link that stays inside is fine
    assert resolve_inside(root, PurePosixPath("hero/b.jpg")) == (root / "c.jpg").resolve()


@pytest.mark.parametrize("relative", ["../x.jpg", "a/../../x.jpg", "/etc/passwd", ".", "//x"])
@pytest.mark.parametrize("kind", [PurePosixPath, str])
def test_resolve_inside_refuses_paths_that_leave_by_name(
    tmp_path: Path, relative: str, kind: type[PurePosixPath] | type[str]
) -> None:
    with pytest.raises(UnsafePathError, match="resolves outside the output folder"):
        resolve_inside(tmp_path / "out", kind(relative))
