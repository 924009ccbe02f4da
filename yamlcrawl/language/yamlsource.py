"""YAML text to plain Python data, remembering where every key and value stands.

The data is built from the parser's events without recursion, so hostile input costs time linear
in its size: nesting is limited to :data:`MAX_DEPTH` levels (checked when a list or mapping
opens), and aliases, which copy what their anchor holds, may add at most
:data:`MAX_ALIAS_VALUES` values in all (a "billion laughs" file stops at its first alias past
that). libyaml's parser is used when PyYAML has it; a text it refuses is parsed again by PyYAML's
own, whose messages say more.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

YamlPath = tuple[str | int, ...]
Mark = tuple[int, int]

MAX_DEPTH = 100  # levels of nested lists and mappings
MAX_ALIAS_VALUES = 100_000  # values that aliases may copy, in all


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
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NO_TAGS = "plain YAML, no tags"


def parse_yaml(text: str) -> tuple[Any, Positions]:
    """Parse ``text`` into dicts, lists and scalars, with positions.

    Raises:
        YamlSyntaxError: the text does not parse, has duplicate keys or non-scalar keys, nests
            deeper than :data:`MAX_DEPTH`, or its aliases copy more than
            :data:`MAX_ALIAS_VALUES` values or refer to a node that holds them.
    """
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return _build(yaml.parse(text, Loader=fast))
        except yaml.YAMLError:
            pass  # libyaml's messages say less: PyYAML's own parser says where and what
    try:
        return _build(yaml.parse(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, 1, str(exc)) from None


def _build(events: Iterable[yaml.Event]) -> tuple[Any, Positions]:
    builder = _Builder()
    for event in events:
        builder.feed(event)
    return builder.root, builder.positions


def _mark(event: yaml.Event) -> Mark:
    start = event.start_mark
    return (start.line + 1, start.column + 1) if start is not None else (1, 1)


@dataclass
class _Open:
    """A list or mapping whose end has not come yet."""

    path: YamlPath
    items: list[Any] | dict[Any, Any]
    anchor: str | None
    log_start: int  # where its positions begin in the builder's log
    size: int = 1  # values in it, itself included, as aliases would copy them
    height: int = 1  # levels of lists and mappings, itself included
    key: Any = None  # a mapping's key whose value comes next
    key_mark: Mark = (1, 1)
    has_key: bool = False
    merges: list[tuple[Any, int, int, Mark]] = field(default_factory=list)  # `<<` values


@dataclass(frozen=True)
class _Anchor:
    value: Any
    path: YamlPath
    log: tuple[int, int]  # its positions: a slice of the builder's log
    size: int
    height: int


class _MergeKey:
    """The ``<<`` key of a mapping: what follows is merged into it, its own keys winning."""


_MERGE = _MergeKey()


class _Builder:
    """Turns parser events into data and positions, one event at a time, without recursion."""

    def __init__(self) -> None:
        self.positions = Positions()
        # Every position placed, in document order: a node's are one slice, which an alias
        # of it copies under its own path.
        self.log: list[tuple[YamlPath, Mark, bool]] = []
        self.stack: list[_Open] = []
        self.anchors: dict[str, _Anchor | None] = {}  # None: the node is still open
        self.anchor_marks: dict[str, Mark] = {}
        self.copied = 0
        self.root: Any = None
        self.documents = 0
        self.loader = yaml.SafeLoader("")

    def feed(self, event: yaml.Event) -> None:
        """Take the next event."""
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise YamlSyntaxError(
                    *_mark(event), "a second document in the file", "one YAML document"
                )
        elif isinstance(event, yaml.ScalarEvent):
            self._scalar(event)
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event)
        elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            self._open(event)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self._close()

    def _place(self, path: YamlPath, mark: Mark, is_key: bool = False) -> None:
        (self.positions.keys if is_key else self.positions.values)[path] = mark
        self.log.append((path, mark, is_key))

    def _wants_key(self) -> bool:
        top = self.stack[-1] if self.stack else None
        return top is not None and isinstance(top.items, dict) and not top.has_key

    def _child_path(self) -> YamlPath:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.items, dict):
            return (*top.path, "<<" if top.key is _MERGE else top.key)
        return (*top.path, len(top.items))

    def _define(self, anchor: str | None, mark: Mark) -> None:
        if anchor is None:
            return
        if anchor in self.anchor_marks:
            line, column = self.anchor_marks[anchor]
            raise YamlSyntaxError(
                *mark,
                f"the anchor '&{anchor}' is defined twice (first at line {line}, column {column})",
                "each anchor name once",
            )
        self.anchor_marks[anchor] = mark
        self.anchors[anchor] = None

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(  # type: ignore[no-untyped-call]
                yaml.ScalarNode, event.value, event.implicit
            )
        if self._wants_key():
            self._key(_MERGE if tag == _MERGE_TAG else self._construct(event, tag), _mark(event))
            return
        value = self._construct(event, tag)
        self._define(event.anchor, _mark(event))
        start = len(self.log)
        self._place(self._child_path(), _mark(event))
        if event.anchor is not None:
            self.anchors[event.anchor] = _Anchor(
                value, self._child_path(), (start, start + 1), 1, 0
            )
        self._attach(value, 1, 0, start, _mark(event))

    def _construct(self, event: yaml.ScalarEvent, tag: str) -> Any:
        node = yaml.ScalarNode(tag, event.value, style=event.style)
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise YamlSyntaxError(*_mark(event), str(exc.problem), _NO_TAGS) from None
        except (ValueError, TypeError):
            raise YamlSyntaxError(
                *_mark(event), f"'{event.value}' is not a {tag}", _NO_TAGS
            ) from None
        finally:
            self.loader.constructed_objects.pop(node, None)

    def _key(self, key: Any, mark: Mark) -> None:
        top = self.stack[-1]
        assert isinstance(top.items, dict)
        if isinstance(key, dict | list):
            raise YamlSyntaxError(*mark, "a list or mapping as a key", "plain text keys")
        if key is not _MERGE:
            key = _key_text(key)
            if key in top.items:
                raise YamlSyntaxError(*mark, f"duplicate key '{key}'", "each key once")
            self._place((*top.path, key), mark, is_key=True)
        top.key, top.key_mark, top.has_key = key, mark, True
        top.size += 1

    def _alias(self, event: yaml.AliasEvent) -> None:
        mark = _mark(event)
        name = event.anchor
        if name not in self.anchors:
            raise YamlSyntaxError(
                *mark, f"the alias '*{name}' names no anchor", "&NAME before *NAME"
            )
        anchor = self.anchors[name]
        if anchor is None:
            raise YamlSyntaxError(
                *mark,
                f"the alias '*{name}' is inside the node it names (a loop)",
                "an alias after its anchor's node has ended",
            )
        self.copied += anchor.size
        if self.copied > MAX_ALIAS_VALUES:
            raise YamlSyntaxError(
                *mark,
                f"the alias '*{name}' makes aliases copy more than {MAX_ALIAS_VALUES:,} values",
                "fewer or smaller aliases (each copies everything its anchor holds)",
            )
        if len(self.stack) + anchor.height > MAX_DEPTH:
            raise _too_deep(mark)
        if self._wants_key():
            self._key(anchor.value, mark)
            return
        start = len(self.log)
        self._copy_positions(anchor, self._child_path())
        value = (
            copy.deepcopy(anchor.value) if isinstance(anchor.value, dict | list) else anchor.value
        )
        self._attach(value, anchor.size, anchor.height, start, mark)

    def _copy_positions(self, anchor: _Anchor, path: YamlPath) -> None:
        cut = len(anchor.path)
        first, last = anchor.log
        for old, mark, is_key in self.log[first:last]:
            self._place((*path, *old[cut:]), mark, is_key)

    def _open(self, event: yaml.MappingStartEvent | yaml.SequenceStartEvent) -> None:
        mark = _mark(event)
        if self._wants_key():
            raise YamlSyntaxError(*mark, "a list or mapping as a key", "plain text keys")
        if event.tag not in (None, "!") and event.tag not in _PLAIN_TAGS:
            raise YamlSyntaxError(*mark, f"the tag '{event.tag}' is not allowed here", _NO_TAGS)
        if len(self.stack) >= MAX_DEPTH:
            raise _too_deep(mark)
        self._define(event.anchor, mark)
        path = self._child_path()
        start = len(self.log)
        self._place(path, mark)
        items: list[Any] | dict[Any, Any] = {} if isinstance(event, yaml.MappingStartEvent) else []
        self.stack.append(_Open(path, items, event.anchor, start))
        self.stack[-1].key_mark = mark

    def _close(self) -> None:
        done = self.stack.pop()
        value = self._merged(done) if isinstance(done.items, dict) else done.items
        if done.anchor is not None:
            log = (done.log_start, len(self.log))
            self.anchors[done.anchor] = _Anchor(value, done.path, log, done.size, done.height)
        self._attach(value, done.size, done.height, done.log_start, self.log[done.log_start][1])

    def _attach(self, value: Any, size: int, height: int, start: int, mark: Mark) -> None:
        """``value`` (its positions from ``start`` in the log) is the next item of its parent."""
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        top.size += size
        top.height = max(top.height, height + 1)
        if isinstance(top.items, list):
            top.items.append(value)
            return
        if top.key is _MERGE:
            top.merges.append((value, start, len(self.log), top.key_mark))
        else:
            top.items[top.key] = value
        top.key, top.has_key = None, False

    def _merged(self, done: _Open) -> dict[Any, Any]:
        """A mapping's own keys over what its ``<<`` keys merge (earlier sources win)."""
        assert isinstance(done.items, dict)
        if not done.merges:
            return done.items
        merged: dict[Any, Any] = {}
        winner: dict[Any, tuple[int, int | None]] = {}
        for number, (value, _, _, mark) in enumerate(done.merges):
            for index, source in _merge_sources(value, mark):
                for key, item in source.items():
                    if key not in merged:
                        merged[key] = item
                        winner[key] = (number, index)
        for number, (_, first, last, _) in enumerate(done.merges):
            self._merge_positions(done, number, first, last, winner)
        return {**merged, **done.items}

    def _merge_positions(
        self,
        done: _Open,
        number: int,
        first: int,
        last: int,
        winner: dict[Any, tuple[int, int | None]],
    ) -> None:
        """Positions of the keys a ``<<`` gave, moved from ``path.<<[.i].key`` to ``path.key``."""
        base = len(done.path) + 1  # past `<<`
        for old, mark, is_key in self.log[first:last]:
            rest = old[base:]
            index = rest[0] if rest and isinstance(rest[0], int) else None
            rest = rest[1:] if index is not None else rest
            key = rest[0] if rest else None
            if rest and key not in done.items and winner.get(key) == (number, index):
                self._place((*done.path, *rest), mark, is_key)


def _merge_sources(value: Any, mark: Mark) -> list[tuple[int | None, dict[Any, Any]]]:
    """What a ``<<`` key merges: a mapping, or a list of mappings."""
    if isinstance(value, dict):
        return [(None, value)]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return list(enumerate(value))
    raise YamlSyntaxError(
        *mark,
        "'<<' (a merge key) is not given a mapping or a list of mappings",
        "'<<: *anchor' or '<<: [*anchor, *other]' naming mappings",
    )


def _too_deep(mark: Mark) -> YamlSyntaxError:
    return YamlSyntaxError(
        *mark,
        f"lists and mappings nested more than {MAX_DEPTH} levels deep",
        f"at most {MAX_DEPTH} levels",
    )


def _key_text(key: Any) -> str:
    return key if isinstance(key, str) else str(key).lower() if isinstance(key, bool) else str(key)
