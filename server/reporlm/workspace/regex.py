"""Linear-time regular expressions (RE2) for the patterns models and repositories supply.

Python's `re` backtracks: `(.|.)*Q` on one long line runs for hours, and it holds the GIL
while it does, so the whole server stops answering. RE2 matches in time linear in the text
(times the size of the compiled pattern) and releases the GIL while it runs. Patterns whose
compiled program is large are refused, which keeps that factor small too.

The syntax is RE2's, which is Python's minus the constructs that need backtracking:
lookarounds, backreferences, atomic groups, possessive quantifiers, and `(?x)`. `\\d \\w \\s \\b`
are ASCII-only (`\\pL`, `\\p{Greek}`, `[[:alpha:]]` name wider classes). A few Python spellings
are rewritten to RE2's: `\\Z` (end), `\\uXXXX` / `\\UXXXXXXXX` (a code point) and `{,n}`.

In line mode (grep) a pattern is matched against each line on its own, as Python's `re.search`
on the line without its ending would: `^`, `$`, `\\A` and `\\Z` are the line's start and end,
and nothing matches a newline, so one search over many lines finds only single-line matches.
"""

from __future__ import annotations

import re

import re2

from .errors import WorkspaceError

MAX_PATTERN_CHARS = 10_000
MAX_PROGRAM_SIZE = 5_000
"""RE2 instructions; matching costs up to this many steps a byte when its DFA gives up.
`.{0,300}` compiles to about 2,700, `\\w+\\s*=` to 10."""
SYNTAX_NOTE = (
    "patterns use RE2 syntax (Python's, but linear-time): no lookarounds (?=...) (?<=...), "
    "backreferences \\1, atomic groups or possessive quantifiers; \\d \\w \\s \\b are ASCII-only. "
    "Search for a simpler pattern and filter the hits' text with Python's re in your code"
)
_HEX = re.compile(r"[0-9A-Fa-f]+")
_UPTO = re.compile(r"\{,(\d+)\}")
# RE2's messages for constructs it leaves out on purpose, and what each is called.
_UNSUPPORTED = (
    ("(?=", "lookahead"),
    ("(?!", "lookahead"),
    ("(?<=", "lookbehind"),
    ("(?<!", "lookbehind"),
    ("(?P=", "a backreference"),
    ("(?>", "an atomic group"),
    ("(?x", "verbose mode (?x)"),
)


class LinearRegex:
    """A compiled RE2 pattern over UTF-8 bytes."""

    def __init__(self, pattern: str, *, lines: bool, role: str = "regular expression") -> None:
        if not isinstance(pattern, str):
            raise WorkspaceError(f"the {role} must be a string, not {type(pattern).__name__}")
        if len(pattern) > MAX_PATTERN_CHARS:
            raise WorkspaceError(
                f"the {role} is {len(pattern):,} characters long; the limit is {MAX_PATTERN_CHARS:,}"
            )
        self.pattern = pattern
        options = re2.Options()
        options.log_errors = False  # RE2 would write each refusal to stderr
        options.never_capture = True  # only where a match starts matters: no submatch bookkeeping
        options.never_nl = lines
        source = pattern
        try:
            source = translate(pattern, lines=lines)
            self._regex = re2.compile(source.encode("utf-8", "surrogatepass"), options)
        except (re2.error, ValueError) as exc:
            raise WorkspaceError(f"invalid {role} {pattern!r}: {explain(exc, source, pattern)}") from None
        if self._regex.programsize > MAX_PROGRAM_SIZE:
            raise WorkspaceError(
                f"the {role} {pattern!r} is too complex to search with (it compiles to "
                f"{self._regex.programsize:,} steps, the limit is {MAX_PROGRAM_SIZE:,}): use shorter counted "
                "repetitions such as .{0,50}"
            )

    def search(self, data: bytes, pos: int = 0, endpos: int | None = None) -> int | None:
        """Where the first match in data[pos:endpos] starts (the text around counts as context
        for `^` and `\\b`), or None."""
        match = self._regex.search(data, pos, len(data) if endpos is None else endpos)
        return None if match is None else match.start()

    def fullmatch(self, data: bytes) -> bool:
        return self._regex.fullmatch(data) is not None


def explain(exc: Exception, source: str, pattern: str) -> str:
    """RE2's complaint about `source` (the translation of `pattern`) in words, naming the
    unsupported construct when it is one."""
    raw = exc.args[0] if exc.args else str(exc)
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if source != pattern:
        message = message.replace(source, pattern)  # RE2 quotes what it was given
    perl = "invalid perl operator" in message
    for marker, name in _UNSUPPORTED:
        if marker in message or (perl and marker in pattern):
            return f"{name} is not supported ({message}); {SYNTAX_NOTE}"
    if re.search(r"invalid escape sequence: \\[1-9]", message):
        return f"backreferences are not supported ({message}); {SYNTAX_NOTE}"
    if "bad repetition operator: " in message and message.rstrip().endswith("+"):
        return f"possessive quantifiers are not supported ({message}); {SYNTAX_NOTE}"
    if "invalid repetition size" in message:
        return f"a counted repetition may be at most {{1000}} ({message})"
    if "invalid escape sequence" in message or "invalid perl operator" in message:
        return f"{message}; {SYNTAX_NOTE}"
    return message


def translate(pattern: str, *, lines: bool) -> str:
    """`pattern` in RE2's spelling (see the module docstring); ValueError for a bad escape."""
    out: list[str] = ["(?m)"] if lines else []
    i, n = 0, len(pattern)
    in_class = False
    class_first = -1  # where a `]` would still be a literal, the class's first character
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "uU" and pattern[i + 2 : i + 3] not in ("", "{"):
                width = 4 if nxt == "u" else 8
                digits = pattern[i + 2 : i + 2 + width]
                if len(digits) != width or not _HEX.fullmatch(digits):
                    raise ValueError(f"incomplete escape \\{nxt}{digits}")
                out.append(f"\\x{{{digits}}}")
                i += 2 + width
                continue
            if not in_class and nxt in "AZz":
                # Line mode: a line is the whole subject, so its start and end are ^ and $.
                out.append(("^" if nxt == "A" else "$") if lines else ("\\A" if nxt == "A" else "\\z"))
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if in_class:
            if ch == "]" and i != class_first:
                in_class = False
            elif ch == "[" and pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                if end != -1:  # a POSIX class such as [:alpha:] inside a bracket expression
                    out.append(pattern[i : end + 2])
                    i = end + 2
                    continue
        elif ch == "[":
            in_class = True
            class_first = i + 2 if pattern.startswith("[^", i) else i + 1
        elif ch == "{":
            upto = _UPTO.match(pattern, i)
            if upto:  # Python reads {,n} as {0,n}; RE2 would read it as text
                out.append(f"{{0,{upto.group(1)}}}")
                i = upto.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)
