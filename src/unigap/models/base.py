"""The contract every unified-model backend fulfils: `UnifiedModel` (subclass it) and `OptionalHooks`.

Shapes: B = batch rows, M = image tokens per image (tiny: 12, Janus-Pro: 576), H x W images.
Images cross this boundary as uint8 tensors (B, H, W, 3); tokens as int64 (B, M).
Models return tensors; they never write files (the store does).

Each member is declared once, here, with what needs it (`contract()`): "required"; "if trainable" /
"if understands" (needed when the capability flag of that name is True); "default" (the base class
implements it; override when the backend knows better); "optional" (an `OptionalHooks` method: a
backend has it or not, `supports(model, hook)` says which, and what needs it says so when it is
missing). docs/backends.md's members table is tested against `contract()`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import torch
from pydantic import BaseModel, Field
from torch import nn

from unigap.config import Config
from unigap.errors import UnigapError
from unigap.records import Judgment
from unigap.registry import Registry
from unigap.verdict import ANSWER_PREFIX, judgment_from_answer, question

JudgeMode = Literal["parse", "prob"]
Need = Literal["required", "if trainable", "if understands", "default", "optional"]
F = TypeVar("F", bound=Callable[..., Any])


class SamplingConfig(Config):
    """Candidate sampling. Defaults follow Janus (cfg 5, temperature 1, no top-k)."""

    cfg_scale: float = Field(5.0, ge=0.0)
    temperature: float = Field(1.0, gt=0.0)
    top_k: int = Field(0, ge=0)  # 0 = sample from the full codebook


class SelfJudgeConfig(Config):
    """How the model judges an image against a prompt with the paper's question.

    parse: greedy text answer, verdict from "The score is 0/1" (else leading Yes/No, else unparsed).
    prob:  one forward pass after the answer prefix "The score is"; P("1") vs P("0") > threshold.
    """

    mode: JudgeMode = "parse"
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    max_new_tokens: int = Field(16, ge=1)


@dataclass
class Generation:
    tokens: torch.Tensor  # (B, M) int64 image-token ids
    images: torch.Tensor  # (B, H, W, 3) uint8
    errors: list[str | None] = field(default_factory=list)  # per row None or why it failed ([]: none failed)


def need(level: Need) -> Callable[[F], F]:
    """Mark a `UnifiedModel` method with what needs it (read by `contract()`)."""

    def deco(fn: F) -> F:
        fn.unigap_need = level  # type: ignore[attr-defined]
        return fn

    return deco


class UnifiedModel:
    """A model that both generates images from text and judges images against text: subclass it.

    Instantiating a subclass that lacks a member its flags need is a TypeError naming the members.
    """

    name: str  # backend name, recorded in runs
    num_image_tokens: int  # M; 0 for a backend without image tokens (served)
    trainable: bool = True  # local weights `improve` trains: image_logprobs, module, components, save
    understands: bool = True  # `answer` is an understanding path (self-judgment, lmms-eval benchmarks)
    default_sampling: SamplingConfig | None = None  # recommended sampling (None: SamplingConfig())

    def __new__(cls, *args: Any, **kwargs: Any) -> UnifiedModel:
        lacking = missing(cls)
        if lacking:
            raise TypeError(f"{cls.__name__} cannot be instantiated: {why_missing(cls, lacking)}")
        return super().__new__(cls)

    # --- generation -------------------------------------------------------------------
    @need("required")
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], sampling: SamplingConfig) -> Generation:
        """One candidate per row: row i samples from prompt i with a generator seeded by seeds[i].

        The result of a row depends only on (prompt, seed, sampling), never on the batch.
        """
        raise NotImplementedError

    @need("required")
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Image tokens (B, M) -> uint8 images (B, H, W, 3)."""
        raise NotImplementedError

    @need("required")
    def fingerprint(self) -> dict[str, Any]:
        """What makes stored tokens compatible: backend name, codec/tokenizer hash, M."""
        raise NotImplementedError

    # --- understanding ----------------------------------------------------------------
    @need("if understands")
    def answer(self, images: torch.Tensor, questions: Sequence[str], max_new_tokens: int = 16) -> list[str]:
        """Greedy free-text answers to questions about images (B, H, W, 3)."""
        raise UnigapError(f"the {self.name!r} backend has no understanding path (understands = False)")

    @need("default")
    def judge(self, images: torch.Tensor, prompts: Sequence[str], cfg: SelfJudgeConfig) -> list[Judgment]:
        """Self-judgment of images (B, H, W, 3) uint8 against prompts with the paper's question, raw answer
        kept. parse: `answer`'s text parsed; prob: `score_probs` > cfg.threshold, raw = `prob_answer`."""
        questions = [question(p) for p in prompts]
        if cfg.mode == "parse":
            return [judgment_from_answer(a) for a in self.answer(images, questions, cfg.max_new_tokens)]
        if not supports(self, "score_probs"):
            raise UnigapError(
                f"self_judge.mode: prob needs score_probs, which the {self.name!r} backend lacks; "
                "use self_judge.mode: parse"
            )
        probs = self.score_probs(images, questions)  # type: ignore[attr-defined]
        return [Judgment(int(p > cfg.threshold), float(p), self.prob_answer(int(p > cfg.threshold))) for p in probs]

    @need("default")
    def prob_answer(self, verdict: int) -> str:
        """The raw answer stored with a prob-mode verdict (0/1)."""
        return f"{ANSWER_PREFIX} {verdict}."

    @need("default")
    def prompt_problems(self, prompts: Sequence[str], judge: SelfJudgeConfig | None = None) -> list[tuple[int, str]]:
        """(index, reason) of each prompt the model cannot generate for or self-judge, checked before a run
        writes anything (the tiny model: prompt length, context). Called on the class's function with an
        instance whose weights it must not touch. Default: none."""
        return []

    # --- training ---------------------------------------------------------------------
    @need("if trainable")
    def image_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced log p(tokens | prompt), conditional (no CFG): (B, M) int64 -> (B,) float.

        Differentiable: training (SFT/DPO) backpropagates through it.
        """
        raise UnigapError(f"the {self.name!r} backend is not trainable (trainable = False)")

    @need("if trainable")
    def module(self) -> nn.Module:
        """The torch module holding all weights (what the trainer optimises)."""
        raise UnigapError(f"the {self.name!r} backend is not trainable (trainable = False)")

    @need("if trainable")
    def components(self) -> dict[str, list[nn.Parameter]]:
        """Named parameter groups for `trainable:` ("llm" = shared trunk, "gen_head", ...)."""
        raise UnigapError(f"the {self.name!r} backend is not trainable (trainable = False)")

    @need("if trainable")
    def save(self, path: Path, merge_lora: bool = True, state_dict: dict[str, torch.Tensor] | None = None) -> None:
        """Write a directory the backend's loader opens as model.path. merge_lora: LoRA merged into the base
        weights (else saved as an adapter); state_dict: weights to write instead of the live module's (the
        trainer's full state dict gathered from FSDP shards)."""
        raise UnigapError(f"the {self.name!r} backend is not trainable (trainable = False)")

    @need("default")
    def weights_sha256(self) -> str | None:
        """The checkpoint's weights hash, recorded in provenance. Default: None (not known)."""
        return None


