"""Glob patterns over repo-relative paths, with the conventions of ripgrep and .gitignore.

- A pattern without "/" matches the file name at any depth: `*.py`, `test_*.py`.
- A pattern with "/" matches the whole path: `src/*.py` (one level), `src/**/*.py` (any depth),
  `src/**` (everything below src).
- `*` and `?` never cross "/"; `**` does; `[abc]`, `[!abc]` and `{py,pyi}` work as usual.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from .errors import WorkspaceError


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
    text = pattern.strip()
    while text.startswith("./"):
        text = text[2:]
    text = text.lstrip("/")
    if not text:
        raise WorkspaceError("empty glob pattern; use '**/*' for every file")
    try:
        regex = re.compile(_translate(text) + r"\Z", re.DOTALL)
    except re.error as exc:
        raise WorkspaceError(f"invalid glob {pattern!r}: {exc}") from None
    if "/" in text:
        return lambda path: regex.match(path) is not None
    return lambda path: regex.match(path.rpartition("/")[2]) is not None
