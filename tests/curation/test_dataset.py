import pytest

from unigap.audit.runner import AuditConfig, run_audit
from unigap.curation.curate import CurateConfig
from unigap.curation.dataset import load_curated, write_curation
from unigap.models.base import ModelConfig
from unigap.prompts.base import SuiteConfig


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The shipped model's audit of a few train prompts (it draws some right, some wrong)."""
    out = tmp_path_factory.mktemp("curate_run")
    run_audit(
        AuditConfig(model=ModelConfig(name="tiny"), prompts=SuiteConfig(split="train", per_subtask=3), n=4, n_boot=10),
        out,
    )
    return out


def test_parquet_loads_with_datasets_and_has_trl_columns(run, tmp_path):
    datasets = pytest.importorskip("datasets")
    manifest = write_curation(run, tmp_path, CurateConfig(rule="all_accepted"))
    sft = datasets.load_dataset("parquet", data_files=str(tmp_path / "sft.parquet"), split="train")
    dpo = datasets.load_dataset("parquet", data_files=str(tmp_path / "dpo.parquet"), split="train")
    assert len(sft) == manifest["totals"]["sft"] > 0 and len(dpo) == manifest["totals"]["pairs"] > 0
    assert {"prompt", "chosen", "rejected", "chosen_tokens", "rejected_tokens"} <= set(dpo.column_names)
    assert sft[0]["image"].size == (32, 32) and len(sft[0]["tokens"]) == 12  # PNG decoded as a PIL image
    assert sum(c["sft"] for c in manifest["counts"].values()) == len(sft)
    data = load_curated(tmp_path)
    assert len(data.sft) == len(sft) and len(data.discard) == manifest["totals"]["discard"]


def test_eval_prompts_never_enter_training_data(run, tmp_path):
    manifest = write_curation(run, tmp_path, CurateConfig())
    assert manifest["splits"] == ["train"]
