"""The `unigap show` printouts built from analysis.json (pure functions on hand-made sections)."""

from unigap.cli.show import exploitation_lines, win_rate_lines


def _entry(v, lo, hi):
    return {"value": v, "ci": [lo, hi]}


def test_win_rate_lines_give_rate_bands_and_kinds():
    analysis = {
        "win_rate": {
            "oracle": {
                "win_rate": {"overall": _entry(0.544, 0.473, 0.604), "bands": {"easy": _entry(0.193, 0.078, 0.324)}},
                "kinds_total": {"fp_corrected": 47, "fn_corrected": 8, "new_fp": 9, "new_fn": 79},
                "fp_correction_share_of_wins": 47 / 55,
                "disagreements": 143,
            }
        }
    }
    first, second = win_rate_lines(analysis)
    assert "oracle as truth" in first and "overall 54.4 [47.3, 60.4]" in first and "easy 19.3 [7.8, 32.4]" in first
    assert "143 disagreements: 47 false positives corrected, 8 false negatives corrected" in second
    assert "79 new false negatives (85 % of the wins are corrected false positives)" in second


def test_win_rate_lines_without_wins_and_without_a_win_rate():
    none = {
        "win_rate": {
            "oracle": {
                "win_rate": {"overall": _entry(0.0, 0.0, 0.0), "bands": {}},
                "kinds_total": {"new_fn": 3},
                "fp_correction_share_of_wins": None,
                "disagreements": 3,
            }
        }
    }
    lines = win_rate_lines(none)
    assert lines[0].endswith("overall 0.0 [0.0, 0.0]") and "% of the wins" not in lines[1]
    assert win_rate_lines({}) == []


def test_exploitation_lines_print_notes_for_missing_values():
    no_probs = {"value": None, "note": "not available (no probabilities: parse mode)"}
    section = {
        "exploitation": {
            "oracle": {
                "medium": {"auroc": no_probs, "acceptance_precision": {"value": 0.33}},
                "hard": {"auroc": no_probs, "acceptance_precision": {"value": None, "note": "n/a (0 accepted)"}},
            }
        }
    }
    auroc, precision = exploitation_lines(section)
    assert auroc == "exploitation (oracle as truth), auroc: not available (no probabilities: parse mode)"
    assert precision.endswith(
        "acceptance precision, base images minus its own new images (pp): medium +33.0, hard n/a (0 accepted)"
    )


def test_run_results_print_the_paper_table_per_benchmark_with_und_from_the_analysis():
    from unigap.cli._common import out
    from unigap.cli.show import print_results

    def side(gen, non):
        def lv(v):
            return {"subtasks": {"physics": _entry(v, v, v)}, "benchmarks": {"science-t2i": _entry(v, v, v)}}

        return {
            "benchmark_of": {"physics": "science-t2i"},
            "metrics": {"non_unification": lv(non), "gen/sciscore": lv(gen)},
        }

    results = {"before": side(25.37, 0.0339), "after": side(25.47, 0.0339), "understand": []}
    analysis = {
        "win_rate": {
            "sciscore": {
                "win_rate": {
                    "subtasks": {"physics": _entry(1 / 3, 0, 1)},
                    "benchmarks": {"science-t2i": _entry(1 / 3, 0, 1)},
                }
            }
        }
    }
    with out.capture() as cap:
        print_results(results, analysis)
    text = cap.get()
    assert "Science-T2I (the paper's table): Gen. = SciScore" in text and "against sciscore" in " ".join(text.split())
    rows = [
        [c.strip() for c in line.strip("│").split("│")]
        for line in text.splitlines()
        if line.startswith("│") and ("Gen." in line or "Und." in line or "Non." in line)
    ]
    assert rows[-6:] == [
        ["base", "Gen. ↑", "25.37", "25.37"],
        ["", "Und. ↑", "50.00", "50.00"],
        ["", "Non. ↓", "3.39", "3.39"],
        ["improved", "Gen. ↑", "25.47", "25.47"],
        ["", "Und. ↑", "33.33", "33.33"],
        ["", "Non. ↓", "3.39", "3.39"],
    ]
