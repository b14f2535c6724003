import torch

from unigap.analysis.entk import (
    cross_kernel,
    flat_grad,
    gen_loss_fn,
    matched_vs_mismatched,
    per_sample_grads,
    und_loss_fn,
)
from unigap.models.base import ModelConfig, load_model
from unigap.verdict import question


def test_cross_kernel_matches_finite_differences(tiny_ckpt_dir):
    model = load_model(ModelConfig(name="tiny", path=str(tiny_ckpt_dir)))
    model.module().double()
    params = model.components()["llm"]
    prompts = ["a red circle", "a blue square", "a big green cross"]
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, model.ckpt.codec.size, (3, model.num_image_tokens), generator=g)
    images = model.decode(tokens)
    qs, ans = [question(p) for p in prompts], ["The score is 1.", "The score is 0.", "The score is 1."]
    gen, und = gen_loss_fn(model, prompts, tokens), und_loss_fn(model, images, qs, ans)
    k = cross_kernel(per_sample_grads(gen, 3, params), per_sample_grads(und, 3, params))
    assert k.shape == (3, 3)
    eps = 1e-5
    for i in range(3):
        g_i = flat_grad(gen(i), params)
        direction = g_i / g_i.norm()  # unit step: the central difference is then accurate to O(eps^2)
        for j in range(3):
            with torch.no_grad():
                plus, minus = _shifted(params, direction, eps, und, j), _shifted(params, direction, -eps, und, j)
            fd = (plus - minus) / (2 * eps) * g_i.norm()
            assert torch.allclose(k[i, j], fd, rtol=1e-6, atol=1e-8), (i, j, k[i, j].item(), fd.item())


def _shifted(params, direction, eps, loss_fn, j):
    offset = 0
    for p in params:
        n = p.numel()
        p.add_(eps * direction[offset : offset + n].view_as(p))
        offset += n
    value = loss_fn(j).detach()
    offset = 0
    for p in params:
        n = p.numel()
        p.sub_(eps * direction[offset : offset + n].view_as(p))
        offset += n
    return value


def test_matched_vs_mismatched_summary():
    k = torch.tensor([[3.0, 1.0, 0.0], [0.5, 2.0, 1.0], [0.0, 1.0, 4.0]])
    out = matched_vs_mismatched(k, n_boot=100)
    assert out["matched_mean"] == 3.0 and abs(out["mismatched_mean"] - 3.5 / 6) < 1e-6
    assert out["gap"] > 0 and out["matched_larger_share"] == 1.0


def test_matched_kernel_and_closeness_gap_are_the_kernel_helpers_composed(tiny_ckpt_dir):
    import numpy as np

    from unigap.analysis.entk import closeness, closeness_gap, cross_kernel, group_gap, matched_kernel

    model = load_model(ModelConfig(name="tiny", path=str(tiny_ckpt_dir)))
    params = model.components()["llm"]
    prompts = ["a red circle", "a blue square", "a big green cross"]
    tokens = torch.randint(
        0, model.ckpt.codec.size, (3, model.num_image_tokens), generator=torch.Generator().manual_seed(1)
    )
    gen = per_sample_grads(gen_loss_fn(model, prompts, tokens), 3, params)
    und_fn = und_loss_fn(model, model.decode(tokens), [question(p) for p in prompts], ["The score is 1."] * 3)
    expected = matched_vs_mismatched(cross_kernel(gen, per_sample_grads(und_fn, 3, params)))
    got = matched_kernel(model, prompts, tokens, params)
    assert got.keys() == expected.keys() and np.isclose(got["gap"], expected["gap"], rtol=1e-5)
    improved = np.array([True, False])
    gap = closeness_gap(model, params, (prompts[:2], tokens[:2]), (prompts[2:], tokens[2:]), improved)
    assert np.isclose(gap["diff"], group_gap(closeness(gen[:2], gen[2:]), improved)["diff"], rtol=1e-5)
