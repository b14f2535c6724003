"""Original deepseek-ai Janus checkpoints (`model_type: multi_modality`) -> transformers' Janus, once, cached.

`deepseek-ai/Janus-Pro-1B` / `-7B` and checkpoints fine-tuned in that format (T2I-R1's, Janus-Pro-R1's)
hold a `MultiModalityCausalLM`: config.json with model_type multi_modality, weights in
pytorch_model*.bin or model*.safetensors (sharded or not), and the VLChatProcessor's files
(tokenizer.json, tokenizer_config.json, special_tokens_map.json, preprocessor_config.json,
processor_config.json). `ensure_converted` turns such a directory into a transformers-format one
(`JanusForConditionalGeneration` + `JanusProcessor`) under the cache, keyed by the source's sha256:

    $UNIGAP_CACHE (default $XDG_CACHE_HOME/unigap or ~/.cache/unigap) / janus-converted / <sha256> /
        config.json, generation_config.json, model-*.safetensors (+ index), processor files,
        unigap_conversion.json   (source path and sha256, each source and output file's sha256)

The source's sha256 is the sha256 of a JSON list of (file name, file sha256) over every file the
conversion reads. A later load recomputes it (file hashes are remembered per path, size and mtime
in hashes.json, so an unchanged 15 GB checkpoint is not re-read) and uses the cached directory only
if its record names that sha256 and its output files still hash as recorded; otherwise it converts
again. Nothing is ever written into the source directory. Every name, shape and config field is
checked before anything is written; a failure names the file and the keys.

The reference is transformers' `convert_janus_weights_to_hf.py` (huggingface/transformers@0760f12,
src/transformers/models/janus/; the wheel does not ship it). Where we differ from it, on purpose:
- the architecture is read from the weights (widths, depths, VQ channels and levels), so checkpoints at
  other sizes convert; the reference takes transformers' defaults, which are the Janus-Pro sizes;
- every language_config field goes to LlamaConfig, as the official `LlamaConfig(**language_config)` does
  (the reference keeps 9 of them; a fine-tune saving e.g. rope_theta would silently lose it);
- the gen aligner depth goes to JanusVQVAEConfig.num_hidden_layers (the reference passes `depth=`, which
  transformers 5.24 keeps as an unused attribute; harmless at the published depth 2);
- tie_word_embeddings is written as false (the official LlamaConfig default: Janus has its own lm_head),
  where JanusConfig's default is true (transformers 5.24 does not tie Janus' lm_head either way);
- the tokenizer is tokenizer.json's pipeline with BOS added as the official processor's LlamaTokenizerFast
  (transformers 4.x) does at load, whatever post-processor the file holds; transformers' own loading of
  these files depends on its version (5.x picks TokenizersBackend for a ByteLevel tokenizer.json and keeps
  the file's post-processor, 4.x rebuilds it), so both are set explicitly;
- our own chat template, written from the official `deepseek` conversation format.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unigap.errors import CheckpointError
from unigap.models.common import dtype_kwarg
from unigap.models.janus.compat import fast_tokenizer_class, image_processor_class
from unigap.models.janus.convert_keys import Target, convert_key, converted_shape

log = logging.getLogger(__name__)

CONVERTER_VERSION = 1  # bump when the output for the same source changes: cached conversions are then redone
REFERENCE = (
    "huggingface/transformers@0760f1235189e871ca3aa2eac03ace6d4cc75cbb:"
    "src/transformers/models/janus/convert_janus_weights_to_hf.py"
)
RECORD = "unigap_conversion.json"
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
PROCESSOR_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "preprocessor_config.json",
    "processor_config.json",
)
SECTIONS = (
    "language_config",
    "vision_config",
    "aligner_config",
    "gen_vision_config",
    "gen_aligner_config",
    "gen_head_config",
)
# Heads per SigLIP model name: the one architecture number the weights do not show (official siglip_vit.py).
SIGLIP_HEADS = {"siglip_large_patch16_384": 16, "siglip_so400m_patch14_384": 16, "siglip_so400m_patch14_224": 16}
LLAMA_META = ("model_type", "architectures", "_name_or_path", "transformers_version", "torch_dtype", "dtype")
IMAGE_TAGS = {"image_token": "<image_placeholder>", "boi_token": "<begin_of_image>", "eoi_token": "<end_of_image>"}

# The official `deepseek` format (janus/utils/conversation.py, SeparatorStyle.DeepSeek): "Role: text" +
# "\n\n" after a user turn, + <｜end▁of▁sentence｜> after an assistant turn, "Role:" for an empty turn;
# an image is <image_placeholder> followed by "\n" when text follows. The system prompt is the
# processor's (use_default_system_prompt), as VLChatProcessor prepends its own.
CHAT_TEMPLATE = (
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'user' -%}{%- set role = '<|User|>' -%}"
    "{%- elif m['role'] == 'assistant' -%}{%- set role = '<|Assistant|>' -%}"
    "{%- else -%}{%- set role = m['role'] | capitalize -%}{%- endif -%}"
    "{%- if m['content'] is string -%}{%- set text = m['content'] | trim -%}{%- else -%}"
    "{%- set text -%}{%- for c in m['content'] -%}"
    "{%- if c['type'] == 'image' -%}<image_placeholder>{%- if not loop.last -%}{{ '\n' }}{%- endif -%}"
    "{%- else -%}{{ c['text'] | trim }}{%- endif -%}{%- endfor -%}{%- endset -%}{%- endif -%}"
    "{%- if text -%}{{ role }}: {{ text }}{{ '\n\n' if m['role'] == 'user' else '<｜end▁of▁sentence｜>' }}"
    "{%- else -%}{{ role }}:{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|Assistant|>:{%- endif -%}"
)


# --- the source ---------------------------------------------------------------------------
@dataclass
class Source:
    root: Path
    config: dict[str, Any]
    weights: list[Path]  # the files holding tensors
    index: Path | None = None
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # original name -> shape
    where: dict[str, Path] = field(default_factory=dict)  # original name -> file

    def files(self) -> list[Path]:
        """Every file the conversion reads (what the source sha256 covers)."""
        extra = [self.root / n for n in PROCESSOR_FILES if (self.root / n).is_file()]
        return [self.root / "config.json", *([self.index] if self.index else []), *self.weights, *extra]


def open_source(root: Path) -> Source:
    """Reads config.json and the tensor names and shapes (not the tensors) and checks they are complete."""
    config = _read_json(root / "config.json")
    missing = [s for s in SECTIONS if not isinstance(config.get(s), dict)]
    if missing:
        raise CheckpointError(
            f"{root / 'config.json'}: model_type multi_modality, but no {', '.join(missing)}: "
            "not a Janus (MultiModalityCausalLM) config"
        )
    weights, index = weight_files(root)
    source = Source(root, config, weights, index)
    for path in weights:
        for key, shape in _tensor_shapes(path).items():
            source.shapes[key], source.where[key] = shape, path
    return source


def weight_files(root: Path) -> tuple[list[Path], Path | None]:
    for name in WEIGHT_INDEXES:
        if (root / name).is_file():
            index = root / name
            files = sorted({root / f for f in _read_json(index).get("weight_map", {}).values()})
            absent = [f.name for f in files if not f.is_file()]
            if absent or not files:
                raise CheckpointError(f"{index}: lists shard(s) that are not there: {', '.join(absent) or '(none)'}")
            return files, index
    for name in WEIGHT_FILES:
        if (root / name).is_file():
            return [root / name], None
    raise CheckpointError(f"{root}: no weights (expected one of {', '.join(WEIGHT_INDEXES + WEIGHT_FILES)})")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from None


def _tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        except Exception as err:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: unreadable safetensors file ({err})") from None
    return {k: tuple(v.shape) for k, v in read_tensors(path).items()}


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """All tensors of one weight file (.bin: memory-mapped, weights only: no code runs)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # the pre-1.6 (non-zip) format cannot be memory-mapped
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path}: not a readable PyTorch weights file ({type(err).__name__}: {err})") from None


