"""The conflict policy alone: sequences of requests, settled in crawl order, and the names (or the
refusals) each gets. No run, no server: storage/names.py is the only owner of this policy.

A request is written ``url -> save_as``; a ``save_as`` ending in ``{ext}`` is one whose extension
the response settles. An outcome is the name settled (``{ext}`` kept where it is still to come),
or ``status: reason``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from yamlcrawl.storage.names import NameRegistry, OnConflict, Refused
from yamlcrawl.types import FileRequest

DUPLICATE = "duplicate: the same URL to the same path again"
OWN = "failed: '{path}' is in .yamlcrawl/, kept for yamlcrawl's own state"

# (on_conflict, requests in crawl order, what each gets)
CASES: list[tuple[OnConflict, list[str], list[str]]] = [
    # two URLs, one name: numbered from (2), the extension kept
    ("suffix", ["u1 -> a.jpg", "u2 -> a.jpg", "u3 -> a.jpg"], ["a.jpg", "a (2).jpg", "a (3).jpg"]),
    ("suffix", ["u1 -> d/a.jpg", "u2 -> d/a.jpg"], ["d/a.jpg", "d/a (2).jpg"]),
    ("suffix", ["u1 -> a", "u2 -> a"], ["a", "a (2)"]),
    # the same on a case-insensitive file system, or after NFC normalisation
    ("suffix", ["u1 -> Ahri/A.jpg", "u2 -> ahri/a.JPG"], ["Ahri/A.jpg", "ahri/a (2).JPG"]),
    ("suffix", ["u1 -> café.jpg", "u2 -> cafe\u0301.jpg"], ["café.jpg", "cafe\u0301 (2).jpg"]),
    ("suffix", ["u1 -> ǅ.jpg", "u2 -> ǆ.jpg", "u3 -> Ǆ.jpg"], ["ǅ.jpg", "ǆ (2).jpg", "Ǆ (3).jpg"]),
    # a number already taken is passed over
    (
        "suffix",
        ["u1 -> a (2).jpg", "u2 -> a.jpg", "u3 -> a.jpg"],
        ["a (2).jpg", "a.jpg", "a (3).jpg"],
    ),
    # other names, other folders, other extensions: no conflict
    ("suffix", ["u1 -> a.jpg", "u2 -> a.png", "u3 -> b/a.jpg"], ["a.jpg", "a.png", "b/a.jpg"]),
    # the same URL to the same path is fetched once; to another path, it is another file
    ("suffix", ["u1 -> a.jpg", "u1 -> a.jpg"], ["a.jpg", DUPLICATE]),
    ("suffix", ["u1 -> a.jpg", "u1 -> A.JPG"], ["a.jpg", DUPLICATE]),
    ("suffix", ["u1 -> a.jpg", "u1 -> b.jpg"], ["a.jpg", "b.jpg"]),
    ("overwrite", ["u1 -> a.jpg", "u1 -> a.jpg"], ["a.jpg", DUPLICATE]),
    ("skip", ["u1 -> a.jpg", "u1 -> a.jpg"], ["a.jpg", DUPLICATE]),
    # overwrite: every one keeps the name (the later is written after the earlier)
    ("overwrite", ["u1 -> a.jpg", "u2 -> A.jpg", "u3 -> a.jpg"], ["a.jpg", "A.jpg", "a.jpg"]),
    # skip: the first keeps it; a skipped request asked again is a duplicate
    (
        "skip",
        ["u1 -> a.jpg", "u2 -> a.jpg", "u2 -> a.jpg"],
        ["a.jpg", "skipped: a.jpg is taken by another URL", DUPLICATE],
    ),
    (
        "skip",
        ["u1 -> b{ext}", "u2 -> b{ext}"],
        ["b{ext}", "skipped: b{ext} is taken by another URL"],
    ),
    # {ext}: the name to come takes every extension of its own, in both orders
    ("suffix", ["u1 -> b{ext}", "u2 -> b.json"], ["b{ext}", "b (2).json"]),
    ("suffix", ["u1 -> b.json", "u2 -> b{ext}"], ["b.json", "b (2){ext}"]),
    # (`{ext}` may be no extension at all: `b` is one of `b{ext}`'s names)
    ("suffix", ["u1 -> b{ext}", "u2 -> B{ext}", "u3 -> b"], ["b{ext}", "B (2){ext}", "b (3)"]),
    ("suffix", ["u1 -> b{ext}", "u2 -> b.tar.gz"], ["b{ext}", "b.tar.gz"]),
    ("suffix", ["u1 -> d/b{ext}", "u2 -> b.json"], ["d/b{ext}", "b.json"]),
    # a URL asked for as name{ext} and as name.jpg is not a duplicate: the two may differ
    ("suffix", ["u1 -> b{ext}", "u1 -> b.jpg"], ["b{ext}", "b (2).jpg"]),
    ("overwrite", ["u1 -> b.json", "u2 -> b{ext}"], ["b.json", "b{ext}"]),
    # the private folder is yamlcrawl's own, in any case
    (
        "suffix",
        ["u1 -> .yamlcrawl/a.jpg", "u2 -> .YamlCrawl/state.sqlite"],
        [OWN.format(path=".yamlcrawl/a.jpg"), OWN.format(path=".YamlCrawl/state.sqlite")],
    ),
]


def request(text: str) -> FileRequest:
    """``url -> save_as`` as the request a page makes."""
    url, _, save_as = text.partition(" -> ")
    ext_to_come = save_as.endswith("{ext}")
    path = save_as.removesuffix("{ext}")
    return FileRequest((0,), "files", f"http://h/{url}", path, (), ext_to_come=ext_to_come)


def outcomes(registry: NameRegistry, requests: list[FileRequest]) -> list[str]:
    """What each of ``requests`` gets, settled in order."""
    said = []
    for asked in requests:
        named = registry.settle(asked)
        if isinstance(named, Refused):
            said.append(f"{named.status}: {named.reason}")
        else:
            said.append(named.path + ("{ext}" if asked.ext_to_come else ""))
    return said


@pytest.mark.parametrize(("policy", "requests", "expected"), CASES)
def test_conflict_policy(
    policy: OnConflict, requests: list[str], expected: list[str], tmp_path: Path
) -> None:
    registry = NameRegistry(tmp_path, policy)
    assert outcomes(registry, [request(r) for r in requests]) == expected


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("suffix", ["manifest (2).jsonl", "rows (2).csv", "Rows (3).CSV", "manifest (3){ext}"]),
        # overwrite replaces another download, never the run's own manifest or records
        ("overwrite", ["manifest (2).jsonl", "rows (2).csv", "Rows (3).CSV", "manifest (3){ext}"]),
        (
            "skip",
            [
                "skipped: manifest.jsonl is taken by another URL",
                "skipped: rows.csv is taken by another URL",
                "skipped: Rows.CSV is taken by another URL",
                "skipped: manifest{ext} is taken by another URL",
            ],
        ),
    ],
)
def test_reserved_names_are_taken_from_the_start(
    policy: OnConflict, expected: list[str], tmp_path: Path
) -> None:
    """The manifest and `emit` files count as named before any download."""
    registry = NameRegistry(tmp_path, policy, reserved=["manifest.jsonl", "rows.csv"])
    asked = ["u1 -> manifest.jsonl", "u2 -> rows.csv", "u3 -> Rows.CSV", "u4 -> manifest{ext}"]
    assert outcomes(registry, [request(r) for r in asked]) == expected


def test_a_request_a_page_could_not_name_is_refused_as_it_came(tmp_path: Path) -> None:
    registry = NameRegistry(tmp_path, "suffix")
    skip = FileRequest((0,), "s", "", "", (), skip="no URL at $.img")
    problem = FileRequest((1,), "s", "http://h/a", "", (), problem="save_as: no value for {x}")
    assert [registry.settle(skip), registry.settle(problem)] == [
        Refused("skipped", "no URL at $.img"),
        Refused("failed", "save_as: no value for {x}"),
    ]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_a_name_through_a_link_out_of_the_folder_fails_and_takes_nothing(tmp_path: Path) -> None:
    root, away = tmp_path / "out", tmp_path / "away"
    root.mkdir()
    away.mkdir()
    (root / "d").symlink_to(away)
    registry = NameRegistry(root, "suffix")
    asked = ["u1 -> d/a.jpg", "u1 -> d/a.jpg", "u2 -> a.jpg", "u3 -> a.jpg"]
    refused = registry.settle(request(asked[0]))
    assert refused == Refused(
        "failed", f"'d/a.jpg' resolves outside the output folder {root}", "d/a.jpg"
    )
    assert outcomes(registry, [request(r) for r in asked[1:]]) == [DUPLICATE, "a.jpg", "a (2).jpg"]


def test_numbering_keeps_room_for_the_extension_to_come(tmp_path: Path) -> None:
    long = "阿" * 81  # 243 bytes: a name cut to leave 11 bytes for its {ext}, as the page does
    registry = NameRegistry(tmp_path, "suffix")
    first, second = (registry.settle(request(f"u{n} -> {long}{{ext}}")) for n in (1, 2))
    assert not isinstance(second, Refused) and not isinstance(first, Refused)
    assert second.path.endswith(" (2)")
    assert len(second.path.encode()) <= 255 - 11
