"""GenEval's summary (evaluation/summary_scores.py @ af4902f), reproduced on plain rows.

- per task (tag): accuracy = mean of the images' `correct`, tasks in order of first appearance
  (pandas groupby(sort=False));
- overall = the unweighted mean of the task accuracies ("Overall score (avg. over tasks)");
- also the image accuracy over all images and the prompt accuracy (a prompt is correct when
  any of its images is; GenEval groups by the metadata line, we by the prompt id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def summarize(rows: Iterable[Mapping]) -> dict:
    """rows: {"tag", "correct": bool, "prompt"} (prompt = any key of the prompt, e.g. its id)."""
    rows = list(rows)
    if not rows:
        return {
            "images": 0,
            "prompts": 0,
            "correct_images": None,
            "correct_prompts": None,
            "tasks": {},
            "overall": None,
        }
    tasks: dict[str, list[bool]] = {}
    prompts: dict[str, bool] = {}
    for r in rows:
        tasks.setdefault(r["tag"], []).append(bool(r["correct"]))
        prompts[r["prompt"]] = prompts.get(r["prompt"], False) or bool(r["correct"])
    per_task = {t: {"accuracy": sum(v) / len(v), "correct": sum(v), "total": len(v)} for t, v in tasks.items()}
    overall = sum(t["accuracy"] for t in per_task.values()) / len(per_task)
    return {
        "images": len(rows),
        "prompts": len(prompts),
        "correct_images": sum(bool(r["correct"]) for r in rows) / len(rows),
        "correct_prompts": sum(prompts.values()) / len(prompts),
        "tasks": per_task,
        "overall": overall,
    }


def format_summary(s: dict) -> str:
    """The summary as summary_scores.py prints it."""
    lines = ["Summary", "=======", f"Total images: {s['images']}", f"Total prompts: {s['prompts']}"]
    if s["images"]:
        lines += [f"% correct images: {s['correct_images']:.2%}", f"% correct prompts: {s['correct_prompts']:.2%}"]
    lines += ["", "Task breakdown", "=============="]
    lines += [f"{tag:<16} = {t['accuracy']:.2%} ({t['correct']} / {t['total']})" for tag, t in s["tasks"].items()]
    if s["overall"] is not None:
        lines += ["", f"Overall score (avg. over tasks): {s['overall']:.5f}"]
    return "\n".join(lines)
