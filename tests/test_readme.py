"""The README's language reference states every default, and states it as the code has it
(language/spec.py): a line `key: VALUE` whose value is the default, or whose comment says
`default: VALUE`. The two defaults a newcomer meets first are said in words."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from tests.support import ROOT
from yamlcrawl.language import spec

MODELS: list[type[BaseModel]] = [
    spec.CrawlSpec, spec.RunSpec, spec.HttpSpec, spec.OutputSpec, spec.StageSpec,
    spec.DownloadSpec, spec.PaginateSpec, spec.EmitSpec, spec.FieldSpec, spec.IncrementalSpec,
]  # fmt: skip


def language_section() -> str:
    """The README from "## The language" to the next section of that level."""
    text = (ROOT / "README.md").read_text("utf-8")
    start = text.index("\n## The language\n")
    return text[start : text.index("\n## ", start + 1)]


def yaml_lines() -> list[str]:
    """Every line of the language section's YAML blocks."""
    blocks = [part.split("```", 1)[0] for part in language_section().split("```yaml\n")[1:]]
    return [line for block in blocks for line in block.splitlines()]


def defaults() -> dict[str, list[Any]]:
    """Each key with a default the reference must state: its default(s) across the models.
    None (absent), an empty mapping or list (none), and the models themselves are left out."""
    found: dict[str, list[Any]] = {}
    for model in MODELS:
        for name, field in model.model_fields.items():
            value = field.default
            if value is PydanticUndefined and field.default_factory is not None:
                value = field.default_factory()  # type: ignore[call-arg]
            if value in (None, PydanticUndefined, {}, []) or isinstance(value, BaseModel):
                continue
            found.setdefault(field.alias or name, []).append(value)
    return found


def stated(key: str, lines: list[str]) -> list[Any]:
    """The values the reference gives ``key``: on ``key: VALUE`` lines (commented out or not)
    the value, and what a comment says after ``default:``."""
    values: list[Any] = []
    for line in lines:
        bare = line.strip().lstrip("#").strip()
        if not bare.startswith(f"{key}:"):
            continue
        value, _, comment = bare[len(key) + 1 :].partition(" #")
        values.append(yaml.safe_load(value) if value.strip() else None)
        if "default: " in comment:
            said = comment.split("default: ", 1)[1].split(")")[0].split(";")[0]
            values.append(yaml.safe_load(said.split()[0]))
    return values


def test_the_reference_states_every_default_as_the_code_has_it() -> None:
    lines = yaml_lines()
    wrong = {
        key: (wanted, stated(key, lines))
        for key, wanted in defaults().items()
        if not all(value in stated(key, lines) for value in wanted)
    }
    assert wrong == {}


def test_the_first_defaults_are_said_in_words() -> None:
    text = " ".join(language_section().split())
    assert "**`run.mode` is `serial`** by default" in text
    assert "**`output.dir` is `downloads`**, **relative to the current folder**" in text
    assert "not to the YAML file's folder" in text
