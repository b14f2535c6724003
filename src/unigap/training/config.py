"""`improve:` config: the shared loop's options, and the typed sections of the built-in objectives.

The loop's options (epochs, train_batch_size, lr, trainable, lora, precision, ...) mean the same for every
objective. `method` names an objective of the registry (training/objectives): sft and dpo (the
paper's offline recipe on curated data), grpo (online RL, `grpo:`), or a third party's (its typed
options under `options:`). `anchor:` keeps the self-judge from drifting, whatever the objective.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from unigap.config import Config, seed_field
from unigap.curation.guard import GuardConfig
from unigap.judges.base import JudgeConfig
from unigap.models.base import ModelConfig, SamplingConfig, SelfJudgeConfig
from unigap.training.curriculum import CurriculumConfig

EVAL_SPLITS = {"eval", "val", "test"}  # prompt splits training refuses (unless allow_eval_prompts)


class LoraSettings(Config):
    """`lora:` section (PEFT LoRA on the backend's language model)."""

    r: int = Field(16, ge=1)
    alpha: float = Field(32, gt=0)
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj"]
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class RewardConfig(Config):
    """One term of the GRPO reward: `weight` x the named reward (training/rewards.py).

    self         P(match) of the current model's own judge (the paper's signal, online)
    self-frozen  P(match) of the base model's judge (a fixed reward model)
    dual         the understanding branch's per-word likelihood of the prompt given the image (SUDER)
    any judge    an external judge or scorer (oracle, geneval, t2i-compbench, sciscore, http, ...):
                 its score where it gives one, else its verdict (0/1); `options` are the judge's
    """

    renamed_values = {"name": {"self_frozen": "self-frozen"}}

    name: str = "self"
    weight: float = 1.0
    options: dict[str, Any] = {}


class GrpoOptions(Config):
    """`grpo:` (method grpo). `train_batch_size` counts samples: train_batch_size / group_size prompts per
    micro-batch."""

    group_size: int = Field(8, ge=1)  # G candidates per prompt (T2I-R1: 8); 1 is refused (no group to normalise)
    rewards: list[RewardConfig] = [RewardConfig()]
    beta: float = Field(0.01, ge=0.0)  # KL penalty to the reference (base) model, k3 estimator (T2I-R1: 0.01)
    clip: float = Field(0.2, gt=0.0)  # PPO clip range of the importance ratio
    inner_steps: int = Field(1, ge=1)  # optimizer steps per sampled batch (1: ratio 1, clipping inactive, T2I-R1)
    scale_rewards: bool = True  # divide advantages by the group's std (T2I-R1); False = mean-centred only
    max_steps: int | None = Field(None, ge=1)  # stop after this many sampled batches (None: `epochs` passes)
    save_every: int = Field(10, ge=1)  # commit a checkpoint every k steps (and at every epoch end)

    @field_validator("rewards")
    @classmethod
    def _some_reward(cls, v: list[RewardConfig]) -> list[RewardConfig]:
        if not v:
            raise ValueError("grpo.rewards is empty: name at least one reward (e.g. [{name: self}])")
        return v


class JudgeKLAnchor(Config):
    """KL(base judge || current judge) of P(match) on the model's own train-split images (never eval prompts)."""

    weight: float = Field(0.0, ge=0.0)  # 0 = off
    size: int = Field(256, ge=1)  # reference images drawn from the curated data (the base model's own)
    batch: int = Field(16, ge=1)  # reference images per micro-batch


class ReplayAnchor(Config):
    """Replay of an understanding set (a registered name or a parquet file with image, question, answer).
    A registered set is built by its factory(this section, its typed `options`)."""

    set: str | None = None  # None = off; "shapeworld_plain" ships with unigap (train-split scenes)
    ratio: float = Field(0.25, gt=0.0)  # understanding rows per training row of a micro-batch
    weight: float = Field(1.0, ge=0.0)
    size: int = Field(360, ge=1)  # items of a registered set (shapeworld_plain: 40 per ShapeWorld subtask)
    seed: int | None = Field(None, ge=0)  # the registered set's draw; None = improve's seed
    options: dict[str, Any] = {}  # a registered set's own options (`unigap plugins` lists them)


class AnchorConfig(Config):
    """`anchor:` against judge drift, for every objective (both off by default)."""

    judge_kl: JudgeKLAnchor = JudgeKLAnchor()
    replay: ReplayAnchor = ReplayAnchor()

    @property
    def active(self) -> bool:
        return self.judge_kl.weight > 0 or (self.replay.set is not None and self.replay.weight > 0)


class ImproveConfig(Config):
    """configs/sft_tiny.yaml, configs/dpo_tiny.yaml, configs/grpo_tiny.yaml, configs/sft_janus_pro_7b.yaml."""

    renamed = {"batch_size": "train_batch_size"}

    method: str = "sft"  # an objective: sft, dpo, grpo, or a plugin's (`unigap plugins`)
    model: ModelConfig = ModelConfig()
    epochs: int = Field(20, ge=1)  # passes over the curated data (sft, dpo) or over the train prompts (grpo)
    train_batch_size: int = Field(16, ge=1)  # rows per micro-batch, summed over all processes (grpo: samples)
    grad_accum: int = Field(1, ge=1)  # micro-batches per optimizer step
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    beta: float = Field(0.1, gt=0)  # DPO
    nll_weight: float = Field(1.0, ge=0)  # DPO: weight of the NLL on chosen images (stabilises DPO, paper §3.2)
    # Weight of an understanding loss teaching the self-judge the curated verdicts (the paper's
    # question, "The score is 1." for accepted/chosen images, "0." for rejected ones). 0 = the
    # paper's recipe: only image tokens are trained, understanding moves through the shared trunk.
    und_weight: float = Field(0.0, ge=0.0)
    grpo: GrpoOptions = GrpoOptions()
    options: dict[str, Any] = {}  # a plugin objective's typed options
    anchor: AnchorConfig = AnchorConfig()
    # An external judge that watches training: GRPO logs its verdict on every step's samples beside the
    # reward, and at the end the self-judge's exploitation is measured against it. `unigap run` uses its first judge.
    monitor: JudgeConfig | None = None
    trainable: list[str] = ["llm"]
    lora: LoraSettings | None = None  # None = train the `trainable` components themselves
    merge_lora_on_save: bool = True  # model/ holds base + LoRA merged (loads with plain from_pretrained)
    mixed_precision: Literal["no", "bf16"] = "no"  # bf16 = autocast around the loss (weights stay in model.dtype)
    gradient_checkpointing: bool = False  # backends with enable_gradient_checkpointing() (janus)
    seed: int = seed_field()
    sampling: SamplingConfig | None = None  # curriculum regeneration and grpo sampling; None = the model's default
    self_judge: SelfJudgeConfig = SelfJudgeConfig()
    curriculum: CurriculumConfig = CurriculumConfig()
    guard: GuardConfig = GuardConfig()
    allow_eval_prompts: bool = False

    @model_validator(mode="after")
    def _curriculum_within_epochs(self) -> ImproveConfig:
        # grpo samples online and never replays (the loop logs that the curriculum is unused)
        if self.method != "grpo" and self.curriculum.mode == "fixed" and self.curriculum.epoch > self.epochs:
            raise ValueError(f"curriculum.epoch ({self.curriculum.epoch}) must be <= epochs ({self.epochs})")
        return self

    @model_validator(mode="after")
    def _grpo_groups(self) -> ImproveConfig:
        if self.method != "grpo":
            return self
        g = self.grpo.group_size
        if g < 2:
            raise ValueError(
                "grpo.group_size is 1: GRPO normalises each reward within its prompt's group of "
                "candidates, and one candidate has no group (use group_size >= 2; T2I-R1 uses 8)"
            )
        if self.train_batch_size % g:
            raise ValueError(
                f"train_batch_size ({self.train_batch_size}) must be a multiple of grpo.group_size ({g}): "
                "a micro-batch holds whole groups (train_batch_size / group_size prompts)"
            )
        return self
