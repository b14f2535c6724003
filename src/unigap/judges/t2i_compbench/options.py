"""Options of `--judge t2i-compbench`. Model defaults are the official evaluators' weights in their
transformers ports (BLIP-VQA capfilt-large, CLIP ViT-B/32, DPT-hybrid MiDaS) and OWLv2 in place
of UniDet (see docs/scorers.md)."""

from __future__ import annotations

from pydantic import Field

from unigap.config import Config

DEFAULT_THRESHOLDS = {"blip": 0.5, "clip": 0.3, "spatial": 0.5, "3d_spatial": 0.5, "numeracy": 1.0, "complex": 0.5}


class T2ICompBenchOptions(Config):
    blip: str = "Salesforce/blip-vqa-capfilt-large"
    clip: str = "openai/clip-vit-base-patch32"
    detector: str = "google/owlv2-base-patch16-ensemble"
    depth: str = "Intel/dpt-hybrid-midas"
    device: str | None = None
    dtype: str = "float32"
    batch_size: int = Field(8, ge=1)
    np_num: int = Field(8, ge=1)  # BLIP_vqa.py --np_num
    blip_image_size: int = 480  # configs/vqa.yaml image_size (position embeddings interpolated from 384)
    depth_image_size: int = 480  # model_bank 'depth' transform Resize([480, 480])
    detector_threshold: float = 0.1  # OWLv2's usual threshold (UniDet's was 0.5 on its own calibration)
    detector_nms: float = 0.5  # per-label NMS IoU (detectron2's default NMS_THRESH_TEST for UniDet)
    query_template: str = "a photo of a {}"
    objects_file: str | None = None  # examples/dataset/new_objects.txt (default: rules, the official parse on val)
    complex_spatial_file: str | None = None  # e.g. complex_val_spatial.txt (default: the official lists, hashed)
    complex_action_file: str | None = None  # e.g. complex_val_action.txt (either file replaces both defaults)
    thresholds: dict[str, float] = dict(DEFAULT_THRESHOLDS)  # verdict = score >= thresholds[metric]
