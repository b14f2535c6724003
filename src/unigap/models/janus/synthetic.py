"""Random-weight Janus models and a word-level processor, built offline (no hub).

Used by the tests (tiny dims, CPU, seconds) and by `bench/janus_decode.py` (the real Janus-Pro
1B/7B dims; decode speed does not depend on weight values). The processor mimics the hub
checkpoints: a chat template producing `<|User|>: ...\\n\\n<|Assistant|>:`, BOS added by the
tokenizer, the image special tokens, `use_default_system_prompt=True`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unigap.verdict import ANSWER_PREFIX, SYSTEM_TEXT, question

BOS, EOS, PAD, UNK = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "<unk>"
IMAGE, BOI, EOI = "<image_placeholder>", "<begin_of_image>", "<end_of_image>"
USER, ASSISTANT = "<|User|>", "<|Assistant|>"
SPECIALS = [BOS, EOS, PAD, UNK, IMAGE, BOI, EOI, USER, ASSISTANT]
WORDS = (
    "a an the of on in and with red blue green yellow black white big small circle square triangle cat dog "
    "photo two three left right above below Yes No yes no 0 1 2 3 . , ? : { }"
)

# Same output as the hub's template for what we send (one user turn: optional image, then text).
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}<|User|>: {% elif m['role'] == 'assistant' %}<|Assistant|>: "
    "{% else %}{{ m['role'] | capitalize }}: {% endif %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}"
    "<image_placeholder>{% if not loop.last %}{{ '\\n' }}{% endif %}"
    "{% else %}{{ c['text'] | trim }}{% endif %}{% endfor %}"
    "{% if not loop.last or add_generation_prompt %}{{ '\n\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|Assistant|>:{% endif %}"
)


@dataclass(frozen=True)
class JanusDims:
    """Architecture of a random Janus. `vocab=None` = the synthetic tokenizer's size."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int | None
    codebook: int
    image_size: int
    patch: int
    vis_hidden: int
    vis_layers: int
    vis_heads: int
    vq_embed: int = 8
    vq_latent: int = 256
    vq_base: int = 128
    vq_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    vq_res_blocks: int = 2

    @property
    def num_image_tokens(self) -> int:
        return (self.image_size // self.patch) ** 2


# Janus-Pro LLM dims from the Janus-Pro technical report (arXiv 2501.17811); vision tower = SigLIP-L/16 @ 384.
PRESETS: dict[str, JanusDims] = {
    "1b": JanusDims(2048, 5632, 24, 16, 16, 102400, 16384, 384, 16, 1024, 24, 16),
    "7b": JanusDims(4096, 11008, 30, 32, 32, 102400, 16384, 384, 16, 1024, 24, 16),
    # 16 image tokens, 16x16 px images (4 patches a side, VQ upsamples 4x with 3 levels).
    "tiny": JanusDims(32, 64, 2, 4, 2, None, 64, 16, 4, 32, 1, 2, 8, 32, 32, (1, 1, 1), 1),
}


@dataclass
class SyntheticJanus:
    model: Any  # JanusForConditionalGeneration
    processor: Any  # JanusProcessor
    dims: JanusDims = field(repr=False)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        self.model.save_pretrained(path)
        self.processor.save_pretrained(path)
        return path


def build_tokenizer(extra_text: str = "") -> Any:
    """Word-level tokenizer with the Janus special tokens; adds BOS like the hub tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    from unigap.models.janus.compat import fast_tokenizer_class

    words = sorted(set(f"{WORDS} {question('x')} {ANSWER_PREFIX} {SYSTEM_TEXT} {extra_text}".split()))
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for w in (w for w in _pieces(" ".join(words)) if w not in vocab):
        vocab[w] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    # Registered as added tokens so that "<|User|>:" is not split by the pre-tokenizer.
    tok.add_special_tokens([t for t in SPECIALS if t not in (USER, ASSISTANT)])
    tok.add_tokens([USER, ASSISTANT])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", special_tokens=[(BOS, vocab[BOS])])
    return fast_tokenizer_class()(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        extra_special_tokens={"image_token": IMAGE, "boi_token": BOI, "eoi_token": EOI},
    )


def _pieces(text: str) -> list[str]:
    """The word pieces the Whitespace pre-tokenizer produces (words and punctuation runs)."""
    from tokenizers import pre_tokenizers

    return [p for p, _ in pre_tokenizers.Whitespace().pre_tokenize_str(text)]


def build_processor(dims: JanusDims, tokenizer: Any) -> Any:
    from transformers import JanusProcessor

    from unigap.models.janus.compat import image_processor_class

    ImageProcessor = image_processor_class()
    side = {"height": dims.image_size, "width": dims.image_size}
    processor = JanusProcessor(
        image_processor=ImageProcessor(size=side),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
        use_default_system_prompt=True,
        num_image_tokens=dims.num_image_tokens,
    )
    processor.num_image_tokens = dims.num_image_tokens  # 4.x ignores the argument (fixed 576)
    return processor


def janus_config(dims: JanusDims, tokenizer: Any) -> Any:
    from transformers import JanusConfig, JanusVisionConfig, JanusVQVAEConfig, LlamaConfig

    ids = {k: tokenizer.convert_tokens_to_ids(t) for k, t in [("bos", BOS), ("eos", EOS), ("pad", PAD)]}
    text = LlamaConfig(
        vocab_size=dims.vocab or len(tokenizer),
        hidden_size=dims.hidden,
        intermediate_size=dims.intermediate,
        num_hidden_layers=dims.layers,
        num_attention_heads=dims.heads,
        num_key_value_heads=dims.kv_heads,
        max_position_embeddings=4096,
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
        pad_token_id=ids["pad"],
    )
    vision = JanusVisionConfig(
        hidden_size=dims.vis_hidden,
        num_hidden_layers=dims.vis_layers,
        num_attention_heads=dims.vis_heads,
        image_size=dims.image_size,
        patch_size=dims.patch,
        projection_dim=dims.hidden,
        num_image_tokens=dims.num_image_tokens,
    )
    vq = JanusVQVAEConfig(
        embed_dim=dims.vq_embed,
        num_embeddings=dims.codebook,
        latent_channels=dims.vq_latent,
        base_channels=dims.vq_base,
        channel_multiplier=list(dims.vq_mult),
        num_res_blocks=dims.vq_res_blocks,
        projection_dim=dims.hidden,
        image_token_embed_dim=dims.hidden,
    )
    return JanusConfig(
        text_config=text,
        vision_config=vision,
        vq_config=vq,
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE),
        tie_word_embeddings=False,
    )


def build_synthetic(
    dims: JanusDims | str = "tiny",
    seed: int = 0,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    extra_text: str = "",
    init_std: float | None = None,
) -> SyntheticJanus:
    """A random-weight Janus with its processor and a generation config set up like the hub's.

    init_std: re-draw every Linear/Embedding weight from N(0, init_std). transformers' init (0.02)
    gives nearly uniform logits, so greedy decoding repeats one token and token-parity tests would
    prove little; ~0.3 gives varied, input-dependent tokens.
    """
    from transformers import JanusForConditionalGeneration

    dims = PRESETS[dims] if isinstance(dims, str) else dims
    tok = build_tokenizer(extra_text)
    torch.manual_seed(seed)
    with torch.device(device):
        model = JanusForConditionalGeneration(janus_config(dims, tok))
    if init_std is not None:
        _reinit(model, init_std)
    model = model.to(dtype).eval()
    _set_generation_config(model, tok)
    return SyntheticJanus(model, build_processor(dims, tok), dims)


@torch.no_grad()
def _reinit(model: torch.nn.Module, std: float) -> None:
    for mod in model.modules():
        if isinstance(mod, (torch.nn.Linear, torch.nn.Embedding)):
            mod.weight.normal_(0.0, std)


def _set_generation_config(model: Any, tok: Any) -> None:
    """What the hub checkpoints carry and Janus image generate needs (transformers' image generate reads
    the bos/eos/pad ids and generation_kwargs' boi_token_id from here)."""
    g = model.generation_config
    g.bos_token_id, g.eos_token_id, g.pad_token_id = tok.bos_token_id, tok.eos_token_id, tok.pad_token_id
    g.generation_kwargs = {"boi_token_id": tok.convert_tokens_to_ids(BOI)}
    g.num_return_sequences = 1


def write_synthetic(out: Path, size: str = "tiny", seed: int = 0) -> Path:
    """`unigap model synthetic janus --out DIR [--size tiny|1b|7b]`: a random Janus the loader opens."""
    if size not in PRESETS:
        from unigap.errors import ConfigError

        raise ConfigError(f"janus synthetic size {size!r}; valid: {', '.join(PRESETS)}")
    return build_synthetic(size, seed=seed, init_std=0.3 if size == "tiny" else None).save(Path(out))
