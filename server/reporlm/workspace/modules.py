"""Module names for `repo.importers`: what an import statement names, resolved against the
importing file, and what a question names ("pkg.mod", "pkg.mod.Name", "src/pkg/mod.py").

Both become lists of name parts, and an import concerns a target when the target's parts end
the import's: `requests.models.Request` is imported by `from .models import Request` in
`src/requests/sessions.py` (the package of that file is `requests`, found by walking up the
folders that hold an `__init__.py`), and `models.Request` names it too.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Collection

from .tags import Import

_SEPARATORS = re.compile(r"::|\\|\.|/")
_JS_EXTENSIONS = (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".d.ts")
_PYTHON_INITS = ("__init__.py", "__init__.pyi")

Parts = tuple[str, ...]
Resolver = Callable[[str, Parts, str, Collection[str]], "Parts | None"]
"""(importing path, its module, the module as written, every file) -> the module imported."""


def split_target(target: str, extensions: Collection[str] = ()) -> Parts:
    """The parts of a module or name as asked for: dotted (`a.b.C`), `a::b`, `A\\B`, or a path
    (`example.com/pkg/web`, `lib/util.js`: split at slashes only, a source extension dropped)."""
    target = target.strip().strip("'\"`")
    if "/" in target:
        return _path_parts(_drop_extension(target, extensions))
    return tuple(part for part in _SEPARATORS.split(target) if part)


def file_module(language: str, path: str, files: Collection[str]) -> Parts:
    """The module a file is, as the imports of its language name it: `requests.models` for
    `src/requests/models.py`, the folder for a Go file (Go imports packages), the path without
    its extension elsewhere (`./util/strings` imports `src/util/strings.ts`)."""
    if language == "python":
        return python_module(path, files)
    if language == "go":
        return _path_parts(posixpath.dirname(path))
    if language == "rust":
        return _rust_module(path)
    parts = _path_parts(path.rpartition(".")[0] if "." in path.rpartition("/")[2] else path)
    return parts[:-1] if len(parts) > 1 and parts[-1] == "index" else parts


def python_module(path: str, files: Collection[str]) -> Parts:
    """The module a Python file is: its path from the top folder of its package (the folders
    above it that hold an `__init__.py`), without `.py` and `__init__`. A file in a folder
    without one is named by its whole path."""
    folder, _, name = path.rpartition("/")
    parts = folder.split("/") if folder else []
    top = len(parts)
    while top > 0 and any("/".join(parts[:top]) + "/" + init in files for init in _PYTHON_INITS):
        top -= 1
    package = parts[top:] if top < len(parts) else parts
    stem = name.rpartition(".")[0] or name
    return tuple(package) if stem == "__init__" else (*package, stem)


def resolve(language: str, path: str, own: Parts, imported: Import, files: Collection[str]) -> list[Parts]:
    """What one import statement of the file `path` (the module `own`, see `file_module`)
    imports, absolute: the module, and the module plus the name for `from m import name` and
    its likes."""
    resolver = _RESOLVERS.get(language, _resolve_dotted)
    module = resolver(path, own, imported.module, files)
    if module is None:
        return []
    names = [module] if module else []
    if imported.name and imported.name != "*":
        names.append((*module, *split_target(imported.name)))
    return names


def concerns(candidates: list[Parts], target: Parts) -> bool:
    """Whether any of an import's names is the target, or ends with it."""
    n = len(target)
    return any(len(parts) >= n and parts[len(parts) - n :] == target for parts in candidates)


# ----- per language ------------------------------------------------------------------------


def _resolve_python(path: str, own: Parts, module: str, files: Collection[str]) -> Parts | None:
    level = len(module) - len(module.lstrip("."))
    rest = tuple(part for part in module[level:].split(".") if part)
    if not level:
        return rest
    # The package a relative import starts from: the module's own for an __init__ file.
    package = own if path.rpartition("/")[2] in _PYTHON_INITS else own[:-1]
    if level - 1 > len(package):
        return None  # beyond the top package: Python refuses it too
    return (*package[: len(package) - (level - 1)], *rest)


def _resolve_relative_path(extensions: tuple[str, ...]) -> Resolver:
    """Languages that import by path: `./x` and `../x` are relative to the importing file."""

    def resolve_path(path: str, own: Parts, module: str, files: Collection[str]) -> Parts | None:
        if module.startswith(("./", "../")) or module in (".", ".."):
            module = posixpath.normpath(posixpath.join(posixpath.dirname(path), module))
            if module.startswith(".."):
                return None
        parts = _path_parts(_drop_extension(module, extensions))
        return parts[:-1] if len(parts) > 1 and parts[-1] == "index" else parts

    return resolve_path


def _resolve_include(path: str, own: Parts, module: str, files: Collection[str]) -> Parts | None:
    # "x.h" is looked for next to the including file first, as compilers do.
    beside = posixpath.normpath(posixpath.join(posixpath.dirname(path), module))
    written = beside if beside in files else module
    return _path_parts(_drop_extension(written, (".h", ".hh", ".hpp", ".hxx", ".h++", ".inl", ".ipp")))


def _resolve_rust(path: str, own: Parts, module: str, files: Collection[str]) -> Parts | None:
    parts = [part for part in module.split("::") if part]
    if parts and parts[0] in ("self", "super"):
        base = list(own)
        while parts and parts[0] in ("self", "super"):
            if parts.pop(0) == "super" and base:
                base.pop()
        return (*base, *parts)
    if parts and parts[0] == "crate":
        parts = parts[1:]
    return tuple(parts)


def _rust_module(path: str) -> Parts:
    parts = path.split("/")
    if "src" in parts:
        parts = parts[len(parts) - parts[::-1].index("src") :]
    stem = parts[-1].rpartition(".")[0] if parts else ""
    folders = parts[:-1]
    return tuple(folders) if stem in ("mod", "lib", "main") else (*folders, stem)


def _resolve_dotted(path: str, own: Parts, module: str, files: Collection[str]) -> Parts | None:
    return tuple(part for part in _SEPARATORS.split(module) if part)


_RESOLVERS: dict[str, Resolver] = {
    "python": _resolve_python,
    "javascript": _resolve_relative_path(_JS_EXTENSIONS),
    "typescript": _resolve_relative_path(_JS_EXTENSIONS),
    "tsx": _resolve_relative_path(_JS_EXTENSIONS),
    "go": _resolve_relative_path(()),
    "c": _resolve_include,
    "cpp": _resolve_include,
    "rust": _resolve_rust,
    "ruby": _resolve_relative_path((".rb",)),
    "bash": _resolve_relative_path((".sh", ".bash")),
}


def _path_parts(path: str) -> Parts:
    return tuple(part for part in path.split("/") if part and part != ".")


def _drop_extension(path: str, extensions: Collection[str]) -> str:
    for extension in sorted(extensions, key=len, reverse=True):
        suffix = extension if extension.startswith(".") else "." + extension
        if path.lower().endswith(suffix):
            return path[: -len(suffix)]
    return path
