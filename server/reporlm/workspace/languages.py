"""Language names by file extension (and a few well-known file names), for summaries.

The languages we parse are those of `grammars/languages.toml`, the one table of their names,
extensions and file names; this module adds only the languages we recognise but do not parse.
"""

from __future__ import annotations

from functools import cache

from .grammars import load_grammars

_OTHER_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "Cython": ("pyx", "pxd"),
    "Kotlin": ("kt", "kts"),
    "Scala": ("scala", "sc"),
    "Swift": ("swift",),
    "Objective-C": ("m", "mm"),
    "Perl": ("pl", "pm"),
    "Lua": ("lua",),
    "R": ("r",),
    "Julia": ("jl",),
    "Dart": ("dart",),
    "Elixir": ("ex", "exs"),
    "Erlang": ("erl", "hrl"),
    "Haskell": ("hs",),
    "OCaml": ("ml", "mli"),
    "Clojure": ("clj", "cljs", "cljc", "edn"),
    "Zig": ("zig",),
    "Shell": ("zsh", "fish"),
    "PowerShell": ("ps1", "psm1"),
    "Batch": ("bat", "cmd"),
    "SQL": ("sql",),
    "Markdown": ("md", "markdown", "mdx"),
    "reStructuredText": ("rst",),
    "Text": ("txt",),
    "JSON": ("json", "jsonc", "json5", "jsonl"),
    "YAML": ("yaml", "yml"),
    "TOML": ("toml",),
    "INI": ("ini", "cfg", "conf"),
    "XML": ("xml", "xsd", "xsl"),
    "HTML": ("html", "htm"),
    "CSS": ("css",),
    "SCSS": ("scss", "sass"),
    "Less": ("less",),
    "Vue": ("vue",),
    "Svelte": ("svelte",),
    "Protocol Buffers": ("proto",),
    "GraphQL": ("graphql", "gql"),
    "Terraform": ("tf", "tfvars", "hcl"),
    "Groovy": ("groovy", "gradle"),
    "CMake": ("cmake",),
    "Nix": ("nix",),
    "Tree-sitter Query": ("scm",),
}

_OTHER_FILENAMES: dict[str, str] = {
    "dockerfile": "Dockerfile",
    "containerfile": "Dockerfile",
    "makefile": "Makefile",
    "gnumakefile": "Makefile",
    "cmakelists.txt": "CMake",
    "justfile": "Just",
}


@cache
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    """(extension -> language, file name -> language): the grammars' own, then the others."""
    grammars = load_grammars().grammars.values()
    extensions = {ext: g.name for g in grammars for ext in g.extensions}
    filenames = {name: g.name for g in grammars for name in g.filenames}
    for language, exts in _OTHER_EXTENSIONS.items():
        for ext in exts:
            extensions.setdefault(ext, language)
    for name, language in _OTHER_FILENAMES.items():
        filenames.setdefault(name, language)
    return extensions, filenames


def language_of(path: str) -> str | None:
    """The language of a repo-relative path, or None when its kind is not known."""
    extensions, filenames = _tables()
    name = path.rpartition("/")[2].lower()
    if name in filenames:
        return filenames[name]
    if name.startswith("dockerfile."):
        return "Dockerfile"
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return None  # no extension, or a dotfile such as ".gitignore"
    return extensions.get(ext)
