import math

import torch

from unigap.training.losses import dpo_loss, sft_loss


def test_dpo_is_log2_when_policy_equals_reference():
    lp = torch.tensor([-10.0, -3.0]), torch.tensor([-12.0, -1.0])
    assert math.isclose(dpo_loss(lp[0], lp[1], lp[0], lp[1], beta=0.1).item(), math.log(2), rel_tol=1e-6)


def test_dpo_falls_when_chosen_gains():
    ref = torch.tensor([-10.0]), torch.tensor([-10.0])
    better = dpo_loss(torch.tensor([-8.0]), torch.tensor([-12.0]), *ref, beta=0.1)
    assert better.item() < math.log(2)


def test_sft_is_per_token_nll():
    assert math.isclose(sft_loss(torch.tensor([-64.0, -128.0]), 64).item(), 1.5)
