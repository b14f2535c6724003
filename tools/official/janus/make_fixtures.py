"""Golden fixtures for unigap's Janus conversion, written by the official deepseek-ai/Janus code.

Builds a tiny random `MultiModalityCausalLM` with the official classes (fixed seed), saves it in
the original format (the layout of deepseek-ai/Janus-Pro-7B: sharded pytorch_model-*.bin + index,
config.json with model_type multi_modality, the VLChatProcessor's tokenizer/processor files), reloads
it as a user does and records, for fixed inputs:

- the official VLMImageProcessor's pixel values for four fixed images (square and not);
- understanding: the VLChatProcessor's prompt, input ids and masks for one image + question, the
  language model's logits over the whole sequence, and 8 greedy tokens (as in the official inference.py);
- image generation: the official `generate` function of generation_inference.py, run as written
  (taken from the pinned file by name, not copied), with `torch.multinomial` replaced by (a) the argmax
  (greedy CFG decode) and (b) fixed random codes; per step the gen_head logits of every row
  (cond/uncond interleaved) and the CFG probabilities, then the VQ decode and the uint8 images;
- VQ decode (`gen_vision_model.decode_code`) of the fixed codes.

Nothing here imports unigap; the tests under tests/models/janus compare unigap to these files.
See README.md beside this file for the venv and the command.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PINNED_COMMIT = "1daa72fa409002d40931bd7b36a9280362469ead"  # deepseek-ai/Janus, 2025-02-01
SEED = 0
IMAGE_SIZE, PATCH, MIN_SIZE = 16, 4, 14  # 4x4 = 16 image tokens; min_size as in Janus-Pro
HIDDEN, VIS_WIDTH, CODEBOOK, CODE_DIM = 32, 32, 64, 8
GEN_STEPS = IMAGE_SIZE // PATCH * (IMAGE_SIZE // PATCH)  # 16
GEN_SIZE, VQ_FACTOR = 8, 2  # generate()'s img_size / patch_size: the VQ's output side and downsampling (384 / 16)
CFG_WEIGHT = 5.0

BOS, EOS, PAD = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"
SPECIALS = [
    BOS,
    EOS,
    PAD,
    "<image_placeholder>",
    "<patch_placeholder>",
    "<|ref|>",
    "<|/ref|>",
    "<|det|>",
    "<|/det|>",
    "<|grounding|>",
    "<|User|>",
    "<|Assistant|>",
]
IMAGE_TOKENS = ["<begin_of_image>", "<end_of_image>"]
CORPUS = [
    "You are a helpful language and vision assistant. You are able to understand the visual content that the "
    "user provides, and assist the user with a variety of tasks using natural language.",
    "Is there a red circle in the image? Answer yes or no.",
    "A photo of two blue squares left of a yellow triangle, a cat and a dog on the grass.",
    "The score is 1. The score is 0. Yes No yes no 0 1 2 3 4 5 6 7 8 9 { } : , . ?",
]
UND_QUESTION = "Is there a red circle in the image? Answer yes or no."
GEN_PROMPT = "two blue squares left of a yellow triangle"
# (width, height) of the preprocessing images: unchanged, scaled, non-square (floor vs round), tall.
IMAGE_SIZES = [(16, 16), (24, 24), (31, 29), (13, 30)]
UND_IMAGE = 1  # the 24x24 image: a resize with no rounding ambiguity
UND_LOGITS = 24  # logits kept: the question and the assistant tag


def check_commit(janus: Path) -> str:
    head = subprocess.run(
        ["git", "-C", str(janus), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if head != PINNED_COMMIT:
        sys.exit(
            f"{janus} is at {head}; these fixtures come from deepseek-ai/Janus {PINNED_COMMIT} "
            f"(git -C {janus} checkout {PINNED_COMMIT})"
        )
    return head


def patch_tiny_dims() -> None:
    """Shrink the official architecture tables; every forward stays the official code.

    The SigLIP entry keeps its name and its 16 heads (the converter reads the head count from the
    model name, as the official code does); the VQ-16 entry keeps its name, with 32 channels (GroupNorm
    needs 32), one res block and 2 levels (the 4x4 code grid decodes to 8x8 px; VQ-16 has 5 levels,
    24x24 -> 384x384): the VQ is most of the checkpoint's bytes.
    """
    from janus.models import siglip_vit, vq_model

    siglip_vit.SigLIP_MODEL_CONFIG["siglip_large_patch16_384"] = dict(
        image_size=IMAGE_SIZE,
        patch_size=PATCH,
        width=VIS_WIDTH,
        layers=2,
        heads=16,
        mlp_ratio=2,
        global_pool="map",
        use_checkpoint=False,
    )
    vq_model.Encoder = functools.partial(vq_model.Encoder, ch=32, num_res_blocks=1)
    vq_model.Decoder = functools.partial(vq_model.Decoder, ch=32, num_res_blocks=1)
    vq_model.VQ_models["VQ-16"] = lambda: vq_model.VQModel(
        vq_model.ModelArgs(
            codebook_size=CODEBOOK,
            codebook_embed_dim=CODE_DIM,
            encoder_ch_mult=[1, 1],
            decoder_ch_mult=[1, 1],
            z_channels=32,
        )
    )


def build_tokenizer():
    """A byte-level BPE like DeepSeek-LLM's (whose tokenizer Janus-Pro uses), specials after the BPE vocab."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(vocab_size=300, show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    tok.add_special_tokens(SPECIALS)
    tok.add_tokens(IMAGE_TOKENS)
    return LlamaTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=None,
        additional_special_tokens=SPECIALS[3:],
        model_max_length=16384,
        legacy=True,
        clean_up_tokenization_spaces=False,
    )


