"""The report's opening: three sentences generated from the numbers (what was audited, what changed before ->
after, whether the win rate and the data-quality guard support it), and the terms it uses.

A change counts as one only when the two 95 % CIs do not overlap; otherwise the sentence says they overlap.
Nothing here is written by hand per run: a run where nothing improved reads as one.
"""

from __future__ import annotations

from unigap.analysis.table import Column, MetricSpec, columns, fmt, spec_of
from unigap.vocab import OVERALL

METHODS = {"sft": "SFT", "dpo": "DPO", "grpo": "GRPO"}
SUITE_NAMES = {
    "shapeworld": "ShapeWorld",
    "paper9": "the paper's nine subtasks (GenEval, T2I-CompBench, Science-T2I)",
    "geneval": "GenEval",
    "t2i-compbench": "T2I-CompBench",
    "science-t2i": "Science-T2I",
    "custom": "its own prompts",
}


def summary(analysis: dict, config: dict, prompts: dict[str, int]) -> list[str]:
    """Up to three sentences; `prompts` = stored prompts per split."""
    before, after = analysis.get("before", {}).get("metrics"), analysis.get("after", {}).get("metrics")
    if not before:
        return [
            "This run has no before/after audit yet (no analysis.json, or its audits are missing): run "
            "`unigap run` to produce one, or `unigap analyse` on a finished run."
        ]
    return [
        what_ran(config, prompts, before, after is not None),
        what_changed(before, after or {}),
        what_supports(analysis),
    ]


def what_ran(config: dict, prompts: dict[str, int], metrics: dict, improved: bool) -> str:
    model = (config.get("model") or {}).get("name", "the")
    suite = (config.get("eval_prompts") or {}).get("suite", "")
    judges = list(dict.fromkeys(c.judge for c in columns(metrics) if c.judge))
    by = f"the external judge{'s' if len(judges) > 1 else ''} ({_names(judges)})" if judges else "no external judge"
    audit = (
        f"The {model} model audited its own images on {SUITE_NAMES.get(suite, suite or 'its prompts')}: "
        f"{prompts.get('eval', 0)} eval prompts × {config.get('eval_n', '?')} candidates, each judged by its own "
        f"understanding (the self-judge) and by {by}"
    )
    if not improved:
        return audit + "."
    if (config.get("improve") or {}).get("method") == "grpo":
        return f"{audit}, before and after {online(config, prompts.get('train', 0))}."
    train = f"{prompts.get('train', 0)} train prompts × {config.get('n', '?')} candidates"
    return f"{audit}, before and after {method(config)} on data its self-judge curated from {train}."


def online(config: dict, n_train: int) -> str:
    """GRPO's phrase: it samples from the current model during training, so no curated data is trained on."""
    improve = config.get("improve") or {}
    grpo, anchor = improve.get("grpo") or {}, improve.get("anchor") or {}
    rewards = [str(r.get("name")) for r in grpo.get("rewards") or [] if isinstance(r, dict)] or ["?"]
    anchors = [
        a
        for a, on in (
            ("judge-KL", (anchor.get("judge_kl") or {}).get("weight")),
            ("understanding replay", (anchor.get("replay") or {}).get("set")),
        )
        if on
    ]
    with_anchor = f", anchored by {_names(anchors)}" if anchors else ""
    return (
        f"online GRPO on {n_train} train prompts ({grpo.get('group_size', '?')} candidates per prompt per step, "
        f"sampled from the model being trained; reward: {_names(rewards)}{with_anchor})"
    )


def method(config: dict) -> str:
    improve = config.get("improve") or {}
    name = METHODS.get(improve.get("method", ""), improve.get("method", "self-improvement"))
    replay = (improve.get("curriculum") or {}).get("mode", "none") not in ("none", None)
    return f"C-{name} (with curriculum replay)" if replay else name


def what_changed(before: dict, after: dict) -> str:
    """The overall value of non-unification, each judge's generation score and (one judge) the self-judge's
    accuracy, before -> after, each with what its CIs say; then which improved."""
    parts, better = [], []
    for c in headline(before):
        b, a = before[c.key].get(OVERALL), (after.get(c.key) or {}).get(OVERALL)
        if not after:
            parts.append(f"{c.label} {fmt(b)}")
            continue
        word = change(c.spec, b, a)
        parts.append(f"{c.label} {fmt(b)} → {fmt(a)} ({word})")
        better += [c.label] if word.startswith("better") else []
    if not after:
        return "Overall on the eval prompts (%, 95 % CI): " + "; ".join(parts) + "."
    verdict = (
        f"only {_names(better)} improved beyond overlapping CIs"
        if better and len(better) < len(parts)
        else "all improved beyond overlapping CIs"
        if better
        else "none improved beyond overlapping CIs"
    )
    return "Overall on the eval prompts (%, 95 % CI): " + "; ".join(parts) + f" — {verdict}."


def headline(metrics: dict) -> list[Column]:
    cols = columns(metrics, headline_only=True)
    judges = list(dict.fromkeys(c.judge for c in cols if c.judge))
    gen = {c.judge: c for c in cols if c.spec.key == "generation_score/{judge}"}
    gen.update({c.judge: c for c in cols if c.spec.key == "gen/{judge}"})  # the paper's Gen. where there is one
    acc = [c for c in cols if c.spec.key == "self_accuracy/{judge}"] if len(judges) == 1 else []
    return [c for c in cols if not c.judge] + [gen[j] for j in judges if j in gen] + acc


