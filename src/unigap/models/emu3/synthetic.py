"""Random-weight Emu3 checkpoints with an offline word-level processor (no hub).

`tiny` (tests: 4x4 image tokens, 32x32 px, 2 layers) and `real` (the Emu3-Gen/Chat dims:
hidden 4096, 32 layers, 32 heads / 8 KV heads, vocabulary 184,622, codebook 32,768; bench/ only).
The processor mimics the hub's: Emu3Processor with the Emu3 special tokens (<|image start|>,
<|image token|>, <|image end|>, <|extra_200|> end of row, <|extra_201|> end of frame, BOS
<|extra_203|>, EOS <|extra_204|>, PAD <|endoftext|>) and a `vocabulary_map` in the model config
that names visual tokens `<|visual token000123|>`. The chat template is ours (a USER/ASSISTANT
layout with `<image>` where the image goes); real checkpoints bring their own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from unigap.verdict import ANSWER_PREFIX, SYSTEM_TEXT, question

PAD, BOS, EOS, UNK = "<|endoftext|>", "<|extra_203|>", "<|extra_204|>", "<unk>"
IMAGE, BOI, EOI, WRAPPER = "<image>", "<|image start|>", "<|image end|>", "<|image token|>"
EOL, EOF = "<|extra_200|>", "<|extra_201|>"
SPECIALS = [PAD, BOS, EOS, UNK, IMAGE, BOI, EOI, WRAPPER, EOL, EOF]
WORDS = (
    "a an the of on in and with red blue green yellow black white big small circle square triangle cat dog "
    "photo two three left right above below Yes No yes no USER ASSISTANT . , ? : * { } lowres blurry bad "
    "quality worst low"
)
NEGATIVE_WORDS = (
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, "
    "worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry."
)
ROLE_FILE = "unigap_emu3.json"  # {"role": "gen" | "chat"}: which fine-tune a synthetic checkpoint stands for

CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{% for c in m['content'] %}{{ c['text'] }}{% endfor %} "
    "{% elif m['role'] == 'user' %}USER: {% for c in m['content'] %}{% if c['type'] == 'image' %}<image>"
    "{% else %}{{ c['text'] }}{% endif %}{% endfor %} "
    "{% else %}ASSISTANT: {% for c in m['content'] %}{{ c['text'] }}{% endfor %}{{ eos_token }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


@dataclass(frozen=True)
class Emu3Dims:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int | None  # None = tokenizer size + codebook
    codebook: int
    vq_base: int
    vq_mult: tuple[int, ...]
    vq_res_blocks: int
    vq_embed: int
    vq_latent: int
    image_side: int  # generated image side in px (image_area = side ** 2)

    @property
    def spatial(self) -> int:
        return 2 ** (len(self.vq_mult) - 1)


PRESETS: dict[str, Emu3Dims] = {
    # Emu3-Gen-hf / Emu3-Chat-hf config.json: 8B LLM, VQ (base 256, mult 1-2-2-4, 2 res blocks,
    # embed 4, latent 4), 720 px generation (image_area 518400: 90 x 90 tokens).
    "real": Emu3Dims(4096, 14336, 32, 32, 8, 184622, 32768, 256, (1, 2, 2, 4), 2, 4, 4, 720),
    # 4 x 4 image tokens of a 64-code book at 32 px (3 VQ downsamplings).
    "tiny": Emu3Dims(32, 64, 2, 4, 2, None, 64, 32, (1, 1, 1, 1), 1, 4, 4, 32),
}


def visual_name(code: int) -> str:
    return f"<|visual token{code:06d}|>"


def build_tokenizer(extra_text: str = "") -> Any:
    """Word-level tokenizer with the Emu3 special tokens (BOS is added by the processor, not here)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    text = f"{WORDS} {NEGATIVE_WORDS} {question('x')} {ANSWER_PREFIX} {SYSTEM_TEXT} {extra_text}"
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for w in [str(i) for i in range(100)] + _pieces(text):
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tok.add_special_tokens(SPECIALS)
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        padding_side="left",
        extra_special_tokens={
            "image_token": IMAGE,
            "boi_token": BOI,
            "eoi_token": EOI,
            "image_wrapper_token": WRAPPER,
            "eof_token": EOF,
        },
    )


def _pieces(text: str) -> list[str]:
    from tokenizers import pre_tokenizers

    return [p for p, _ in pre_tokenizers.Whitespace().pre_tokenize_str(text)]


