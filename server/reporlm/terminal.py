"""Text bound for a terminal, made harmless: what the CLI prints comes from the model and the repository.

A terminal obeys control sequences wherever they come from: OSC 52 writes the clipboard, OSC 0
sets the window title, SGR 8 hides text, a carriage return or backspaces overwrite what was just
shown, and 8-bit C1 codes (0x80-0x9f: CSI, OSC, ...) do the same in one byte. `printable` removes
whole escape sequences, then every C0 and C1 control character and DEL, keeping newline and tab.

Standard library only: the language server's log handler uses it too, and must start fast.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

# Whole sequences first, so that no parameters are left behind as text: CSI (ESC [ or 0x9b),
# OSC, DCS, SOS, PM and APC strings (up to BEL, the string terminator, or the end of the line: an
# unterminated one must not swallow the rest of an answer), then two-character ESC sequences.
# Each pattern reads every character at most once: linear time on any input.
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f]")  # json.dumps escapes C0 itself, but not DEL or C1


def printable(text: str) -> str:
    """`text` without terminal control sequences or control characters (newline and tab stay)."""
    return _CONTROLS.sub("", _SEQUENCES.sub("", text))


def json_text(value: Any) -> str:
    """`value` as indented JSON in which no control character appears raw: C0 is escaped by json,
    DEL and C1 here, so the data stays exact and a terminal shows only text."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class PrintableFilter(logging.Filter):
    """Makes every record it sees printable (a log line may quote a file name or model text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = printable(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