class OptionalHooks(Protocol):
    """Methods a backend may add; `supports(model, "hook")` says whether it has one, and what needs one
    (prob-mode judging, `improve` options, GRPO, lmms-eval) gives a clear error or falls back without."""

    def score_probs(self, images: torch.Tensor, questions: Sequence[str]) -> list[float]:
        """Prob mode: P("1") / (P("1") + P("0")) after the answer prefix, one per row."""
        ...

    def answer_logprobs(self, images: torch.Tensor, questions: Sequence[str], answers: Sequence[str]) -> torch.Tensor:
        """Teacher-forced log p(answer | image, question): (B,) float, differentiable (und_weight, lmms-eval)."""
        ...

    def image_token_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        """Per-token teacher-forced log p(token_i | prompt, tokens_<i), conditional (no CFG): (B, M),
        differentiable. GRPO's per-token ratio and KL use it; without it GRPO works on image_logprobs / M."""
        ...

    def image_loss(
        self, prompts: Sequence[str], tokens: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The backend's own SFT objective on image tokens (B, M) -> scalar, when it is not -log p (Show-o:
        masked-token cross-entropy with mask ratios from its schedule). Without it SFT uses image_logprobs."""
        ...

    def apply_lora(
        self, r: int = 16, alpha: float = 32, target_modules: Sequence[str] | None = None, dropout: float = 0.0
    ) -> list[nn.Parameter]:
        """Wrap the language model with PEFT LoRA; returns the adapter parameters (the only trainable ones)."""
        ...

    def enable_gradient_checkpointing(self) -> None:
        """Recompute activations in backward (`improve.gradient_checkpointing`); without it training runs without."""
        ...


@dataclass(frozen=True)
class Member:
    """One member of the contract: `signature` as docs/backends.md writes it."""

    name: str
    need: Need
    signature: str


def _signature(fn: Callable[..., Any]) -> str:
    sig = inspect.signature(fn)
    params = [
        p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
        for p in list(sig.parameters.values())[1:]
    ]
    return f"{fn.__name__}({', '.join(params)}) -> {sig.return_annotation}"


def _attributes() -> list[Member]:
    out = []
    for name, annotation in UnifiedModel.__annotations__.items():
        has_default = name in vars(UnifiedModel)
        default = f" = {vars(UnifiedModel)[name]!r}" if has_default else ""
        out.append(Member(name, "default" if has_default else "required", f"{name}: {annotation}{default}"))
    return out


def contract() -> list[Member]:
    """Every member of the backend contract, in declaration order: attributes and flags, then
    `UnifiedModel`'s methods, then the `OptionalHooks`."""
    methods = [
        Member(n, f.unigap_need, _signature(f)) for n, f in vars(UnifiedModel).items() if hasattr(f, "unigap_need")
    ]
    hooks = [
        Member(n, "optional", _signature(f))
        for n, f in vars(OptionalHooks).items()
        if callable(f) and not n.startswith("_")
    ]
    return _attributes() + methods + hooks


