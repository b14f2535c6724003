"""mkdocs hooks: pages that include a repository file instead of copying it.

A page line `<!-- include PATH -->` (PATH relative to the repository root) is replaced by that
file's text, its relative markdown links rewritten to stay correct from the including page. The
site's home page is README.md this way, so the README and the docs never hold two copies of a text.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

INCLUDE = re.compile(r"^<!-- include (\S+) -->$", re.M)
LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")


def relink(text: str, source_dir: Path, page_dir: Path) -> str:
    """Relative links of a file in `source_dir`, rewritten relative to `page_dir`."""

    def fix(m: re.Match) -> str:
        target = m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
            return m.group(0)  # a URL or an absolute path
        new = os.path.relpath(source_dir / target, page_dir).replace(os.sep, "/")
        return f"{m.group(1)}{new}{m.group(3) or ''}{m.group(4)}"

    return LINK.sub(fix, text)


def on_page_markdown(markdown: str, page, config, files) -> str:
    root = Path(config.config_file_path).parent
    page_dir = (Path(config.docs_dir) / page.file.src_path).parent

    def include(m: re.Match) -> str:
        path = root / m.group(1)
        return relink(path.read_text(encoding="utf-8"), path.parent, page_dir)

    return INCLUDE.sub(include, markdown)
