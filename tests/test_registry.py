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


def test_create_calls_the_factory_with_its_section_and_validated_options():
    from unigap.config import Config
    from unigap.errors import ConfigError
    from unigap.registry import factory

    class Options(Config):
        size: int = 1

    class Section(Config):
        name: str = "x"
        options: dict = {}

    reg: Registry = Registry("thing")
    reg.register("x", options=Options)(lambda cfg, options: (cfg.name, options.size))
    assert reg.create("x", Section(options={"size": 3}), "thing.options") == ("x", 3)
    with pytest.raises(ConfigError, match=r"thing.options.colour: unknown option\nvalid options of thing 'x': size"):
        reg.create("x", Section(options={"colour": 1}), "thing.options")

    @factory(options=Options, synthetic=print)
    def load(cfg, options):
        return options.size

    assert load.Options is Options and load.synthetic is print and load.unigap_factory
