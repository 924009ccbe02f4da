"""Crawl file -> validated spec. Every problem is found before the first request.

Each problem is reported as ``FILE:LINE:COL: what is wrong at yaml.path — what is expected``,
all of them at once, so one run of ``yamlcrawl validate`` shows everything to fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from yamlcrawl.language import spec
from yamlcrawl.language.checks import check_semantics
from yamlcrawl.language.problems import ConfigError, Problem, did_you_mean, dotted
from yamlcrawl.language.redact import redact
from yamlcrawl.language.settings import (
    SET_ORIGIN_LINE,
    Given,
    Outside,
    apply_overrides,
    interpolate,
    put,
    settle,
)
from yamlcrawl.language.where import RULES

__all__ = ["ConfigError", "LoadedSpec", "Problem", "load_spec", "load_text"]
from yamlcrawl.language.yamlsource import Positions, YamlPath, YamlSyntaxError, parse_yaml

MAX_FILE_BYTES = 4 * 1024 * 1024  # a crawl file past this is refused, unread


@dataclass(frozen=True)
class LoadedSpec:
    """A crawl spec that passed every check, with where it came from."""

    spec: spec.CrawlSpec
    source: str
    positions: Positions
    secrets: tuple[str, ...] = ()  # what vars took from the environment: never shown
    notes: tuple[Problem, ...] = ()  # worth saying, not wrong: `validate` prints them


def load_spec(
    path: Path,
    overrides: Mapping[str, str] | None = None,
    modes: Iterable[str] = ("serial",),
    environ: Mapping[str, str] | None = None,
) -> LoadedSpec:
    """Read, parse and check a crawl file.

    Args:
        path: the YAML file.
        overrides: ``--set`` pairs: a var name (``img``) replaces or adds a var, as text; a
            path (``http.rate``, ``stages.list.url``) sets that value, typed as YAML reads it
            (``settings.py``).
        modes: the execution modes that exist.
        environ: where ``${NAME}`` in any value is looked up (default: ``os.environ``).

    Raises:
        ConfigError: the file is missing, not YAML, or breaks any rule; all problems at once.
    """
    source = str(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)  # no more: the file may be endless (a FIFO)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(source, [Problem(1, 1, f"cannot read the file: {reason}")]) from None
    return load_text(text, source, overrides, modes, environ)


def _too_big(text: str) -> Problem | None:
    """A crawl file is small: a bigger one is a mistake, and is refused before parsing."""
    if len(text) <= MAX_FILE_BYTES // 4:  # every character is at most 4 bytes of UTF-8
        return None
    if len(text.encode("utf-8", errors="surrogatepass")) <= MAX_FILE_BYTES:
        return None
    return Problem(
        1,
        1,
        f"the file is longer than {MAX_FILE_BYTES:,} bytes"
        " — expected a crawl file of at most 4 MiB",
    )


def load_text(
    text: str,
    source: str = "crawler.yaml",
    overrides: Mapping[str, str] | None = None,
    modes: Iterable[str] = ("serial",),
    environ: Mapping[str, str] | None = None,
) -> LoadedSpec:
    """Like :func:`load_spec`, from text already read."""
    too_big = _too_big(text)
    if too_big is not None:
        raise ConfigError(source, [too_big])
    try:
        data, positions = parse_yaml(text)
    except YamlSyntaxError as exc:
        message = f"invalid YAML: {exc.problem} — expected {exc.expected}"
        problem = Problem(exc.line, exc.column, message)
        raise ConfigError(source, [problem]) from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else _describe(data)
        message = f"got {got} at the top level — expected a mapping with at least 'stages'"
        raise ConfigError(source, [Problem(*positions.of_value(()), message)])
    for key in [key for key in data if key.startswith("x-")]:
        del data[key]  # `x-` keys hold YAML anchors for reuse, as in docker-compose files
    environment = os.environ if environ is None else environ
    found = Outside()
    interpolate(data, positions, environment, found)
    apply_overrides(data, positions, overrides or {}, found)
    crawl, problems = _validate_typed(data, positions, found.typed)
    settle(data, found)
    problems += found.problems
    if crawl is not None:
        problems += check_semantics(crawl, positions, tuple(modes), found.set_vars, found.names)
    if problems:
        raise ConfigError(source, _shown(problems, found))
    assert crawl is not None
    secrets = tuple(sorted(set(found.secrets), key=len, reverse=True))
    return LoadedSpec(crawl, source, positions, secrets, tuple(found.notes))


def _shown(problems: list[Problem], found: Outside) -> list[Problem]:
    """Problems as shown: a --set value's named by its --set, values from the environment
    masked (a message may quote a value)."""
    masked = found.env_values()
    return [
        replace(
            problem,
            message=redact(problem.message, masked),
            origin=found.origins.get(problem.column) if problem.line == SET_ORIGIN_LINE else None,
        )
        for problem in problems
    ]


def _validate_typed(
    data: dict[str, Any], positions: Positions, given: list[Given]
) -> tuple[spec.CrawlSpec | None, list[Problem]]:
    """The spec, trying a value given as ``${ENV}`` or by ``--set`` typed (``2``, ``true``) and,
    where the schema refuses that type but takes text (a header, a template), as its text."""
    crawl, errors = _validate(data)
    as_text = [item for item in given if item.path in _wrong(errors, data)]
    if as_text:
        for item in as_text:
            put(data, item.path, item.text)
        crawl, errors = _validate(data)
        back = [item for item in as_text if item.path in _wrong(errors, data)]
        for item in back:  # refused as text too: the message names the typed value, as a file
            put(data, item.path, item.typed)
        if back:
            crawl, errors = _validate(data)
    return crawl, _schema_problems(errors, data, positions)


def _validate(data: dict[str, Any]) -> tuple[spec.CrawlSpec | None, list[ErrorDetails]]:
    try:
        return spec.CrawlSpec.model_validate(data), []
    except ValidationError as exc:
        return None, exc.errors()


def _wrong(errors: list[ErrorDetails], data: dict[str, Any]) -> set[YamlPath]:
    """The YAML paths of the values the schema refused."""
    return {_data_path(tuple(error["loc"]), data, missing=False) for error in errors}


def _schema_problems(
    errors: list[ErrorDetails], data: dict[str, Any], positions: Positions
) -> list[Problem]:
    """One problem per YAML path: a union's several complaints about one value become one."""
    seen: set[tuple[YamlPath, str]] = set()
    problems: list[Problem] = []
    for error in errors:
        kind = error["type"]
        path = _data_path(tuple(error["loc"]), data, missing=kind == "missing")
        if (path, kind if kind in ("missing", "extra_forbidden") else "value") in seen:
            continue
        seen.add((path, kind if kind in ("missing", "extra_forbidden") else "value"))
        problems.append(_schema_problem(kind, path, error.get("input"), positions))
    return [p for p in problems if not _explained_by_a_typo(p, problems)]


