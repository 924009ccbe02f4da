"""Secrets out of sight: values taken from the environment never reach any output.

The loader notes every value a var took from ``${ENV}`` (tokens, passwords, API keys) that is
at least :data:`MIN_SECRET_CHARS` long; the plan carries them, and everything the run shows or
writes (the display, the log file, the manifest, the report, error messages) passes through
:func:`redact` first, which puts ``***`` in their place: the value as it is, and every form a
template filter makes of it (``|upper``, ``|lower``, ``|strip``, ``|quote``, ...) or a URL
carries it in (percent-encoded). A shorter value is no secret (``${REGION}`` = ``eu``): masking
it would cut ``***`` into every URL and checksum that happens to contain it. Hashes are never
touched: a ``sha256`` field is a checksum, not text a secret could be in.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from yamlcrawl.language.template import FILTERS

MASK = "***"
MIN_SECRET_CHARS = 6  # an environment value shorter than this is not treated as a secret
HASH_KEYS = frozenset({"sha256"})  # record fields that hold checksums: never redacted

# Every way a template or a URL can print a value: the template filters (but `hash`, which is
# a digest, not the value) and both percent-encodings a query or a path uses.
_FORMS: tuple[Callable[[str], str], ...] = (
    *(function for name, function in FILTERS.items() if name != "hash"),
    urllib.parse.quote_plus,
    urllib.parse.quote,
)
_CHAINED = 3  # filters chained on one value, at most, that are looked for (`|strip|upper|quote`)


def is_secret(value: str) -> bool:
    """Whether an environment value is long enough to be kept out of every output."""
    return len(value) >= MIN_SECRET_CHARS


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret, in every form a filter or a URL gives it, replaced by ``***``."""
    for form in secret_forms(secrets):
        if form in text:
            text = text.replace(form, MASK)
    return text


def redact_value(value: Any, secrets: tuple[str, ...]) -> Any:
    """A JSON-ready value with every string in it redacted, but checksums (``sha256``)."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {
            key: item if key in HASH_KEYS else redact_value(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item, secrets) for item in value]
    return value


@lru_cache(maxsize=64)
def secret_forms(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Each secret and what filters make of it, long enough to be secret, longest first."""
    forms: set[str] = set()
    for secret in secrets:
        found = {secret}
        for _ in range(_CHAINED):
            found |= {form(value) for value in found for form in _FORMS}
        forms |= {form for form in found if is_secret(form)}
    return tuple(sorted(forms, key=lambda form: (-len(form), form)))
