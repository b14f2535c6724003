"""unigap's DPO loss against the DPO authors' own `preference_loss` run on the same log-probs
(tests/fixtures/official/dpo, written by tools/official/dpo from
eric-mitchell/direct-preference-optimization@f8b8c0f)."""

import json
import math
from pathlib import Path

import pytest
import torch

from unigap.training.losses import dpo_loss

FIXTURE = json.loads((Path(__file__).resolve().parents[1] / "fixtures/official/dpo/dpo_loss.json").read_text())


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=lambda c: f"B{c['B']}-beta{c['beta']}")
def test_loss_and_gradient_match_the_official_preference_loss(case):
    pc = torch.tensor(case["policy_chosen"], requires_grad=True)
    pr = torch.tensor(case["policy_rejected"], requires_grad=True)
    rc, rr = torch.tensor(case["reference_chosen"]), torch.tensor(case["reference_rejected"])
    loss = dpo_loss(pc, pr, rc, rr, case["beta"])  # the official trainer's loss: losses.mean()
    loss.backward()
    assert loss.item() == pytest.approx(case["loss"], rel=1e-6, abs=1e-7)
    assert torch.allclose(pc.grad, torch.tensor(case["grad_policy_chosen"]), rtol=1e-5, atol=1e-8)
    assert torch.allclose(pr.grad, torch.tensor(case["grad_policy_rejected"]), rtol=1e-5, atol=1e-8)
    per_example = [
        dpo_loss(pc[i : i + 1], pr[i : i + 1], rc[i : i + 1], rr[i : i + 1], case["beta"]) for i in range(case["B"])
    ]
    assert [x.item() for x in per_example] == pytest.approx(case["losses"], rel=1e-6, abs=1e-7)


def test_policy_equal_to_reference_gives_log_2_as_officially():
    case = FIXTURE["equal_policy"]
    x = torch.tensor(case["same"])
    assert case["losses"] == pytest.approx([math.log(2)] * case["B"])
    assert dpo_loss(x, x - 1, x, x - 1, case["beta"]).item() == pytest.approx(math.log(2))


def test_the_fixture_covers_saturated_margins():
    """At least one case whose margins push logsigmoid far into its tails (where a naive log(sigmoid) fails)."""
    big = [c for c in FIXTURE["cases"] if max(abs(v) for v in c["losses"]) > 10]
    assert big, "regenerate the fixture with a large-margin case"
