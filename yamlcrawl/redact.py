"""Secrets out of sight: values taken from the environment never reach any output.

The loader notes every value a var took from ``${ENV}`` (tokens, passwords, API keys); the plan
carries them, and everything the run shows or writes (the display, the log file, the manifest,
the report, error messages) passes through :func:`redact` first, which puts ``***`` in their
place. A URL with a key in its query, an error that quotes it, a log line: all the same.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

MASK = "***"


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret, plain or percent-encoded, replaced by ``***``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
        for encoded in _encodings(secret):
            if encoded in text:
                text = text.replace(encoded, MASK)
    return text


def redact_value(value: Any, secrets: tuple[str, ...]) -> Any:
    """A JSON-ready value with every string in it redacted."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {key: redact_value(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item, secrets) for item in value]
    return value


def _encodings(secret: str) -> set[str]:
    # As a query parameter or path segment carries it: `a b/c` is `a+b%2Fc` or `a%20b%2Fc`.
    return {urllib.parse.quote_plus(secret), urllib.parse.quote(secret, safe="")} - {secret}
