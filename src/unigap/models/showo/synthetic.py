"""A random-weight Show-o checkpoint with tokenizer files, written offline (no hub).

`unigap model synthetic showo --out DIR [--size tiny|real]` calls write_synthetic; the real
loader then opens DIR (model.path=DIR). The layout is the loader's self-contained one:
config.json + pytorch_model.safetensors (official `showo.` keys and file name), llm/ (Phi config + tokenizer), vq/
(MAGVIT-v2 config + weights, official keys).

The Phi-1.5 BPE tokenizer cannot be downloaded here, so the text tokenizer is word-level (built
with `tokenizers`), with Phi's conventions: <|endoftext|> is BOS and EOS and is not added
automatically. "real" pads its vocabulary to Phi-1.5's 50,295 tokens so every shape is the
published one (vocab 58,498, 256 image tokens, codebook 8,192).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from unigap.models.showo.magvit import MagvitDims
from unigap.models.showo.model import PHI_1_5
from unigap.models.showo.prompting import NUM_NEW_SPECIAL, add_special_tokens
from unigap.verdict import ANSWER_PREFIX, question

EOT, UNK = "<|endoftext|>", "<unk>"
WORDS = (
    "a an the of on in and with to is it this that image photo picture depicts shows describe scene score "
    "Yes No yes no not there are two three one four left right above below next behind front big small "
    "large tiny red blue green yellow black white purple orange brown gray pink circle square triangle "
    "star cat dog car bird man woman tree house apple cup book table chair USER ASSISTANT 0 1 2 3 . , ? : ! "
    "{ } ( ) ' \" - / wooden metal plastic glass fluffy soft rough smooth"
)


@dataclass(frozen=True)
class SyntheticSize:
    phi: dict[str, Any]
    vq: MagvitDims
    num_vq_tokens: int
    text_vocab: int | None  # None = the word list's size; real: Phi-1.5's 50,295
    init_std: float | None  # re-draw Linear/Embedding weights (tiny: varied, prompt-dependent outputs)


SIZES = {
    "tiny": SyntheticSize(
        dict(
            PHI_1_5,
            vocab_size=0,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
        ),
        MagvitDims(
            ch=32, enc_mult=(1, 1, 2), enc_blocks=(1, 1, 1), dec_mult=(1, 1, 2), dec_blocks=(1, 1, 1), z_channels=6
        ),
        16,
        None,
        0.3,
    ),
    "real": SyntheticSize(dict(PHI_1_5), MagvitDims(), 256, 50295, None),
}


def build_tokenizer(text_vocab: int | None = None) -> Any:
    """Word-level Phi-like tokenizer: <|endoftext|> = BOS = EOS, nothing added automatically."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = f"{WORDS} {question('x')} {ANSWER_PREFIX}".split()
    vocab: dict[str, int] = {EOT: 0, UNK: 1}
    for w in (p for p, _ in pre_tokenizers.Whitespace().pre_tokenize_str(" ".join(words))):
        vocab.setdefault(w, len(vocab))
    while text_vocab is not None and len(vocab) < text_vocab:
        vocab[f"w{len(vocab)}"] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tok.add_special_tokens([EOT])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT, unk_token=UNK)


def showo_config(text_vocab: int, codebook: int, num_vq_tokens: int) -> dict[str, Any]:
    """config.json as the published checkpoints have it (Showo, no CLIP-ViT)."""
    return {
        "_class_name": "Showo",
        "w_clip_vit": False,
        "llm_vocab_size": text_vocab,
        "vocab_size": text_vocab + NUM_NEW_SPECIAL + codebook + 1,
        "codebook_size": codebook,
        "num_vq_tokens": num_vq_tokens,
        "llm_model_path": "llm",
        "load_from_showo": True,
        "mask_token_id": text_vocab + NUM_NEW_SPECIAL + codebook,
    }


def write_synthetic(out: Path, size: str = "tiny", seed: int = 0) -> Path:
    """Write a random Show-o of `size` ("tiny": CI-fast; "real": the published dims) to `out`."""
    from unigap.models.showo.checkpoint import build_model, official_state, write_dir

    if size not in SIZES:
        raise ValueError(f"showo synthetic size {size!r}; valid: {', '.join(SIZES)}")
    spec, out = SIZES[size], Path(out)
    tok = build_tokenizer(spec.text_vocab)
    text_vocab = len(tok)
    cfg = showo_config(text_vocab, spec.vq.codebook_size, spec.num_vq_tokens)
    eot = tok.convert_tokens_to_ids(EOT)
    llm_raw = {
        **spec.phi,
        "vocab_size": spec.phi["vocab_size"] or text_vocab,
        "model_type": "phi",
        "architectures": ["PhiForCausalLM"],
        "bos_token_id": eot,
        "eos_token_id": eot,
    }
    torch.manual_seed(seed)
    model = build_model(llm_raw, cfg["vocab_size"], spec.vq)
    if spec.init_std is not None:
        _reinit(model.llm, spec.init_std)
    add_special_tokens(tok)  # saved with the specials, as a saved Show-o tokenizer would be
    state = (
        model.state_dict()
        if size == "tiny"
        else {k: v.to(torch.bfloat16) if k.startswith("llm.") else v for k, v in model.state_dict().items()}
    )
    return write_dir(out, cfg, llm_raw, spec.vq, tok, official_state(model, state))


@torch.no_grad()
def _reinit(module: torch.nn.Module, std: float) -> None:
    for m in module.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
            m.weight.normal_(0.0, std)
