"""T2I-CompBench prompt parsing: the rule-based fallback (no spaCy) on small files written in the
benchmark's format and on the shipped prompt files when ../shared/benchmarks is present."""

from __future__ import annotations

from pathlib import Path

import pytest

from unigap.judges.t2i_compbench import text

RULES = False  # nlp=False forces the rule-based extractor even where spaCy is installed
SHARED = Path(__file__).resolve().parents[3] / "shared/benchmarks/t2i-compbench"


def write(tmp_path, name, lines):
    p = tmp_path / name
    p.write_text("\r\n".join(lines))  # CRLF and no final newline, as the real files
    return p


def read(p):
    return [line.strip() for line in p.read_text().splitlines() if line.strip()]


def test_noun_phrases_on_a_small_file(tmp_path):
    f = write(tmp_path, "color_val.txt", ["a green bench and a blue bowl", "a red orange and a brown sheep",
                                          "The black phone was resting on the brown charger.",
                                          "a triangular slice of cheese and a rectangular cheese board",
                                          "a girl on the top of a frog", "an oval mirror and a rectangular painting"])
    got = [text.noun_phrases(p, RULES) for p in read(f)]
    assert got == [["a green bench", "a blue bowl"], ["a red orange", "a brown sheep"],
                   ["The black phone", "the brown charger"],
                   ["a triangular slice", "cheese", "a rectangular cheese board"],
                   ["a girl", "a frog"],  # the fallback reads top/side/left/right as part of a relation
                   ["an oval mirror", "a rectangular painting"]]


def test_without_adjectives_and_pairs():
    assert text.without_adjectives("The red hat was on top of the brown coat rack.", RULES) == \
        "The hat was on top of the coat rack ."
    assert text.simple_pair("a girl on the top of a frog", RULES) == ("person", "frog")
    assert text.simple_pair("a traffic light next to a dog", RULES) == ("traffic", "dog")  # first NOUN token
    assert text.complex_pair("The red hat was on top of the brown coat rack.", RULES) == ("hat", "coat")
    assert text.complex_pair("The black phone was resting on the brown charger.", RULES) == (None, None)
    assert text.locality("a mouse on side of a key", text.SPATIAL_2D) == "on side of"
    assert text.locality("a cat on top of a dog", text.SPATIAL_2D) == "on top of"
    assert text.locality("a dog in front of a desk", text.SPATIAL_3D) == "in front of"


def test_counts_with_and_without_the_objects_file(tmp_path):
    objects = text.read_objects_file(write(tmp_path, "new_objects.txt", ["dog - dogs", "teddy bear - teddy bears",
                                                                          "knife - knives"]))
    assert text.count_requests("two dogs and three teddy bears", objects, RULES) == [("dog", 2), ("teddy bear", 3)]
    assert text.count_requests("one knife", objects, RULES) == [("knife", 1)]
    # fallback: singular by rules; "a" counts only as a list item ("and a"), not in "for a picnic"
    assert text.count_requests("six people gathered for a picnic", None, RULES) == [("person", 6)]
    assert text.count_requests("four cameras and a horse", None, RULES) == [("camera", 4), ("horse", 1)]
    assert text.count_requests("three butterflies, two boxes", None, RULES) == [("butterfly", 3), ("box", 2)]
    with pytest.raises(Exception, match="singular - plural"):
        text.read_objects_file(write(tmp_path, "bad.txt", ["dog dogs"]))


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/benchmarks not present")
def test_fallback_on_the_shipped_files():
    for cat in ("color", "shape", "texture"):
        prompts = read(SHARED / f"{cat}_val.txt")
        assert len(prompts) == 300
        phrases = [text.noun_phrases(p, RULES) for p in prompts]
        assert all(phrases), cat  # every prompt gets at least one question
        simple = [(p, ph) for p, ph in zip(prompts, phrases) if p.count(" and ") == 1 and len(p.split()) <= 7
                  and not p.endswith(".")]
        ok = sum(ph == [h.strip() for h in p.split(" and ")] for p, ph in simple)
        assert ok / len(simple) >= 0.95, (cat, ok, len(simple))  # "X and Y": exactly the two halves
    spatial = read(SHARED / "spatial_val.txt")
    assert all(text.locality(p, text.SPATIAL_2D) for p in spatial)
    assert all(None not in text.simple_pair(p, RULES) for p in spatial)
    assert all(text.locality(p, text.SPATIAL_3D) for p in read(SHARED / "3d_spatial_val.txt"))
    numeracy = read(SHARED / "numeracy_val.txt")
    assert all(text.count_requests(p, None, RULES) for p in numeracy)
    complex_pairs = [text.complex_pair(p, RULES) for p in read(SHARED / "complex_val.txt")]
    assert sum(p != (None, None) for p in complex_pairs) >= 60  # prompts with one of the official prepositions
