"""Every YAML under configs/ validates against its config class (chosen by file-name prefix), and
the accelerate launch configs load with accelerate's own loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from unigap.config import load_config, read_yaml

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
ACCELERATE = CONFIGS / "accelerate"


def config_class(path: Path):
    from unigap.audit.runner import AuditConfig
    from unigap.pipeline.run import RunConfig
    from unigap.training.improve import ImproveConfig
    from unigap.training.pretrain import PretrainConfig

    prefixes = {
        "audit_": AuditConfig,
        "sft_": ImproveConfig,
        "dpo_": ImproveConfig,
        "grpo_": ImproveConfig,
        "pretrain_": PretrainConfig,
        "run_": RunConfig,
    }
    for prefix, cls in prefixes.items():
        if path.name.startswith(prefix):
            return cls
    pytest.fail(
        f"{path.relative_to(CONFIGS)}: no config class for this file name; name it "
        f"{'/'.join(p + '*.yaml' for p in prefixes)} (or extend tests/test_configs.py)"
    )


def unigap_yamls() -> list[Path]:
    files = sorted(p for p in CONFIGS.rglob("*") if p.suffix in (".yaml", ".yml"))
    return [p for p in files if ACCELERATE not in p.parents]


def header(path: Path) -> str:
    lines = path.read_text().splitlines()
    return "\n".join(line for line in lines[: next((i for i, line in enumerate(lines) if not line.startswith("#")), 0)])


@pytest.mark.parametrize("path", unigap_yamls(), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_config_validates_against_its_class(path):
    cfg = load_config(config_class(path), path)
    assert header(path), f"{path.name}: start with a comment saying what it is for and how to run it"
    assert "unigap " in header(path), f"{path.name}: the header comment should give the command"
    assert cfg.model_dump()  # round-trips


def test_the_yaml_list_is_not_empty_and_names_are_known():
    names = {p.name for p in unigap_yamls()}
    assert {"audit_janus_pro_7b.yaml", "sft_janus_pro_7b.yaml", "audit_tiny.yaml"} <= names


def test_janus_pro_7b_configs_say_what_the_paper_did():
    from unigap.audit.runner import AuditConfig
    from unigap.training.improve import ImproveConfig

    audit = load_config(AuditConfig, CONFIGS / "audit_janus_pro_7b.yaml")
    assert (audit.model.name, audit.model.dtype, audit.model.device) == ("janus", "bf16", "cuda")
    assert (audit.prompts.suite, audit.prompts.split, audit.n) == ("t2i-compbench", "train", 10)
    assert (audit.sampling.cfg_scale, audit.sampling.temperature, audit.sampling.top_k) == (5.0, 1.0, 0)
    assert audit.self_judge.mode == "parse" and audit.prompts.options["path"]
    sft = load_config(ImproveConfig, CONFIGS / "sft_janus_pro_7b.yaml")
    assert sft.trainable == ["llm"] and sft.mixed_precision == "bf16" and sft.gradient_checkpointing
    assert sft.grad_accum > 1 and sft.epochs == 20 and sft.curriculum.epoch == 10
    lora = load_config(ImproveConfig, CONFIGS / "sft_janus_pro_7b.yaml", ["model.dtype=bf16", "lora.r=16"])
    assert lora.lora.r == 16  # the one-GPU variant named in its header


@pytest.mark.parametrize("name", ["ddp.yaml", "fsdp.yaml"])
def test_accelerate_configs_load_with_accelerate(name):
    from accelerate.commands.config.config_args import load_config_from_file

    path = ACCELERATE / name
    cfg = load_config_from_file(str(path))
    assert header(path) and "accelerate launch --config_file configs/accelerate/" in header(path)
    assert str(cfg.distributed_type).endswith("MULTI_GPU" if name == "ddp.yaml" else "FSDP")
    if name == "fsdp.yaml":
        assert cfg.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == "LlamaDecoderLayer"
        assert cfg.fsdp_config["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"


def test_fsdp_wraps_the_class_janus_decoder_layers_really_have():
    pytest.importorskip("transformers")
    from unigap.models.janus.synthetic import build_synthetic

    layer_cls = read_yaml(ACCELERATE / "fsdp.yaml")["fsdp_config"]["fsdp_transformer_layer_cls_to_wrap"]
    model = build_synthetic("tiny").model
    layers = model.model.language_model.layers
    assert {type(m).__name__ for m in layers} == {layer_cls}
