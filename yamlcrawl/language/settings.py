"""Values from outside the file: ``${ENV}`` in any value, and ``--set`` by var name or by path.

A value that is one ``${NAME}`` (or ``${NAME:-fallback}``) as a whole, and every ``--set`` value
given by a path (``http.rate=2``), is read as YAML reads a plain value written in the file:
``2`` is a number, ``true`` a boolean, empty is null. Where the schema takes only text (a
header, a template) and not that type, the loader keeps the text instead (:class:`Given`).
``${NAME}`` inside a longer text is text. A var (under ``vars``, or ``--set NAME=VALUE``) is
always text, as it always was.

A value from the environment is a secret (masked in everything shown) when it ends up as text
anywhere but ``name``, ``run`` and ``output``, and is at least
:data:`~yamlcrawl.language.redact.MIN_SECRET_CHARS` long; a shorter one gets a note instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yamlcrawl.language.problems import Problem, did_you_mean, dotted
from yamlcrawl.language.redact import MIN_SECRET_CHARS, is_secret
from yamlcrawl.language.yamlsource import Positions, YamlPath, YamlSyntaxError, parse_yaml

ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
PLAIN_SECTIONS = frozenset({"name", "run", "output"})  # no secret belongs there: never masked
SET_ORIGIN_LINE = 0  # a --set value's "line": its problems come first, named by the --set
_SEGMENT = re.compile(r'(?:^|\.)(?:([A-Za-z0-9_-]+)|"([^"]*)")|\[(\d+)\]')
_MISSING = object()


@dataclass(frozen=True)
class Given:
    """A value read as YAML types it (``typed``), with the text it was read from."""

    path: YamlPath
    text: str
    typed: Any


@dataclass(frozen=True)
class _Use:
    """One ``${NAME}`` that the environment answered."""

    path: YamlPath
    env: str
    value: str
    where: tuple[int, int]


@dataclass
class Outside:
    """What the environment and ``--set`` gave, and what was wrong with it."""

    secrets: list[str] = field(default_factory=list)  # values long enough to be secrets
    names: dict[str, str] = field(default_factory=dict)  # var -> the first ${ENV} it names
    notes: list[Problem] = field(default_factory=list)  # values too short to be secrets
    problems: list[Problem] = field(default_factory=list)
    typed: list[Given] = field(default_factory=list)  # may fall back to their text
    origins: dict[int, str] = field(default_factory=dict)  # column -> "--set NAME=VALUE"
    set_vars: set[str] = field(default_factory=set)  # vars that --set bound
    replaced: list[YamlPath] = field(default_factory=list)  # paths --set gave a value
    uses: list[_Use] = field(default_factory=list)

    def env_values(self) -> tuple[str, ...]:
        """Every value the environment gave that could be a secret: kept out of messages."""
        return tuple({use.value for use in self.uses if is_secret(use.value)})


def typed(text: str) -> Any:
    """``text`` as YAML reads a plain value: a number, boolean, null, date, list or mapping;
    the text itself when YAML reads it as text (or not at all)."""
    if "\n" in text or "\r" in text:
        return text
    try:
        value, _ = parse_yaml(text)
    except YamlSyntaxError:
        return text
    return text if isinstance(value, str) else value


def interpolate(
    data: dict[str, Any], positions: Positions, environ: Mapping[str, str], found: Outside
) -> None:
    """Replace ``${NAME}`` / ``${NAME:-fallback}`` in every text value of ``data``; ``$$`` is a
    literal ``$``. Keys are left as they are."""
    stack: list[tuple[YamlPath, Any]] = [((), data)]
    while stack:
        path, node = stack.pop()
        pairs = list(node.items() if isinstance(node, dict) else enumerate(node))
        for key, value in pairs:
            child = (*path, key)
            if isinstance(value, dict | list):
                stack.append((child, value))
            elif isinstance(value, str) and "$" in value:
                node[key] = _substitute(child, value, positions, environ, found)


def _substitute(
    path: YamlPath, text: str, positions: Positions, environ: Mapping[str, str], found: Outside
) -> Any:
    where = positions.of_value(path)
    is_var = len(path) == 2 and path[0] == "vars"

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        env, fallback = match.group(1), match.group(2)
        if is_var:
            found.names.setdefault(str(path[1]), env)
        if env in environ:
            found.uses.append(_Use(path, env, environ[env], where))
            return environ[env]
        if fallback is not None:
            return fallback
        found.problems.append(
            Problem(
                *where,
                f"environment variable '{env}' is not set at {dotted(path)}"
                f" — expected it in the environment, or a fallback: ${{{env}:-value}}",
            )
        )
        return ""

    result = ENV.sub(one, text)
    if is_var or text == "$$" or not ENV.fullmatch(text):
        return result
    value = typed(result)
    if not isinstance(value, str):
        found.typed.append(Given(path, result, value))
    return value


def apply_overrides(
    data: dict[str, Any], positions: Positions, overrides: Mapping[str, str], found: Outside
) -> None:
    """Put each ``--set NAME=VALUE`` in ``data``: an identifier is a var (text), anything else a
    path into the file (typed). Each value's position is ``(0, n)``, n its origin's number."""
    for number, (name, text) in enumerate(overrides.items(), start=1):
        found.origins[number] = f"--set {name}={text}"
        mark = (SET_ORIGIN_LINE, number)
        if name.isidentifier():
            path: YamlPath = ("vars", name)
        else:
            parsed = parse_path(name)
            if parsed is None:
                found.problems.append(
                    Problem(
                        *mark,
                        f"'{name}' is not a var name or a path to a setting"
                        " — expected NAME (a var) or a path into the file such as http.rate,"
                        ' run.workers, stages.NAME.url or http.headers."X-Key"',
                    )
                )
                continue
            path = parsed
        value: Any = text if path[0] == "vars" else typed(text)
        if _put_override(data, positions, path, value, mark, found):
            found.typed = [item for item in found.typed if item.path[: len(path)] != path]
            if path[0] == "vars" and len(path) == 2:
                found.set_vars.add(str(path[1]))
                found.names.pop(str(path[1]), None)  # --set replaces what the environment gave
            elif not isinstance(value, str):
                found.typed.append(Given(path, text, value))
            found.replaced.append(path)


def parse_path(name: str) -> YamlPath | None:
    """``http.headers."X-Key"`` or ``stages.a.downloads[0].url`` as a YAML path; None if it is
    not one (the form messages print paths in)."""
    path: list[str | int] = []
    at = 0
    for match in _SEGMENT.finditer(name):
        if match.start() != at or (match.group(0).startswith(".") and not path):
            return None
        key, quoted, index = match.groups()
        path.append(int(index) if index is not None else key if key is not None else quoted)
        at = match.end()
    if at != len(name) or not path or isinstance(path[0], int):
        return None
    return tuple(path)


def _put_override(
    data: dict[str, Any],
    positions: Positions,
    path: YamlPath,
    value: Any,
    mark: tuple[int, int],
    found: Outside,
) -> bool:
    """Set ``value`` at ``path``, making the mappings on the way; False after a problem."""
    node: Any = data
    for depth, part in enumerate(path):
        problem = _cannot_enter(node, path[:depth], part)
        if problem is not None:
            found.problems.append(Problem(*mark, problem))
            return False
        key = int(part) if isinstance(node, list) else part
        if depth == len(path) - 1:
            node[key] = value
        else:
            if isinstance(node, dict) and key not in node:
                node[key] = {}
                positions.values[path[: depth + 1]] = mark
            node = node[key]
    _forget_positions(positions, path)
    positions.values[path] = positions.keys[path] = mark
    return True


def _cannot_enter(node: Any, path: YamlPath, part: str | int) -> str | None:
    """Why ``part`` of ``node`` (at ``path``) cannot be set or gone into, or None."""
    if isinstance(node, list):
        if (isinstance(part, int) or part.isdigit()) and int(part) < len(node):
            return None
        return (
            f"no item [{part}] in the list at {dotted(path)}, which has {len(node)}"
            f" — expected an index from 0 to {len(node) - 1}, such as {dotted((*path, 0))}"
            if node
            else f"no item [{part}] in the list at {dotted(path)}, which is empty"
            " — expected a path to something the file has"
        )
    if not isinstance(node, dict):
        return (
            f"{dotted(path)} is not a mapping (it holds {_kind(node)}), so it has no"
            f" '{part}' — expected a path that ends at {dotted(path)}"
        )
    if path == ("stages",) and part not in node:
        return (
            f"there is no stage '{part}' at stages — expected one of: {', '.join(node)}"
            f"{did_you_mean(str(part), node)} (--set changes a stage, it does not add one)"
        )
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, int | float) else "text"


def _forget_positions(positions: Positions, path: YamlPath) -> None:
    """A --set value replaces what was at ``path``: the file's positions under it are stale."""
    size = len(path)
    for table in (positions.values, positions.keys):
        for old in [old for old in table if old[:size] == path and len(old) > size]:
            del table[old]