def build_processor(tokenizer):
    from janus.models import VLChatProcessor
    from janus.models.image_processing_vlm import VLMImageProcessor

    image_processor = VLMImageProcessor(
        image_size=IMAGE_SIZE, min_size=MIN_SIZE, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]
    )
    return VLChatProcessor(
        image_processor,
        tokenizer,
        num_image_tokens=GEN_STEPS,
        add_special_token=False,
        sft_format="deepseek",
        mask_prompt=True,
        ignore_id=-100,
    )


def model_config(vocab_size: int) -> dict:
    """The fields of deepseek-ai/Janus-Pro-7B's config.json, at tiny dims."""
    mlp = "MlpProjector"
    return {
        "model_type": "multi_modality",
        "architectures": ["MultiModalityCausalLM"],
        "torch_dtype": "bfloat16",
        "vision_config": {
            "cls": "CLIPVisionTower",
            "model_type": "vision",
            "params": {
                "image_size": IMAGE_SIZE,
                "model_name": "siglip_large_patch16_384",
                "select_feature": "same",
                "select_layer": -1,
            },
        },
        "aligner_config": {
            "cls": mlp,
            "model_type": "aligner",
            "params": {"depth": 2, "input_dim": VIS_WIDTH, "n_embed": HIDDEN, "projector_type": "mlp_gelu"},
        },
        "gen_vision_config": {
            "cls": "VQ-16",
            "model_type": "gen_vision",
            "params": {"image_token_size": CODEBOOK, "n_embed": CODE_DIM},
        },
        "gen_aligner_config": {
            "cls": mlp,
            "model_type": "gen_aligner",
            "params": {"depth": 2, "input_dim": CODE_DIM, "n_embed": HIDDEN, "projector_type": "mlp_gelu"},
        },
        "gen_head_config": {
            "cls": "vision_head",
            "model_type": "gen_head",
            "params": {"image_token_embed": HIDDEN, "image_token_size": CODEBOOK, "n_embed": HIDDEN},
        },
        "language_config": {
            "hidden_size": HIDDEN,
            "intermediate_size": 64,
            "max_position_embeddings": 256,
            "model_type": "llama",
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "num_key_value_heads": 2,
            "torch_dtype": "bfloat16",
            "vocab_size": vocab_size,
        },
    }


