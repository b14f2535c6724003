"""The ShapeWorld pretraining data recipe of the tiny model (what `unigap pretrain` trains on).

Each batch mixes generation examples (prompt -> image tokens of a matching render) and
understanding examples (render + the paper's question -> "The score is 1." for a matching render,
"The score is 0." for a counterfactual or another realistic failure), plus plain questions
(count, colour, texture, size, ground, existence) that ground words in pixels. With `self_play`, a
share of the paper-question examples show the model's own images (a pool redrawn by the current
model, `self_play_pool`) with the oracle's verdict. Eval prompts never appear: every sampled spec
whose text is an eval prompt is redrawn. The data of step s is drawn from a generator seeded by
(seed, s), so a resumed run sees exactly the batches an uninterrupted one would.
The training loop that consumes it is unigap.training.pretrain; the recipe reads its config through
`RecipeConfig` and never imports training (docs/layout.md).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from unigap import world
from unigap.errors import UnigapError
from unigap.models.base import SamplingConfig
from unigap.models.tiny.checkpoint import TinyCheckpoint
from unigap.models.tiny.codec import SlotCodec
from unigap.models.tiny.format import TinyFormat
from unigap.models.tiny.tokenizer import WordTokenizer
from unigap.verdict import question


class SelfPlaySettings(Protocol):
    frac: float  # share of paper-question examples from the pool
    pool: int  # images per refresh
    balance: bool  # draw by subtask, then by verdict


class RecipeConfig(Protocol):
    """What the recipe reads of `unigap pretrain`'s config (PretrainConfig; the meaning of each field is there)."""

    seed: int
    world_seed: int
    train_batch_size: int
    gen_frac: float
    cfg_dropout: float
    plain_frac: float
    explain_frac: float
    negative_counterfactual: float
    und_positive_frac: float
    gen_subtask_weights: dict[str, float]
    und_subtask_weights: dict[str, float]
    self_play: SelfPlaySettings
    sampling: SamplingConfig


def sample_train_spec(subtask: str, rng: np.random.Generator, excluded: frozenset[str]) -> dict:
    for _ in range(1000):
        spec = world.sample_spec(subtask, rng)
        if world.prompt_text(spec) not in excluded:
            return spec
    raise UnigapError(f"could not sample a non-eval prompt for {subtask}")


def pick(weights: dict[str, float], rng: np.random.Generator) -> str:
    names = list(world.SUBTASKS)
    w = np.array([weights.get(n, 1.0) for n in names], dtype=float)
    return names[rng.choice(len(names), p=w / w.sum())]


PLAIN = ("count", "color", "texture", "size", "ground", "exists")


def plain_question(scene: Any, rng: np.random.Generator) -> tuple[str, str]:
    """A plain question about a scene with its one-word answer (grounds words in pixels)."""
    objs = scene.objects
    kind = PLAIN[rng.integers(len(PLAIN))]
    if kind == "count" or not objs:
        return "How many objects are there?", ["zero", "one", "two", "three"][min(len(objs), 3)]
    obj = objs[rng.integers(len(objs))]
    name = f"{obj.color} {obj.shape}"
    if kind == "color":
        return f"What color is the {obj.size} {obj.shape}?", obj.color
    if kind == "texture":
        return f"What texture is the {name}?", obj.texture
    if kind == "size":
        return f"What size is the {name}?", obj.size
    if kind == "exists":
        return exists_question(objs, obj, rng)
    return f"Is the {name} on the ground?", "Yes" if obj.y + obj.side == 28 else "No"


def exists_question(objs: list, obj: Any, rng: np.random.Generator) -> tuple[str, str]:
    """ "Is there a <size> <texture> <colour> <shape>?" about a present object or a one-attribute change."""
    attrs = {"size": obj.size, "texture": obj.texture, "color": obj.color, "shape": obj.shape}
    if rng.random() < 0.5:
        key = list(attrs)[rng.integers(4)]
        choices = {"size": world.SIZES, "texture": world.TEXTURES, "color": world.COLORS, "shape": world.SHAPES}[key]
        attrs[key] = [c for c in choices if c != attrs[key]][rng.integers(len(choices) - 1)]
    present = any((o.size, o.texture, o.color, o.shape) == tuple(attrs.values()) for o in objs)
    return (
        f"Is there a {attrs['size']} {attrs['texture']} {attrs['color']} {attrs['shape']}?",
        "Yes" if present else "No",
    )


