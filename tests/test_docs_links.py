"""The README and the docs point only inside the repository: every relative link names a file
that is there (and a heading that is there, for a `#fragment`), no link or path climbs out of
the repository, and a Markdown file named in the text is one the repository has."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from tests.support import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCUMENTS += [ROOT / "samples" / "tutorial" / "README.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CLIMB = re.compile(r"(?<![\w./])((?:\.\./)+[\w./-]*)")
FENCE = re.compile(r"^(```|~~~)")
MARKDOWN_NAME = re.compile(r"(?<![\w/.-])([\w-]+\.md)\b")
# `../x` in the README is a relative URL a server may send (the language's "Relative URLs"),
# not a path of this repository.
NOT_PATHS = {"README.md": {"../x"}}


def outside_fences(text: str) -> list[str]:
    """The lines of a Markdown text that are not inside a fenced code block."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    kept = "".join(c for c in text if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    """The anchors of every heading in a Markdown file."""
    lines = outside_fences(document.read_text("utf-8"))
    return {slug(line.lstrip("#")) for line in lines if line.startswith("#")}


def links(document: Path) -> list[str]:
    """Every link target in a Markdown file, code blocks left out."""
    text = "\n".join(outside_fences(document.read_text("utf-8")))
    return LINK.findall(text)


def problems_of(document: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with a document's links and paths, one line each (``root``: the
    repository)."""
    found: list[str] = []
    for target in links(document):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        if not file.is_relative_to(root):
            found.append(f"{target}: outside the repository")
        elif not file.exists():
            found.append(f"{target}: no such file")
        elif fragment and file.suffix == ".md" and fragment not in anchors(file):
            found.append(f"{target}: no heading #{fragment} in {file.name}")
    text = document.read_text("utf-8")
    names = {path.name for path in root.rglob("*.md") if ".git" not in path.parts}
    prose = "\n".join(outside_fences(text))
    for name in sorted(set(MARKDOWN_NAME.findall(prose)) - names):
        found.append(f"{name}: named, but no such file in the repository")
    for climb in CLIMB.findall(text):
        if climb in NOT_PATHS.get(document.name, set()):
            continue
        if not (document.parent / climb).resolve().is_relative_to(root):
            found.append(f"{climb}: a path outside the repository")
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.relative_to(ROOT).as_posix())
def test_every_link_and_path_stays_in_the_repository(document: Path) -> None:
    assert problems_of(document) == []


def test_the_readme_links_to_each_document_in_docs() -> None:
    linked = {target.partition("#")[0] for target in links(ROOT / "README.md")}
    docs = {f"docs/{d.name}" for d in (ROOT / "docs").glob("*.md")}
    assert docs and docs <= linked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[a](docs/design.md) ![b](docs/design.md#layers)", []),
        ("[a](docs/nope.md)", ["docs/nope.md: no such file"]),
        ("[a](docs/design.md#nope)", ["docs/design.md#nope: no heading #nope in design.md"]),
        (
            "[a](../shared/DESIGN.md)",
            [
                "../shared/DESIGN.md: outside the repository",
                "../shared/DESIGN.md: a path outside the repository",
            ],
        ),
        ("[a](#title) [b](#the-end)", ["#the-end: no heading #the-end in README.md"]),
        ("see `../shared/fixtures/lol`", ["../shared/fixtures/lol: a path outside the repository"]),
        ("```\n[a](nope.md)\n```", []),
        ("[a](https://example.com/x.md)", []),
        ("as DESIGN.md says", ["DESIGN.md: named, but no such file in the repository"]),
    ],
)
def test_the_checks_find_what_they_are_for(tmp_path: Path, text: str, expected: list[str]) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "design.md").write_text("# How\n\n## Layers\n", "utf-8")
    document = tmp_path / "README.md"
    document.write_text(f"# Title\n\n{text}\n", "utf-8")
    assert problems_of(document, tmp_path) == expected
