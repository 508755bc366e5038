"""Language names by file extension (and a few well-known file names), for summaries."""

from __future__ import annotations

_BY_EXTENSION: dict[str, tuple[str, ...]] = {
    "Python": ("py", "pyi", "pyx"),
    "JavaScript": ("js", "mjs", "cjs", "jsx"),
    "TypeScript": ("ts", "mts", "cts"),
    "TSX": ("tsx",),
    "Go": ("go",),
    "Rust": ("rs",),
    "Java": ("java",),
    "Kotlin": ("kt", "kts"),
    "Scala": ("scala", "sc"),
    "Swift": ("swift",),
    "C": ("c", "h"),
    "C++": ("cc", "cpp", "cxx", "c++", "hh", "hpp", "hxx", "h++", "ipp", "inl"),
    "C#": ("cs",),
    "Objective-C": ("m", "mm"),
    "Ruby": ("rb", "rake", "gemspec"),
    "PHP": ("php",),
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
    "Shell": ("sh", "bash", "zsh", "fish"),
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

_BY_FILENAME: dict[str, str] = {
    "dockerfile": "Dockerfile",
    "containerfile": "Dockerfile",
    "makefile": "Makefile",
    "gnumakefile": "Makefile",
    "cmakelists.txt": "CMake",
    "rakefile": "Ruby",
    "gemfile": "Ruby",
    "justfile": "Just",
}

EXTENSIONS: dict[str, str] = {ext: lang for lang, exts in _BY_EXTENSION.items() for ext in exts}


def language_of(path: str) -> str | None:
    """The language of a repo-relative path, or None when its kind is not known."""
    name = path.rpartition("/")[2].lower()
    if name in _BY_FILENAME:
        return _BY_FILENAME[name]
    if name.startswith("dockerfile."):
        return "Dockerfile"
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return None  # no extension, or a dotfile such as ".gitignore"
    return EXTENSIONS.get(ext)