# --- names and shapes ------------------------------------------------------------------------
def plan(source: Source, expected: dict[str, tuple[int, ...]]) -> dict[str, list[Target]]:
    """original name -> its targets, after checking that they are exactly `expected` (transformers
    name -> shape). Raises naming the files and keys otherwise."""
    targets: dict[str, list[Target]] = {}
    unknown: list[str] = []
    made: dict[str, tuple[str, tuple[int, ...]]] = {}  # transformers name -> (original name, shape)
    for key, shape in source.shapes.items():
        found = convert_key(key)
        if found is None:
            unknown.append(key)
            continue
        targets[key] = found
        made.update({t.name: (key, converted_shape(t, shape)) for t in found})
    unknown += [made[n][0] for n in made if n not in expected]
    _raise_if_incomplete(source, sorted(set(unknown)), sorted(set(expected) - set(made)))
    bad = [f"{made[n][0]} -> {n}: {made[n][1]} vs {expected[n]}" for n in sorted(made) if made[n][1] != expected[n]]
    if bad:
        raise CheckpointError(
            f"{_files(source)}: {len(bad)} tensor(s) have the wrong shape for the architecture "
            f"that config.json and the other weights describe: {_some(bad)}"
        )
    return targets


def _raise_if_incomplete(source: Source, unexpected: list[str], missing: list[str]) -> None:
    if not unexpected and not missing:
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing tensor(s) (transformers names): {_some(missing)}")
    if unexpected:
        by_file = sorted({source.where[k].name for k in unexpected})
        parts.append(f"{len(unexpected)} unexpected tensor(s) in {', '.join(by_file)}: {_some(unexpected)}")
    raise CheckpointError(
        f"{_files(source)}: not a complete Janus (MultiModalityCausalLM) checkpoint: " + "; ".join(parts)
    )


