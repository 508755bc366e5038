"""A compact, bounded folder overview with file counts and sizes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass
class _Folder:
    folders: dict[str, _Folder] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    count: int = 0
    size: int = 0


def _build(sizes: Mapping[str, int], base: str) -> _Folder:
    top = _Folder()
    prefix = base + "/" if base else ""
    for path, size in sizes.items():
        parts = path[len(prefix) :].split("/")
        node = top
        node.count += 1
        node.size += size
        for part in parts[:-1]:
            node = node.folders.setdefault(part, _Folder())
            node.count += 1
            node.size += size
        node.files[parts[-1]] = size
    return top


def _files_label(count: int) -> str:
    return "1 file" if count == 1 else f"{count} files"


def render_tree(
    sizes: Mapping[str, int],
    *,
    base: str,
    label: str,
    depth: int,
    max_entries: int = 25,
    max_lines: int = 200,
    files: bool = True,
) -> str:
    """Render the files of `sizes` (all under folder `base`) as an indented tree.

    Folders come first, then files, each alphabetically. A folder with more than
    `max_entries` entries shows its largest ones and sums up the rest in a "… N more" line,
    so the biggest parts of the code stay visible; the whole output stops at `max_lines`.
    `files=False` lists folders only (their counts still include their files).
    """
    top = _build(sizes, base)
    lines = [f"{label}/  ({_files_label(top.count)}, {human_size(top.size)})"]
    cut = False

    def walk(node: _Folder, level: int) -> None:
        nonlocal cut
        entries: list[tuple[str, bool, int]] = [(n, True, f.size) for n, f in node.folders.items()]
        if files:
            entries += [(n, False, s) for n, s in node.files.items()]
        hidden: list[tuple[str, bool, int]] = []
        if len(entries) > max_entries:
            by_size = sorted(entries, key=lambda e: (-e[2], e[0]))
            entries, hidden = by_size[:max_entries], by_size[max_entries:]
        entries.sort(key=lambda e: (not e[1], e[0]))
        indent = "  " * level
        for name, is_folder, size in entries:
            if len(lines) >= max_lines:
                cut = True
                return
            if is_folder:
                sub = node.folders[name]
                lines.append(f"{indent}{name}/  ({_files_label(sub.count)}, {human_size(size)})")
                if level < depth:
                    walk(sub, level + 1)
            else:
                lines.append(f"{indent}{name}  ({human_size(size)})")
        if hidden:
            count = sum(node.folders[n].count if d else 1 for n, d, _ in hidden)
            size = sum(s for _, _, s in hidden)
            lines.append(f"{indent}… {len(hidden)} more entries ({_files_label(count)}, {human_size(size)})")

    if depth >= 1:
        walk(top, 1)
    if cut:
        lines.append(f"… cut at {max_lines} lines; narrow it with under= or a smaller depth")
    return "\n".join(lines)
