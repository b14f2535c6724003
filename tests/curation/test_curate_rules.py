from unigap.curation.curate import CurateConfig, Scored, curate
from unigap.records import Prompt


def P(i, sub="a"):
    return Prompt(id=f"p{i}", text=f"prompt {i}", subtask=sub, split="train", suite="t")


def S(cid, pid, idx, v, prob=None):
    return Scored(cid, pid, idx, v, prob)


PROMPTS = [P(1), P(2), P(3), P(4)]
SCORED = [
    S(1, "p1", 0, 0),
    S(2, "p1", 1, 1),
    S(3, "p1", 2, 1),  # mixed
    S(4, "p2", 0, 1),
    S(5, "p2", 1, 1),  # all accepted
    S(6, "p3", 0, 0),
    S(7, "p3", 1, None),  # nothing accepted (unparsed is not an accept)
    S(8, "p4", 0, None),  # no verdict at all: discarded too
]


def test_all_accepted():
    c = curate(PROMPTS, SCORED, CurateConfig(rule="all_accepted"))
    assert [s.candidate_id for s in c.sft] == [2, 3, 4, 5]
    assert c.discard == ["p3", "p4"]


def test_one_per_prompt_takes_lowest_index():
    c = curate(PROMPTS, SCORED, CurateConfig(rule="one_per_prompt"))
    assert [s.candidate_id for s in c.sft] == [2, 4]


def test_mixed_only_needs_an_accept_and_a_reject():
    c = curate(PROMPTS, SCORED, CurateConfig(rule="mixed_only"))
    assert [s.candidate_id for s in c.sft] == [2]
    assert c.counts["a"] == {"prompts": 4, "candidates": 8, "accepted": 4, "sft": 1, "pairs": 1, "discard": 2}


def test_pairs_default_one_and_prob_mode_picks_extremes():
    c = curate(PROMPTS, SCORED, CurateConfig())
    assert [(a.candidate_id, b.candidate_id) for a, b in c.pairs] == [(2, 1)]
    scored = [S(1, "p1", 0, 1, 0.6), S(2, "p1", 1, 1, 0.95), S(3, "p1", 2, 0, 0.4), S(4, "p1", 3, 0, 0.05)]
    c = curate([P(1)], scored, CurateConfig(pairs_per_prompt=2))
    assert [(a.candidate_id, b.candidate_id) for a, b in c.pairs] == [(2, 4), (1, 3)]
    assert [s.candidate_id for s in curate([P(1)], scored, CurateConfig(rule="one_per_prompt")).sft] == [2]
