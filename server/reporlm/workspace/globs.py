"""Glob patterns over repo-relative paths, with the conventions of ripgrep and .gitignore.

- A pattern without "/" matches the file name at any depth: `*.py`, `test_*.py`.
- A pattern with "/" matches the whole path: `src/*.py` (one level), `src/**/*.py` (any depth),
  `src/**` (everything below src).
- `*` and `?` never cross "/"; `**` does; `[abc]`, `[!abc]` and `{py,pyi}` work as usual.

The model writes these, so they are matched by RE2 (linear time: `**?**?**?...Z` cannot make a
backtracking matcher run for hours); the common shapes (`*.py`, `**/*`) skip the regex.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from .errors import WorkspaceError
from .regex import LinearRegex

_SPECIAL = frozenset("*?[]{},\\")
MAX_GLOB_CHARS = 4096
"""As long as a path may be."""


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    in_braces = 0
    while i < n:
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("/**", i) and i + 3 == n:
            out.append("(?:/.*)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern.startswith(("[!", "[^"), i) else i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:].replace("\\", "\\\\")
                else:
                    body = body.replace("\\", "\\\\")
                out.append(f"[{body}]")
                i = end
        elif ch == "{":
            in_braces += 1
            out.append("(?:")
        elif ch == "}" and in_braces:
            in_braces -= 1
            out.append(")")
        elif ch == "," and in_braces:
            out.append("|")
        else:
            out.append(re.escape(ch))
        i += 1
    if in_braces:
        raise WorkspaceError(f"invalid glob {pattern!r}: unclosed '{{'")
    return "".join(out)


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A predicate on repo-relative POSIX paths for `pattern` (see the module docstring)."""
    if not isinstance(pattern, str):
        raise WorkspaceError(f"a glob must be a string such as '*.py', not {type(pattern).__name__}")
    if len(pattern) > MAX_GLOB_CHARS:
        raise WorkspaceError(f"the glob is {len(pattern):,} characters long; the limit is {MAX_GLOB_CHARS:,}")
    text = pattern.strip()
    while text.startswith("./"):
        text = text[2:]
    text = text.lstrip("/")
    if not text:
        raise WorkspaceError("empty glob pattern; use '**/*' for every file")
    if text in ("*", "**", "**/*"):
        return lambda path: True
    if "/" not in text and text.startswith("*") and not _SPECIAL.intersection(text[1:]):
        suffix = text[1:]  # `*.py`: the commonest glob by far
        return lambda path: path.endswith(suffix)
    regex = LinearRegex(
        "(?s)" + _translate(text), lines=False, role=f"glob {pattern!r} (as a regular expression)"
    )
    if "/" in text:
        return lambda path: regex.fullmatch(path.encode("utf-8", "surrogateescape"))
    return lambda path: regex.fullmatch(path.rpartition("/")[2].encode("utf-8", "surrogateescape"))
