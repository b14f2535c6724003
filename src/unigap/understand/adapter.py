"""The lmms-eval model `unigap`: any unigap backend with an understanding path, under lmms-eval.

    lmms-eval --model unigap --model_args backend=janus,path=deepseek-ai/Janus-Pro-7B,device=cuda \
        --tasks pope,mmbench_en_dev,gqa,mmmu_val --batch_size 8

Request types:
- generate_until: batched greedy answers from the backend's `answer(images, questions,
  max_new_tokens)`, which applies the backend's own chat template (Janus: its processor's template
  with the default system prompt; tiny: its understanding layout); cut at the task's `until` strings.
- loglikelihood (multiple_choice tasks): the backend's teacher-forced `answer_logprobs(images,
  questions, answers)` summed over the continuation's tokens, returned negated (lmms-eval 0.7.3
  picks the smallest value, see `loglikelihood`); is_greedy from one greedy answer per (document,
  context). Backends without `answer_logprobs` raise NotImplementedError naming them.
- generate_until_multi_round: not supported (NotImplementedError).

One image per document: a document with none or several, or an item the backend fails on, is
counted in `failures` and answered "" (loglikelihood: +inf, never chosen), so lmms-eval scores it wrong and the
rest of the task is still scored.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from lmms_eval import utils as lmms_utils
from lmms_eval.api.instance import GenerationResult
from lmms_eval.api.model import lmms
from lmms_eval.api.registry import register_model

from unigap.errors import UnigapError
from unigap.understand.batching import (
    Item,
    batches,
    cut_at_stop,
    generation_settings,
    is_greedy,
    one_image,
    run_batch,
    to_array,
)
from unigap.understand.journal import Journal, batch_key

TINY_IMAGE = 32  # the tiny backend's codec reads 32 x 32 ShapeWorld images


def check_understands(model: Any) -> None:
    """Refuse a backend without an understanding path (no callable `answer`, or `understands` False)."""
    name = getattr(model, "name", type(model).__name__)
    if not callable(getattr(model, "answer", None)) or getattr(model, "understands", True) is False:
        raise UnigapError(
            f"the {name!r} backend has no understanding path (no answer(images, questions)); "
            "lmms-eval benchmarks need one"
        )


@register_model("unigap")
class UnigapLMM(lmms):
    is_simple = True

    def __init__(
        self,
        backend: str = "tiny",
        path: str | None = None,
        device: str = "cpu",
        batch_size: int | str = 8,
        dtype: str = "auto",
        greedy_check: bool = True,
        model: Any = None,
        max_batch_size: Any = None,
        journal: Journal | None = None,
        **options: Any,
    ) -> None:
        """model_args backend, path, device, batch_size, dtype; any other key is a backend option
        (`model.options`, e.g. understanding_path=... for emu3), checked by the backend's options class.
        journal: finished batches are recorded there and replayed on a rerun (unigap understand)."""
        super().__init__()
        if model is None:
            from unigap.models.base import ModelConfig, load_model

            cfg = ModelConfig(
                name=backend,
                path=None if path in (None, "", "None") else str(path),
                device=str(device or "cpu"),
                dtype=dtype,
                batch_size=_int_batch(batch_size),
                options=options,
            )
            model = load_model(cfg)
        check_understands(model)
        self.model, self.backend = model, getattr(model, "name", backend)
        self.batch_size = _int_batch(batch_size)
        self.greedy_check = bool(greedy_check)
        self.failures: list[dict[str, Any]] = []
        self.calls: dict[str, int] = {"generate_until": 0, "loglikelihood": 0}
        self.journal = journal

    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None) -> UnigapLMM:
        """model_args win over the CLI's defaults (lmms-eval always passes --batch_size, default 1)."""
        args = lmms_utils.simple_parse_args_string(arg_string)
        extra = {k: v for k, v in (additional_config or {}).items() if v is not None and k not in args}
        return cls(**args, **extra)

    # --- request resolution ------------------------------------------------------------------
    def _item(self, index: int, args: tuple, kind: str) -> Item:
        if len(args) != 6:  # acc_mutual_info's unconditional ("", choice) requests carry no document
            it = Item(index, "?", -1, str(args[0]) if args else "")
            self._fail(it, "unconditional loglikelihood requests (acc_mutual_info) are not supported", kind)
            return it
        ctx, second, doc_to_visual, doc_id, task, split = args
        it = Item(index, task, doc_id, ctx)
        if kind == "generate_until":
            it.max_new_tokens, it.until = generation_settings(second)
        else:  # lmms-eval's continuation starts with the task's target_delimiter (" "); the backends'
            it.continuation = second.lstrip()  # answer_logprobs put their own separator before the answer
        try:
            visual = one_image(doc_to_visual(self.task_dict[task][split][doc_id]), self.backend)
            it.image = to_array(visual, TINY_IMAGE if self.backend == "tiny" else None)
        except Exception as err:  # noqa: BLE001 - a document lmms-eval could load but we cannot use
            self._fail(it, f"{type(err).__name__}: {err}", kind)
        return it

    def _fail(self, it: Item, error: str, kind: str) -> None:
        it.error = error
        self.failures.append({"request": kind, "task": it.task, "doc_id": it.doc_id, "error": error})

    def _run(self, kind: str, chunk: list[Item], call: Any, on_fail: Any) -> list:
        """run_batch through the journal: a batch finished before a kill is replayed, not recomputed;
        one whose items all succeeded is recorded (with the backend calls it took)."""
        key = batch_key(kind, chunk) if self.journal is not None else None
        hit = self.journal.get(key) if key else None
        if hit is not None:
            outputs, calls = hit
            for k, n in calls.items():
                self.calls[k] = self.calls.get(k, 0) + n
            return outputs
        before = dict(self.calls)
        outputs = run_batch(chunk, call, on_fail)
        if key and all(o is not None for o in outputs):
            self.journal.put(key, outputs, {k: n - before.get(k, 0) for k, n in self.calls.items()})
        return outputs

    def _images(self, chunk: list[Item]) -> torch.Tensor:
        return torch.from_numpy(np.stack([it.image for it in chunk]))  # (B, H, W, 3) uint8

    # --- generate_until ------------------------------------------------------------------------
    def generate_until(self, requests: list) -> list[str]:
        items = [self._item(i, r.args, "generate_until") for i, r in enumerate(requests)]
        out = [""] * len(items)
        for chunk in batches(items, self.batch_size):
            answers = self._run(
                "generate_until", chunk, self._answer, lambda it, e: self._fail(it, e, "generate_until")
            )
            for it, a in zip(chunk, answers):
                out[it.index] = "" if a is None else cut_at_stop(a, it.until)
        return out

    def _answer(self, chunk: list[Item]) -> list[str]:
        self.calls["generate_until"] += 1
        with torch.no_grad():
            return self.model.answer(self._images(chunk), [it.question for it in chunk], chunk[0].max_new_tokens)

    # --- loglikelihood -------------------------------------------------------------------------
    def loglikelihood(self, requests: list) -> list[GenerationResult]:
        """(negative log-likelihood, is_greedy) per request, each wrapped in a GenerationResult.

        lmms-eval 0.7.3 departs from lm-eval here in two ways the adapter follows: its multiple_choice
        scorer picks the choice with the *smallest* value (api/task.py: `pred = np.argmin(lls)`,
        because its models return the loss; EvolvingLMMs-Lab/lmms-eval#370), so the first element is
        the continuation's summed negative log-likelihood; and its evaluator passes outputs through
        `unwrap_generation_output` (api/instance.py), which turns a bare (float, bool) tuple into its
        str(), while a GenerationResult's `text` passes through unchanged.
        """
        return [GenerationResult(pair) for pair in self.loglikelihood_pairs(requests)]  # type: ignore[arg-type]

    def loglikelihood_pairs(self, requests: list) -> list[tuple[float, bool]]:
        scorer = getattr(self.model, "answer_logprobs", None)
        if not callable(scorer):
            raise NotImplementedError(
                f"loglikelihood requests: the {self.backend!r} backend cannot score continuations (it has no "
                "answer_logprobs(images, questions, answers)); run generate_until tasks with it"
            )
        items = [self._item(i, r.args, "loglikelihood") for i, r in enumerate(requests)]
        out: list[tuple[float, bool]] = [(math.inf, False)] * len(items)  # failed: never the best choice
        greedy = self._greedy_answers(items) if self.greedy_check else {}
        for chunk in batches(items, self.batch_size):
            scores = self._run("loglikelihood", chunk, self._score, lambda it, e: self._fail(it, e, "loglikelihood"))
            for it, s in zip(chunk, scores):
                if s is not None:
                    out[it.index] = (s, is_greedy(greedy.get((it.task, it.doc_id, it.question), ""), it.continuation))
        return out

    def _score(self, chunk: list[Item]) -> list[float]:
        """Summed negative log-likelihood of each continuation."""
        self.calls["loglikelihood"] += 1
        with torch.no_grad():
            lp = self.model.answer_logprobs(
                self._images(chunk), [it.question for it in chunk], [it.continuation for it in chunk]
            )  # (B,)
        return [-float(x) for x in lp]

    def _greedy_answers(self, items: list[Item]) -> dict[tuple, str]:
        """One greedy answer per (task, document, context): is_greedy for all its continuations."""
        firsts: dict[tuple, Item] = {}
        for it in items:
            if it.error is None:
                firsts.setdefault((it.task, it.doc_id, it.question), it)
        longest = max([len(it.continuation.split()) for it in items] or [1])
        probes = [
            Item(it.index, it.task, it.doc_id, it.question, it.image, max_new_tokens=longest + 4)
            for it in firsts.values()
        ]
        found: dict[tuple, str] = {}
        for chunk in batches(probes, self.batch_size):
            for it, a in zip(chunk, self._run("greedy", chunk, self._answer, lambda *_: None)):
                found[(it.task, it.doc_id, it.question)] = a or ""
        return found

    def generate_until_multi_round(self, requests: list) -> list[str]:
        raise NotImplementedError(f"generate_until_multi_round: not supported by the unigap adapter ({self.backend!r})")


def _int_batch(value: Any) -> int:
    """lmms-eval passes batch sizes as strings ("8"); "auto" is not supported here."""
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        raise UnigapError(f"batch_size {value!r}: give an integer (the unigap adapter has no 'auto')") from None


def failure_counts(failures: list[dict[str, Any]]) -> dict[str, int]:
    """Failed documents per task (a multiple-choice document fails once, whatever its choices)."""
    docs = {(f["task"], f["doc_id"]) for f in failures}
    counts: dict[str, int] = {}
    for task, _ in docs:
        counts[task] = counts.get(task, 0) + 1
    return counts
