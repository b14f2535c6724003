"""Golden fixtures from Science-T2I's own scoring code (Jialuo-Li/Science-T2I, eval/*.py).

    python tools/official/science_t2i/make_fixtures.py /path/to/Science-T2I [--out tests/fixtures/official/science_t2i]

Runs the official SciScore scorer (`SciScore.forward` of eval/eval_t2i_with_SciScore.py: the
score of a generated image against the implicit prompt) and the official two-way choice
(`calculate_similarity`, `calculate_accuracy`, `calculate_category_accuracy`,
`calculate_law_accuracy` of eval/eval_vlm.py) with the official preprocessing — transformers'
`AutoProcessor` / `AutoModel` at the pinned transformers 4.50.3 — on a tiny random CLIP standing
in for `Jialuo21/SciScore` (built offline: CLIP-H's processor settings, a tiny vision/text tower,
weights filled from a fixed recipe that the tests rebuild), fixed synthetic images of many sizes
(odd crop margins) and fixed prompts. Writes small JSON fixtures: the tiny model's config and
tokenizer files, and per case the SciScore, the processor's crop (checksum) and token ids, the
two-way probabilities, and the official accuracies on synthetic probabilities.
The checkout must be at COMMIT (checked). Needs the official requirements (README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

COMMIT = "024e5dd0ae00b7429d53cf2ff75aaba9214a3d96"
REPO = "Jialuo-Li/Science-T2I"
FILES = ("eval/eval_t2i_with_SciScore.py", "eval/eval_vlm.py")
# laion/CLIP-ViT-H-14-laion2B-s32B-b79K's preprocessor (SciScore was trained from it): 224, bicubic
PROCESSOR = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "rescale_factor": 1 / 255,
    "size": {"shortest_edge": 224},
}
TEXT = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=77
)
VISION = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=224, patch_size=32
)
WORDS = (
    "a photo of the dog cat red glass ice cube melting on hot stove metal spoon in water sunlight "
    "apple tree leaves autumn candle burning iron rusting plant sprout"
).split()
SIZES = [
    (224, 224),
    (512, 512),
    (384, 384),
    (256, 256),
    (512, 384),
    (384, 512),
    (300, 226),
    (226, 300),
    (227, 224),
    (224, 227),
    (229, 224),
    (224, 229),
    (231, 224),
    (640, 480),
    (301, 227),
    (250, 333),
    (97, 71),
    (71, 97),
]
PROMPTS = [
    "a dog",
    "an ice cube melting on a hot stove, realistic.",
    "a metal spoon in water in sunlight",
    " ".join(["red apple tree leaves in autumn"] * 16),
]  # the last is longer than 77 tokens


# ---- the tiny SciScore stand-in (the tests rebuild it from the same recipe) ---------------------


def write_tokenizer(path: Path, bytes_to_unicode) -> None:
    """CLIP's byte-level BPE with the 256 byte symbols (+ "</w>" forms), a few merges, <|startoftext|>,
    <|endoftext|>: CLIPTokenizer files."""
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols]
    merges = []
    for w in WORDS:  # merge each word left to right into one symbol
        parts = list(w[:-1]) + [w[-1] + "</w>"]
        while len(parts) > 1:
            merges.append(f"{parts[0]} {parts[1]}")
            parts = [parts[0] + parts[1]] + parts[2:]
            if parts[0] not in vocab:
                vocab.append(parts[0])
    vocab = list(dict.fromkeys(vocab)) + ["<|startoftext|>", "<|endoftext|>"]
    (path / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")


def fill_weights(model, seed: int = 0) -> dict[str, float]:
    """Every parameter ~ N(0, 0.1) from one generator in sorted-name order; LayerNorm weights 1 + that;
    logit_scale = log(1 / 0.07) (CLIP's init). Returns {name: sum of the parameter} (a checksum)."""
    import torch

    rng = np.random.default_rng(seed)
    sums = {}
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if name == "logit_scale":
                p.fill_(float(np.log(1 / 0.07)))
            else:
                one = 1.0 if "norm" in name and name.endswith("weight") else 0.0
                v = rng.standard_normal(tuple(p.shape)) * 0.1 + one
                p.copy_(torch.from_numpy(v).to(p.dtype))
            sums[name] = float(p.double().sum())
    return sums


def build_sciscore(path: Path) -> dict[str, float]:
    """The tiny SciScore directory (config, weights, tokenizer, processor); returns the weight checksum."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizerFast
    from transformers.models.clip.tokenization_clip import bytes_to_unicode

    path.mkdir(parents=True, exist_ok=True)
    write_tokenizer(path, bytes_to_unicode)
    tok = CLIPTokenizerFast(
        vocab_file=str(path / "vocab.json"), merges_file=str(path / "merges.txt"), pad_token="<|endoftext|>"
    )
    ids = tok.convert_tokens_to_ids
    text = dict(
        TEXT,
        vocab_size=len(tok),
        bos_token_id=ids("<|startoftext|>"),
        eos_token_id=ids("<|endoftext|>"),
        pad_token_id=ids("<|endoftext|>"),
    )
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=VISION, projection_dim=16))
    checksum = fill_weights(model)
    model.save_pretrained(path)
    CLIPProcessor(image_processor=CLIPImageProcessor(**PROCESSOR), tokenizer=tok).save_pretrained(path)
    return checksum


# ---- synthetic images --------------------------------------------------------------------------


def synthetic_image(w: int, h: int, k: int) -> np.ndarray:
    """(h, w, 3) uint8: ((5 + k) x + (11 + 2k) y + 67 c + x y / 7) mod 256 — varied, position-dependent."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return (((5 + k) * x + (11 + 2 * k) * y + 67 * c + (x * y) // 7) % 256).astype(np.uint8)


def pixel_checksum(pixels, mean, std) -> list[int]:
    """The processor's (3, S, S) normalised pixels back to uint8; [sums per channel, position-weighted sums]."""
    arr = np.asarray(pixels, dtype=np.float64)
    u8 = np.rint((arr * np.array(std)[:, None, None] + np.array(mean)[:, None, None]) * 255).astype(np.int64)
    flat = u8.reshape(3, -1)
    weights = (np.arange(flat.shape[1], dtype=np.int64) * 31 + 7) % 1009
    return [*flat.sum(1).tolist(), *(flat * weights).sum(1).tolist()]


# ---- the official modules ----------------------------------------------------------------------


def load_official(checkout: Path, name: str) -> types.ModuleType:
    """eval/<name>.py with the imports it does not use for scoring stubbed (FLUX pipeline, hub datasets)."""
    import importlib.machinery

    import transformers  # noqa: F401  (before the stubs: it probes which packages exist)

    for mod, attrs in {"diffusers": ["FluxPipeline"], "datasets": ["load_dataset"]}.items():
        stub = types.ModuleType(mod)
        stub.__spec__ = importlib.machinery.ModuleSpec(mod, None)
        for a in attrs:
            setattr(stub, a, None)
        sys.modules[mod] = stub
    spec = importlib.util.spec_from_file_location(f"science_t2i_{name}", checkout / "eval" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score_cases(t2i, vlm, model_root: Path) -> tuple[list[dict], list[dict]]:
    from PIL import Image

    cwd = os.getcwd()
    os.chdir(model_root)  # AutoProcessor/AutoModel.from_pretrained("Jialuo21/SciScore") find the local dir
    try:
        scorer = t2i.SciScore(device="cpu", dtype=__import__("torch").float32)
    finally:
        os.chdir(cwd)
    proc = scorer.processor.image_processor
    images = [Image.fromarray(synthetic_image(w, h, k)) for k, (w, h) in enumerate(SIZES)]
    scores = []
    for k, (im, (w, h)) in enumerate(zip(images, SIZES)):
        pix = scorer.processor(images=im, return_tensors="pt")["pixel_values"][0]
        for j, prompt in enumerate(PROMPTS):
            if (k + j) % 2 and j != 3 and k > 3:
                continue  # keep the fixture small: every size, not every prompt
            score = scorer(im, prompt)  # the official forward: ToTensor -> uint8 -> processor -> features
            scores.append(
                {
                    "image": [w, h, k],
                    "prompt": j,
                    "sciscore": float(score[0]),
                    "crop": pixel_checksum(pix.numpy(), proc.image_mean, proc.image_std),
                }
            )
    pairs = []
    for k in range(0, len(images) - 1):
        a, b = k, (k * 7 + 3) % len(images)
        j = k % len(PROMPTS)
        probs = vlm.calculate_similarity([images[a], images[b]], PROMPTS[j], scorer.model, scorer.processor, "cpu")
        pairs.append({"images": [a, b], "prompt": j, "probs": probs})
    return scores, pairs


def token_ids(processor) -> list[list[int]]:
    return [processor(text=p, padding=True, truncation=True, max_length=77)["input_ids"] for p in PROMPTS]


def accuracy_cases(vlm) -> list[dict]:
    """The official accuracy aggregation on synthetic (prob_0, prob_1), categories and laws (ties included)."""
    rng = np.random.default_rng(5)
    out = []
    for n in (1, 7, 40):
        p0 = rng.choice([0.2, 0.5, 0.5, 0.8], n)
        probs = [[float(x), float(1 - x)] for x in p0]
        cats = [["Physics", "Chemistry", "Biology"][int(i)] for i in rng.integers(0, 3, n)]
        laws = [["Melting", "Rusting", "Photosynthesis", "Buoyancy"][int(i)] for i in rng.integers(0, 4, n)]
        ds = list(range(n))
        out.append(
            {
                "probs": probs,
                "categories": cats,
                "laws": laws,
                "overall_accuracy": vlm.calculate_accuracy([tuple(p) for p in probs], ds),
                "category_accuracy": vlm.calculate_category_accuracy([tuple(p) for p in probs], cats),
                "law_accuracy": vlm.calculate_law_accuracy([tuple(p) for p in probs], laws),
            }
        )
    return out


# ---- main --------------------------------------------------------------------------------------


def check_commit(checkout: Path) -> None:
    """HEAD is COMMIT and the files used are the commit's (a partial checkout is fine)."""

    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(checkout), *a], capture_output=True, text=True).stdout.strip()

    if git("rev-parse", "HEAD") != COMMIT:
        sys.exit(f"{checkout}: expected a git checkout of {REPO} at {COMMIT}")
    for f in FILES:
        if git("hash-object", f) != git("rev-parse", f"{COMMIT}:{f}"):
            sys.exit(f"{checkout}/{f} differs from {COMMIT}")


