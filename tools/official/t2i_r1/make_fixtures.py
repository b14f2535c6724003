"""Run T2I-R1's own GRPO advantage and loss lines on fixed tensors; write tests/fixtures/official/t2i_r1/.

    python tools/official/t2i_r1/make_fixtures.py --checkout /path/to/T2I-R1 [--out tests/fixtures/official/t2i_r1]

The official lines are read from the checkout at the pinned commit (never copied into this repository)
and executed as they stand, with `self` a namespace holding the trainer attributes they read
(num_generations, new_generations_image, beta). Only torch is needed (the lines use nothing else).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import torch

COMMIT = "2d9d4d1af4119953b3a8541f914f85481d7e1e76"
FILE = "src/t2i-r1/src/open_r1/trainer/grpo_trainer.py"
# (first line, last line) of each block, matched by content so a moved line is found, a changed one is refused
BLOCKS = {
    "advantages": ("mean_grouped_rewards = rewards.view(", "advantages = (rewards - mean_grouped_rewards)"),
    "loss": (
        "per_token_loss = torch.exp(per_token_logps - per_token_logps.detach())",
        "mean_kl = (per_token_kl * completion_mask).sum() / completion_mask.sum()",
    ),
}


def block(lines: list[str], first: str, last: str) -> str:
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(first))
    end = next(i for i in range(start, len(lines)) if lines[i].strip().startswith(last))
    code = [line.strip() for line in lines[start : end + 1] if line.strip() and not line.strip().startswith("#")]
    return "\n".join(code)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkout", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[3] / "tests/fixtures/official/t2i_r1")
    args = ap.parse_args()
    git = ["git", "-C", str(args.checkout), "rev-parse", "HEAD"]
    head = subprocess.run(git, capture_output=True, text=True).stdout.strip()
    if head != COMMIT:
        raise SystemExit(f"{args.checkout} is at {head or '?'}, not the pinned {COMMIT}")
    source = (args.checkout / FILE).read_text()
    lines = source.splitlines()
    code = {k: block(lines, *v) for k, v in BLOCKS.items()}
    cases = []
    for seed, (b, g, m, beta) in enumerate([(2, 4, 6, 0.01), (3, 2, 5, 0.1)]):
        gen = torch.Generator().manual_seed(seed)
        rewards = torch.rand(b * g, generator=gen).round(decimals=1)  # ties inside a group included
        ns = {
            "torch": torch,
            "rewards": rewards,
            "self": SimpleNamespace(num_generations=g, new_generations_image=1, beta=beta),
        }
        exec(code["advantages"], ns)  # noqa: S102 - the official lines, read from the pinned checkout
        logp = (-torch.rand(b * g, m, generator=gen) * 3).requires_grad_(True)
        ref = logp.detach() + 0.3 * torch.randn(b * g, m, generator=gen)
        ns.update(per_token_logps=logp, ref_per_token_logps=ref, completion_mask=torch.ones(b * g, m))
        exec(code["loss"], ns)  # noqa: S102
        ns["loss"].backward()
        cases.append(
            {
                "B": b,
                "G": g,
                "M": m,
                "beta": beta,
                "rewards": rewards.tolist(),
                "advantages": ns["advantages"].tolist(),
                "logp": logp.detach().tolist(),
                "ref": ref.tolist(),
                "loss": ns["loss"].item(),
                "grad": logp.grad.tolist(),
                "mean_kl": ns["mean_kl"].item(),
            }
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grpo_loss.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
    manifest = {
        "repo": "CaraJ7/T2I-R1",
        "commit": COMMIT,
        "file": FILE,
        "file_sha256": hashlib.sha256(source.encode()).hexdigest(),
        "blocks": code,
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
