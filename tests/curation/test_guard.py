import pytest

from unigap.audit.runner import AuditConfig, run_audit
from unigap.curation.curate import CurateConfig
from unigap.curation.dataset import write_curation
from unigap.curation.guard import GuardConfig, GuardError, band_agreement, decide, sample_rows, wilson, worst_band
from unigap.judges.base import JudgeConfig
from unigap.models.base import ModelConfig
from unigap.prompts.base import SuiteConfig
from unigap.store import RunStore
from unigap.training.improve import ImproveConfig, improve


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """The shipped model's candidates for a few train prompts (it draws some right and some wrong)."""
    run = tmp_path_factory.mktemp("guard_run")
    cfg = AuditConfig(
        model=ModelConfig(name="tiny"),
        prompts=SuiteConfig(split="train", per_subtask=3),
        n=4,
        n_boot=10,
        judges=[JudgeConfig(name="oracle"), JudgeConfig(name="poisoned")],
    )
    run_audit(cfg, run)
    return run


def train_cfg():
    return ImproveConfig(
        model=ModelConfig(name="tiny"),
        epochs=1,
        train_batch_size=8,
        guard=GuardConfig(judge="oracle", sample=50, threshold=0.5),
    )


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


def test_band_agreement_and_worst_band_decides():
    hits = [1] * 18 + [0] * 2 + [1] * 4 + [0] * 8  # easy 18/20, hard 4/12
    bands = band_agreement(hits, ["easy"] * 20 + ["hard"] * 12)
    assert bands["easy"]["agreement"] == 0.9 and bands["hard"]["n"] == 12 and bands["hard"]["agree"] == 4
    assert worst_band(bands, min_items=10) == "hard"
    assert worst_band(bands, min_items=15) == "easy"  # too few hard items to decide
    result = {"n": 32, "agreement": 22 / 32, "bands": bands, "worst_band": "hard"}
    assert decide(result, GuardConfig(judge="oracle", threshold=0.5))  # overall 69 % passes
    assert not decide(result, GuardConfig(judge="oracle", threshold=0.5, stop_on="worst_band"))  # hard 33 % stops


def test_sample_rows_per_band_draws_from_every_band():
    import numpy as np

    items = [{"band": "easy"}] * 50 + [{"band": "hard"}] * 5
    rows = sample_rows(items, 10, np.random.default_rng(0), per_band=True)
    assert sum(1 for i in rows if i < 50) == 10 and sum(1 for i in rows if i >= 50) == 5
    assert len(sample_rows(items, 10, np.random.default_rng(0), per_band=False)) == 10


def test_guard_worst_band_on_a_real_curation(audited, tmp_path):
    write_curation(audited, tmp_path / "data", CurateConfig(selector="oracle", rule="all_accepted"))
    cfg = train_cfg().model_copy(
        update={"guard": GuardConfig(judge="oracle", sample=5, stop_on="worst_band", min_band_items=1)}
    )
    history = improve(cfg, tmp_path / "data", tmp_path / "out", log=lambda m: None)
    guard = history["guard"]
    assert guard["passed"] and set(guard["bands"]) <= {"easy", "medium", "hard"}
    assert all(v["n"] <= 5 and v["agreement"] == 1.0 for v in guard["bands"].values())