def _files(source: Source) -> str:
    return str(source.index) if source.index else ", ".join(str(p) for p in source.weights)


def _some(names: list[str], n: int = 12) -> str:
    return ", ".join(names[:n]) + (f", ... ({len(names) - n} more)" if len(names) > n else "")


# --- config ----------------------------------------------------------------------------------
def _params(source: Source, section: str) -> dict[str, Any]:
    params = source.config[section].get("params")
    if not isinstance(params, dict):
        raise CheckpointError(f"{source.root / 'config.json'}: {section}.params missing")
    return params


def _require(source: Source, section: str, key: str, allowed: tuple[Any, ...]) -> Any:
    value = (source.config[section] if key == "cls" else _params(source, section)).get(key)
    if value not in allowed:
        raise CheckpointError(
            f"{source.root / 'config.json'}: {section}.{'' if key == 'cls' else 'params.'}{key} = "
            f"{value!r}; the converter knows {', '.join(map(repr, allowed))} (the Janus-Pro layout)"
        )
    return value


def _shape(source: Source, key: str) -> tuple[int, ...]:
    if key not in source.shapes:
        raise CheckpointError(f"{_files(source)}: no tensor {key} (needed to read the architecture)")
    return source.shapes[key]


def _count(source: Source, prefix: str) -> int:
    """How many numbered children `prefix.N.` the weights have."""
    found = {k[len(prefix) :].split(".", 1)[0] for k in source.shapes if k.startswith(prefix)}
    return len([n for n in found if n.isdigit()])


def text_config(source: Source, tokenizer: Any) -> Any:
    from transformers import LlamaConfig

    fields = {k: v for k, v in source.config["language_config"].items() if k not in LLAMA_META}
    fields.update(
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id
    )
    fields.setdefault("tie_word_embeddings", False)  # LlamaConfig's default, which the official model used
    return LlamaConfig(**fields)


TOWER = "vision_model.vision_tower."


