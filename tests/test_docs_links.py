"""The documents hold together: every relative link in README.md, bench/README.md and docs/*.md points to a
file that exists (and, with a #fragment into a Markdown file, to a heading it has), and the README stays a
README (at most 300 lines: the depth is in docs/).

Links inside fenced code blocks and inline code are not links; links with a scheme (https:, mailto:) are
not checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 300
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def documents(root: Path) -> list[Path]:
    """The documents whose links are checked: the README, the benchmarks' README and docs/*.md."""
    found = [root / "README.md", root / "bench" / "README.md", *sorted((root / "docs").glob("*.md"))]
    return [path for path in found if path.is_file()]


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, with inline code taken out."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, INLINE_CODE.sub("", line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (a repeated one also as `-1`, `-2`, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        if match := HEADING.match(line):
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(root: Path) -> list[str]:
    """`file:line: target (why)` for every relative link that resolves to nothing."""
    problems = []
    for document in documents(root):
        for number, line in prose_lines(document.read_text(encoding="utf-8")):
            for target in LINK.findall(line):
                if SCHEME.match(target):
                    continue
                path_part, _, fragment = target.partition("#")
                resolved = (document.parent / path_part).resolve() if path_part else document
                where = f"{document.relative_to(root)}:{number}: {target}"
                if not resolved.exists():
                    problems.append(f"{where} (no such file)")
                elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
                    problems.append(f"{where} (no heading #{fragment} in {resolved.name})")
    return problems


def test_every_relative_link_in_the_documents_points_to_an_existing_file_and_heading():
    assert broken_links(ROOT) == []


def test_the_readme_is_at_most_300_lines():
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move the depth into docs/"


def test_the_check_sees_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Set up and run\n\n[back](../README.md)\n")
    (tmp_path / "README.md").write_text(
        "# Tool\n\n"
        "[ok](docs/guide.md#set-up-and-run) [gone](docs/missing.md) [wrong](docs/guide.md#nowhere)\n"
        "[web](https://example.com/x.md) `[code](docs/nope.md)` [here](#tool)\n"
        "```\n[fenced](docs/nope.md)\n```\n"
    )
    assert broken_links(tmp_path) == [
        "README.md:3: docs/missing.md (no such file)",
        "README.md:3: docs/guide.md#nowhere (no heading #nowhere in guide.md)",
    ]
