import pytest

from unigap.errors import UnigapError
from unigap.registry import Registry


def test_register_get_and_unknown_lists_names():
    reg: Registry = Registry("thing")

    @reg.register("a")
    def a():
        return 1

    reg.register_lazy("json", "json:dumps")
    assert reg.get("a")() == 1
    assert reg.get("json")([1]) == "[1]"
    with pytest.raises(UnigapError, match="unknown thing 'b'; valid: a, json"):
        reg.get("b")
