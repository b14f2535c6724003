"""The HTML report: escaping, missing sections, and a look in a real browser (headless Chromium)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests._browser import CHROME_ARGS, CHROMEDRIVER, CHROMIUM, HAVE_CHROME
from unigap.records import Judgment, Prompt
from unigap.report.render import render_report
from unigap.store import RunStore
from unigap.store.rows import CandidateIn

EVIL = "a red circle <script>alert(1)</script>"


def evil_run(path):
    with RunStore.open(path) as store:
        store.init_config({"model": {"name": "tiny"}})
        store.add_prompts([Prompt("p0", EVIL, "single_object", "train", "custom", band="easy")])
        ids = store.add_candidates(
            "base", [CandidateIn("p0", 0, 1, np.zeros(12, np.int64), np.zeros((32, 32, 3), np.uint8))]
        )
        store.add_judgments("self", [(ids[0], Judgment(1, None, "The score is 1."))])
    return path


def test_every_user_string_is_escaped_and_missing_sections_say_how(tmp_path):
    html = render_report(evil_run(tmp_path)).read_text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "unigap analyse" in html  # no analysis.json yet: the page says which command makes it


def test_report_has_no_network_references(finished_run, tmp_path):
    html = render_report(finished_run, tmp_path / "report.html").read_text()
    for needle in ("http://", "https://", "<link", 'src="//'):
        assert needle not in html, needle


def test_report_opens_with_a_summary_defines_its_terms_and_labels_its_galleries(finished_run, tmp_path):
    html = render_report(finished_run, tmp_path / "report.html").read_text()
    summary = re.search(r'<section id="summary-text">(.*?)</section>', html, re.S).group(1)
    sentences = re.findall(r'<p class="lead">(.*?)</p>', summary, re.S)
    assert len(sentences) == 3 and "eval prompts" in sentences[0] and "→" in sentences[1]
    assert "win rate" in sentences[2] and "data-quality guard" in sentences[2]
    ids = set(re.findall(r'id="([^"]+)"', html))
    links = set(re.findall(r'href="#([^"]+)"', html))
    assert links and links <= ids, links - ids  # every term link lands on its definition
    assert {
        "term-non-unification",
        "term-win-rate",
        "term-fp-corrected",
        "term-entk",
        "term-guard",
        "term-weak-generation",
    } <= ids
    captions = re.findall(r'<p class="sub gallery-caption">(.*?)</p>', html, re.S)
    assert len(captions) == 3
    assert all("The base model (tiny), train split, 3 candidates per prompt" in c for c in captions)
    table = re.search(r'<table id="diagnostics-table">(.*?)</table>', html, re.S).group(1)
    assert "(%)" in table and not re.search(r"\b0\.\d{3} \[", table)  # one unit: % with one decimal, no fractions


@pytest.mark.browser
@pytest.mark.skipif(not HAVE_CHROME, reason="needs chromium and chromedriver")
def test_report_in_a_real_browser(finished_run, tmp_path, artifact_dir):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    path = render_report(finished_run, tmp_path / "report.html")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in [*CHROME_ARGS, f"--user-data-dir={tmp_path / 'chromium'}"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        drv.get(path.as_uri())
        text = drv.find_element("tag name", "body").text
        errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
        requests = [e["message"] for e in drv.get_log("performance") if '"Network.requestWillBeSent"' in e["message"]]
        height = drv.execute_script("return document.body.scrollHeight")
        drv.set_window_size(1100, min(height + 200, 16000))  # the whole page in one screenshot
        drv.save_screenshot(str(artifact_dir / "report.png"))
    finally:
        drv.quit()
    assert not errors, errors
    external = [r for r in requests if '"url":"http' in r.replace(" ", "")]
    assert not external, external[:3]
    for key in (
        "Summary",
        "Before → after",
        "non-unification",
        "win rate",
        "Data-quality guard",
        "eNTK",
        "Provenance",
        "Terms",
        "candidates per prompt",
    ):
        assert key in text, key
    assert "easy" in text and "overall" in text


def test_before_and_after_pairs_the_same_prompts(finished_run, tmp_path):
    from unigap.report.render import pair_items

    with RunStore.open_readonly(finished_run) as store:
        pairs = pair_items(store, limit=4)
        base = {c.prompt_id: c for c in store.candidates(source="base") if c.idx == 0}
        improved = {c.prompt_id: c for c in store.candidates(source="improved") if c.idx == 0}
    both = [p for p in base if p in improved]
    assert both and len(pairs["items"]) == min(4, len(both))
    assert all(base[p].seed == improved[p].seed for p in both) and "the same sampling seed" in pairs["caption"]
    assert f"of the {len(both)} prompts" in pairs["caption"] and "eval split" in pairs["caption"]
    for it in pairs["items"]:
        assert it["before"]["prompt"] == it["after"]["prompt"]
        assert it["before"]["src"].startswith("data:image/png") and it["after"]["src"].startswith("data:image/png")
        assert it["before"]["verdicts"] and it["after"]["verdicts"]
    subtasks = [it["before"]["subtask"] for it in pairs["items"]]
    assert len(set(subtasks)) == len(subtasks)  # one prompt per subtask in turn
    html = render_report(finished_run, tmp_path / "report.html").read_text()
    section = re.search(r'<h2 id="grid-pairs">(.*?)<h2 ', html, re.S).group(1)
    assert section.count('<div class="pair">') == min(12, len(both))
