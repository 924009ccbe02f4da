"""A file's life in storage alone (storage/files.py): found already there, or written to a
temporary in ``.yamlcrawl/tmp/`` and put in place whole, or discarded. No server: the bytes are
handed to the slot as the HTTP layer would hand them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from yamlcrawl.storage.files import FileSlot, Written, already_present
from yamlcrawl.storage.safepath import UnsafePathError
from yamlcrawl.types import DownloadUnit

BODY = b"jpeg bytes"
SHA = hashlib.sha256(BODY).hexdigest()


def files_under(root: Path) -> list[str]:
    """Every file under ``root`` (the private folder's included), relative, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_body_is_written_aside_and_put_in_place_whole(tmp_path: Path) -> None:
    with FileSlot(tmp_path, "d/a.jpg") as slot:
        slot.begin("image/jpeg")
        slot.write(BODY[:4])
        slot.write(BODY[4:])
        writing = files_under(tmp_path)
        written = slot.commit()
    assert len(writing) == 1 and writing[0].startswith(".yamlcrawl/tmp/")
    assert writing[0].endswith(".part")
    assert written == Written(len(BODY), SHA, "d/a.jpg")
    assert files_under(tmp_path) == ["d/a.jpg"]
    assert (tmp_path / "d/a.jpg").read_bytes() == BODY


def test_a_new_attempt_starts_the_body_over(tmp_path: Path) -> None:
    with FileSlot(tmp_path, "a.jpg") as slot:
        slot.begin(None)
        slot.write(b"half of a fir")
        slot.discard()  # the attempt failed
        assert files_under(tmp_path) == []
        slot.begin(None)
        slot.write(BODY)
        assert slot.commit() == Written(len(BODY), SHA, "a.jpg")
    assert (tmp_path / "a.jpg").read_bytes() == BODY


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError, RuntimeError])
def test_a_download_that_fails_leaves_nothing_and_keeps_the_old_file(
    tmp_path: Path, failure: type[BaseException]
) -> None:
    (tmp_path / "a.jpg").write_bytes(b"an earlier file")
    with pytest.raises(failure), FileSlot(tmp_path, "a.jpg") as slot:
        slot.begin(None)
        slot.write(BODY)
        raise failure
    assert files_under(tmp_path) == ["a.jpg"]
    assert (tmp_path / "a.jpg").read_bytes() == b"an earlier file"


@pytest.mark.parametrize(
    ("content_type", "url", "saved_as"),
    [
        ("image/png", "http://h/img?id=7", "d/b.png"),
        ("image/jpeg; charset=binary", "http://h/x.jpeg", "d/b.jpeg"),
        ("application/octet-stream", "http://h/x.webp", "d/b.webp"),
        (None, "http://h/x", "d/b"),
    ],
)
def test_ext_is_settled_by_the_type_the_response_gave(
    tmp_path: Path, content_type: str | None, url: str, saved_as: str
) -> None:
    with FileSlot(tmp_path, "d/b", ext_from=url) as slot:
        slot.begin("text/html")  # a failed attempt's type does not count
        slot.discard()
        slot.begin(content_type)
        slot.write(BODY)
        assert slot.commit() == Written(len(BODY), SHA, saved_as)
    assert files_under(tmp_path) == [saved_as]


def test_a_name_out_of_the_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "d").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError, match="resolves outside the output folder"):
        FileSlot(tmp_path / "out", "d/a.jpg")
    assert files_under(tmp_path / "out") == []


def unit(
    path: str = "a.jpg",
    *,
    overwrite: bool,
    expect: tuple[int, str] | None = None,
    ext_to_come: bool = False,
    found: str | None = None,
) -> DownloadUnit:
    return DownloadUnit(
        (0,), "s", "http://h/a", path, (), overwrite, expect, ext_to_come=ext_to_come, found=found
    )


# (what is on disk, the unit, what is found)
PRESENT = [
    (BODY, unit(overwrite=False), Written(len(BODY), SHA, "a.jpg")),
    (BODY, unit(overwrite=False, expect=(len(BODY), SHA)), Written(len(BODY), SHA, "a.jpg")),
    (BODY, unit(overwrite=True, expect=(len(BODY), SHA)), None),  # overwrite: fetch it anyway
    (None, unit(overwrite=False), None),  # not there
    (BODY[:-1], unit(overwrite=False, expect=(len(BODY), SHA)), None),  # cut short
    (BODY.upper(), unit(overwrite=False, expect=(len(BODY), SHA)), None),  # another file
    # {ext}: found only where the resume state says it was saved
    (BODY, unit("a", overwrite=False, ext_to_come=True), None),
    (BODY, unit("a", overwrite=False, ext_to_come=True, found="a.jpg"), Written(10, SHA, "a.jpg")),
]


@pytest.mark.parametrize(("on_disk", "asked", "found"), PRESENT)
def test_already_present(
    tmp_path: Path, on_disk: bytes | None, asked: DownloadUnit, found: Written | None
) -> None:
    if on_disk is not None:
        (tmp_path / "a.jpg").write_bytes(on_disk)
    assert already_present(tmp_path, asked) == found