def vision_config(source: Source) -> Any:
    """SigLIP widths and depths from the weights, image size and aligner from config.json, heads from the name."""
    from transformers import JanusVisionConfig

    _require(source, "vision_config", "cls", ("CLIPVisionTower",))
    name = _require(source, "vision_config", "model_name", tuple(SIGLIP_HEADS))
    _require(source, "aligner_config", "projector_type", ("mlp_gelu",))
    width, _, patch, _ = _shape(source, TOWER + "patch_embed.proj.weight")  # (C, 3, p, p)
    image_size = int(_params(source, "vision_config")["image_size"])
    grid, positions = (image_size // patch) ** 2, _shape(source, TOWER + "pos_embed")[1]  # pos_embed: (1, N, C)
    if positions != grid:
        raise CheckpointError(
            f"{source.root / 'config.json'}: vision image_size {image_size} with patch {patch} "
            f"gives {grid} positions, but pos_embed has {positions}"
        )
    aligner = _params(source, "aligner_config")
    return JanusVisionConfig(
        hidden_size=width,
        num_hidden_layers=_count(source, TOWER + "blocks."),
        num_attention_heads=SIGLIP_HEADS[name],
        image_size=image_size,
        patch_size=patch,
        mlp_ratio=_shape(source, TOWER + "blocks.0.mlp.fc1.weight")[0] / width,
        layer_norm_eps=1e-6,
        hidden_act="gelu",
        attention_bias=TOWER + "blocks.0.attn.qkv.bias" in source.shapes,
        projection_dim=int(aligner["n_embed"]),
        depth=int(aligner.get("depth", 1)),
        num_image_tokens=grid,
    )


def vq_config(source: Source) -> Any:
    """VQ-16's layout at the sizes the weights have (channels, levels, res blocks, latent, codebook)."""
    from transformers import JanusVQVAEConfig

    _require(source, "gen_vision_config", "cls", ("VQ-16",))
    _require(source, "gen_aligner_config", "projector_type", ("mlp_gelu",))
    _require(source, "gen_head_config", "cls", ("vision_head",))
    enc = "gen_vision_model.encoder.conv_blocks."
    base = _shape(source, "gen_vision_model.encoder.conv_in.weight")[0]
    mult = [_shape(source, f"{enc}{i}.res.0.conv1.weight")[0] // base for i in range(_count(source, enc))]
    codebook, code_dim = _shape(source, "gen_vision_model.quantize.embedding.weight")
    latent = _shape(source, "gen_vision_model.quant_conv.weight")[1]  # (code_dim, latent, 1, 1)
    gen_aligner, gen_head = _params(source, "gen_aligner_config"), _params(source, "gen_head_config")
    return JanusVQVAEConfig(
        embed_dim=code_dim,
        num_embeddings=codebook,
        latent_channels=latent,
        base_channels=base,
        channel_multiplier=mult,
        num_res_blocks=_count(source, f"{enc}0.res."),
        projection_dim=int(gen_aligner["n_embed"]),
        num_hidden_layers=int(gen_aligner.get("depth", 1)),
        image_token_embed_dim=int(gen_head["image_token_embed"]),
        hidden_act="gelu",
        dropout=0.0,
    )


def janus_config(source: Source, tokenizer: Any) -> Any:
    from transformers import JanusConfig

    image_id = tokenizer.convert_tokens_to_ids(IMAGE_TAGS["image_token"])
    return JanusConfig(
        text_config=text_config(source, tokenizer),
        vision_config=vision_config(source),
        vq_config=vq_config(source),
        image_token_id=image_id,
        tie_word_embeddings=False,
    )


def expected_shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """transformers name -> shape of every tensor JanusForConditionalGeneration(config) saves (built on meta)."""
    from transformers import JanusForConditionalGeneration

    with torch.device("meta"):
        model = JanusForConditionalGeneration(config)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


# --- tokenizer and processor -------------------------------------------------------------------
def _optional_json(path: Path) -> dict[str, Any]:
    return _read_json(path) if path.is_file() else {}


def _token(value: Any) -> str | None:
    return value.get("content") if isinstance(value, dict) else value


def build_tokenizer(source: Source) -> Any:
    """tokenizer.json as-is, special tokens from tokenizer_config/special_tokens_map, the image tags and
    pad from processor_config (what VLChatProcessor uses), BOS added as the official LlamaTokenizerFast does."""
    from tokenizers import Tokenizer

    path = source.root / "tokenizer.json"
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (the converter needs the fast tokenizer file the original repos ship)")
    cfg = {
        **_optional_json(source.root / "special_tokens_map.json"),
        **_optional_json(source.root / "tokenizer_config.json"),
    }
    proc = _optional_json(source.root / "processor_config.json")
    tok = Tokenizer.from_file(str(path))
    tags = {
        "image_token": proc.get("image_tag", IMAGE_TAGS["image_token"]),
        "boi_token": proc.get("image_start_tag", IMAGE_TAGS["boi_token"]),
        "eoi_token": proc.get("image_end_tag", IMAGE_TAGS["eoi_token"]),
    }
    bos, eos = _token(cfg.get("bos_token")), _token(cfg.get("eos_token"))
    pad = proc.get("pad_tag", "<｜▁pad▁｜>")
    absent = [t for t in (bos, eos, pad, *tags.values()) if t is None or tok.token_to_id(t) is None]
    if absent:
        raise CheckpointError(
            f"{path}: token(s) {absent} not in the vocabulary (bos/eos from tokenizer_config.json, "
            "pad and image tags from processor_config.json)"
        )
    _official_post_processor(tok, bos, eos, cfg.get("add_bos_token", True), cfg.get("add_eos_token", False))
    return fast_tokenizer_class()(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        extra_special_tokens=tags,
        model_max_length=cfg.get("model_max_length", 16384),
        padding_side="left",
        clean_up_tokenization_spaces=cfg.get("clean_up_tokenization_spaces", False),
    )


def _official_post_processor(tok: Any, bos: str, eos: str, add_bos: bool, add_eos: bool) -> None:
    """LlamaTokenizerFast.update_post_processor (transformers 4.x), which the official processor ran at load."""
    from tokenizers import processors

    single = f"{f'{bos}:0 ' if add_bos else ''}$A:0{f' {eos}:0' if add_eos else ''}"
    pair = f"{single}{f' {bos}:1' if add_bos else ''} $B:1{f' {eos}:1' if add_eos else ''}"
    specials = [(t, tok.token_to_id(t)) for t, on in ((bos, add_bos), (eos, add_eos)) if on]
    tok.post_processor = processors.TemplateProcessing(single=single, pair=pair, special_tokens=specials)


def build_processor(source: Source, tokenizer: Any, config: Any) -> Any:
    from transformers import JanusProcessor

    pre = _read_json(source.root / "preprocessor_config.json")
    vis = config.vision_config
    if int(pre.get("image_size", -1)) != vis.image_size:
        raise CheckpointError(
            f"{source.root / 'preprocessor_config.json'}: image_size {pre.get('image_size')!r}, "
            f"but the vision tower takes {vis.image_size} px (config.json "
            "vision_config.params.image_size)"
        )
    _check_chat_processor(source, vis.num_image_tokens)
    kwargs = {k: pre[k] for k in ("min_size", "image_mean", "image_std", "rescale_factor", "do_normalize") if k in pre}
    image_processor = image_processor_class()(size={"height": vis.image_size, "width": vis.image_size}, **kwargs)
    processor = JanusProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
        use_default_system_prompt=True,
        num_image_tokens=vis.num_image_tokens,
    )
    processor.num_image_tokens = vis.num_image_tokens  # 4.x ignores the argument
    return processor


def _check_chat_processor(source: Source, num_image_tokens: int) -> None:
    """processor_config.json must describe what JanusProcessor does: N image tokens, the deepseek format."""
    proc = _optional_json(source.root / "processor_config.json")
    tokens, fmt = int(proc.get("num_image_tokens", num_image_tokens)), proc.get("sft_format", "deepseek")
    if tokens != num_image_tokens or fmt != "deepseek" or proc.get("add_special_token"):
        raise CheckpointError(
            f"{source.root / 'processor_config.json'}: num_image_tokens {tokens} (the vision tower gives "
            f"{num_image_tokens}), sft_format {fmt!r}, add_special_token {proc.get('add_special_token')!r}: "
            "only the Janus-Pro settings (deepseek, false) convert"
        )


def generation_config(tokenizer: Any) -> Any:
    """What transformers' converter and unigap's text generate need (boi for image mode, pad for CFG)."""
    from transformers import GenerationConfig

    boi = tokenizer.convert_tokens_to_ids(IMAGE_TAGS["boi_token"])
    return GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        generation_kwargs={"boi_token_id": boi},
    )


