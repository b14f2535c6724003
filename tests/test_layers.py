"""The package's layers hold (the import-linter contracts of pyproject.toml, explained in docs/layout.md).

import-linter reads every import of src/unigap (at module top, inside functions, under TYPE_CHECKING);
a failure names each broken contract and the imports that break it. A planted upward import, command
import or cycle in a copy of the tree must break the contract that forbids it, so the contracts can fail.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="the layer contracts need import-linter: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"


def lint(src: Path, cwd: Path) -> subprocess.CompletedProcess:
    """lint-imports with the repository's contracts on the `unigap` package under `src`."""
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={str(CONFIG)!r}, no_cache=True, no_logo=True))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(src), os.environ.get("PYTHONPATH")) if p),
        "COLUMNS": "200",
    }  # one line per contract name in the summary
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def contract_names() -> list[str]:
    from importlinter.api import read_configuration

    return [c["name"] for c in read_configuration(str(CONFIG))["contracts_options"]]


def broken_sections(output: str) -> dict[str, str]:
    """{contract name: its part of the "Broken contracts" report}."""
    report = output.split("Broken contracts", 1)[-1] if "Broken contracts" in output else ""
    names = [n for n in contract_names() if f"\n{n}\n" in report]
    starts = sorted((report.index(f"\n{n}\n"), n) for n in names)
    ends = [s for s, _ in starts[1:]] + [len(report)]
    return {n: report[s:e] for (s, n), e in zip(starts, ends)}


def test_the_layers_hold(tmp_path):
    res = lint(ROOT / "src", tmp_path)
    out = res.stdout + res.stderr
    broken = broken_sections(out)
    assert res.returncode == 0, f"import contracts broken: {sorted(broken) or 'see below'}\n{out[-8000:]}"
    checked = re.search(r"Analyzed (\d+) files, (\d+) dependencies", out)
    assert checked and int(checked[1]) > 150 and int(checked[2]) > 400, out  # the whole package was read
    assert out.count(" KEPT") == len(contract_names())


PLANTED = [  # (module, code appended to it, the contract it breaks, what the report names)
    (
        "models/tiny/checkpoint.py",
        "from unigap.store import RunStore",
        "Layers:",
        "unigap.models.tiny.checkpoint -> unigap.store",
    ),
    (
        "store/db.py",
        "def _planted():\n    import unigap.cli.show\n",
        "Layers:",  # inside a function: counts too
        "unigap.store.db -> unigap.cli.show",
    ),
    ("cli/audit.py", "from unigap.cli.run import run_cmd", "CLI:", "unigap.cli.audit -> unigap.cli.run"),
    (
        "report/render.py",
        "from unigap.models.base import load_model",
        "report only reads",
        "unigap.report.render -> unigap.models.base",
    ),
    (
        "training/losses.py",
        "from unigap.store import RunStore",
        "training reads runs",
        "unigap.training.losses -> unigap.store",
    ),
    (
        "models/emu3/options.py",
        "from unigap.models.showo import options",
        "Model backends",
        "unigap.models.emu3.options -> unigap.models.showo.options",
    ),
    (
        "models/base.py",
        "def _planted():\n    from unigap.models.tiny import backend\n",
        "models/base.py",
        "unigap.models.base -> unigap.models.tiny.backend",
    ),
    ("world/grid.py", "from unigap.world import show", "No import cycles", "unigap.world"),
]


def test_a_planted_import_breaks_the_contract_that_forbids_it(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "unigap",
        src / "unigap",
        ignore=lambda d, names: [
            n for n in names if not n.endswith(".py") and not Path(d, n).is_dir() or n == "__pycache__"
        ],
    )
    for module, code, _, _ in PLANTED:
        path = src / "unigap" / module
        path.write_text(path.read_text() + f"\n\n{code}\n")
    res = lint(src, tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-4000:]
    broken = broken_sections(out)
    for module, _, contract, named in PLANTED:
        section = next((text for name, text in broken.items() if name.startswith(contract)), None)
        assert section is not None, f"{module}: contract {contract!r} not broken\n{out[-6000:]}"
        assert named in section, f"{module}: {named!r} not in the {contract!r} report\n{section}"


def test_report_opens_the_run_store_read_only():
    """report only reads: RunStore.open_readonly, never RunStore.open / open_part (which create and write)."""
    opens = []
    for path in sorted((ROOT / "src" / "unigap" / "report").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "RunStore":
                opens.append((path.name, node.attr))
    assert opens and all(attr == "open_readonly" for _, attr in opens), opens
