"""Empirical NTK evidence for co-improvement (arXiv 2507.16663: Proposition 1 and its Fig. 7 evidence),
computed exactly on small backends.

For a shared parameter set theta (the trunk, `llm`), each sample i has a generation loss
L_gen(i) = -log p(image_i | prompt_i) and an understanding loss
L_und(j) = -log p(answer_j | image_j, question(prompt_j)). The cross kernel
    K[i, j] = <grad_theta L_gen(i), grad_theta L_und(j)>
is the first-order change of L_und(j) per unit step along -grad L_gen(i) (up to the learning
rate): a generation update on i moves understanding on j by -lr * K[i, j]. This is the scalar
(loss-level) form of the paper's eNTK K(Y_0, Y_u) = (d z_0/d theta)(d z_u/d theta)^T contracted with
the loss gradients at the logits. Matched pairs (i == j, same prompt and image) should have larger
kernel values than mismatched pairs (i != j) if the two branches share what they learn.

`closeness` measures, for eval samples, how close each is to the training data in the
generation eNTK: max over training samples u of cos(grad L_gen(eval), grad L_gen(u)).
Large backends: per-sample gradients over billions of parameters are impractical; use
`proxy_similarity` (cosine of mean-pooled trunk hidden states of the prompt and image parts),
the representation whose inner products the eNTK of the last layers reduces to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

LossFn = Callable[[int], torch.Tensor]


def flat_grad(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)])


def per_sample_grads(loss_fn: LossFn, n: int, params: list[torch.nn.Parameter]) -> torch.Tensor:
    """(n, P) gradients of loss_fn(i) w.r.t. params, one backward pass per sample."""
    return torch.stack([flat_grad(loss_fn(i), params) for i in range(n)])


def cross_kernel(gen_grads: torch.Tensor, und_grads: torch.Tensor) -> torch.Tensor:
    """K[i, j] = <g_gen(i), g_und(j)>: (n, P) x (m, P) -> (n, m)."""
    return gen_grads @ und_grads.T


def matched_vs_mismatched(k: torch.Tensor, n_boot: int = 1000, seed: int = 0) -> dict:
    """Diagonal (matched) vs off-diagonal (mismatched) kernel values, with a bootstrap CI of the gap."""
    n = k.shape[0]
    diag = k.diagonal().numpy()
    off = k[~torch.eye(n, dtype=torch.bool)].numpy()
    rng = np.random.default_rng(seed)
    gaps = [rng.choice(diag, n).mean() - rng.choice(off, len(off)).mean() for _ in range(n_boot)]
    return {
        "matched_mean": float(diag.mean()),
        "mismatched_mean": float(off.mean()),
        "gap": float(diag.mean() - off.mean()),
        "gap_ci": [float(np.percentile(gaps, 2.5)), float(np.percentile(gaps, 97.5))],
        "matched_larger_share": float((diag[:, None] > k.numpy()).sum() / max(1, n * (n - 1))),
    }


def closeness(eval_grads: torch.Tensor, train_grads: torch.Tensor) -> np.ndarray:
    """(n_eval,) max cosine similarity of each eval gradient to any training gradient."""
    a = torch.nn.functional.normalize(eval_grads, dim=1)
    b = torch.nn.functional.normalize(train_grads, dim=1)
    return (a @ b.T).max(1).values.numpy()


def group_gap(values: np.ndarray, improved: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    """Mean closeness of improved vs not-improved eval samples, with a bootstrap CI of the difference."""
    a, b = values[improved], values[~improved]
    if len(a) == 0 or len(b) == 0:
        return {"improved_n": int(len(a)), "other_n": int(len(b)), "note": "one group is empty"}
    rng = np.random.default_rng(seed)
    diffs = [rng.choice(a, len(a)).mean() - rng.choice(b, len(b)).mean() for _ in range(n_boot)]
    return {
        "improved_mean": float(a.mean()),
        "other_mean": float(b.mean()),
        "improved_n": int(len(a)),
        "other_n": int(len(b)),
        "diff": float(a.mean() - b.mean()),
        "diff_ci": [float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))],
    }


def gen_loss_fn(model, prompts: Sequence[str], tokens: torch.Tensor) -> LossFn:
    return lambda i: -model.image_logprobs([prompts[i]], tokens[i : i + 1]).sum()


def und_loss_fn(model, images: torch.Tensor, questions: Sequence[str], answers: Sequence[str]) -> LossFn:
    return lambda i: -model.answer_logprobs(images[i : i + 1], [questions[i]], [answers[i]]).sum()


def gen_grads(model, prompts: Sequence[str], tokens: torch.Tensor, params: list[torch.nn.Parameter]) -> torch.Tensor:
    """(n, P) per-sample generation-loss gradients of (prompt, image tokens) pairs."""
    return per_sample_grads(gen_loss_fn(model, prompts, tokens), len(prompts), params)


def matched_kernel(
    model,
    prompts: Sequence[str],
    tokens: torch.Tensor,
    params: list[torch.nn.Parameter],
    answer: str = "The score is 1.",
) -> dict:
    """Generation-vs-understanding cross kernel of training samples (each image asked the paper's
    question about its own prompt, answered `answer`): matched vs mismatched pairs."""
    from unigap.verdict import question

    images = model.decode(tokens)
    und_fn = und_loss_fn(model, images, [question(p) for p in prompts], [answer] * len(prompts))
    und = per_sample_grads(und_fn, len(prompts), params)
    return matched_vs_mismatched(cross_kernel(gen_grads(model, prompts, tokens, params), und))


def closeness_gap(
    model,
    params: list[torch.nn.Parameter],
    eval_samples: tuple[Sequence[str], torch.Tensor],
    train_samples: tuple[Sequence[str], torch.Tensor],
    improved: np.ndarray,
    seed: int = 0,
) -> dict:
    """Closeness (generation eNTK) of eval samples to the training data: improved vs other samples.
    Samples are (prompts, image tokens (n, M)); improved: (n_eval,) bool."""
    ev, tr = gen_grads(model, *eval_samples, params), gen_grads(model, *train_samples, params)
    return group_gap(closeness(ev, tr), improved, seed=seed)