# --- writing ---------------------------------------------------------------------------------
@dataclass
class Prepared:
    """Everything checked and built, nothing written yet."""

    source: Source
    tokenizer: Any
    config: Any
    processor: Any
    targets: dict[str, list[Target]]


def prepare(source: Source) -> Prepared:
    """Builds tokenizer, config and processor and checks every tensor name and shape (raises naming files/keys)."""
    tokenizer = build_tokenizer(source)
    config = janus_config(source, tokenizer)
    targets = plan(source, expected_shapes(config))
    processor = build_processor(source, tokenizer, config)
    dtype = source.config.get("torch_dtype") or source.config["language_config"].get("torch_dtype")
    setattr(config, next(iter(dtype_kwarg(torch.float32))), dtype)  # `dtype` since transformers 4.56
    return Prepared(source, tokenizer, config, processor, targets)


def write(prepared: Prepared, out: Path) -> None:
    """The transformers-format checkpoint, into the existing directory `out`."""
    write_weights(prepared.source, prepared.targets, out)
    prepared.config.save_pretrained(out)
    generation_config(prepared.tokenizer).save_pretrained(out)
    prepared.processor.save_pretrained(out)


def write_weights(source: Source, targets: dict[str, list[Target]], out: Path) -> None:
    """One safetensors shard per source weight file (the memory peak is one shard)."""
    from safetensors.torch import save_file

    n = len(source.weights)
    names = ["model.safetensors"] if n == 1 else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
    weight_map: dict[str, str] = {}
    for i, (path, name) in enumerate(zip(source.weights, names)):
        log.info("janus: converting %s (%d/%d)", path.name, i + 1, n)
        tensors = _converted(read_tensors(path), targets)
        save_file(tensors, str(out / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in tensors})
    if n > 1:
        total = sum(os.path.getsize(out / name) for name in names)
        (out / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, indent=1)
        )


