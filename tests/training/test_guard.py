import pytest

from unigap.audit.runner import AuditConfig, run_audit
from unigap.curation.curate import CurateConfig
from unigap.curation.dataset import write_curation
from unigap.judges.base import JudgeConfig
from unigap.models.base import ModelConfig
from unigap.prompts.base import SuiteConfig
from unigap.store import RunStore
from unigap.training.guard import GuardConfig, GuardError, wilson
from unigap.training.improve import ImproveConfig, improve


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """The shipped model's candidates for a few train prompts (it draws some right and some wrong)."""
    run = tmp_path_factory.mktemp("guard_run")
    cfg = AuditConfig(model=ModelConfig(name="tiny"), prompts=SuiteConfig(split="train", per_subtask=3),
                      n=4, n_boot=10, judges=[JudgeConfig(name="oracle"), JudgeConfig(name="poisoned")])
    run_audit(cfg, run)
    return run


def train_cfg():
    return ImproveConfig(model=ModelConfig(name="tiny"), epochs=1, batch_size=8,
                         guard=GuardConfig(judge="oracle", sample=50, threshold=0.5))


def test_guard_fires_on_poisoned_selection_unless_forced(audited, tmp_path):
    write_curation(audited, tmp_path / "data", CurateConfig(selector="poisoned", rule="all_accepted"))
    with pytest.raises(GuardError, match=r"agrees with 0/\d+ curated labels = 0.0%"):
        improve(train_cfg(), tmp_path / "data", tmp_path / "out", log=lambda m: None)
    with RunStore.open(audited, create=False) as store:
        assert store.stage("guard")["status"] == "failed"
    history = improve(train_cfg(), tmp_path / "data", tmp_path / "forced", force=True, log=lambda m: None)
    assert history["guard"]["forced"] and not history["guard"]["passed"]


def test_guard_passes_on_oracle_selection(audited, tmp_path):
    write_curation(audited, tmp_path / "data", CurateConfig(selector="oracle", rule="all_accepted"))
    history = improve(train_cfg(), tmp_path / "data", tmp_path / "out", log=lambda m: None)
    assert history["guard"]["passed"] and history["guard"]["agreement"] == 1.0


def test_wilson_interval():
    lo, hi = wilson(62, 100)
    assert 0.52 < lo < 0.53 and 0.70 < hi < 0.72
    assert wilson(0, 0) == [0.0, 1.0]