def _explained_by_a_typo(problem: Problem, problems: list[Problem]) -> bool:
    """``missing key 'stages'`` adds nothing beside ``unknown key 'stagse' ... 'stages'?``."""
    missing = re.match(r"missing key '([^']+)' at (.+?) — expected", problem.message)
    if missing is None:
        return False
    key, where = missing.groups()
    hint = f"at {where} — expected one of:"
    return any(hint in p.message and p.message.endswith(f"did you mean '{key}'?") for p in problems)


def _data_path(loc: tuple[str | int, ...], data: Any, missing: bool) -> YamlPath:
    """The part of a pydantic ``loc`` that names real YAML (dropping union member tags)."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        present = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        )
        if present:
            node = node[part]
        elif _tag_before(loc, i, node, missing):
            continue
        elif not (missing and last):
            break
        path.append(part)
    return tuple(path)


def _tag_before(loc: tuple[str | int, ...], i: int, node: Any, missing: bool = False) -> bool:
    """Whether ``loc[i]`` names the member of a union (a `where` rule, a field's long form) and
    the key after it is in the YAML, or is the key missing from it: the error is about that
    key."""
    if i + 1 >= len(loc) or not isinstance(node, dict):
        return False
    return loc[i + 1] in node or (missing and i + 2 == len(loc))


def _schema_problem(kind: str, path: YamlPath, value: Any, positions: Positions) -> Problem:
    where = dotted(path[:-1]) if kind in ("missing", "extra_forbidden") else dotted(path)
    key = str(path[-1]) if path else ""
    if kind == "extra_forbidden":
        allowed = _allowed_keys(path[:-1])
        message = (
            f"unknown key '{key}' at {where} — expected one of: {', '.join(allowed)}"
            f"{did_you_mean(key, allowed)}"
        )
        return Problem(*positions.of_key(path), message)
    expected = _expected(path)
    if kind == "missing":
        message = f"missing key '{key}' at {where} — expected {expected}"
        return Problem(*positions.of_value(path[:-1]), message)
    return Problem(
        *positions.of_value(path), f"got {_describe(value)} at {where} — expected {expected}"
    )


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, str):
        return f"the text '{value}'"
    return f"the number {value}"


def _model_at(path: YamlPath) -> type[BaseModel] | None:
    """The schema model for the mapping at ``path``, if it is one."""
    if path == ():
        return spec.CrawlSpec
    if len(path) == 1:
        sections: dict[str, type[BaseModel]] = {
            "run": spec.RunSpec,
            "http": spec.HttpSpec,
            "output": spec.OutputSpec,
        }
        return sections.get(str(path[0]))
    if path[0] == "stages" and len(path) == 2:
        return spec.StageSpec
    if path[0] == "stages" and len(path) == 4 and path[2] == "downloads":
        return spec.DownloadSpec
    if path[0] == "stages" and len(path) == 3 and path[2] == "paginate":
        return spec.PaginateSpec
    if path[0] == "stages" and len(path) == 3 and path[2] == "emit":
        return spec.EmitSpec
    if path[0] == "stages" and len(path) == 3 and path[2] == "incremental":
        return spec.IncrementalSpec
    if path[-1:] == ("auth",) and (path[:1] == ("http",) or len(path) == 3):
        return spec.AuthSpec
    if path[-2:] in (("auth", "basic"), ("auth", "digest")):
        return spec.BasicAuthSpec
    if path[0] == "stages" and len(path) == 4 and path[2] == "where":
        return spec.RuleSpec
    if path[0] == "stages" and len(path) == 4 and path[2] == "fields":
        return spec.FieldSpec
    return None


def _allowed_keys(path: YamlPath) -> list[str]:
    model = _model_at(path)
    if model is None:
        return []
    return sorted(info.alias or name for name, info in model.model_fields.items())


def _expected(path: YamlPath) -> str:
    """The schema's description of the value at ``path``."""
    if path:
        model = _model_at(path[:-1])
        if model is not None:
            for name, info in model.model_fields.items():
                if path[-1] in (name, info.alias):
                    return info.description or "a valid value"
    if len(path) == 2 and path[0] == "stages":
        return "a stage: a mapping with at least 'url'"
    if len(path) == 4 and path[2] == "where":
        return f"a text to equal, or a rule: a mapping with one of {', '.join(RULES)}"
    if len(path) == 4 and path[2] == "downloads":
        return "a download: a mapping with 'url' and 'save_as'"
    if len(path) == 4 and path[2] == "fields":
        return "a jsonpath, or a mapping with path and required"
    if len(path) == 2 and path[0] == "vars":
        return "a string, number or boolean"
    if len(path) >= 3 and path[-2] in ("headers", "params", "fields", "proxies"):
        return "a string"
    return "a valid value"
