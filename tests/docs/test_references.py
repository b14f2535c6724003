"""Every file the README, the docs, the configs and the code's docstrings and comments name exists in the repo.

Checked: markdown links (relative), backticked repository paths (`configs/x.yaml`, `src/unigap/...`,
`bench/...`, `tests/...`, and package-relative ones such as `models/showo/model.py`), and any name
ending in `.md` (a note that lives outside the repository, like a `paper.md`, is caught here).
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from itertools import product
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "unigap"
TOP = {"configs", "src", "bench", "tests", "tools", "docs", ".ci"}
ROOT_FILES = {"pyproject.toml", "Makefile", "mkdocs.yml", "README.md"}
LINK = re.compile(r"\]\(([^)\s]+)\)")
TICKED = re.compile(r"`([^`\s]+)`")
MD_NAME = re.compile(r"(?<![\w./-])([\w./-]*[\w-]\.md)\b")
PLACEHOLDER = re.compile(r"[<>*$…]|\.\.\.|\bNAME\b|\bRUN\b|\bDIR\b|\bOUT\b|\bCKPT\b|\bDATA\b|\bPATH\b|\bTASK\b|%")
# Named on purpose although not in the repository: outputs a documented command writes, and files of other
# repositories whose paths happen to start like a folder of ours.
OUTPUTS = {"bench/results/alg1", "bench/results/results.md"}
EXTERNAL = {
    "prompts/evaluation_metadata.jsonl",  # GenEval's prompt file (docs/scorers.md, prompts/geneval.py)
    "models/phi.py",
    "training/train.py",
    "training/utils.py",
}  # Show-o's (docs/showo.md, tools/official/showo)


@lru_cache
def tracked() -> tuple[set[str], set[str]]:
    """(repository paths, their basenames), tracked or new (not ignored) files."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = {p for p in out if (ROOT / p).exists()}
    return files, {Path(p).name for p in files}


def documents() -> list[Path]:
    files, _ = tracked()
    keep = [
        ROOT / p
        for p in sorted(files)
        if p == "README.md"
        or (p.startswith("docs/") and p.endswith(".md"))
        or (p.split("/")[0] in ("src", "tests", "bench", "tools") and p.endswith((".py", ".sh")))
        or (p.startswith("configs/") and p.endswith(".yaml"))
        or (p.startswith("tools/") and p.endswith(".md"))
    ]
    return [d for d in keep if d != Path(__file__).resolve()]  # this file names missing files on purpose


def expand(path: str) -> list[str]:
    """`configs/audit_paper9_{janus_pro_7b,showo}.yaml` -> both names."""
    parts = re.split(r"\{([^{}]*,[^{}]*)\}", path)
    choices = [[p] if i % 2 == 0 else p.split(",") for i, p in enumerate(parts)]
    return ["".join(c) for c in product(*choices)]


def exists(path: str, base: Path) -> bool:
    path = path.split("#")[0].split(":")[0].rstrip("/.,;")
    candidates = [base / path, ROOT / path, PACKAGE / path]
    return any(c.exists() for c in candidates)


def is_repo_path(token: str) -> bool:
    token = token.split("#")[0].split(":")[0]
    if token.startswith("/"):
        return False  # an absolute path or a URL route (`/v1/chat/completions`)
    if token in ROOT_FILES:
        return True
    if "/" not in token:
        return False
    first = token.split("/")[0]
    return first in TOP or (PACKAGE / first).is_dir()


def text_of(doc: Path) -> str:
    """Markdown and YAML whole; Python only its comments and docstrings (string literals in code may be data)."""
    text = doc.read_text(encoding="utf-8")
    if doc.suffix not in (".py", ".sh"):
        return text
    kept = [m.group(0) for m in re.finditer(r'"""[\s\S]*?"""|#[^\n]*', text)]
    return "\n".join(kept)


def problems(doc: Path) -> list[str]:
    text, rel, found = text_of(doc), doc.relative_to(ROOT), []
    _, names = tracked()
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#", target) or PLACEHOLDER.search(target):
            continue
        if not exists(target, doc.parent):
            found.append(f"{rel}: link to {target!r}, which is not in the repository")
    for token in TICKED.findall(text):
        if not is_repo_path(token) or PLACEHOLDER.search(token) or token in OUTPUTS | EXTERNAL:
            continue
        for path in expand(token):
            if not exists(path, doc.parent):
                found.append(f"{rel}: names `{path}`, which is not in the repository")
    for name in MD_NAME.findall(text):
        if PLACEHOLDER.search(name) or name in OUTPUTS:
            continue
        ok = exists(name, doc.parent) if "/" in name else name in names
        if not ok:
            found.append(f"{rel}: names {name!r}, which is not in the repository")
    return found


@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_named_files_exist(doc):
    assert problems(doc) == []


def test_the_scan_finds_what_it_should(tmp_path):
    """The checker itself: a missing note, a missing config and a missing link are each reported."""
    page = ROOT / "docs" / "_probe.md"
    try:
        page.write_text("See paper.md §2, `configs/nope.yaml`, [x](nope.md), and `configs/run_tiny.yaml`.\n")
        found = "\n".join(problems(page))
        assert "paper.md" in found and "configs/nope.yaml" in found and "'nope.md'" in found
        assert "run_tiny" not in found
    finally:
        page.unlink()