def describe(scene: Any) -> str:
    """A literal caption of a scene, the reasoning the answer gives before its score:
    "a big striped red circle on the ground to the left of a small solid blue square"."""
    objs = sorted(scene.objects, key=lambda o: (o.y, o.x))
    if not objs:
        return "nothing"
    phrases = [f"{article(o.size)} {o.size} {o.texture} {o.color} {o.shape}{place(o)}" for o in objs]
    if len(objs) == 2:
        return f"{phrases[0]} {relation(objs[0], objs[1])} {phrases[1]}"
    return " and ".join(phrases)


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def place(o: Any) -> str:
    return " on the ground" if o.y + o.side == 28 else (" at the top" if o.y == 0 else "")


def relation(a: Any, b: Any) -> str:
    (ax0, _, ax1, ay1), (bx0, by0, bx1, _) = a.bbox, b.bbox
    if ax1 < bx0:
        return "to the left of"
    if ax0 > bx1:
        return "to the right of"
    return "above" if ay1 < by0 else "below"


class Example:
    """One training sequence: ids with image-target and text-target positions (-1 = none)."""

    def __init__(self, ids: list[int], img_tgt: list[int], txt_tgt: list[int]) -> None:
        self.ids, self.img_tgt, self.txt_tgt = ids, img_tgt, txt_tgt


def gen_example(fmt: TinyFormat, text: str | None, tokens: np.ndarray) -> Example:
    prompt = fmt.gen_prompt(text)
    pad = [fmt.tok.pad] * (fmt.P - len(prompt))
    ids = pad + prompt + [fmt.offset + int(t) for t in tokens]
    img_tgt = [-1] * (fmt.P - 1) + [int(t) for t in tokens] + [-1]
    return Example(ids, img_tgt, [-1] * len(ids))


def und_example(fmt: TinyFormat, tokens: np.ndarray, q: str, answer: str) -> Example:
    prefix = fmt.und_prefix(tokens.tolist(), q)
    ans = fmt.tok.encode(answer) + [fmt.tok.eos]
    ids = prefix + ans
    txt_tgt = [-1] * (len(prefix) - 1) + ans + [-1]
    return Example(ids, [-1] * len(ids), txt_tgt)


class DataSource:
    """Draws the examples of one training step, deterministically from (seed, step)."""

    def __init__(self, cfg: RecipeConfig, fmt: TinyFormat, codec: SlotCodec) -> None:
        self.cfg, self.fmt, self.codec = cfg, fmt, codec
        self.excluded = world.eval_texts(cfg.world_seed)
        self.pool: list[tuple] = []  # self-play: (image tokens, prompt, oracle verdict, subtask)
        self._cells: tuple[int, dict] | None = None  # (id of the pool indexed, {subtask: {verdict: [i]}})

    def batch(self, step: int) -> list[Example]:
        rng = np.random.default_rng([self.cfg.seed, step])
        n_gen = int(round(self.cfg.train_batch_size * self.cfg.gen_frac))
        return [self.gen(rng) for _ in range(n_gen)] + [self.und(rng) for _ in range(self.cfg.train_batch_size - n_gen)]

    def _render_tokens(self, scene: Any) -> np.ndarray:
        return self.codec.tokens_of(scene)

    def gen(self, rng: np.random.Generator) -> Example:
        spec = sample_train_spec(pick(self.cfg.gen_subtask_weights, rng), rng, self.excluded)
        tokens = self._render_tokens(world.realize(spec, rng))
        text = None if rng.random() < self.cfg.cfg_dropout else world.prompt_text(spec)
        return gen_example(self.fmt, text, tokens)

    def und(self, rng: np.random.Generator) -> Example:
        spec = sample_train_spec(pick(self.cfg.und_subtask_weights, rng), rng, self.excluded)
        scene = world.realize(spec, rng)
        if rng.random() < self.cfg.plain_frac:
            q, a = plain_question(scene, rng)
            return und_example(self.fmt, self._render_tokens(scene), q, a)
        if self.pool and rng.random() < self.cfg.self_play.frac:
            tokens, text, verdict = self.pool[self.pool_index(rng)][:3]
            return und_example(self.fmt, np.array(tokens), question(text), f"The score is {verdict}.")
        label = int(rng.random() < self.cfg.und_positive_frac)
        if not label:
            cf = rng.random() < self.cfg.negative_counterfactual
            scene = world.counterfactual(spec, scene, rng) if cf else world.extra_negatives(spec, scene, rng)
        answer = f"The score is {label}."
        if rng.random() < self.cfg.explain_frac:
            answer = f"The image shows {describe(scene)}. {answer}"
        return und_example(self.fmt, self._render_tokens(scene), question(world.prompt_text(spec)), answer)

    def pool_index(self, rng: np.random.Generator) -> int:
        """A uniform draw from the pool, or with `self_play.balance` one balanced by subtask and verdict."""
        if not self.cfg.self_play.balance or len(self.pool[0]) < 4:
            return int(rng.integers(len(self.pool)))
        cells = self.pool_cells()
        names = sorted(cells)
        w = np.array([self.cfg.und_subtask_weights.get(n, 1.0) for n in names], dtype=float)
        by_verdict = cells[names[rng.choice(len(names), p=w / w.sum())]]
        want = int(rng.random() < self.cfg.und_positive_frac)
        items = by_verdict.get(want) or by_verdict[1 - want]
        return items[int(rng.integers(len(items)))]

    def pool_cells(self) -> dict:
        if self._cells is None or self._cells[0] != id(self.pool):
            cells: dict = {}
            for i, (_, _, verdict, subtask) in enumerate(self.pool):
                cells.setdefault(subtask, {}).setdefault(int(verdict), []).append(i)
            self._cells = (id(self.pool), cells)
        return self._cells[1]


