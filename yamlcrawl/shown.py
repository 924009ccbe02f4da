"""Text from a server, made safe to show: control characters written as visible escapes.

Item names, URLs and error messages come from servers. Printed raw, an ESC or CSI sequence
could clear the terminal, retitle the window, move the cursor or hide a line; a BEL rings, a
backspace or carriage return overwrites what was shown; a bidi override (U+202E) reverses text
so that ``gnp.exe`` reads as ``exe.png``. Everything that reaches a terminal or the log file
goes through ``shown``, which writes each such character as the escape Python would
(``\\x1b``, ``\\u202e``, ``\\r``), and leaves every other character as it is.
"""

from __future__ import annotations

_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
_C0_DEL_C1 = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
# Bidirectional marks, embeddings, overrides and isolates; line and paragraph separators.
_FORMAT = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]
_ESCAPES = {
    **{code: _NAMED.get(code, f"\\x{code:02x}") for code in _C0_DEL_C1},
    **{code: f"\\u{code:04x}" for code in _FORMAT},
}


def shown(text: str) -> str:
    """``text`` with every control, bidi or line-separator character as a visible escape."""
    return text.translate(_ESCAPES)
