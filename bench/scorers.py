"""CPU throughput of the benchmark scorers (geneval, t2i-compbench per metric, sciscore): images/s.

    python bench/scorers.py --dims tiny                       # tiny random models (seconds)
    flock /tmp/unigap-bigmem.lock python bench/scorers.py --dims real --images 2   # real architectures

Models are random (no weights can be downloaded here) but built with the real architectures'
configs at --dims real (Mask2Former Swin-S 100 queries, CLIP ViT-L/14, BLIP ViT-B/16 + BERT-base at
480 px, CLIP ViT-B/32, OWLv2 B/16 at 960 px, DPT-hybrid, CLIP ViT-H/14 for SciScore), so the
timings are the real compute. Each line compares the whole judge (pre-processing, model,
post-processing, decision rules) with a named baseline measured in the same run: the bare
forward pass of the scorer's main network on already-prepared tensors.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.judges import _scorer_tiny as tiny  # noqa: E402
from unigap.judges.geneval.judge import GenevalJudge, detector_inputs  # noqa: E402
from unigap.judges.sciscore import SciScoreJudge  # noqa: E402
from unigap.judges.t2i_compbench.judge import T2ICompBenchJudge  # noqa: E402
from unigap.records import Prompt  # noqa: E402

GENEVAL = {
    "tag": "color_attr",
    "include": [{"class": "car", "count": 1, "color": "red"}, {"class": "bench", "count": 1, "color": "white"}],
    "prompt": "x",
}
T2I = {
    "color": "a green bench and a blue bowl",
    "non_spatial": "a person is looking at a rainbow",
    "spatial": "a giraffe next to a lamp",
    "3d_spatial": "a dog in front of a desk",
    "numeracy": "two dogs and three cats",
    "complex": "The red hat was on top of the brown coat rack.",
}


def real_models(root: Path) -> Lazy:
    """Random models with the real architectures' configs, each built and saved to `root` on first use."""
    from transformers import (
        BlipConfig,
        BlipForQuestionAnswering,
        CLIPConfig,
        CLIPModel,
        DPTConfig,
        DPTForDepthEstimation,
        Mask2FormerConfig,
        Mask2FormerForUniversalSegmentation,
        Owlv2Config,
        Owlv2ForObjectDetection,
        SwinConfig,
    )
    from transformers.models.owlv2.image_processing_pil_owlv2 import Owlv2ImageProcessorPil

    clip_tok = tiny.word_tokenizer("<|startoftext|>", "<|endoftext|>")
    blip_tok = tiny.word_tokenizer("[CLS]", "[SEP]", extra=("[DEC]", "[ENC]"))
    ids, bids = clip_tok.convert_tokens_to_ids, blip_tok.convert_tokens_to_ids
    ctext = dict(
        vocab_size=49408,
        bos_token_id=ids(clip_tok.bos_token),
        eos_token_id=ids(clip_tok.eos_token),
        pad_token_id=clip_tok.pad_token_id,
    )
    specs = {
        "m2f": lambda: Mask2FormerForUniversalSegmentation(
            Mask2FormerConfig(
                num_labels=80,
                backbone_config=SwinConfig(
                    embed_dim=96,
                    depths=[2, 2, 18, 2],
                    num_heads=[3, 6, 12, 24],
                    window_size=7,
                    out_features=["stage1", "stage2", "stage3", "stage4"],
                ),
            )
        ),
        "clip_l14": lambda: CLIPModel(
            CLIPConfig(
                text_config=dict(
                    hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, **ctext
                ),
                vision_config=dict(
                    hidden_size=1024,
                    intermediate_size=4096,
                    num_hidden_layers=24,
                    num_attention_heads=16,
                    patch_size=14,
                    image_size=224,
                ),
                projection_dim=768,
            )
        ),
        "clip_b32": lambda: CLIPModel(CLIPConfig(text_config=ctext, vision_config={}, projection_dim=512)),
        "clip_h14": lambda: CLIPModel(
            CLIPConfig(
                text_config=dict(
                    hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, **ctext
                ),
                vision_config=dict(
                    hidden_size=1280,
                    intermediate_size=5120,
                    num_hidden_layers=32,
                    num_attention_heads=16,
                    patch_size=14,
                    image_size=224,
                ),
                projection_dim=1024,
            )
        ),
        # capfilt-large VQA = BLIP's model_base_vqa_capfilt_large: ViT-B/16 (768, 12 layers) + BERT-base
        "blip": lambda: BlipForQuestionAnswering(
            BlipConfig(
                text_config=dict(
                    vocab_size=30524,
                    encoder_hidden_size=768,
                    bos_token_id=bids("[DEC]"),
                    pad_token_id=blip_tok.pad_token_id,
                    sep_token_id=bids("[SEP]"),
                ),
                vision_config=dict(
                    hidden_size=768,
                    intermediate_size=3072,
                    num_hidden_layers=12,
                    num_attention_heads=12,
                    image_size=384,
                    patch_size=16,
                ),
            )
        ),
        "owl": lambda: Owlv2ForObjectDetection(
            Owlv2Config(
                text_config=dict(**{**ctext, "max_position_embeddings": 16}),
                vision_config=dict(image_size=960, patch_size=16),
                projection_dim=512,
            )
        ),
        "dpt": lambda: DPTForDepthEstimation(
            DPTConfig(
                is_hybrid=True,
                hidden_size=768,
                num_hidden_layers=12,
                num_attention_heads=12,
                intermediate_size=3072,
                image_size=384,
                backbone_out_indices=[2, 5, 8, 11],
                neck_hidden_sizes=[256, 512, 768, 768],
                reassemble_factors=[1, 1, 1, 0.5],
            )
        ),
    }

    def build(name: str) -> str:
        torch.manual_seed(0)
        specs[name]().eval().save_pretrained(root / name)
        if name in ("clip_l14", "clip_b32", "clip_h14", "owl"):
            clip_tok.save_pretrained(root / name)
        if name == "blip":
            blip_tok.save_pretrained(root / name)
        if name == "owl":
            Owlv2ImageProcessorPil(size={"height": 960, "width": 960}).save_pretrained(root / name)
        return str(root / name)

    return Lazy(build)