HOOKS = (
    "score_probs",
    "answer_logprobs",
    "image_token_logprobs",
    "image_loss",
    "apply_lora",
    "enable_gradient_checkpointing",
)  # the methods of OptionalHooks (tests/models/test_contract.py checks)


def generation_fields() -> list[Member]:
    """The fields of `Generation`, what `generate` returns (a backend may return a subclass)."""
    return [
        Member(
            f.name,
            "required" if f.default is MISSING and f.default_factory is MISSING else "default",
            f"{f.name}: {f.type}",
        )
        for f in fields(Generation)
    ]


def _implements(backend: object, name: str) -> bool:
    cls = backend if isinstance(backend, type) else type(backend)
    fn = getattr(cls, name, None)
    if fn is None and not isinstance(backend, type):
        fn = getattr(backend, name, None)  # set on the instance (a backend that does not subclass)
    return callable(fn) and fn is not getattr(UnifiedModel, name, None)


def missing(backend: object, needs: set[str] | None = None) -> list[str]:
    """The members `backend` (a class or an instance) lacks of those `needs` ask for (default: the required
    ones and those its flags need); attributes are checked on instances only."""
    flags = [f"if {flag}" for flag in ("trainable", "understands") if getattr(backend, flag, True)]
    needed = needs if needs is not None else {"required", *flags}
    out = []
    for m in contract():
        if m.need not in needed:
            continue
        if m.name in UnifiedModel.__annotations__:
            if not isinstance(backend, type) and not hasattr(backend, m.name):
                out.append(m.name)
        elif not _implements(backend, m.name):
            out.append(f"{m.name}()")
    return out


def why_missing(backend: object, lacking: list[str]) -> str:
    """What the backend contract needs that `backend` lacks, and which flag asks for it."""
    needs = {m.name: m.need for m in contract()}
    parts = []
    for level, reason in (
        ("required", ""),
        ("if understands", " (understands = True)"),
        ("if trainable", " (trainable = True; declare trainable = False for a backend that cannot be trained)"),
    ):
        names = [n for n in lacking if needs[n.removesuffix("()")] == level]
        if names:
            parts.append(", ".join(names) + reason)
    return "the backend contract needs " + "; ".join(parts) + " (docs/backends.md)"