def randomize(model, seed: int) -> None:
    """Every parameter random (norm weights around 1), so that a weight landing in the wrong place shows."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=gen)
            if p.ndim == 1 and ("norm" in name or name.endswith(".weight")):
                p.copy_(1.0 + 0.1 * noise)  # LayerNorm / RMSNorm / GroupNorm scales
            elif p.ndim == 1:
                p.copy_(0.1 * noise)  # biases
            else:
                fan_in = p[0].numel() if p.ndim == 4 else p.shape[-1]  # conv: in * k * k
                p.copy_(noise / fan_in**0.5)


def fixed_images() -> list:
    from PIL import Image

    rng = np.random.RandomState(SEED)
    return [Image.fromarray(rng.randint(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in IMAGE_SIZES]


def save_checkpoint(out: Path, tokenizer) -> None:
    import torch
    from janus.models import MultiModalityCausalLM
    from janus.models.modeling_vlm import MultiModalityConfig

    torch.manual_seed(SEED)
    model = MultiModalityCausalLM(MultiModalityConfig(**model_config(vocab_size=len(tokenizer) + 4)))
    randomize(model, SEED)
    model.to(torch.bfloat16).save_pretrained(out, safe_serialization=False, max_shard_size="500KB")
    build_processor(tokenizer).save_pretrained(out)


def load_as_a_user(ckpt: Path):
    import torch
    from janus.models import MultiModalityCausalLM, VLChatProcessor

    processor = VLChatProcessor.from_pretrained(ckpt)
    model = MultiModalityCausalLM.from_pretrained(ckpt, torch_dtype=torch.float32).eval()
    return model, processor


def record_preprocessing(processor, images, out: dict) -> None:
    pixels = processor.image_processor(images, return_tensors="pt").pixel_values  # (4, 3, 16, 16)
    out["preprocess.pixel_values"] = pixels.float()
    for i, img in enumerate(images):
        out[f"preprocess.image_{i}"] = __import__("torch").from_numpy(np.asarray(img).copy())  # (H, W, 3) uint8


def record_understanding(model, processor, image, out: dict, meta: dict) -> None:
    """As the official inference.py, on CPU in fp32 (its `.to(device)` would cast pixels to bf16)."""
    import torch

    conversation = [
        {"role": "<|User|>", "content": f"<image_placeholder>\n{UND_QUESTION}", "images": ["x"]},
        {"role": "<|Assistant|>", "content": ""},
    ]
    inputs = processor(conversations=conversation, images=[image], force_batchify=True)
    tok = processor.tokenizer
    with torch.inference_mode():
        embeds = model.prepare_inputs_embeds(**inputs)
        logits = model.language_model(inputs_embeds=embeds, attention_mask=inputs.attention_mask).logits
        greedy = model.language_model.generate(
            inputs_embeds=embeds,
            attention_mask=inputs.attention_mask,
            pad_token_id=tok.eos_token_id,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            max_new_tokens=8,
            do_sample=False,
            use_cache=True,
        )
    out["und.input_ids"] = inputs.input_ids
    out["und.attention_mask"] = inputs.attention_mask
    out["und.pixel_values"] = inputs.pixel_values.float()  # (1, 1, 3, 16, 16)
    out["und.images_seq_mask"] = inputs.images_seq_mask.to(torch.uint8)
    out["und.logits"] = logits[:, -UND_LOGITS:].float()  # (1, UND_LOGITS, V): the last positions, after the image
    out["und.greedy_ids"] = greedy
    meta["understanding"] = {
        "conversation": conversation,
        "sft_format": inputs.sft_format[0],
        "system_prompt": processor.system_prompt,
        "image": UND_IMAGE,
    }


def official_generate(janus: Path):
    """The `generate` function of the pinned generation_inference.py, compiled from that file (the script
    itself loads a hub model at import time, so only the function is taken)."""
    path = janus / "generation_inference.py"
    tree = ast.parse(path.read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "generate")
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    namespace: dict = {}
    exec(compile(ast.Module(body=imports + [fn], type_ignores=[]), str(path), "exec"), namespace)
    return namespace["generate"]


def run_official_generate(janus: Path, model, processor, prompt: str, parallel: int, choose) -> dict:
    """Calls the official loop on CPU; `choose(step, probs)` stands in for torch.multinomial."""
    import PIL.Image
    import torch

    rec: dict = {"head": [], "probs": [], "images": []}
    step = {"i": 0}

    def multinomial(probs, num_samples=1):
        rec["probs"].append(probs.float().clone())
        picked = choose(step["i"], probs)
        step["i"] += 1
        return picked.view(-1, 1).long()

    def head_hook(_module, _args, output):
        rec["head"].append(output.float().clone())

    decode_code = model.gen_vision_model.decode_code

    def decode_and_record(*args, **kwargs):
        rec["codes"] = args[0].clone()
        rec["dec"] = decode_code(*args, **kwargs).float().clone()
        return rec["dec"]

    def fromarray(arr, *args, **kwargs):
        rec["images"].append(torch.from_numpy(np.array(arr)))
        return original_fromarray(arr, *args, **kwargs)

    original_fromarray, original_multinomial, original_cuda = PIL.Image.fromarray, torch.multinomial, torch.Tensor.cuda
    handle = model.gen_head.register_forward_hook(head_hook)
    model.gen_vision_model.decode_code = decode_and_record
    PIL.Image.fromarray, torch.multinomial, torch.Tensor.cuda = fromarray, multinomial, lambda self, *a, **k: self
    generate, cwd = official_generate(janus), os.getcwd()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)  # it writes generated_samples/img_*.jpg
            generate(
                model,
                processor,
                prompt,
                temperature=1,
                parallel_size=parallel,
                cfg_weight=CFG_WEIGHT,
                image_token_num_per_image=GEN_STEPS,
                img_size=GEN_SIZE,
                patch_size=VQ_FACTOR,
            )
    finally:
        os.chdir(cwd)
        PIL.Image.fromarray, torch.multinomial = original_fromarray, original_multinomial
        torch.Tensor.cuda = original_cuda
        handle.remove()
        del model.gen_vision_model.decode_code
    return rec


def record_generation(janus: Path, model, processor, out: dict, meta: dict) -> None:
    import torch

    conversation = [{"role": "<|User|>", "content": GEN_PROMPT}, {"role": "<|Assistant|>", "content": ""}]
    sft = processor.apply_sft_template_for_multi_turn_prompts(
        conversations=conversation, sft_format=processor.sft_format, system_prompt=""
    )
    prompt = sft + processor.image_start_tag
    forced = torch.from_numpy(np.random.RandomState(SEED + 1).randint(0, CODEBOOK, (2, GEN_STEPS)))
    runs = {"greedy": (1, lambda i, probs: probs.argmax(-1)), "forced": (2, lambda i, probs: forced[:, i])}
    for name, (parallel, choose) in runs.items():
        rec = run_official_generate(janus, model, processor, prompt, parallel, choose)
        out[f"gen.{name}.head_logits"] = torch.stack(rec["head"], 1)  # (2 * parallel, steps, codebook)
        out[f"gen.{name}.probs"] = torch.stack(rec["probs"], 1)  # (parallel, steps, codebook)
        out[f"gen.{name}.codes"] = rec["codes"].long()  # (parallel, steps)
        out[f"gen.{name}.decoded"] = rec["dec"]  # (parallel, 3, H, W), float
        out[f"gen.{name}.images"] = torch.stack(rec["images"])  # (parallel, H, W, 3) uint8
    out["gen.input_ids"] = torch.tensor(processor.tokenizer.encode(prompt))
    meta["generation"] = {
        "conversation": conversation,
        "prompt": prompt,
        "cfg_weight": CFG_WEIGHT,
        "temperature": 1,
        "steps": GEN_STEPS,
        "pad_id": processor.pad_id,
        "img_size": GEN_SIZE,
        "patch_size": VQ_FACTOR,
    }


def record_vq(model, out: dict) -> None:
    import torch

    codes = torch.from_numpy(np.random.RandomState(SEED + 2).randint(0, CODEBOOK, (3, GEN_STEPS)))
    side = GEN_SIZE // VQ_FACTOR
    with torch.inference_mode():
        dec = model.gen_vision_model.decode_code(codes.int(), shape=[3, CODE_DIM, side, side])
    out["vq.codes"] = codes.long()
    out["vq.pixels"] = dec.float()  # (3, 3, 8, 8), the official [-1, 1] range (not clipped)


def versions() -> dict:
    import timm
    import tokenizers
    import torch
    import torchvision
    import transformers

    return {m.__name__: m.__version__ for m in (torch, torchvision, transformers, tokenizers, timm, np)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--janus", type=Path, required=True, help=f"a deepseek-ai/Janus checkout at {PINNED_COMMIT}")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[3] / "tests/fixtures/official/janus")
    args = ap.parse_args()
    args.janus, args.out = args.janus.resolve(), args.out.resolve()
    commit = check_commit(args.janus)
    sys.path.insert(0, str(args.janus.resolve()))
    import torch
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    patch_tiny_dims()
    ckpt = args.out / "checkpoint"
    shutil.rmtree(args.out, ignore_errors=True)
    save_checkpoint(ckpt, build_tokenizer())
    model, processor = load_as_a_user(ckpt)
    out: dict = {}
    meta: dict = {
        "janus_commit": commit,
        "seed": SEED,
        "versions": versions(),
        "checkpoint_files": sorted(p.name for p in ckpt.iterdir()),
    }
    images = fixed_images()
    record_preprocessing(processor, images, out)
    record_understanding(model, processor, images[UND_IMAGE], out, meta)
    record_generation(args.janus, model, processor, out, meta)
    record_vq(model, out)
    save_file(
        {k: v.contiguous() for k, v in sorted(out.items())},
        str(args.out / "outputs.safetensors"),
        metadata={"janus_commit": commit},
    )
    (args.out / "fixture.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
