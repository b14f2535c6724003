"""unigap's GRPO advantages and loss against T2I-R1's own lines run on the same tensors
(tests/fixtures/official/t2i_r1, written by tools/official/t2i_r1 from CaraJ7/T2I-R1@2d9d4d1)."""

import json
from pathlib import Path

import pytest
import torch

from unigap.training.losses import group_advantages, grpo_token_loss

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/official/t2i_r1/grpo_loss.json"
CASES = json.loads(FIXTURE.read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"B{c['B']}G{c['G']}")
def test_advantages_loss_gradient_and_kl_match_t2i_r1(case):
    adv, _ = group_advantages(torch.tensor(case["rewards"]), case["G"], scale=True)
    assert torch.allclose(adv, torch.tensor(case["advantages"]), atol=1e-6)
    logp = torch.tensor(case["logp"], requires_grad=True)
    ref = torch.tensor(case["ref"])
    per_tok, kl = grpo_token_loss(logp, logp.detach(), ref, adv, clip=0.2, beta=case["beta"])
    loss = per_tok.mean()  # T2I-R1: sum over every token / their count (all completion tokens are image tokens)
    loss.backward()
    assert loss.item() == pytest.approx(case["loss"], rel=1e-6, abs=1e-8)
    assert torch.allclose(logp.grad, torch.tensor(case["grad"]), atol=1e-7)
    assert kl.mean().item() == pytest.approx(case["mean_kl"], rel=1e-6)
