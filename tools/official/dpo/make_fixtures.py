"""Run the DPO authors' own `preference_loss` on fixed log-probs; write tests/fixtures/official/dpo/.

    python tools/official/dpo/make_fixtures.py --checkout /path/to/direct-preference-optimization \
        [--out tests/fixtures/official/dpo]

eric-mitchell/direct-preference-optimization is the reference implementation of Rafailov et al. (2023).
The function is read from trainers.py in the checkout at the pinned commit (never copied into this
repository) and executed as it stands; trainers.py's module imports (tensor_parallel, wandb, FSDP, its
datasets) are not needed by this one function and are not run. Only torch is needed.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

COMMIT = "f8b8c0f49dc92a430bae41585f9d467d3618fe2f"
FILE = "trainers.py"
FUNCTION = "preference_loss"
# (B, beta, scale of the summed log-probs, spread of policy vs reference): small and large margins, saturation
SETTINGS = [(8, 0.1, 40.0, 2.0), (8, 0.5, 40.0, 2.0), (16, 0.1, 400.0, 30.0), (4, 2.0, 10.0, 5.0)]


def function_source(source: str, name: str) -> str:
    """The text of the top-level function `name` (its decorators included), as it stands in the file."""
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_source_segment(source, node) or ""


def case(fn: Any, seed: int, b: int, beta: float, scale: float, spread: float) -> dict:
    g = torch.Generator().manual_seed(seed)
    ref_c, ref_r = -scale * torch.rand(b, generator=g), -scale * torch.rand(b, generator=g)
    pol_c = (ref_c + spread * torch.randn(b, generator=g)).requires_grad_(True)
    pol_r = (ref_r + spread * torch.randn(b, generator=g)).requires_grad_(True)
    losses, chosen_rewards, rejected_rewards = fn(pol_c, pol_r, ref_c, ref_r, beta)
    losses.mean().backward()  # the trainer's loss: losses.mean()
    return {
        "B": b,
        "beta": beta,
        "policy_chosen": pol_c.detach().tolist(),
        "policy_rejected": pol_r.detach().tolist(),
        "reference_chosen": ref_c.tolist(),
        "reference_rejected": ref_r.tolist(),
        "losses": losses.tolist(),
        "loss": losses.mean().item(),
        "grad_policy_chosen": pol_c.grad.tolist(),
        "grad_policy_rejected": pol_r.grad.tolist(),
        "chosen_rewards": chosen_rewards.tolist(),
        "rejected_rewards": rejected_rewards.tolist(),
    }


def equal_policy_case(fn: Any) -> dict:
    """Policy == reference: every loss is log 2."""
    x = -torch.arange(1.0, 7.0)
    losses, _, _ = fn(x, x - 1, x, x - 1, 0.1)
    return {"B": 6, "beta": 0.1, "same": x.tolist(), "losses": losses.tolist()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkout", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[3] / "tests/fixtures/official/dpo")
    args = ap.parse_args()
    git = ["git", "-C", str(args.checkout), "rev-parse", "HEAD"]
    head = subprocess.run(git, capture_output=True, text=True).stdout.strip()
    if head != COMMIT:
        raise SystemExit(f"{args.checkout} is at {head or '?'}, not the pinned {COMMIT}")
    source = (args.checkout / FILE).read_text()
    code = function_source(source, FUNCTION)
    ns: dict = {"torch": torch, "F": F, "Tuple": tuple}
    exec(code, ns)  # noqa: S102 - the official function, read from the pinned checkout
    fn = ns[FUNCTION]
    cases = [case(fn, seed, *s) for seed, s in enumerate(SETTINGS)]
    args.out.mkdir(parents=True, exist_ok=True)
    body = {"cases": cases, "equal_policy": equal_policy_case(fn)}
    (args.out / "dpo_loss.json").write_text(json.dumps(body, indent=1) + "\n")
    manifest = {
        "repo": "eric-mitchell/direct-preference-optimization",
        "commit": COMMIT,
        "file": FILE,
        "file_sha256": hashlib.sha256(source.encode()).hexdigest(),
        "function": code,
        "torch": torch.__version__,
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {args.out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
