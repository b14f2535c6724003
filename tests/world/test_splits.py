import pytest

from unigap import world
from unigap.errors import UnigapError


@pytest.mark.parametrize("subtask", list(world.SUBTASKS))
def test_split_sizes_disjoint_and_deterministic(subtask):
    s = world.splits(subtask, seed=0)
    ev, tr = [world.prompt_text(x) for x in s["eval"]], [world.prompt_text(x) for x in s["train"]]
    assert len(ev) == len(set(ev)) == 100 and len(tr) == len(set(tr)) == 350
    assert not set(ev) & set(tr)
    assert all(x["subtask"] == subtask for x in s["eval"] + s["train"])
    assert world.splits(subtask, seed=0) == s
    assert [world.prompt_text(x) for x in world.splits(subtask, seed=1)["eval"]] != ev


def test_cache_cannot_be_mutated():
    s = world.splits("spatial")
    s["eval"][0]["objects"][0]["shape"] = "mutated"
    s["eval"].clear()
    again = world.splits("spatial")
    assert len(again["eval"]) == 100 and again["eval"][0]["objects"][0]["shape"] != "mutated"


def test_eval_texts():
    texts = world.eval_texts(0)
    assert isinstance(texts, frozenset) and len(texts) == 9 * 100
    assert world.prompt_text(world.splits("biology")["eval"][3]) in texts
    assert world.prompt_text(world.splits("biology")["train"][3]) not in texts


def test_unknown_subtask():
    with pytest.raises(UnigapError, match="valid: single_object, two_object"):
        world.splits("weather")
