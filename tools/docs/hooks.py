"""mkdocs hooks: one copy of every text, and links that work both on the site and in the repository.

- A page line `<!-- include PATH -->` (PATH relative to the repository root) is replaced by that
  file's text, its relative links rewritten to stay correct from the including page. The site's
  home page is README.md this way, so the README and the docs never hold two copies of a text.
- A link from a page to a repository file outside docs/ (`bench/results/judge_strength/judge_strength.png`,
  linked from `docs/results.md` with a leading `../`) is correct in the repository; on the site the
  file is published under `_repo/` and the link rewritten to it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mkdocs.structure.files import File

INCLUDE = re.compile(r"^<!-- include (\S+) -->$", re.M)
LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")
REPO = "_repo"


def is_url(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target)) or target.startswith("/")


def relink(text: str, source_dir: Path, page_dir: Path, docs_dir: Path, root: Path) -> str:
    """Relative links of a file in `source_dir`, rewritten relative to `page_dir` (outside docs/: to _repo/)."""

    def fix(m: re.Match) -> str:
        target = m.group(2)
        if is_url(target):
            return m.group(0)
        path = (source_dir / target).resolve()
        if not path.is_relative_to(docs_dir.resolve()) and path.is_relative_to(root.resolve()):
            path = docs_dir / REPO / path.relative_to(root.resolve())
        new = os.path.relpath(path, page_dir.resolve() if path.is_absolute() else page_dir).replace(os.sep, "/")
        return f"{m.group(1)}{new}{m.group(3) or ''}{m.group(4)}"

    return LINK.sub(fix, text)


def outside_targets(docs_dir: Path, root: Path) -> set[Path]:
    """Repository files outside docs/ that a page links to."""
    found = set()
    for page in docs_dir.rglob("*.md"):
        for m in LINK.finditer(page.read_text(encoding="utf-8")):
            if is_url(m.group(2)):
                continue
            path = (page.parent / m.group(2)).resolve()
            if path.is_file() and not path.is_relative_to(docs_dir.resolve()) and path.is_relative_to(root.resolve()):
                found.add(path.relative_to(root.resolve()))
    return found


def on_files(files, config):
    root, docs_dir = Path(config.config_file_path).parent, Path(config.docs_dir)
    for rel in sorted(outside_targets(docs_dir, root)):
        files.append(File.generated(config, f"{REPO}/{rel.as_posix()}", abs_src_path=str(root / rel)))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    root, docs_dir = Path(config.config_file_path).parent, Path(config.docs_dir)
    page_dir = (docs_dir / page.file.src_path).parent

    def include(m: re.Match) -> str:
        path = root / m.group(1)
        return relink(path.read_text(encoding="utf-8"), path.parent, page_dir, docs_dir, root)

    return relink(INCLUDE.sub(include, markdown), page_dir, page_dir, docs_dir, root)
