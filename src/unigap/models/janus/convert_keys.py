"""Weight names of the original deepseek-ai Janus format -> transformers' `JanusForConditionalGeneration`.

The reference is transformers' `convert_janus_weights_to_hf.py` (its MAPPINGS table and split of the
fused SigLIP qkv; huggingface/transformers@0760f1235189e871ca3aa2eac03ace6d4cc75cbb,
src/transformers/models/janus/, not shipped in the wheel). This is our own rewrite, one rule per
module, checked against checkpoints written by the official `janus` package
(tests/fixtures/official/janus). Two generalisations: aligner MLPs of any depth (the reference maps
layers 0 and 2 only, i.e. depth 2 as in every published Janus), and an unknown name is reported
instead of passing through unchanged.

Original layout (`MultiModalityCausalLM`):
  language_model.{model.*, lm_head}      LlamaForCausalLM
  vision_model.vision_tower.*            timm-style SigLIP ViT (fused qkv, pos_embed (1, N, C), attn_pool)
  aligner.layers.{0,2,..}                Linear, GELU, Linear, ... (understanding projector)
  gen_vision_model.*                     VQ-16 (encoder/decoder conv_blocks, res, mid.0-2, quantize)
  gen_aligner.layers.{0,2,..}, gen_head.{output_mlp_projector, vision_head}, gen_embed
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

Transform = Callable[[torch.Tensor], torch.Tensor]

LLM, VISION, VQ = "language_model.", "vision_model.vision_tower.", "gen_vision_model."
DROPPED = (
    re.compile(r"vision_model\.vision_tower\.attn_pool\..*"),  # SigLIP's pooling head, unused by Janus
    re.compile(r"gen_vision_model\.quantize\.codebook_used"),
)  # a training statistic (65536 zeros)
QKV = ("q_proj", "k_proj", "v_proj")


@dataclass(frozen=True)
class Target:
    """One transformers tensor made from one original tensor."""

    name: str
    transform: Transform | None = None

    def apply(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor if self.transform is None else self.transform(tensor)


def is_dropped(key: str) -> bool:
    return any(p.fullmatch(key) for p in DROPPED)


def convert_key(key: str) -> list[Target] | None:
    """The transformers tensors an original tensor becomes; [] = dropped on purpose, None = unknown name."""
    if is_dropped(key):
        return []
    for prefix, rule in RULES:
        if key.startswith(prefix):
            return rule(key[len(prefix) :])
    return None


def _language(rest: str) -> list[Target] | None:
    if rest == "lm_head.weight":
        return [Target("lm_head.weight")]
    return [Target("model.language_model." + rest[len("model.") :])] if rest.startswith("model.") else None


def _vision(rest: str) -> list[Target] | None:
    out = "model.vision_model."
    simple = {
        "pos_embed": Target(out + "embeddings.position_embedding.weight", lambda t: t.squeeze(0)),  # (1, N, C)
        "patch_embed.proj.weight": Target(out + "embeddings.patch_embedding.weight"),
        "patch_embed.proj.bias": Target(out + "embeddings.patch_embedding.bias"),
        "norm.weight": Target(out + "post_layernorm.weight"),
        "norm.bias": Target(out + "post_layernorm.bias"),
    }
    if rest in simple:
        return [simple[rest]]
    m = re.fullmatch(r"blocks\.(\d+)\.(.+)\.(weight|bias)", rest)
    if m is None:
        return None
    layer, module, kind = m.groups()
    base = f"{out}encoder.layers.{layer}."
    if module == "attn.qkv":  # (3C, C) / (3C,) -> q, k, v
        return [Target(f"{base}self_attn.{name}.{kind}", _chunk(i, 3)) for i, name in enumerate(QKV)]
    renamed = {
        "attn.proj": "self_attn.projection_layer",
        "norm1": "layer_norm1",
        "norm2": "layer_norm2",
        "mlp.fc1": "mlp.fc1",
        "mlp.fc2": "mlp.fc2",
    }.get(module)
    return [Target(f"{base}{renamed}.{kind}")] if renamed else None


def _chunk(i: int, n: int) -> Transform:
    return lambda t: t.chunk(n, dim=0)[i].clone()  # clone: each part gets its own storage when saved


def _aligner(target: str) -> Callable[[str], list[Target] | None]:
    """`layers.{2k}` of the official MlpProjector (Linear, GELU, Linear, ...) -> fc1, hidden_layers.{k-1}."""

    def rule(rest: str) -> list[Target] | None:
        m = re.fullmatch(r"layers\.(\d+)\.(weight|bias)", rest)
        if m is None or int(m.group(1)) % 2:
            return None
        k = int(m.group(1)) // 2
        return [Target(f"{target}.{'fc1' if k == 0 else f'hidden_layers.{k - 1}'}.{m.group(2)}")]

    return rule


def _gen_head(rest: str) -> list[Target] | None:
    m = re.fullmatch(r"(output_mlp_projector|vision_head)\.(weight|bias)", rest)
    if m is None:
        return None
    module = "proj_out" if m.group(1) == "output_mlp_projector" else "vision_head"
    return [Target(f"model.generation_head.{module}.{m.group(2)}")]


VQ_RENAMES = [
    (re.compile(r"^encoder\.conv_blocks\."), "encoder.down."),
    (re.compile(r"^decoder\.conv_blocks\."), "decoder.up."),
    (re.compile(r"\.res\.(\d+)\."), r".block.\1."),
    (re.compile(r"\.mid\.0\."), ".mid.block_1."),
    (re.compile(r"\.mid\.1\."), ".mid.attn_1."),
    (re.compile(r"\.mid\.2\."), ".mid.block_2."),
]


def _vq(rest: str) -> list[Target] | None:
    for pattern, repl in VQ_RENAMES:
        rest = pattern.sub(repl, rest)
    return [Target("model.vqmodel." + rest)]


RULES: list[tuple[str, Callable[[str], list[Target] | None]]] = [
    (LLM, _language),
    (VISION, _vision),
    (VQ, _vq),
    ("gen_aligner.", _aligner("model.generation_aligner")),
    ("aligner.", _aligner("model.aligner")),
    ("gen_head.", _gen_head),
    ("gen_embed.", lambda rest: [Target("model.generation_embeddings.weight")] if rest == "weight" else None),
]


def converted_shape(target: Target, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape `target` gives a tensor of `shape`, without reading it."""
    return tuple(target.apply(torch.empty(shape, device="meta")).shape)
