"""Crawl file -> validated spec. Every problem is found before the first request.

Each problem is reported as ``FILE:LINE:COL: what is wrong at yaml.path — what is expected``,
all of them at once, so one run of ``yamlcrawl validate`` shows everything to fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from yamlcrawl.language import spec
from yamlcrawl.language.checks import check_semantics
from yamlcrawl.language.problems import ConfigError, Problem, did_you_mean, dotted
from yamlcrawl.language.redact import MIN_SECRET_CHARS, is_secret
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
        overrides: ``--set name=value`` pairs; they replace or add to ``vars``.
        modes: the execution modes that exist.
        environ: where ``${NAME}`` in vars is looked up (default: ``os.environ``).

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
    found = _EnvFound()
    problems = _interpolate_vars(data, positions, environment, found)
    for name, value in (overrides or {}).items():
        data.setdefault("vars", {})
        if isinstance(data["vars"], dict):
            data["vars"][name] = value
        found.names.pop(name, None)  # --set replaces what the environment gave
    crawl, schema_problems = _validate_schema(data, positions)
    problems += schema_problems
    if crawl is not None:
        overridden = set(overrides or {})
        problems += check_semantics(crawl, positions, tuple(modes), overridden, found.names)
    if problems:
        raise ConfigError(source, problems)
    assert crawl is not None
    secrets = tuple(sorted(set(found.secrets), key=len, reverse=True))
    return LoadedSpec(crawl, source, positions, secrets, tuple(found.notes))


_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class _EnvFound:
    """What vars took from the environment."""

    secrets: list[str] = field(default_factory=list)  # values long enough to be secrets
    names: dict[str, str] = field(default_factory=dict)  # var -> the first ${ENV} it names
    notes: list[Problem] = field(default_factory=list)  # values too short to be secrets


def _interpolate_vars(
    data: dict[str, Any], positions: Positions, environ: Mapping[str, str], found: _EnvFound
) -> list[Problem]:
    """Replace ``${NAME}`` / ``${NAME:-fallback}`` in string vars; ``$$`` is a literal ``$``.

    Every var that names the environment, and every value taken from it, go into ``found``.
    """
    problems: list[Problem] = []
    variables = data.get("vars")
    if not isinstance(variables, dict):
        return problems
    for name, value in variables.items():
        if not isinstance(value, str):
            continue
        where = positions.of_value(("vars", name))

        def substitute(
            match: re.Match[str], name: str = name, where: tuple[int, int] = where
        ) -> str:
            if match.group(0) == "$$":
                return "$"
            env, fallback = match.group(1), match.group(2)
            found.names.setdefault(name, env)
            if env in environ:
                _found_value(found, where, name, env, environ[env])
                return environ[env]
            if fallback is not None:
                return fallback
            problems.append(
                Problem(
                    *where,
                    f"environment variable '{env}' is not set at vars.{name}"
                    f" — expected it in the environment, or a fallback: ${{{env}:-value}}",
                )
            )
            return ""

        variables[name] = _ENV.sub(substitute, value)
    return problems


def _found_value(found: _EnvFound, where: tuple[int, int], name: str, env: str, value: str) -> None:
    if is_secret(value):
        found.secrets.append(value)
    elif value:
        found.notes.append(
            Problem(
                *where,
                f"note: vars.{name} takes a value of {len(value)} characters from ${{{env}}}:"
                f" shorter than {MIN_SECRET_CHARS}, it is not treated as a secret"
                " (shown as it is, never replaced by ***)",
            )
        )


def _validate_schema(
    data: dict[str, Any], positions: Positions
) -> tuple[spec.CrawlSpec | None, list[Problem]]:
    try:
        return spec.CrawlSpec.model_validate(data), []
    except ValidationError as exc:
        return None, _schema_problems(exc.errors(), data, positions)


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
        elif _tag_before(loc, i, node):
            continue
        elif not (missing and last):
            break
        path.append(part)
    return tuple(path)


def _tag_before(loc: tuple[str | int, ...], i: int, node: Any) -> bool:
    """Whether ``loc[i]`` names the member of a union (a `where` rule) and the key after it is
    in the YAML: the error is about that key."""
    return i + 1 < len(loc) and isinstance(node, dict) and loc[i + 1] in node


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
    if path[-1:] == ("auth",) and (path[:1] == ("http",) or len(path) == 3):
        return spec.AuthSpec
    if path[-2:] == ("auth", "basic"):
        return spec.BasicAuthSpec
    if path[0] == "stages" and len(path) == 4 and path[2] == "where":
        return spec.RuleSpec
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
    if len(path) == 2 and path[0] == "vars":
        return "a string, number or boolean"
    if len(path) >= 3 and path[-2] in ("headers", "params", "fields", "proxies"):
        return "a string"
    return "a valid value"
