"""Opening a Show-o checkpoint: the official format, from a hub id or a local directory.

A Show-o model is three published pieces:
  showlab/show-o (or -512x512)   config.json (`_class_name: Showo`: vocab_size, llm_vocab_size,
                                 codebook_size, num_vq_tokens, llm_model_path) + weights whose
                                 keys start with `showo.` (the Phi-1.5 PhiForCausalLM)
  showlab/magvitv2               config.json (`_class_name: MAGVITv2`) + encoder./decoder./quantize. weights
  microsoft/phi-1_5              the LLM config (dims) and the text tokenizer
A directory written by `save` or `write_synthetic` holds the last two as `vq/` and `llm/`
(config.json's llm_model_path = "llm"), so it is self-contained.

Key map (ours <- official), documented and applied to every key, nothing else renamed:
  llm.<rest>  <- showo.<rest>        (Show-o checkpoint; e.g. showo.model.layers.0.self_attn.dense.weight)
  vq.<rest>   <- <rest>              (MAGVIT-v2 checkpoint; e.g. encoder.down.0.block.0.conv1.weight)
The quantizer's two derived buffers (vq.quantize.embedding, vq.quantize.power_vals) may be absent
from a MAGVIT-v2 file; every other key must match both ways (missing and unexpected keys are
an error naming them) and every shape must match. A checkpoint without the QK-LayerNorm keys
(`showo.model.layers.i.self_attn.{q,k}_layernorm.*`, which the official model always has) gets
its own error: it was written by unigap before QK-LayerNorm was added (or fine-tuned from such
a checkpoint) and is not Show-o.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from unigap.errors import CheckpointError
from unigap.models.common import resolve_dtype  # noqa: F401  (re-exported)
from unigap.models.showo.magvit import MagvitDims
from unigap.models.showo.prompting import NUM_NEW_SPECIAL, PAD, TASK_TOKENS, add_special_tokens

DEFAULT_PATH = "showlab/show-o"
DEFAULT_VQ = "showlab/magvitv2"
WEIGHT_FILES = (
    "pytorch_model.safetensors",
    "model.safetensors",
    "diffusion_pytorch_model.safetensors",
    "pytorch_model.bin",
    "diffusion_pytorch_model.bin",
)
SAVED_WEIGHTS = "pytorch_model.safetensors"  # what the official ModelMixin.save_pretrained writes and reads
SHOWO_KEYMAP = (("showo.", "llm."),)
VQ_KEYMAP = (("", "vq."),)
DERIVED = ("vq.quantize.embedding", "vq.quantize.power_vals")
QK_NORM = (".self_attn.q_layernorm.", ".self_attn.k_layernorm.")
SHOWO_FIELDS = ("vocab_size", "llm_vocab_size", "codebook_size", "num_vq_tokens")


def local_dir(path: str, base: Path | None = None) -> Path:
    """A local directory for `path`: as given, relative to `base`, or a hub snapshot."""
    for cand in ([base / path] if base is not None else []) + [Path(path)]:
        if cand.is_dir():
            return cand
    if Path(path).is_absolute() or path.startswith("."):
        raise CheckpointError(f"{path}: no such directory")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(path, allow_patterns=["*.json", "*.safetensors", "*.bin", "*.txt", "*.model"]))
    except Exception as err:  # noqa: BLE001 - offline, unknown repo, auth: one clear message
        raise CheckpointError(f"{path}: not a local directory and not downloadable from the hub ({err})") from None


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable ({err})") from None


@dataclass(frozen=True)
class ShowoConfig:
    raw: dict[str, Any]

    @property
    def vocab_size(self) -> int:
        return int(self.raw["vocab_size"])

    @property
    def llm_vocab_size(self) -> int:
        return int(self.raw["llm_vocab_size"])

    @property
    def codebook_size(self) -> int:
        return int(self.raw["codebook_size"])

    @property
    def num_vq_tokens(self) -> int:
        return int(self.raw["num_vq_tokens"])

    @property
    def llm_path(self) -> str:
        return str(self.raw.get("llm_model_path") or "microsoft/phi-1_5")


def read_showo_config(d: Path) -> ShowoConfig:
    """config.json of a Show-o checkpoint, or an error saying what the directory holds instead."""
    f = d / "config.json"
    if not f.exists():
        raise CheckpointError(f"{d} is not a Show-o checkpoint: no config.json (found: {_listing(d)})")
    raw = read_json(f)
    missing = [k for k in SHOWO_FIELDS if k not in raw]
    if raw.get("_class_name") not in (None, "Showo") or missing:
        found = raw.get("_class_name") or raw.get("model_type") or raw.get("architectures") or "no class name"
        raise CheckpointError(
            f"{d} is not a Show-o checkpoint: config.json describes {found!r}"
            + (f" and lacks {missing}" if missing else "")
            + "; expected _class_name 'Showo'"
        )
    if raw.get("w_clip_vit"):
        raise CheckpointError(
            f"{d}: w_clip_vit=true (CLIP-ViT understanding variant) is not supported; use "
            "showlab/show-o or showlab/show-o-512x512"
        )
    return ShowoConfig(raw)


def _listing(d: Path) -> str:
    names = sorted(p.name for p in d.iterdir())[:8] if d.is_dir() else []
    return ", ".join(names) or "nothing"


def read_vq_dims(d: Path) -> MagvitDims:
    f = d / "config.json"
    raw = read_json(f) if f.exists() else {}
    if raw.get("_class_name") not in ("MAGVITv2", None) or not f.exists():
        raise CheckpointError(
            f"{d} is not a MAGVIT-v2 checkpoint: config.json "
            f"{'missing' if not f.exists() else repr(raw.get('_class_name'))}; expected MAGVITv2"
        )
    return MagvitDims.from_json(raw)


def read_weights(d: Path) -> dict[str, torch.Tensor]:
    for name in WEIGHT_FILES:
        f = d / name
        if f.exists():
            if f.suffix == ".safetensors":
                from safetensors.torch import load_file

                return load_file(str(f))
            return torch.load(f, map_location="cpu", weights_only=True)
    raise CheckpointError(f"{d}: no weights file (looked for {', '.join(WEIGHT_FILES)}; found: {_listing(d)})")


def map_keys(state: dict[str, torch.Tensor], keymap: tuple[tuple[str, str], ...]) -> dict[str, torch.Tensor]:
    """Official names -> ours; a key no rule covers is kept as is (and reported as unexpected)."""
    out = {}
    for k, v in state.items():
        for old, new in keymap:
            if k.startswith(old):
                k = new + k[len(old) :]
                break
        out[k] = v
    return out


def unmap_key(key: str) -> str:
    """Ours -> the official name (for messages and saving)."""
    for old, new in SHOWO_KEYMAP + VQ_KEYMAP:
        if key.startswith(new):
            return old + key[len(new) :]
    return key


def check_keys(expected: dict[str, torch.Tensor], given: dict[str, torch.Tensor], where: str) -> None:
    missing = sorted(k for k in set(expected) - set(given) if k not in DERIVED)
    unexpected = sorted(set(given) - set(expected))
    shapes = [
        f"{unmap_key(k)} {tuple(given[k].shape)} vs {tuple(expected[k].shape)}"
        for k in sorted(set(given) & set(expected))
        if given[k].shape != expected[k].shape
    ]
    qk = [k for k in missing if any(q in k for q in QK_NORM)]
    if qk:
        raise qk_norm_error(qk, len(missing) - len(qk) + len(unexpected), where)
    if missing or unexpected or shapes:
        parts = [
            f"{len(missing)} missing key(s): {[unmap_key(k) for k in missing[:10]]}" if missing else "",
            f"{len(unexpected)} unexpected key(s): {[unmap_key(k) for k in unexpected[:10]]}" if unexpected else "",
            f"{len(shapes)} shape mismatch(es) (checkpoint vs model): {shapes[:5]}" if shapes else "",
        ]
        raise CheckpointError(f"{where}: weights do not match the Show-o model: " + "; ".join(p for p in parts if p))


def qk_norm_error(qk: list[str], others: int, where: str) -> CheckpointError:
    """A checkpoint without Show-o's QK-LayerNorm: what is missing, why, and how to rewrite it."""
    names = [unmap_key(k) for k in qk[:8]] + (["..."] if len(qk) > 8 else [])
    return CheckpointError(
        f"{where}: {len(qk)} QK-LayerNorm key(s) missing ({', '.join(names)}). Show-o's Phi has q_layernorm and "
        "k_layernorm in every attention layer (the official phi.py forces qk_layernorm=True); this checkpoint "
        "was written without them by an older unigap (`model synthetic`, or a model fine-tuned from one). "
        "Rewrite it with `unigap model synthetic showo --out DIR` (and redo any fine-tuning from it)"
        + (f"; {others} other key(s) also differ" if others else "")
    )


