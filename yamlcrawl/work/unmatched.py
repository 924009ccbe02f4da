"""Which rules of a stage matched nothing on one page, noted by the worker that fetched it.

A page's result carries them to the coordinator (``engine/matches.py`` sums them up per stage),
so every mode reports the same. The cost is kept off pages that match: ``each`` is checked by
its item count, a field only when its value came out null, a download only when its file was
skipped or could not be named; only then is the path walked to say where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from yamlcrawl.language.matching import Miss, first_match, jsonpath_miss, template_miss
from yamlcrawl.language.plan import DownloadRule, StagePlan
from yamlcrawl.language.template import compile_template
from yamlcrawl.types import FileRequest, Unmatched


def page_unmatched(
    stage: StagePlan,
    data: Any,
    contexts: Sequence[Mapping[str, Any]],
    found: int,
    files: Sequence[FileRequest],
) -> tuple[Unmatched, ...]:
    """The rules of ``stage`` that matched nothing on this page.

    Args:
        stage: The page's stage.
        data: The page's document.
        contexts: The items kept, one context each (each holds the page's fields).
        found: The items ``each`` found (before ``where``).
        files: The file requests of those items, item by item, rule by rule.
    """
    out: list[Unmatched] = []
    base = contexts[0] if contexts else {}  # the page's fields: a null one is looked at again
    if stage.each is not None and not found:
        miss = jsonpath_miss(stage.each, data)
        if miss is not None:
            out.append(_unmatched("each", stage.each, miss))
    for name, path in stage.fields:
        if base.get(name) is None and not first_match(path, data)[0]:
            miss = jsonpath_miss(path, data)
            if miss is not None:
                out.append(_unmatched(f"fields.{name}", path, miss))
    if stage.downloads and any(f.skip or f.problem for f in files):
        out += _download_misses(stage.downloads, contexts, files)
    return tuple(out)


def _download_misses(
    rules: Sequence[DownloadRule],
    contexts: Sequence[Mapping[str, Any]],
    files: Sequence[FileRequest],
) -> list[Unmatched]:
    """Per download rule: on how many items its url (or save_as) named a missing key, and why
    on the first of them."""
    counts: dict[tuple[int, str], tuple[int, str, Miss]] = {}
    requests = iter(files)
    for context in contexts:
        for rule in rules:
            request = next(requests)
            if not (request.skip or request.problem):
                continue
            missed = _file_miss(rule, context, request)
            if missed is None:
                continue
            part, template, miss = missed
            count, _, first = counts.get((rule.index, part), (0, template, miss))
            counts[(rule.index, part)] = (count + 1, template, first)
    return [
        _unmatched(f"downloads.{index}.{part}", template, miss, count)
        for (index, part), (count, template, miss) in sorted(counts.items())
    ]


def _file_miss(
    rule: DownloadRule, context: Mapping[str, Any], request: FileRequest
) -> tuple[str, str, Miss] | None:
    """Which of the rule's templates named a key this item lacks: (url or save_as, the template,
    why); None if the URL was empty or null, or the name failed for another reason."""
    for part, source in (("url", rule.url), ("save_as", rule.save_as)):
        if part == "save_as" and not request.problem:
            break
        found = template_miss(compile_template(source), context)
        if found is not None:
            return part, source, found[1]
    return None


def _unmatched(rule: str, path: str, miss: Miss, missed: int = 1) -> Unmatched:
    found = (miss.at, miss.found, miss.keys, miss.suggestion, miss.missing)
    return Unmatched(rule, path, missed, *found)
