"""Change plans: the goal becomes a question (prompts/<version>/plan.md), the final answer is parsed
back into ordered steps and risks, and every file, line and symbol they name is checked.

The model is asked for one Markdown shape (numbered `###` step headings, a `Touches:` line per step,
a `## Risks` list); the parser also takes the usual drift from it (a numbered list instead of
headings, `Step 1:` titles), and a plan it cannot split at all becomes one step holding the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reporlm.engine.citations import Reference, RepoView, verify_references
from reporlm.engine.result import RunResult

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_NUMBERED_TITLE = re.compile(r"^(?:step\s*)?(\d+)\s*[.):\-–]?\s*(.*)$", re.IGNORECASE)
_LIST_ITEM = re.compile(r"^\s{0,3}(\d+)[.)]\s+(.*)$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_TOUCHES = re.compile(r"^\s*(?:[-*]\s*)?\**(?:touches|files|locations)\**\s*:", re.IGNORECASE)
_BOLD_LEAD = re.compile(r"^\*\*(.+?)\*\*[:.]?\s*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class PlanItem:
    """One step of a plan (or one risk): what to change and why, and the places it names."""

    title: str
    detail: str
    """The Markdown under the title, `Touches:` line included."""
    references: list[Reference] = field(default_factory=list)

    @property
    def locations(self) -> list[Reference]:
        """The places that were found in the repository."""
        return [r for r in self.references if r.verified]

    @property
    def unverified(self) -> list[Reference]:
        """The places the plan names that the repository does not have: flagged, never dropped."""
        return [r for r in self.references if not r.verified]


@dataclass(frozen=True)
class Plan:
    title: str
    summary: str
    steps: list[PlanItem]
    risks: list[PlanItem]

    @property
    def unverified(self) -> list[Reference]:
        return [r for item in (*self.steps, *self.risks) for r in item.unverified]


@dataclass
class PlanResult:
    """A plan run: the run itself (answer = the plan's Markdown) and the plan parsed from it."""

    run: RunResult
    plan: Plan


def parse_plan(markdown: str, repo: RepoView) -> Plan:
    """Split a plan's Markdown into ordered steps and risks, and check what each one names."""
    lines = markdown.strip().splitlines()
    title, summary, body_start = _title_and_summary(lines)
    risk_start = _risks_heading(lines)
    step_lines = lines[body_start:risk_start] if risk_start is not None else lines[body_start:]
    steps = _steps_by_heading(step_lines) or _steps_by_list(step_lines)
    if not steps and markdown.strip():
        steps = [(title or "Plan", "\n".join(step_lines).strip() or markdown.strip())]
    risks = _risks(lines[risk_start + 1 :]) if risk_start is not None else []
    return Plan(
        title=title,
        summary=summary,
        steps=[_item(t, d, repo, symbols=True) for t, d in steps],
        risks=[_item(t, d, repo, symbols=False) for t, d in risks],
    )


def _item(title: str, detail: str, repo: RepoView, *, symbols: bool) -> PlanItem:
    touches = "\n".join(line for line in detail.splitlines() if _TOUCHES.match(line))
    text = f"{title}\n{detail}"
    return PlanItem(title, detail, verify_references(text, repo, symbols_in=touches if symbols else ""))


def _title_and_summary(lines: list[str]) -> tuple[str, str, int]:
    """The `# Plan: ...` title, the paragraph under it, and where the steps begin."""
    title, start = "", 0
    for i, line in enumerate(lines):
        m = _HEADING.match(line)
        if m and len(m.group(1)) == 1:
            title, start = re.sub(r"^plan\s*:\s*", "", m.group(2), flags=re.IGNORECASE), i + 1
            break
        if line.strip():
            break
    summary: list[str] = []
    for i in range(start, len(lines)):
        m = _HEADING.match(lines[i])
        if m or _LIST_ITEM.match(lines[i]):
            return title, "\n".join(summary).strip(), i
        summary.append(lines[i])
    return title, "\n".join(summary).strip(), len(lines)


def _risks_heading(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        m = _HEADING.match(line)
        if m and re.search(r"\brisks?\b", m.group(2), re.IGNORECASE):
            return i
    return None


def _steps_by_heading(lines: list[str]) -> list[tuple[str, str]]:
    """Steps written as numbered headings: `### 1. Title` or `## Step 2: Title`."""
    steps: list[tuple[str, list[str]]] = []
    level = None
    for line in lines:
        m = _HEADING.match(line)
        numbered = _NUMBERED_TITLE.match(m.group(2)) if m else None
        if m and numbered and (level is None or len(m.group(1)) == level):
            level = len(m.group(1))
            steps.append((_clean_title(numbered.group(2)), []))
        elif m and level is not None and len(m.group(1)) <= level:
            break  # a heading that is not a step ends the steps
        elif steps:
            steps[-1][1].append(line)
    return [(title, "\n".join(body).strip()) for title, body in steps]


def _steps_by_list(lines: list[str]) -> list[tuple[str, str]]:
    """Steps written as a numbered list: `1. **Title**: detail` with continuation lines."""
    items: list[list[str]] = []
    for line in lines:
        m = _LIST_ITEM.match(line)
        if m:
            items.append([m.group(2)])
        elif items and (not line.strip() or line.startswith((" ", "\t"))):
            items[-1].append(line.strip())
        elif items and _HEADING.match(line):
            break
    return [_split_lead("\n".join(item).strip()) for item in items]


def _risks(lines: list[str]) -> list[tuple[str, str]]:
    items: list[list[str]] = []
    for line in lines:
        if _HEADING.match(line):
            break
        m = _BULLET.match(line) or _LIST_ITEM.match(line)
        if m:
            items.append([m.groups()[-1]])
        elif items and line.strip():
            items[-1].append(line.strip())
    return [_split_lead("\n".join(item).strip()) for item in items]


def _split_lead(text: str) -> tuple[str, str]:
    """A title for a list item: its bold lead, else the text before the first colon or full stop."""
    bold = _BOLD_LEAD.match(text)
    if bold:
        return _clean_title(bold.group(1)), bold.group(2).strip()
    first = text.splitlines()[0]
    m = re.match(r"^(.{3,120}?)(?::\s|\.\s|$)", first)
    title = m.group(1) if m else first[:120]
    return _clean_title(title), text


def _clean_title(title: str) -> str:
    return title.strip().strip("*_").strip().rstrip(":").strip()