def change(spec: MetricSpec, before: dict | None, after: dict | None) -> str:
    """ "better" / "worse" when the 95 % CIs do not overlap (by the metric's direction), else "CIs overlap"."""
    if not before or not after or not before.get("ci") or not after.get("ci"):
        return "no CI"
    if after["ci"][0] > before["ci"][1]:
        up = True
    elif after["ci"][1] < before["ci"][0]:
        up = False
    else:
        return "CIs overlap"
    if spec.direction == "neutral":
        return "rose, CIs apart" if up else "fell, CIs apart"
    return ("better" if up == (spec.direction == "higher") else "worse") + ", CIs apart"


def what_supports(analysis: dict) -> str:
    return f"{_win_rate(analysis.get('win_rate') or {})}; {_guard(analysis.get('guard') or {})}."


def _win_rate(section: dict) -> str:
    truth = next((j for j, w in section.items() if isinstance(w, dict) and "win_rate" in w), None)
    if truth is None:
        return "There is no win rate (the improved self-judge did not rejudge the base images)"
    w = section[truth]
    e = w["win_rate"]["overall"]
    lo, hi = e.get("ci") or (e["value"], e["value"])
    reading = (
        "understanding improved"
        if lo > 0.5
        else "understanding got worse"
        if hi < 0.5
        else "its CI includes 50 %, so no measurable change in understanding"
    )
    return (
        f"On the base model's eval images, the improved self-judge sided with {truth} on {_pct(e['value'])} "
        f"(95 % CI {_range(lo, hi)}) of the {w.get('disagreements', 0)} images where it disagreed with the base "
        f"self-judge (the win rate; 50 % = no change): {reading}"
    )


def _guard(guard: dict) -> str:
    if "agreement" not in guard:
        return "the data-quality guard did not run"
    outcome = "passed" if guard.get("passed") else "failed" + (" (training forced)" if guard.get("forced") else "")
    ci = guard.get("ci") or [None, None]
    return (
        f"the data-quality guard {outcome}: {guard.get('judge')} agreed with {guard.get('agree')} of "
        f"{guard.get('n')} curated labels, {_pct(guard['agreement'])} (95 % CI {_range(*ci)}), "
        f"against a threshold of {_pct(guard.get('threshold'))}"
    )


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f} %"


def _range(lo: float | None, hi: float | None) -> str:
    return "—" if lo is None or hi is None else f"{100 * lo:.1f}–{100 * hi:.1f} %"


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# ---- the terms the report uses (wording as docs/glossary.md; the metrics' from the metric table) -------------

TERMS = [
    (
        "Self-judge",
        "self-judge",
        "The model's own understanding branch answering the paper's question about an image "
        "it generated: 1 (accepted) or 0 (rejected); an answer with no score is unparsed, counted, never a rejection.",
    ),
    (
        "External judge",
        "external-judge",
        "Anything other than the model that judges the same images (the ShapeWorld "
        "oracle, a benchmark's scorer, a VLM, a person): the truth the self-judge is measured against.",
    ),
    (
        "Band",
        "band",
        "Prompt difficulty as the paper stratifies it: easy, medium, hard (three subtasks each). A band's "
        "and the overall value are unweighted means of their subtasks.",
    ),
]
METRIC_TERMS = [
    ("non_unification", "non-unification"),
    ("generation_score/{judge}", "generation-score"),
    ("gen/{judge}", "gen"),
    ("weak_generation/{judge}", "weak-generation"),
    ("self_accuracy/{judge}", "self-judge-accuracy"),
    ("win_rate/{judge}", "win-rate"),
]
TERM_ANCHORS = dict(METRIC_TERMS)  # metric key -> the id of its definition in the report
MORE_TERMS = [
    (
        "Disagreement kinds (FP corrected, FN corrected, new FP, new FN)",
        "fp-corrected",
        "Each disagreement of the "
        "base and the improved self-judge is a triple (external label, base verdict, improved verdict). (0,1,0) is a "
        "false positive corrected (a wrong image the base accepted, the improved rejects), (1,0,1) a false negative "
        "corrected: both are wins. (0,0,1) is a new false positive, (1,1,0) a new false negative: losses.",
    ),
    (
        "Acceptance precision, recall, AUROC, exploitation",
        "selector",
        "The self-judge as a selector of training data, "
        "against an external judge: acceptance precision is the share of accepted images the external judge confirms "
        "(what SFT trains on), recall the share of good images accepted, AUROC how well P(match) ranks good above bad "
        "(prob mode only), exploitation the judge's drop on its own new images.",
    ),
    (
        "Data-quality guard",
        "guard",
        "unigap's check before training: an external judge re-judges a sample of the "
        "curated items, and low agreement stops the run.",
    ),
    (
        "Curriculum replay",
        "curriculum",
        "Prompts with no accepted image form the discard pool; part-way "
        "through training the current model regenerates and rejudges them, and what it now accepts joins the "
        "training data (the paper's Algorithm 2).",
    ),
    (
        "eNTK",
        "entk",
        "The empirical neural tangent kernel between the logits of two (prompt, image) sequences, "
        "computed over the shared trunk; the paper's Proposition 1 explains co-improvement through it. Matched pairs "
        "above mismatched ones is the evidence.",
    ),
    ("95 % CI", "ci", "A 95 % bootstrap confidence interval, resampling prompts within each subtask."),
]


def terms() -> list[dict]:
    """The report's glossary: {term, id, text}, the metrics' definitions from the metric table."""
    rows = [{"term": t, "id": i, "text": x} for t, i, x in TERMS]
    for key, anchor in METRIC_TERMS:
        spec = spec_of(key)
        rows.append({"term": f"{_cap(spec.name)} — {spec.abbr}", "id": anchor, "text": _cap(spec.aggregation) + "."})
    return rows + [{"term": t, "id": i, "text": x} for t, i, x in MORE_TERMS]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
