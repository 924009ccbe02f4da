"""The name of a download rule, as its progress bar and ``yamlcrawl plan`` show it.

A rule's own ``name:`` if it has one; else one read from the literal text of its save_as, the
most telling first:

1. the file name's own words: ``{hero}/{skin.name}电脑版.jpg`` -> ``电脑版``
   (a word has a letter; a single Latin letter, as in ``{w}x{h}``, is not one);
2. the last folder that is all literal text: ``avatars/{user.login}{ext}`` -> ``avatars``;
3. the file's literal extension: ``{x}/{y}.png`` -> ``png files``;
4. else the stage and the rule's place in it: ``skins[0] files``.

Two rules that would show the same name are told apart by their place: ``png files
(skins[1])``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from yamlcrawl.language.template import Template, TemplateError, compile_template

_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})\Z")
_SEPARATORS = " \t-_.,;:~+=#@()[]{}'\""


def rule_name(stage: str, index: int, save_as: str, name: str | None = None) -> str:
    """The rule's ``name`` if given, else one read from ``save_as`` (see the module)."""
    if name is not None:
        return name
    try:
        template = compile_template(save_as)
    except TemplateError:  # the loader says so; a plan is still drawn
        return place(stage, index)
    folders, file_name = _segments(template)
    stem, extension = _split_extension(file_name)
    words = _words(stem)
    if words:
        return " ".join(words)
    for folder in reversed(folders):
        if folder is not None and (text := folder.strip(_SEPARATORS)):
            return text
    if extension is not None:
        return f"{extension.lower()} files"
    return place(stage, index)


def place(stage: str, index: int) -> str:
    """``skins[0] files``: a rule named by where it is."""
    return f"{stage}[{index}] files"


def distinct(names: Iterable[tuple[str, int, str]]) -> dict[tuple[str, int], str]:
    """``(stage, index, name)`` -> the name shown: one that two rules share gets their place."""
    rules = list(names)
    counts = Counter(name for _, _, name in rules)
    return {
        (stage, index): name if counts[name] == 1 else f"{name} ({stage}[{index}])"
        for stage, index, name in rules
    }


Segment = list[str | None]  # the literal pieces of a path segment; None: a field among them


def _segments(template: Template) -> tuple[list[str | None], Segment]:
    """The folders (their text, or None when a field is in one) and the file name's pieces."""
    segments: list[Segment] = [[]]
    for part in template.parts:
        if not isinstance(part, str):
            segments[-1].append(None)
            continue
        first, *others = part.split("/")
        segments[-1].append(first)
        segments += [[piece] for piece in others]
    folders = [None if None in seg else "".join(p or "" for p in seg) for seg in segments[:-1]]
    return folders, segments[-1]


def _split_extension(file_name: Segment) -> tuple[Segment, str | None]:
    """The file name without the literal extension that ends it, and that extension."""
    last = file_name[-1] if file_name else None
    match = _EXTENSION.search(last) if last is not None else None
    if last is None or match is None:
        return file_name, None
    return [*file_name[:-1], last[: match.start()]], match.group(1)


def _words(file_name: Segment) -> list[str]:
    pieces = (piece.strip(_SEPARATORS) for piece in file_name if piece is not None)
    return [piece for piece in pieces if _is_word(piece)]


def _is_word(text: str) -> bool:
    has_letter = any(char.isalpha() for char in text)
    return has_letter and not (len(text) == 1 and text.isascii())
