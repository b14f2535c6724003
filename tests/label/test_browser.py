"""The labelling page in headless Chromium: keyboard labelling, undo, reload, escaping, two tabs.

The page screenshot goes to the `artifact_dir` fixture ($UNIGAP_TEST_ARTIFACTS, else tmp_path).
The labelling rate is measured by bench/label_rate.py (against a plain-HTTP baseline).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests._browser import CHROME_ARGS, CHROMEDRIVER, CHROMIUM, HAVE_CHROME
from tests.label.label_helpers import SCRIPT_PROMPT, labels, make_run
from unigap.label.app import LabelServer, create_app, make_token
from unigap.label.session import LabelSession
from unigap.store import RunStore

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not HAVE_CHROME,
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install -y chromium chromium-driver)",
    ),
]


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in [*CHROME_ARGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"]:
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield drv
    drv.quit()


@contextmanager
def serving(run: Path, name: str, **kw) -> Iterator[tuple[str, LabelSession]]:
    """The real server (uvicorn) on a free port in a background thread: (URL with token, session)."""
    with RunStore.open(run, create=False) as store:
        session = LabelSession.open(store, name, **kw)
        token = make_token()
        server = LabelServer(create_app(session, token, run.name)).start()
        try:
            yield server.url(token), session
        finally:
            server.stop()


def page(drv) -> dict:
    """What the page shows now."""
    return drv.execute_script("""
        const $ = (id) => document.getElementById(id), img = $("image");
        return {cand: $("cand").textContent, progress: $("progress").textContent, prompt: $("prompt").textContent,
                busy: document.body.dataset.busy, notice: $("notice").textContent, done: !$("done").hidden,
                natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
                rendering: getComputedStyle(img).imageRendering, children: $("prompt").children.length};""")


def wait(drv, cond, timeout: float = 10.0) -> dict:
    """Poll page() until cond(state) holds and the page takes keys again; returns that state."""
    deadline = time.monotonic() + timeout
    while True:
        state = page(drv)
        if state["busy"] == "0" and cond(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"page did not reach the expected state: {state}")
        time.sleep(0.005)


def press(drv, key: str) -> None:
    from selenium.webdriver.common.by import By

    drv.find_element(By.TAG_NAME, "body").send_keys(key)


def no_alert(drv) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        _ = drv.switch_to.alert  # raises when no alert is open
    except NoAlertPresentException:
        return True
    return False


def test_keyboard_labelling_undo_and_reload_store_exactly_the_labels(driver, tmp_path, artifact_dir):
    run = tmp_path / "run"
    make_run(run)  # 3 prompts x 2 candidates, one prompt full of markup
    with serving(run, "alice") as (url, session):
        o, texts = session.order, {cid: session.item(cid)["prompt"] for cid in session.order}
        assert SCRIPT_PROMPT in texts.values()
        shown, shot = [], artifact_dir / "label_page.png"
        shot.unlink(missing_ok=True)

        def expect(cid: int | None, done: int) -> dict:
            state = wait(
                driver,
                lambda s: s["progress"] == f"{done} / 6" and (s["done"] if cid is None else s["cand"] == str(cid)),
            )
            if cid is not None:  # markup in a prompt is shown as text: no elements, no script, no alert
                assert state["prompt"] == texts[cid] and state["children"] == 0 and no_alert(driver)
                assert (state["natural"], state["shown"], state["rendering"]) == (32, 256, "pixelated")
                if texts[cid] == SCRIPT_PROMPT and not shot.exists():
                    driver.save_screenshot(str(shot))
                shown.append(cid)
            return state

        driver.get(url)
        expect(o[0], 0)
        for key, cid, done in [("1", o[1], 1), ("0", o[2], 2), ("1", o[3], 3), ("u", o[2], 2)]:
            press(driver, key)
            expect(cid, done)
        driver.refresh()  # the page dropped the token from the address bar; the cookie carries it now
        assert "token" not in driver.current_url
        expect(o[2], 2)
        for key, cid, done in [("0", o[3], 3), ("s", o[4], 3), ("1", o[5], 4), ("1", o[3], 5), ("0", None, 6)]:
            press(driver, key)
            expect(cid, done)
        assert set(shown) == set(o) and shot.exists()
        base = url.split("?")[0]
        for path in ("", "api/state", f"image/{o[0]}", "static/label.js"):
            assert httpx.get(base + path).status_code == 403
        assert httpx.post(base + "api/label", json={"candidate_id": o[1], "verdict": 1}).status_code == 403
    assert labels(run, "human:alice") == {o[0]: 1, o[1]: 0, o[2]: 0, o[3]: 0, o[4]: 1, o[5]: 1}
    assert no_alert(driver)


def test_two_tabs_never_double_a_label(driver, tmp_path):
    run = tmp_path / "run"
    make_run(run)
    with serving(run, "bob", show_judges=True) as (url, session):
        o = session.order
        driver.get(url)
        wait(driver, lambda s: s["cand"] == str(o[0]))
        first = driver.current_window_handle
        driver.switch_to.new_window("tab")
        driver.get(url)
        wait(driver, lambda s: s["cand"] == str(o[0]))  # both tabs show the same item
        second = driver.current_window_handle
        driver.switch_to.window(first)
        press(driver, "1")
        wait(driver, lambda s: s["cand"] == str(o[1]))
        driver.switch_to.window(second)
        press(driver, "0")  # refused: the item stays, the page offers to change the stored label
        state = wait(driver, lambda s: "already labelled 'matches'" in s["notice"])
        assert state["cand"] == str(o[0]) and labels(run, "human:bob") == {o[0]: 1}
        press(driver, "c")
        wait(driver, lambda s: s["cand"] == str(o[1]) and s["progress"] == "1 / 6")
        assert labels(run, "human:bob") == {o[0]: 0}
        press(driver, "1")
        wait(driver, lambda s: s["cand"] == str(o[2]))
        driver.close()
        driver.switch_to.window(first)  # still shows o[1]: the same label again is refused, page moves on
        press(driver, "1")
        wait(driver, lambda s: s["cand"] == str(o[2]) and "nothing changed" in s["notice"])
    assert labels(run, "human:bob") == {o[0]: 0, o[1]: 1}
