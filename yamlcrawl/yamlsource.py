"""YAML text to plain Python data, remembering where every key and value stands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

YamlPath = tuple[str | int, ...]


@dataclass
class Positions:
    """1-based (line, column) of every value, and of every mapping key, by YAML path."""

    values: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)

    def of_value(self, path: YamlPath) -> tuple[int, int]:
        """Where the value at ``path`` (or its nearest existing parent) starts."""
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def of_key(self, path: YamlPath) -> tuple[int, int]:
        """Where the key naming ``path`` stands, else where its value does."""
        return self.keys.get(path) or self.of_value(path)


class YamlSyntaxError(ValueError):
    """The text is not YAML, or uses a YAML feature a crawl file may not (tags, duplicate keys)."""

    def __init__(
        self,
        line: int,
        column: int,
        problem: str,
        expected: str = "valid YAML (check quotes, indentation, colons)",
    ) -> None:
        super().__init__(problem)
        self.line = line
        self.column = column
        self.problem = problem
        self.expected = expected


def _syntax_error(exc: yaml.MarkedYAMLError) -> YamlSyntaxError:
    """PyYAML's message in one line, at the problem, saying where the broken part began."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    context = exc.context or ""
    start = exc.context_mark
    if context and start is not None and (start.line + 1, start.column + 1) != (line, column):
        context += f" (begun at line {start.line + 1}, column {start.column + 1})"
    problem = " ".join(part for part in (context, exc.problem or "") if part)
    return YamlSyntaxError(line, column, problem)


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def parse_yaml(text: str) -> tuple[Any, Positions]:
    """Parse ``text`` into dicts, lists and scalars, with positions.

    Raises:
        YamlSyntaxError: the text does not parse, has duplicate keys or non-scalar keys.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, 1, str(exc)) from None
    positions = Positions()
    if node is None:
        return None, positions
    return _build(node, (), positions, yaml.SafeLoader("")), positions


def _build(node: yaml.Node, path: YamlPath, positions: Positions, loader: yaml.SafeLoader) -> Any:
    positions.values[path] = _mark(node)
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
        raise YamlSyntaxError(
            *_mark(node), f"the tag '{node.tag}' is not allowed here", "plain YAML, no tags"
        )
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar_key(key_node, loader)
            if key in out:
                raise YamlSyntaxError(*_mark(key_node), f"duplicate key '{key}'", "each key once")
            positions.keys[(*path, key)] = _mark(key_node)
            out[key] = _build(value_node, (*path, key), positions, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), positions, loader) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise YamlSyntaxError(*_mark(node), str(exc.problem), "plain YAML, no tags") from None


def _scalar_key(node: yaml.Node, loader: yaml.SafeLoader) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise YamlSyntaxError(*_mark(node), "a list or mapping as a key", "plain text keys")
    key = loader.construct_object(node)
    return key if isinstance(key, str) else str(key).lower() if isinstance(key, bool) else str(key)