def _converted(tensors: dict[str, torch.Tensor], targets: dict[str, list[Target]]) -> dict[str, torch.Tensor]:
    out, storages = {}, set()
    for key, tensor in tensors.items():
        for target in targets[key]:
            t = target.apply(tensor).contiguous()
            ptr = t.untyped_storage().data_ptr()
            out[target.name] = t.clone() if ptr in storages else t  # safetensors refuses shared storage
            storages.add(ptr)
    return out


# --- the cache -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Converted:
    path: Path  # the transformers-format directory
    source: Path
    source_sha256: str


def cache_root() -> Path:
    if os.environ.get("UNIGAP_CACHE"):
        return Path(os.environ["UNIGAP_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "unigap"


def ensure_converted(root: Path) -> Converted:
    """The transformers-format copy of the original-format checkpoint in `root`, converted if not cached.
    Every check runs before anything (the hash memo included) is written."""
    prepared = prepare(open_source(root))
    source = prepared.source
    hashes = HashMemo(cache_root() / "hashes.json")
    files = {str(p.relative_to(root)): hashes.sha256(p) for p in source.files()}
    digest = hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()
    out = cache_root() / "janus-converted" / digest
    out.parent.mkdir(parents=True, exist_ok=True)
    with _lock(out.parent / f".{digest}.lock"):  # ranks of one distributed run load the same source at once
        if _cached(out, digest, hashes):
            log.info("janus: %s -> cached conversion %s", root, out)
            return Converted(out, root, digest)
        if out.exists():
            log.warning(
                "janus: %s does not hash as recorded (or was made by another converter version); converting again", out
            )
        log.warning("janus: %s is in the original deepseek-ai format; converting it once into %s", root, out)
        _convert_into(prepared, out, digest, files, hashes)
    return Converted(out, root, digest)


def _lock(path: Path) -> Any:
    from filelock import FileLock  # a dependency of huggingface_hub, so of transformers

    return FileLock(str(path))


def _cached(out: Path, digest: str, hashes: HashMemo) -> bool:
    record_path = out / RECORD
    if not record_path.is_file():
        return False
    record = json.loads(record_path.read_text())
    if record.get("source_sha256") != digest or record.get("converter_version") != CONVERTER_VERSION:
        return False
    outputs = record.get("outputs", {})
    return bool(outputs) and all((out / n).is_file() and hashes.sha256(out / n) == h for n, h in outputs.items())


def _convert_into(prepared: Prepared, out: Path, digest: str, files: dict[str, str], hashes: HashMemo) -> None:
    """Converts into a temporary sibling, then renames: a crash never leaves a half-written cache entry."""
    import transformers

    tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:16]}-", dir=out.parent))
    try:
        write(prepared, tmp)
        outputs = {p.name: hashes.sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        record = {
            "converter": __name__,
            "converter_version": CONVERTER_VERSION,
            "reference": REFERENCE,
            "transformers": transformers.__version__,
            "source": str(prepared.source.root),
            "source_sha256": digest,
            "source_files": files,
            "outputs": outputs,
        }
        (tmp / RECORD).write_text(json.dumps(record, indent=1) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class HashMemo:
    """sha256 of files, remembered per (real path, size, mtime_ns) in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.known: dict[str, list[Any]] = _optional_json(path) if path.is_file() else {}

    def sha256(self, file: Path) -> str:
        real, st = str(file.resolve()), file.stat()
        entry = self.known.get(real)
        if entry and entry[:2] == [st.st_size, st.st_mtime_ns]:
            return entry[2]
        if st.st_size > 1 << 28:
            log.info("janus: sha256 of %s (%.1f GB)", file, st.st_size / 1e9)
        digest = _file_sha256(file)
        self.known[real] = [st.st_size, st.st_mtime_ns, digest]
        self._save()
        return digest

    def _save(self) -> None:
        """Atomic (a unique temporary file renamed); concurrent savers may drop each other's entries, which
        only costs a re-hash later."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        with os.fdopen(fd, "w") as f:
            json.dump(self.known, f)
        os.replace(tmp, self.path)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    return h.hexdigest()
