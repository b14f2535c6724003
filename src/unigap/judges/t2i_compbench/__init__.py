"""`--judge t2i-compbench`: the T2I-CompBench(++) metrics (Karine-Huang/T2I-CompBench) as one judge.

colour/shape/texture: BLIP-VQA; non_spatial: CLIPScore; spatial/3d_spatial/numeracy: an
open-vocabulary detector (OWLv2) with the official geometric rules (+ DPT depth for 3D);
complex: the official 3-in-1 mix. Rules in `rules`, prompt parsing in `text` (both pure).
"""

METRIC_OF = {
    "color": "blip",
    "shape": "blip",
    "texture": "blip",
    "non_spatial": "clip",
    "spatial": "spatial",
    "3d_spatial": "3d_spatial",
    "numeracy": "numeracy",
    "complex": "complex",
}