def self_play_pool(ckpt: TinyCheckpoint, cfg: RecipeConfig, step: int, excluded: frozenset[str]) -> list:
    """The current model's images for random train prompts, each with the oracle's verdict."""
    from unigap.models.tiny.backend import TinyBackend

    rng = np.random.default_rng([cfg.seed, step, 1])
    subtasks, specs = [], []
    for _ in range(cfg.self_play.pool):  # pick, then sample, in turn: the draws of older pools
        subtasks.append(pick(cfg.und_subtask_weights, rng))
        specs.append(sample_train_spec(subtasks[-1], rng, excluded))
    texts = [world.prompt_text(s) for s in specs]
    seeds = rng.integers(2**31, size=len(specs)).tolist()
    with torch.no_grad():
        gen = TinyBackend(ckpt, batch_size=128).generate(texts, seeds, cfg.sampling)
    verdicts = [int(world.oracle(img, spec)[0]) for img, spec in zip(gen.images.numpy(), specs)]
    return [(t, x, v, s) for t, x, v, s in zip(gen.tokens.tolist(), texts, verdicts, subtasks)]


def collate(examples: list[Example], pad: int) -> tuple[torch.Tensor, ...]:
    """Right-pad to the longest example: ids, key_ok, img_tgt, txt_tgt, each (B, T)."""
    t = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), t), pad, dtype=torch.long)
    ok = torch.zeros((len(examples), t), dtype=torch.bool)
    img = torch.full((len(examples), t), -1, dtype=torch.long)
    txt = torch.full((len(examples), t), -1, dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e.ids)
        ids[i, :n], img[i, :n], txt[i, :n] = torch.tensor(e.ids), torch.tensor(e.img_tgt), torch.tensor(e.txt_tgt)
        ok[i, :n] = torch.tensor(e.ids) != pad
    return ids, ok, img, txt


# --- tokenizer and codec ----------------------------------------------------------------


def build_tokenizer(world_seed: int, n: int = 20000) -> WordTokenizer:
    """Vocabulary of every word the world's prompts, questions and answers use."""
    rng = np.random.default_rng(world_seed)
    texts = [
        world.prompt_text(world.sample_spec(s, rng)) for _ in range(n // len(world.SUBTASKS)) for s in world.SUBTASKS
    ]
    texts += [
        question("x"),
        "The score is 0. The score is 1.",
        "How many objects are there?",
        "zero one two three Yes No",
        " ".join(world.COLORS),
        " ".join(world.SHAPES),
        " ".join(world.SIZES),
        " ".join(world.TEXTURES),
        "What color texture size is the Is the on the ground? Is there a",
        "The image shows nothing a an and at the top to the left of to the right of above below",
    ]
    return WordTokenizer.build(texts)


def build_codec(cfg: RecipeConfig) -> SlotCodec:
    return SlotCodec()
