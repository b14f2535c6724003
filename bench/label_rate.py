"""Labelling rate of `unigap label` (labels per minute), against a named baseline measured in the
same run: the same labels sent straight to the server over HTTP (POST api/label, then GET the next
image; what the page does per key press, minus the browser).

    python bench/label_rate.py [--labels 30] [--json OUT.json]

The browser figure (headless Chromium driven by WebDriver: key press -> stored -> next image shown)
needs /usr/bin/chromium, /usr/bin/chromedriver and selenium; without them it prints "not measured".
Both are upper bounds on a person's rate, who must also look at each image and read its prompt.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from unigap.label.app import LabelServer, create_app, make_token
from unigap.label.session import LabelSession
from unigap.records import Prompt
from unigap.store import CandidateIn, RunStore

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def make_run(path: Path, n_prompts: int, per_prompt: int) -> None:
    """A run store of blocky 32x32 candidates (no model needed)."""
    rng = np.random.default_rng(0)
    prompts = [Prompt(f"p{i}", f"prompt {i}", "color", "eval", "bench", band="easy") for i in range(n_prompts)]
    rows = [
        CandidateIn(
            p.id, j, 10 * i + j, np.arange(4), rng.integers(0, 256, (8, 8, 3), np.uint8).repeat(4, 0).repeat(4, 1)
        )
        for i, p in enumerate(prompts)
        for j in range(per_prompt)
    ]
    with RunStore.open(path) as store:
        store.add_prompts(prompts)
        store.add_candidates("base", rows)


@contextmanager
def serving(run: Path, name: str, k: int) -> Iterator[str]:
    """The real server (uvicorn) on a free port: yields the URL with the token."""
    with RunStore.open(run, create=False) as store:
        token = make_token()
        server = LabelServer(create_app(LabelSession.open(store, name, k=k, seed=1), token, run.name)).start()
        try:
            yield server.url(token)
        finally:
            server.stop()


def http_rate(run: Path, n: int) -> dict:
    """Baseline: label, then fetch the next image, over plain HTTP."""
    import httpx

    with serving(run, "http", n + 2) as url, httpx.Client() as client:
        base = url.split("?")[0]
        state = client.get(base + "api/state", params={"token": url.split("token=")[1]}).json()  # sets the cookie
        start = time.perf_counter()
        for i in range(n):
            state = client.post(base + "api/label", json={"candidate_id": state["item"]["id"], "verdict": i % 2}).json()
            client.get(base + state["item"]["image"]).raise_for_status()
        seconds = time.perf_counter() - start
    return {"labels": n, "seconds": round(seconds, 3), "labels_per_minute": round(60 * n / seconds)}


def browser_rate(run: Path, n: int, tmp: Path) -> dict | None:
    """Key presses in headless Chromium, each waited on until the next item is shown; None if unavailable."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
    except ImportError:
        return None
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--user-data-dir={tmp}"]:
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)

    def progress():
        return drv.execute_script(
            'return [document.getElementById("progress").textContent, document.body.dataset.busy]'
        )

    try:
        with serving(run, "browser", n + 2) as url:
            drv.get(url)
            _wait(lambda: progress() == [f"0 / {n + 2}", "0"])
            start = time.perf_counter()
            for i in range(n):
                drv.find_element(By.TAG_NAME, "body").send_keys("10"[i % 2])
                _wait(lambda: progress() == [f"{i + 1} / {n + 2}", "0"])
            seconds = time.perf_counter() - start
            fetch_ms = drv.execute_script(
                "return performance.getEntriesByType('resource')"
                ".filter(e => e.name.includes('/api/label')).map(e => e.duration)"
            )
    finally:
        drv.quit()
    return {
        "labels": n,
        "seconds": round(seconds, 3),
        "labels_per_minute": round(60 * n / seconds),
        "label_request_median_ms": round(statistics.median(fetch_ms), 1) if fetch_ms else None,
    }


def _wait(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the labelling page did not reach the expected state")
        time.sleep(0.005)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=int, default=30)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        make_run(run, n_prompts=10, per_prompt=2 * (args.labels + 2) // 10 + 1)
        result = {
            "baseline_http": http_rate(run, args.labels),
            "browser": browser_rate(run, args.labels, Path(tmp) / "chromium"),
        }
    base, browser = result["baseline_http"], result["browser"]
    print(f"baseline (HTTP: POST api/label + GET next image): {base['labels_per_minute']} labels/min")
    if browser is None:
        print("browser (headless Chromium): not measured (needs chromium, chromedriver and selenium)")
    else:
        print(
            f"browser (headless Chromium, key press -> next image shown): {browser['labels_per_minute']} labels/min "
            f"({browser['labels_per_minute'] / base['labels_per_minute']:.2f}x the HTTP baseline)"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
