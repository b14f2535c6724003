// The labelling page. All server text goes into the DOM with textContent, never innerHTML.
// Keys are ignored while a request is in flight or the next image is still loading, so a fast
// double press cannot label an item the labeller has not seen.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const TARGET_PX = 256;  // small images are scaled by a whole factor to about this size
  const WORDS = { 1: "matches", 0: "does not match" };
  const showJudges = document.body.dataset.showJudges === "1";
  let current = null;   // the item shown
  let busy = true;
  let conflict = null;  // {candidate_id, wanted} after a refused second label

  // data-busy mirrors `busy` so that automated tests know when the page takes keys again.
  function setBusy(value) { busy = value; document.body.dataset.busy = value ? "1" : "0"; }

  function setText(el, value) { el.textContent = value == null ? "" : String(value); }

  function notice(message, isError) {
    setText($("notice"), message);
    $("notice").className = isError ? "error" : "";
  }

  async function call(method, path, body) {
    const opts = { method, credentials: "same-origin", cache: "no-store", headers: {} };
    if (method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body || {});
    }
    const response = await fetch(path, opts);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { status: response.status, data };
  }

  function showProgress(state) {
    setText($("progress"), state.done + " / " + state.total);
    $("bar").max = state.total;
    $("bar").value = state.done;
    setText($("skipped"), state.skipped ? " · " + state.skipped + " skipped" : "");
  }

  function showJudgeList(item) {
    const list = $("judges");
    list.replaceChildren();
    list.hidden = !showJudges;
    for (const j of (showJudges && item.judges) || []) {
      const li = document.createElement("li");
      setText(li, j.judge + ": " + (j.verdict == null ? j.status : WORDS[j.verdict]));
      list.appendChild(li);
    }
  }

  function showImage(item) {
    const img = $("image");
    const scale = Math.max(1, Math.floor(TARGET_PX / Math.max(item.width, item.height)));
    img.style.width = item.width * scale + "px";
    img.style.height = item.height * scale + "px";
    const url = new URL(item.image, document.baseURI).href;
    if (img.src === url && img.complete) { setBusy(false); return; }
    img.onload = () => { setBusy(false); };
    img.onerror = () => { setBusy(false); notice("the image of candidate " + item.id + " did not load", true); };
    img.src = url;
  }

  function showItem(item) {
    current = item;
    $("item").hidden = !item;
    $("done").hidden = !!item;
    if (!item) { setBusy(false); return; }
    setText($("prompt"), item.prompt);
    setText($("cand"), item.id);
    const band = item.band ? " · " + item.band : "";
    setText($("details"), item.prompt_id + " · " + item.subtask + band + " · " + item.source + " #" + item.idx);
    showJudgeList(item);
    showImage(item);
  }

  function render(state, message) {
    conflict = null;
    $("conflict").hidden = true;
    showProgress(state);
    notice(message || state.notice || "", false);
    showItem(state.item);
  }

  function failed(result) {
    setBusy(false);
    const why = result.data && result.data.error ? result.data.error : "HTTP " + result.status;
    notice(why, true);
  }

  function onConflict(data) {
    if (data.conflict.stored === data.conflict.wanted) { render(data.state, data.error); return; }
    conflict = { candidate_id: data.conflict.candidate_id, wanted: data.conflict.wanted };
    $("conflict").hidden = false;
    notice(data.error, true);
    setBusy(false);
  }

  async function send(method, path, body) {
    if (busy) return;
    setBusy(true);
    let result;
    try {
      result = await call(method, path, body);
    } catch (e) {
      setBusy(false);
      notice("the label server is not reachable; every label so far is stored. Restart `unigap label` and reload.", true);
      return;
    }
    if (result.status === 200) render(result.data);
    else if (result.status === 409 && result.data && result.data.conflict) onConflict(result.data);
    else failed(result);
  }

  const actions = {
    "1": () => current && send("POST", "api/label", { candidate_id: current.id, verdict: 1 }),
    "0": () => current && send("POST", "api/label", { candidate_id: current.id, verdict: 0 }),
    "s": () => current && send("POST", "api/skip", { candidate_id: current.id }),
    "u": () => send("POST", "api/undo", {}),
    "c": () => conflict && send("POST", "api/label", { candidate_id: conflict.candidate_id, verdict: conflict.wanted, change: true }),
    "n": () => conflict && send("GET", "api/state"),
  };

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const action = actions[e.key.toLowerCase()];
    if (!action) return;
    e.preventDefault();
    action();
  });
  for (const button of document.querySelectorAll("button[data-key]")) {
    button.addEventListener("click", () => actions[button.dataset.key]());
  }

  // Keep the token out of the address bar (and out of screenshots); the cookie carries it from now on.
  if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", location.pathname);
  setBusy(false);
  send("GET", "api/state");
})();