def vocabulary_map(tokenizer: Any, dims: Emu3Dims) -> dict[str, int]:
    """The tokenizer's vocabulary plus the visual tokens, placed after it (the hub puts them at
    151,854 + code, after Qwen's BPE; only the map matters to the model)."""
    vocab = dict(tokenizer.get_vocab())
    base = len(tokenizer) if dims.vocab is None else dims.vocab - dims.codebook
    vocab.update({visual_name(c): base + c for c in range(dims.codebook)})
    return vocab


def emu3_config(dims: Emu3Dims, tokenizer: Any) -> Any:
    from transformers import Emu3Config, Emu3TextConfig, Emu3VQVAEConfig

    ids = {k: tokenizer.convert_tokens_to_ids(t) for k, t in [("bos", BOS), ("eos", EOS), ("pad", PAD)]}
    text = Emu3TextConfig(
        vocab_size=dims.vocab or len(tokenizer) + dims.codebook,
        hidden_size=dims.hidden,
        intermediate_size=dims.intermediate,
        num_hidden_layers=dims.layers,
        num_attention_heads=dims.heads,
        num_key_value_heads=dims.kv_heads,
        max_position_embeddings=9216,
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
        pad_token_id=ids["pad"],
        rope_parameters={"rope_type": "default", "rope_theta": 1e6},
    )
    vq = Emu3VQVAEConfig(
        codebook_size=dims.codebook,
        embed_dim=dims.vq_embed,
        latent_channels=dims.vq_latent,
        base_channels=dims.vq_base,
        channel_multiplier=list(dims.vq_mult),
        num_res_blocks=dims.vq_res_blocks,
        hidden_size=dims.vq_base * dims.vq_mult[-1],
    )  # = the attention blocks' channels
    return Emu3Config(text_config=text, vq_config=vq, vocabulary_map=vocabulary_map(tokenizer, dims))


def build_processor(dims: Emu3Dims, tokenizer: Any) -> Any:
    from transformers import Emu3Processor

    try:
        from transformers import Emu3ImageProcessorPil as ImageProcessor
    except ImportError:
        from transformers import Emu3ImageProcessor as ImageProcessor
    side = dims.image_side
    images = ImageProcessor(
        min_pixels=side * side,
        max_pixels=side * side,
        spatial_factor=dims.spatial,
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
    )  # the VQ decodes to [-1, 1]
    return Emu3Processor(image_processor=images, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE)


@dataclass
class SyntheticEmu3:
    model: Any  # Emu3ForConditionalGeneration
    processor: Any  # Emu3Processor
    dims: Emu3Dims
    role: str = "gen"

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        self.model.save_pretrained(path)
        self.processor.save_pretrained(path)
        (path / ROLE_FILE).write_text(json.dumps({"role": self.role, "image_area": self.dims.image_side**2}))
        return path


def build_synthetic(
    dims: Emu3Dims | str = "tiny",
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    init_std: float | None = 0.3,
    role: str = "gen",
    device: str = "cpu",
) -> SyntheticEmu3:
    """A random Emu3. init_std re-draws Linear/Embedding weights from N(0, std) so that greedy
    tokens vary with the input (transformers' 0.02 init gives near-uniform logits)."""
    from transformers import Emu3ForConditionalGeneration

    dims = PRESETS[dims] if isinstance(dims, str) else dims
    tok = build_tokenizer()
    torch.manual_seed(seed)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built in the target dtype: the real 8B never exists in fp32 (34 GB)
    try:
        with torch.device(device):
            model = Emu3ForConditionalGeneration(emu3_config(dims, tok))
    finally:
        torch.set_default_dtype(old)
    if init_std is not None:
        _reinit(model, init_std)
    model = model.to(dtype).eval()
    g = model.generation_config
    g.bos_token_id, g.eos_token_id, g.pad_token_id = tok.bos_token_id, tok.eos_token_id, tok.pad_token_id
    return SyntheticEmu3(model, build_processor(dims, tok), dims, role)


@torch.no_grad()
def _reinit(model: torch.nn.Module, std: float) -> None:
    for name, mod in model.named_modules():
        if isinstance(mod, (torch.nn.Linear, torch.nn.Embedding)) and not name.startswith("model.vqmodel"):
            mod.weight.normal_(0.0, std)


def write_synthetic(out: Path, size: str = "tiny", seed: int = 0) -> Path:
    """`unigap model synthetic emu3 --out DIR [--size tiny|real]`: a random Emu3-Gen the loader opens."""
    if size not in PRESETS:
        from unigap.errors import ConfigError

        raise ConfigError(f"emu3 synthetic size {size!r}; valid: {', '.join(PRESETS)}")
    dtype = torch.float32 if size == "tiny" else torch.bfloat16
    return build_synthetic(size, seed=seed, init_std=0.3 if size == "tiny" else None, dtype=dtype).save(Path(out))