def environment() -> dict:
    import PIL
    import torch
    import transformers

    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkout", type=Path, help=f"a git checkout of {REPO} at {COMMIT}")
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[3] / "tests/fixtures/official/science_t2i"
    )
    args = ap.parse_args()
    check_commit(args.checkout)
    t2i = load_official(args.checkout.resolve(), "eval_t2i_with_SciScore")
    vlm = load_official(args.checkout.resolve(), "eval_vlm")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "Jialuo21" / "SciScore"
        checksum = build_sciscore(model_dir)
        scores, pairs = score_cases(t2i, vlm, Path(tmp))
        from transformers import AutoProcessor

        ids = token_ids(AutoProcessor.from_pretrained(model_dir))
        args.out.mkdir(parents=True, exist_ok=True)
        model_out = args.out / "sciscore_tiny"
        model_out.mkdir(exist_ok=True)
        for f in (
            "config.json",
            "preprocessor_config.json",
            "vocab.json",
            "merges.txt",
            "tokenizer_config.json",
            "special_tokens_map.json",
        ):
            if (model_dir / f).exists():
                (model_out / f).write_bytes((model_dir / f).read_bytes())
    source = {"repo": REPO, "commit": COMMIT, "files": list(FILES), "env": environment()}
    fixture = {
        "source": source,
        "weights": {"recipe": "fill_weights(seed=0)", "sums": checksum},
        "sizes": SIZES,
        "prompts": PROMPTS,
        "token_ids": ids,
        "sciscore": scores,
        "two_way": pairs,
        "accuracy": accuracy_cases(vlm),
    }
    (args.out / "sciscore.json").write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(scores)} SciScore cases, {len(pairs)} two-way choices to {args.out}")


if __name__ == "__main__":
    main()
