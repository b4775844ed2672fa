"""The repository carries its own reasoning: no tracked file points at a document outside it,
every code the code and tests use (F1, X9, "lesson 1", "docs/paper.md §2.1") is defined by a
heading in docs/, and every relative link between the Markdown pages resolves (docs/design.md)."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
# Files whose text may carry codes: code, tests, docs, deployment files, build and CI scripts.
CODE_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".sh", ".cfg", ".ini", ".txt"}
CODE_NAMES = {"Makefile", "Dockerfile", "run"}

# The design notes the code once cited from outside the repository; built from parts so that
# this file does not match a search for them.
_OUTSIDE_NAMES = ("DESIGN", "RELIABILITY", "PAPER", "GPU", "STYLE")
OUTSIDE = re.compile(r"\.\./shared\b|\b(?:" + "|".join(_OUTSIDE_NAMES) + r")\.md\b")

# F<n> (failure modes) and X<n> (experiments), docs/reliability.md. Not a code: safetensors dtype
# strings ("F32", "BF16"), ruff rules (F401, three digits) and the F1 score of BERTScore/ROUGE-L.
FAILURE_OR_EXPERIMENT = re.compile(
    r"(?<![\w\"'.\-])(?<!BERTScore )(?<!ROUGE-L )([FX]\d{1,2})(?![\w\"'])"
)
LESSON = re.compile(r"\b(lesson|hazard)s? (\d+)\b", re.IGNORECASE)
PAPER_SECTION = re.compile(r"docs/paper\.md,? §(\d+(?:\.\d+)*)")
DOCS_MENTION = re.compile(r"(?<![\w/.])docs/([\w.-]+\.md)(?:#([\w-]+))?")
MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DEFINED_CODE = re.compile(r"^(F\d+|X\d+|lesson \d+|hazard \d+)\b", re.IGNORECASE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@cache
def tracked_files() -> tuple[Path, ...]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return tuple(REPO / name for name in listed.decode().split("\0") if name)


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None  # binary, or deleted in the working tree


def carries_codes(path: Path) -> bool:
    return path.suffix in CODE_SUFFIXES or path.name in CODE_NAMES


def headings(text: str) -> list[str]:
    """Markdown headings, outside fenced code blocks (where `#` starts a shell comment)."""
    found, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            found.append(match.group(2))
    return found


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: link text kept, punctuation dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = defaultdict(int)
    result = set()
    for heading in headings(path.read_text(encoding="utf-8")):
        base = slug(heading)
        result.add(base if not seen[base] else f"{base}-{seen[base]}")
        seen[base] += 1
    return frozenset(result)


def canonical(code: str) -> str:
    """`F1`, `X9`, `lesson 1`: one spelling per code."""
    word, _, number = code.partition(" ")
    return f"{word.lower()} {number}" if number else code.upper()


@cache
def defined_codes() -> dict[str, list[str]]:
    """Each code defined by a heading in docs/, with the pages that define it."""
    defined: dict[str, list[str]] = defaultdict(list)
    for page in sorted(DOCS.glob("*.md")):
        for heading in headings(page.read_text(encoding="utf-8")):
            if match := DEFINED_CODE.match(heading):
                defined[canonical(match.group(1))].append(page.name)
    return defined


def paper_sections() -> set[str]:
    numbers = set()
    for heading in headings((DOCS / "paper.md").read_text(encoding="utf-8")):
        if match := re.match(r"(\d+(?:\.\d+)*)\.?\s", heading):
            numbers.add(match.group(1))
    return numbers


def occurrences(
    pattern: re.Pattern[str], files: list[Path]
) -> list[tuple[str, int, re.Match[str]]]:
    found = []
    for path in files:
        text = read_text(path)
        for number, line in enumerate((text or "").splitlines(), start=1):
            found += [(str(path.relative_to(REPO)), number, m) for m in pattern.finditer(line)]
    return found


def code_files() -> list[Path]:
    return [p for p in tracked_files() if carries_codes(p)]


def test_no_tracked_file_refers_outside_the_repository() -> None:
    found = occurrences(OUTSIDE, list(tracked_files()))
    assert not found, "documents outside the repository cited (cite docs/ instead):\n" + "\n".join(
        f"{path}:{line}: {m.group(0)}" for path, line, m in found
    )


def test_every_code_is_defined_by_a_heading_in_docs() -> None:
    defined = defined_codes()
    used = [
        (p, n, canonical(m.group(1)))
        for p, n, m in occurrences(FAILURE_OR_EXPERIMENT, code_files())
    ]
    used += [
        (p, n, canonical(f"{m.group(1)} {m.group(2)}"))
        for p, n, m in occurrences(LESSON, code_files())
    ]
    undefined = [f"{path}:{line}: {code}" for path, line, code in used if code not in defined]
    assert used, "no code found at all: the patterns no longer match how the code cites docs/"
    assert not undefined, "codes without a heading in docs/:\n" + "\n".join(undefined)


def test_each_code_is_defined_once() -> None:
    twice = {code: pages for code, pages in defined_codes().items() if len(pages) > 1}
    assert not twice, f"codes defined by more than one heading: {twice}"


def test_paper_sections_cited_exist() -> None:
    sections = paper_sections()
    cited = occurrences(PAPER_SECTION, code_files())
    missing = [
        f"{path}:{line}: §{m.group(1)}" for path, line, m in cited if m.group(1) not in sections
    ]
    assert cited and not missing, "sections of docs/paper.md that do not exist:\n" + "\n".join(
        missing
    )


def test_docs_pages_and_anchors_cited_in_code_exist() -> None:
    broken = []
    for path, line, m in occurrences(DOCS_MENTION, code_files()):
        page = DOCS / m.group(1)
        if not page.is_file():
            broken.append(f"{path}:{line}: docs/{m.group(1)} does not exist")
        elif m.group(2) and m.group(2) not in anchors(page):
            broken.append(f"{path}:{line}: docs/{m.group(1)} has no heading #{m.group(2)}")
    assert not broken, "\n".join(broken)


def test_relative_links_between_markdown_pages_resolve() -> None:
    broken = []
    pages = [p for p in tracked_files() if p.suffix == ".md"]
    for path, line, m in occurrences(MARKDOWN_LINK, pages):
        target = m.group(1)
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto: ...
        file_part, _, anchor = target.partition("#")
        page = (REPO / path).parent / file_part if file_part else REPO / path
        if not page.exists():
            broken.append(f"{path}:{line}: {target} (no such file)")
        elif anchor and page.suffix == ".md" and anchor not in anchors(page.resolve()):
            broken.append(f"{path}:{line}: {target} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        (
            "Lesson 4: peak memory is measured, not the card's capacity",
            "lesson-4-peak-memory-is-measured-not-the-cards-capacity",
        ),
        ("2.1 The recipe", "21-the-recipe"),
        (
            "Measured: `benchmarks/results/handoff_cpu.json`",
            "measured-benchmarksresultshandoff_cpujson",
        ),
    ],
)
def test_anchors_follow_githubs_rule(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_code_patterns_tell_codes_from_look_alikes() -> None:
    line = 'F1 and X9 (F10/F11); BERTScore F1, ROUGE-L F1, "F32", BF16, noqa: F401, lesson 3'
    assert [m.group(1) for m in FAILURE_OR_EXPERIMENT.finditer(line)] == ["F1", "X9", "F10", "F11"]
    assert [m.group(2) for m in LESSON.finditer(line)] == ["3"]
    assert OUTSIDE.search("see ../" + "shared/x") and OUTSIDE.search("RELIABILITY" + ".md F1")
    assert not OUTSIDE.search("docs/reliability.md, F1")
