"""Tiny-model checkpoints: `model.safetensors` (weights + codec codebook) and `card.json`.

The card records the config, tokenizer vocabulary, seeds, steps, data recipe, evaluation
figures and the sha256 of the weights file; loading refuses a file whose hash differs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from unigap.errors import CheckpointError
from unigap.files import write_json
from unigap.models.tiny.codec import SlotCodec
from unigap.models.tiny.model import TinyConfig, TinyUnified
from unigap.models.tiny.tokenizer import WordTokenizer
from unigap.utils import sha256_file

WEIGHTS, CARD = "model.safetensors", "card.json"


@dataclass
class TinyCheckpoint:
    model: TinyUnified
    tokenizer: WordTokenizer
    codec: SlotCodec
    card: dict[str, Any] = field(default_factory=dict)


SHIPPED = ("tiny", "strong-judge")  # checkpoints inside the package (src/unigap/assets/NAME)


def shipped_path(name: str = "tiny") -> Path:
    """A checkpoint that ships inside the package: "tiny" (the default) or "strong-judge"."""
    if name not in SHIPPED:
        raise CheckpointError(f"no shipped tiny checkpoint {name!r}; shipped: {', '.join(SHIPPED)}")
    return Path(str(resources.files("unigap") / "assets" / name))


def resolve_path(path: str | Path | None) -> Path:
    """`model.path`: None = the shipped "tiny"; a shipped name ("strong-judge") = that asset; else a directory.
    A directory of the same name in the working directory wins over the shipped name."""
    if path is None or path == "":
        return shipped_path()
    if str(path) in SHIPPED and not Path(path).is_dir():
        return shipped_path(str(path))
    return Path(path)


def save_checkpoint(ckpt: TinyCheckpoint, path: str | Path) -> dict[str, Any]:
    """Write weights then the card (with the weights' hash); returns the card."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in ckpt.model.state_dict().items()}
    tmp = path / (WEIGHTS + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(path / WEIGHTS)
    card = {
        **ckpt.card,
        "config": ckpt.model.cfg.to_dict(),
        "vocab": ckpt.tokenizer.vocab,
        "codec": {"type": "slots", "sha256": ckpt.codec.sha256()},
        "sha256": sha256_file(path / WEIGHTS),
    }
    write_json(path / CARD, card, indent=1)  # atomic: a kill never leaves a card that does not match
    ckpt.card = card
    return card


def read_card(path: str | Path) -> dict[str, Any]:
    card_path = Path(path) / CARD
    if not card_path.exists():
        raise CheckpointError(f"{card_path}: no checkpoint card (is {path} a tiny-model checkpoint?)")
    try:
        return json.loads(card_path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{card_path}: corrupt card: {err}") from None


def load_checkpoint(path: str | Path | None = None) -> TinyCheckpoint:
    """Load and verify a checkpoint directory or a shipped checkpoint's name (default: the shipped "tiny")."""
    path = resolve_path(path)
    card = read_card(path)
    weights = path / WEIGHTS
    if not weights.exists():
        raise CheckpointError(f"{weights}: missing weights file")
    actual = sha256_file(weights)
    if actual != card.get("sha256"):
        raise CheckpointError(f"{weights}: sha256 {actual} does not match the card's expected {card.get('sha256')}")
    tensors = load_file(str(weights))
    codec = SlotCodec()
    if codec.sha256() != card["codec"]["sha256"]:
        raise CheckpointError(
            f"{path / CARD}: made with another codec (sha256 {card['codec']['sha256']}, "
            f"this version's is {codec.sha256()})"
        )
    model = TinyUnified(TinyConfig(**card["config"]))
    model.load_state_dict(tensors)
    return TinyCheckpoint(model.eval(), WordTokenizer(card["vocab"]), codec, card)


def write_synthetic(out: Path, size: str = "tiny", seed: int = 0) -> Path:
    """`unigap model synthetic tiny --out DIR`: the shipped architecture with fresh random weights."""
    card = read_card(shipped_path())
    torch.manual_seed(seed)
    model = TinyUnified(TinyConfig(**card["config"])).eval()
    meta = {"synthetic": {"seed": seed, "note": "random weights, the shipped tiny architecture"}}
    save_checkpoint(TinyCheckpoint(model, WordTokenizer(card["vocab"]), SlotCodec(), meta), out)
    return Path(out)