def check_consistency(cfg: ShowoConfig, vq: MagvitDims, tokenizer: Any, resolution: int | None, where: str) -> int:
    """Checkpoint vs image tokenizer vs text tokenizer; returns the image side in pixels."""
    if cfg.codebook_size != vq.codebook_size:
        raise CheckpointError(
            f"{where}: codebook_size {cfg.codebook_size} in config.json, but the MAGVIT-v2 "
            f"tokenizer has {vq.codebook_size} codes (2^{vq.z_channels})"
        )
    want = cfg.llm_vocab_size + NUM_NEW_SPECIAL + cfg.codebook_size + 1
    if cfg.vocab_size != want:
        raise CheckpointError(
            f"{where}: vocab_size {cfg.vocab_size}, but llm_vocab_size {cfg.llm_vocab_size} + "
            f"{NUM_NEW_SPECIAL} special + codebook {cfg.codebook_size} + 1 mask = {want}"
        )
    check_tokenizer(tokenizer, cfg, where)
    side = math.isqrt(cfg.num_vq_tokens)
    if side * side != cfg.num_vq_tokens:
        raise CheckpointError(f"{where}: num_vq_tokens {cfg.num_vq_tokens} is not a square grid")
    pixels = side * vq.downsample
    if resolution is not None and resolution != pixels:
        raise CheckpointError(
            f"{where}: model.options.resolution {resolution}, but num_vq_tokens "
            f"{cfg.num_vq_tokens} ({side}x{side}) with the MAGVIT-v2 tokenizer's "
            f"{vq.downsample}x downsampling means {pixels} px images"
        )
    return pixels


def check_tokenizer(tokenizer: Any, cfg: ShowoConfig, where: str) -> None:
    ids = [tokenizer.convert_tokens_to_ids(t) for t in (PAD,) + TASK_TOKENS]
    want = list(range(cfg.llm_vocab_size, cfg.llm_vocab_size + NUM_NEW_SPECIAL))
    if ids != want or len(tokenizer) != cfg.llm_vocab_size + NUM_NEW_SPECIAL:
        raise CheckpointError(
            f"{where}: the text tokenizer gives [PAD] and the task tokens ids {ids} "
            f"(length {len(tokenizer)}); config.json's llm_vocab_size {cfg.llm_vocab_size} "
            f"needs {want[0]}..{want[-1]}: wrong Phi tokenizer for this checkpoint"
        )


def load_tokenizer(llm_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(llm_dir), padding_side="left")
    add_special_tokens(tok)
    return tok