def supports(model: object, hook: str) -> bool:
    """Whether `model` has the optional hook `hook` (a method of `OptionalHooks`, or one with a default)."""
    valid = [m.name for m in contract() if m.need in ("optional", "default") and "(" in m.signature]
    if hook not in valid:
        raise ValueError(f"{hook!r} is not an optional backend hook; hooks: {', '.join(valid)}")
    return callable(getattr(model, hook, None))


MODELS: Registry = Registry("model", group="unigap.models", legacy=lambda load, cfg, options: load(cfg, options))
MODELS.register_lazy(
    "tiny", "unigap.models.tiny.backend:load_tiny", synthetic="unigap.models.tiny.checkpoint:write_synthetic"
)
MODELS.register_lazy(
    "janus", "unigap.models.janus.backend:load_janus", synthetic="unigap.models.janus.synthetic:write_synthetic"
)
MODELS.register_lazy(
    "emu3",
    "unigap.models.emu3.backend:load_emu3",
    options="unigap.models.emu3.options:Emu3Options",
    synthetic="unigap.models.emu3.synthetic:write_synthetic",
)
MODELS.register_lazy(
    "served", "unigap.models.served.backend:load_served", options="unigap.models.served.options:ServedOptions"
)
MODELS.register_lazy(
    "showo",
    "unigap.models.showo.backend:load_showo",
    options="unigap.models.showo.options:ShowoOptions",
    synthetic="unigap.models.showo.synthetic:write_synthetic",
)


class ModelConfig(Config):
    """`model:` section of run configs. `options` are the backend's own (see `unigap plugins`)."""

    name: str = "tiny"
    path: str | None = None  # checkpoint dir / hub id; None = the backend's default (tiny: the shipped checkpoint)
    device: str = "cpu"
    # auto = bf16 on GPU, fp32 on CPU
    dtype: Literal["auto", "float32", "fp32", "bfloat16", "bf16", "float16", "fp16"] = "auto"
    batch_size: int = Field(64, ge=1)
    # janus decode loop (GPU only); "none" falls back to $UNIGAP_JANUS_COMPILE when that is set
    compile: Literal["none", "cuda_graphs", "torch_compile"] = "none"
    options: dict[str, Any] = {}


def model_options(cfg: ModelConfig, where: str = "model") -> BaseModel:
    """The backend's typed options, validated (errors name `where`.options.KEY and the valid keys)."""
    return MODELS.validate_options(cfg.name, cfg.options, f"{where}.options")


def check_device(device: str, where: str = "model.device") -> None:
    """The device must exist on this machine, for every backend (a backend that ignored it ran on the CPU
    and stored `device: cuda`; another raised late). ConfigError naming `where` otherwise."""
    from unigap.errors import ConfigError

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ConfigError(f"{where}: {device!r} is not a torch device ({err}); use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(
                f"{where}: {device!r}, but torch sees no GPU here (torch {torch.__version__}, "
                "torch.cuda.is_available() is False); use model.device=cpu"
            )
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"{where}: {device!r}, but this machine has {count} GPU(s) (cuda:0..cuda:{count - 1})")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{where}: 'mps', but torch has no MPS device here; use model.device=cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"{where}: unsupported device {device!r}; use cpu, cuda or cuda:N")


def load_model(cfg: ModelConfig, where: str = "model") -> UnifiedModel:
    """The backend `cfg.name` built by its registry factory from cfg and its validated options."""
    check_device(cfg.device, f"{where}.device")
    model = MODELS.create(cfg.name, cfg, f"{where}.options")
    lacking = missing(model, {"required"})  # a backend that subclasses UnifiedModel was checked for the rest
    if lacking:
        raise UnigapError(
            f"{where}.name: the {cfg.name!r} backend (from {MODELS.entry(cfg.name).source}) is "
            f"incomplete: {why_missing(model, lacking)}"
        )
    return model


def default_sampling(model: UnifiedModel) -> SamplingConfig:
    """The backend's recommended sampling (the tiny card records its own), else Janus defaults."""
    return getattr(model, "default_sampling", None) or SamplingConfig()
