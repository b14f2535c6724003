"""bench/gpu_check.py runs end to end (--tiny: tiny dims on the CPU) and degrades row by row."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from tests.distributed.helpers import REPO

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("gpu_check", None)


def test_tiny_run_fills_every_row(gpu_check, tmp_path):
    text = gpu_check.main(["--tiny", "--json", str(tmp_path / "r.json")])
    results = json.loads((tmp_path / "r.json").read_text())
    assert set(results["sections"]) == set(gpu_check.SECTIONS)
    assert not [n for n, r in results["sections"].items() if "error" in r], results
    janus = results["sections"]["janus-1b"]
    assert janus["ours"]["none"]["img_per_s"] > 0 and janus["hf_generate"]["img_per_s"] > 0
    assert results["sections"]["showo-512"]["M"] == 1024 and results["sections"]["showo-256"]["M"] == 256
    sft = results["sections"]["sft-7b"]
    assert sft["step_s"] > 0 and all(x == x for x in sft["losses"])  # finite (asserted inside too)
    lines = text.splitlines()
    assert "--tiny" in lines[0] and len(lines) == 3 + 7  # header, column names, rule, 7 rows
    assert "ERROR" not in text and "NO RESULT" not in text


def test_a_failing_section_is_a_row_and_the_rest_still_run(gpu_check, tmp_path, monkeypatch):
    def boom(settings):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setitem(gpu_check.RUNNERS, "showo-512", boom)
    monkeypatch.setitem(
        gpu_check.RUNNERS,
        "showo-256",
        lambda s: {
            "tiny": True,
            "B": 1,
            "M": 4,
            "resolution": 8,
            "steps": 2,
            "guidance": 1.75,
            "img_per_s": 3.0,
            "peak_mem_GB": None,
        },
    )
    out = tmp_path / "r.json"
    gpu_check.main(["--tiny", "--section", "showo-512", "--section", "showo-256", "--json", str(out)])
    (tmp_path / "status").write_text("showo-512 0\nshowo-256 0\nsft-7b 124\njanus-7b 1\n")
    text = gpu_check.main(["--table", "--json", str(out), "--status", str(tmp_path / "status")])
    rows = {line.split("  ")[0]: line for line in text.splitlines()[3:]}
    assert "ERROR RuntimeError: CUDA out of memory (simulated)" in rows["showo-512"]
    assert "3.00" in next(v for k, v in rows.items() if k.startswith("Show-o 256"))
    assert "NO RESULT (timed out)" in rows["sft-7b"] and "NO RESULT (exit code 1)" in rows["janus-7b"]