def value_at(data: Any, path: YamlPath) -> Any:
    """The value at ``path``, or a sentinel when there is none."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return data


def put(data: Any, path: YamlPath, value: Any) -> None:
    """Set the value at ``path``, which exists."""
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def settle(data: dict[str, Any], found: Outside) -> None:
    """Once values are final: which environment values are secrets, which get a note, and which
    name files (refused, unless the crawl allows it)."""
    output = data.get("output")
    allowed = isinstance(output, dict) and output.get("allow_secrets_in_names") is True
    for use in found.uses:
        if any(use.path[: len(path)] == path for path in found.replaced):
            continue  # --set gave another value
        if use.path[0] in PLAIN_SECTIONS or not isinstance(value_at(data, use.path), str):
            continue  # a folder, a mode, a number: nothing anyone would hide
        if _names_a_file(use.path) and not allowed:
            found.problems.append(
                Problem(
                    *use.where,
                    f"a value from the environment (${{{use.env}}}) in a file name at"
                    f" {dotted(use.path)} — expected no value from the environment in a file"
                    " name (names on disk are never redacted), or"
                    " output.allow_secrets_in_names: true",
                )
            )
        if is_secret(use.value):
            found.secrets.append(use.value)
        elif use.value:
            found.notes.append(
                Problem(
                    *use.where,
                    f"note: {dotted(use.path)} takes a value of {len(use.value)} characters"
                    f" from ${{{use.env}}}: shorter than {MIN_SECRET_CHARS}, it is not treated"
                    " as a secret (shown as it is, never replaced by ***)",
                )
            )


def _names_a_file(path: YamlPath) -> bool:
    return path[-1] == "save_as" or path[-2:] == ("emit", "to")
