"""Golden fixtures for Show-o's image preprocessing (the MMU / understanding input) from the *official* code.

Runs showlab/Show-o's `training/utils.py` `image_transform` (torchvision's Resize(side, BICUBIC),
CenterCrop, ToTensor, Normalize on a PIL image: what `inference_mmu.py` feeds the model) on fixed
synthetic images and writes tests/fixtures/official/showo/preprocess/, which
tests/models/showo/test_showo_official.py compares unigap's `official_pixels` against.

torchvision: its wheels here are built against another torch, so `import torchvision` fails in its
C-operator registration (`operator torchvision::nms does not exist`). The PIL path of
`torchvision.transforms` is pure Python and needs none of those operators: the script imports
`torchvision.transforms` from the installed wheel without running `torchvision/__init__.py`.

    pip install --no-deps torchvision==0.28.0          # into the scratch venv of README.md
    python tools/official/showo/make_preprocess_fixtures.py --showo /path/to/Show-o

Deterministic: the same checkout, torchvision and Pillow rewrite the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

PIN = "45a5a2de01d1ebd10cd5864d29310a76476cdf23"  # showlab/Show-o main, 2026-01-09 (as make_fixtures.py)
USED = ("training/utils.py", "inference_mmu.py")
ROOT = Path(__file__).resolve().parents[3]
# (height, width): odd and even margins, portrait and landscape, square, smaller than the target
TINY_SIZES = [(17, 23), (23, 17), (29, 31), (16, 16), (9, 12), (40, 16), (33, 33), (18, 16), (16, 19)]
PUBLISHED_SIZES = [(300, 257), (257, 383), (511, 255), (256, 256), (200, 300), (768, 1024), (255, 255)]


def pattern(h: int, w: int) -> np.ndarray:
    """The input image (H, W, 3) uint8: a fixed, high-frequency integer pattern (no RNG, the same everywhere)."""
    i, j, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((i * 73 + j * 151 + c * 29 + (i * j) % 97 + (i // 3) * (j // 5)) % 256).astype(np.uint8)


def check_checkout(path: Path) -> dict[str, str]:
    head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    if head != PIN:
        sys.exit(f"{path} is at {head or '?'}; these fixtures are pinned to {PIN} (git -C {path} checkout {PIN})")
    return {f: hashlib.sha256((path / f).read_bytes()).hexdigest() for f in USED}


def import_transform(path: Path):
    """The official image_transform, with torchvision.transforms imported from the wheel (see the docstring)."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None:
        sys.exit("torchvision is not installed in this venv: pip install --no-deps torchvision==0.28.0")
    pkg = types.ModuleType("torchvision")
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules["torchvision"] = pkg
    import torchvision.transforms  # noqa: F401  (the installed wheel's module)

    sys.path.insert(0, str(path))
    from training.utils import image_transform

    return image_transform


def case(transform, h: int, w: int, side: int) -> tuple[dict, np.ndarray]:
    from PIL import Image

    x = transform(Image.fromarray(pattern(h, w)), resolution=side).numpy()  # (3, side, side) float32 in [-1, 1]
    row = {
        "height": h,
        "width": w,
        "side": side,
        "sha256_float32": hashlib.sha256(x.astype(np.float32).tobytes()).hexdigest(),
        "mean": float(x.astype(np.float64).mean()),
    }
    return row, x


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--showo", type=Path, required=True, help="checkout of showlab/Show-o at PIN")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "official" / "showo" / "preprocess")
    args = ap.parse_args(argv)
    hashes = check_checkout(args.showo.resolve())
    transform = import_transform(args.showo.resolve())
    import PIL
    import torch
    from safetensors.numpy import save_file

    rows, tensors = [], {}
    for sizes, side in ((TINY_SIZES, 16), (PUBLISHED_SIZES, 256)):
        for h, w in sizes:
            row, x = case(transform, h, w, side)
            rows.append(row)
            if side == 16:  # whole tensors at the tiny size; a hash at the published one
                tensors[f"{h}x{w}"] = np.ascontiguousarray(x, dtype=np.float32)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(dict(sorted(tensors.items())), str(args.out / "pixels.safetensors"))
    (args.out / "cases.json").write_text(json.dumps(rows, indent=1) + "\n")
    manifest = {
        "repository": "showlab/Show-o",
        "commit": PIN,
        "files_sha256": hashes,
        "function": "training/utils.py image_transform(image, resolution, normalize=True)",
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "torchvision": importlib.metadata.version("torchvision"),
            "pillow": PIL.__version__,
            "numpy": np.__version__,
        },
        "generator": "tools/official/showo/make_preprocess_fixtures.py",
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {args.out}: {len(rows)} cases")


if __name__ == "__main__":
    main()