class Lazy(dict):
    """paths[name] builds the model on first access."""

    def __init__(self, build) -> None:
        super().__init__()
        self.build = build

    def __missing__(self, name: str) -> str:
        self[name] = self.build(name)
        return self[name]


def tiny_models(root: Path) -> dict[str, str]:
    p = {
        "m2f": tiny.save_mask2former(root / "m2f"),
        "clip_l14": tiny.save_clip(root / "clip"),
        "blip": tiny.save_blip(root / "blip"),
        "owl": tiny.save_owlv2(root / "owl"),
        "dpt": tiny.save_dpt(root / "dpt"),
    }
    p["clip_b32"] = p["clip_h14"] = p["clip_l14"]
    return {k: str(v) for k, v in p.items()}


def rate(fn, n: int) -> float:
    fn()  # warm-up (first-call allocations, lazy loading)
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def bench_geneval(paths: dict, images: torch.Tensor, real: bool) -> tuple[float, float]:
    judge = GenevalJudge(
        detector=paths["m2f"],
        clip=paths["clip_l14"],
        device="cpu",
        batch_size=len(images),
        threshold=0.0,
        **({} if real else {"scale": (48, 32)}),
    )  # 0: random scores still yield objects to colour-classify
    ps = [
        Prompt(f"g{i}", "x", "color_attr", "eval", "geneval", metadata={"index": i, "geneval": GENEVAL})
        for i in range(len(images))
    ]
    judge.load()
    pix, _ = detector_inputs(images.numpy(), judge.scale, judge.size_divisor)
    with torch.inference_mode():
        base = rate(lambda: judge.detector(pixel_values=pix), len(images))
    return rate(lambda: judge.judge(images, ps), len(images)), base


