"""The official T2I-CompBench fixtures (tests/fixtures/official/t2i_compbench, written by
tools/official/t2i_compbench/make_fixtures.py) and unigap's side of each comparison: the same synthetic model
outputs (`_t2i_synthetic`) fed through unigap's parsers and rules, line by line of the real val files."""

from __future__ import annotations

import hashlib
import json
from functools import cache, lru_cache
from pathlib import Path

import pytest

from tests.judges import _t2i_synthetic as syn
from unigap.judges.t2i_compbench import rules, text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/official/t2i_compbench"
SHARED = Path(__file__).resolve().parents[3] / "shared/benchmarks/t2i-compbench"


@cache
def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def prompts(category: str) -> list[str]:
    """The val file the fixtures were made from (skip without ../shared; fail if it is another file)."""
    f = SHARED / f"{category}_val.txt"
    if not f.is_file():
        pytest.skip("../shared/benchmarks/t2i-compbench not present")
    data = f.read_bytes()
    want = fixture("manifest")["prompt_files_sha256"][category]
    assert hashlib.sha256(data).hexdigest() == want, f"{f} is not the file the fixtures were made from"
    return data.decode().splitlines()


def short(value: object) -> str:
    return hashlib.sha1(json.dumps(value).encode()).hexdigest()[:10]


def spacy_or_skip():
    """spaCy with the fixture's en_core_web_sm version, else skip (noun chunks and tags depend on it)."""
    nlp = _parser()
    want = fixture("manifest")["spacy_model"].split()[-1]
    if not nlp:
        pytest.skip("spaCy's en_core_web_sm is not installed (pip install 'unigap[nlp]')")
    if nlp.meta["version"] != want:
        pytest.skip(f"en_core_web_sm {nlp.meta['version']} installed; the fixtures were parsed with {want}")
    return nlp


@lru_cache(maxsize=1)
def _parser():
    nlp = text.spacy_nlp()
    return Parsed(nlp) if nlp else None


class Parsed:
    """The spaCy pipeline with each val file parsed once, in batches, NER off (tags and noun chunks do not
    read it; the comparisons with the fixtures, parsed with NER on, check that)."""

    def __init__(self, nlp) -> None:
        self.nlp, self.meta, self.docs = nlp, nlp.meta, {}
        with nlp.select_pipes(disable=[p for p in nlp.pipe_names if p == "ner"]):
            texts = [t for f in sorted(SHARED.glob("*_val.txt")) for t in f.read_text().splitlines()]
            self.docs = dict(zip(texts, nlp.pipe(texts, batch_size=64)))

    def __call__(self, t: str):
        if t not in self.docs:
            self.docs[t] = self.nlp(t)
        return self.docs[t]


def differing(ours: list, official: list, tol: float = 0.0) -> list[int]:
    assert len(ours) == len(official)
    return [i for i, (a, b) in enumerate(zip(ours, official)) if a is None or abs(a - b) > tol]


# ---- unigap's side, from the synthetic model outputs ------------------------------------------------


def detections(category: str, line: int, prompt: str) -> list[dict]:
    return [{"label": lab, "box": box, "score": s} for lab, box, s in syn.detections(category, line, prompt)]


def blip(category: str, line: int, prompt: str, nlp) -> float:
    probs = [syn.yes_prob(category, line, q) for _, q in text.blip_questions(prompt, 8, nlp)]
    return rules.blip_vqa_score(probs or [None])


def spatial(category: str, line: int, prompt: str, nlp) -> float:
    three_d = category == "3d_spatial"
    loc = text.locality(prompt, text.SPATIAL_3D if three_d else text.SPATIAL_2D)
    pair = text.complex_pair(prompt, nlp) if category == "complex" else text.simple_pair(prompt, nlp)
    depth = syn.depth(category, line).astype("float32") / 255 if three_d else None
    return rules.spatial_from_detections(detections(category, line, prompt), *pair, loc, three_d, depth)


def numeracy(line: int, prompt: str, nlp=False) -> float:
    requests = [(text.NUMERACY_ALIASES.get(o, o), n) for o, n in text.count_requests(prompt, None, nlp)]
    return rules.numeracy_from_detections(requests, detections("numeracy", line, prompt))


def clip(category: str, line: int, prompt: str, nlp) -> float:
    t = text.without_adjectives(prompt, nlp) if category == "complex" else prompt
    return rules.clip_score(syn.image_feature(category, line), syn.text_feature(t))
