"""Problems found in a crawl file, and the error that carries them."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from yamlcrawl.language.yamlsource import YamlPath


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a crawl file."""

    line: int
    column: int
    message: str
    origin: str | None = None  # where the value came from, if not the file: `--set NAME=VALUE`

    def render(self, source: str) -> str:
        """The one-line form: ``FILE:LINE:COL: message`` (or ``--set NAME=VALUE: message``),
        control characters escaped."""
        where = self.origin or f"{source}:{self.line}:{self.column}"
        return one_line(f"{where}: {self.message}")


def one_line(text: str) -> str:
    """``text`` with every unprintable character (a newline in a key, say) written as an escape."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


class ConfigError(Exception):
    """A crawl file that cannot run; ``str()`` lists every problem, one per line."""

    def __init__(self, source: str, problems: Iterable[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.message))
        super().__init__("\n".join(p.render(source) for p in self.problems))


def dotted(path: YamlPath) -> str:
    """``('stages', 'a', 'downloads', 0, 'url')`` -> ``stages.a.downloads[0].url``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += f'."{part}"' if out else f'"{part}"'
    return out or "the top level"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` for a close match, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