def bench_t2i(paths: dict, images: torch.Tensor, category: str, real: bool) -> tuple[float, float]:
    kw = {} if real else {"blip_image_size": 48, "depth_image_size": 32, "detector_threshold": 0.0}
    need = {
        "color": ("blip",),
        "non_spatial": ("clip_b32",),
        "spatial": ("owl",),
        "numeracy": ("owl",),
        "3d_spatial": ("owl", "dpt"),
        "complex": ("blip", "clip_b32", "owl"),
    }[category]
    names = {"blip": "blip", "clip": "clip_b32", "detector": "owl", "depth": "dpt"}
    judge = T2ICompBenchJudge(
        **{k: paths[v] if v in need else "unused" for k, v in names.items()}, device="cpu", batch_size=len(images), **kw
    )
    ps = [Prompt(f"t{i}", T2I[category], category, "eval", "t2i-compbench") for i in range(len(images))]
    judge.judge(images[:1], ps[:1])  # loads the models this category needs
    key = {"color": "blip", "non_spatial": "clip", "complex": "blip"}.get(category, "detector")
    model = judge._models[key][0]
    size = {"blip": judge.blip_size, "clip": 224 if real else 32, "detector": 960 if real else 32}[key]
    pix = torch.randn(len(images), 3, size, size)
    with torch.inference_mode():
        if key == "detector":
            ids = torch.ones(2 * len(images), 16, dtype=torch.long)
            base = rate(lambda: model(input_ids=ids[:2], pixel_values=pix[:1]), 1)
        else:
            base = rate(
                lambda: model.vision_model(pixel_values=pix, interpolate_pos_encoding=key == "blip"), len(images)
            )
    return rate(lambda: judge.judge(images, ps), len(images)), base


def bench_sciscore(paths: dict, images: torch.Tensor, real: bool) -> tuple[float, float]:
    judge = SciScoreJudge(paths["clip_h14"], device="cpu", batch_size=len(images)).load()
    meta = {"explicit_prompt": "a dog is sitting", "superficial_prompt": "a cat"}
    ps = [Prompt(f"s{i}", "a red apple", "physics", "eval", "science-t2i", metadata=meta) for i in range(len(images))]
    pix = torch.randn(len(images), 3, 224 if real else 32, 224 if real else 32)
    with torch.inference_mode():
        base = rate(lambda: judge.model.get_image_features(pixel_values=pix), len(images))
    return rate(lambda: judge.judge(images, ps), len(images)), base


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", choices=("tiny", "real"), default="tiny")
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--size", type=int, default=None, help="image side (default 64 tiny, 512 real)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default=None, help="comma list: geneval,sciscore,color,non_spatial,spatial,...")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    real = args.dims == "real"
    side = args.size or (512 if real else 64)
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (args.images, side, side, 3), dtype=np.uint8))
    wanted = args.only.split(",") if args.only else ["geneval", "sciscore", *T2I]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = (real_models if real else tiny_models)(Path(tmp))
        print(
            f"{args.dims} models ({'built on first use' if real else f'built in {time.perf_counter() - t0:.1f} s'}); "
            f"{args.images} images of {side}x{side}, {args.threads} CPU threads"
        )
        print(f"{'scorer':<28} {'judge img/s':>12} {'bare forward img/s':>19} {'judge / forward':>16}")
        for name in wanted:
            if name == "geneval":
                j, b = bench_geneval(paths, images, real)
            elif name == "sciscore":
                j, b = bench_sciscore(paths, images, real)
            else:
                j, b = bench_t2i(paths, images, name, real)
            print(f"{name:<28} {j:>12.3f} {b:>19.3f} {j / b:>16.2f}   ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
