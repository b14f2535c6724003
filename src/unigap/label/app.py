"""The labelling page: a Starlette app behind a one-time token, served by uvicorn on 127.0.0.1 only.

Every request must carry the token, as ?token=... (the URL `unigap label` prints) or as the cookie
set on the first valid visit; anything else gets 403, pages, API and images alike. The page is a
Jinja2 template (autoescaped) plus a script that asks the JSON API for items and puts all text into
the DOM with textContent. JSON answers also escape < > & so that no prompt text can be read as
markup even when a response is opened directly, and a Content-Security-Policy forbids inline
scripts as a second line of defence.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from unigap.errors import UnigapError
from unigap.label.session import LabelConflict, LabelSession, NotInSample
from unigap.store import RunStore

HOST = "127.0.0.1"  # never another interface: the page writes to the run store
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
FORBIDDEN = "403 forbidden: open the URL that `unigap label` printed (it carries the access token)\n"


class SafeJSONResponse(JSONResponse):
    """JSON with < > & written as \\u escapes (still the same JSON values)."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


class BadRequest(Exception):
    """A malformed API request (answered 400 or 415 with the message)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class TokenGate(BaseHTTPMiddleware):
    """403 unless the request carries the token (query or cookie); sets the cookie on a valid ?token= visit."""

    def __init__(self, app: Any, token: str) -> None:
        super().__init__(app)
        self.token = token
        # Cookies are not scoped by port: a name derived from the token keeps two label servers apart.
        self.cookie = "unigap_label_" + hashlib.sha256(token.encode()).hexdigest()[:12]

    def _ok(self, value: str | None) -> bool:
        return value is not None and secrets.compare_digest(value.encode(), self.token.encode())

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        via_query = self._ok(request.query_params.get("token"))
        if via_query or self._ok(request.cookies.get(self.cookie)):
            response = await call_next(request)
        else:
            response = PlainTextResponse(FORBIDDEN, status_code=403)
        if via_query:
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
        response.headers.update(SECURITY_HEADERS)
        return response


def make_token() -> str:
    """A fresh random access token (one per server start)."""
    return secrets.token_urlsafe(24)


def _asset(name: str) -> str:
    return resources.files("unigap.label").joinpath("templates").joinpath(name).read_text(encoding="utf-8")


def render_index(session: LabelSession, run_name: str) -> str:
    """The page shell (autoescaped Jinja2); items arrive later through the API."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("unigap.label", "templates"), autoescape=True)
    return env.get_template("index.html").render(
        judge=session.judge, run=run_name, total=len(session.order), show_judges=session.show_judges
    )


# ---- routes ------------------------------------------------------------------------------------


def _session(request: Request) -> LabelSession:
    return request.app.state.session


async def _json_body(request: Request) -> dict:
    """The request's JSON object; JSON only, which a cross-site form cannot send without CORS."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise BadRequest("send the body as application/json", 415)
    try:
        data = await request.json()
    except ValueError:
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


def _int_field(data: dict, key: str, allowed: tuple[int, ...] | None = None) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or (allowed and value not in allowed):
        want = " or ".join(map(str, allowed)) if allowed else "an integer"
        raise BadRequest(f"{key} must be {want}, got {value!r}")
    return value


async def index(request: Request) -> Response:
    return HTMLResponse(request.app.state.index_html, headers={"Cache-Control": "no-store"})


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    media = {"label.js": "text/javascript", "label.css": "text/css"}
    if name not in media:
        return PlainTextResponse("not found", status_code=404)
    return Response(_asset(name), media_type=media[name], headers={"Cache-Control": "no-store"})


async def api_state(request: Request) -> Response:
    return SafeJSONResponse(await run_in_threadpool(_session(request).state))


async def api_label(request: Request) -> Response:
    data = await _json_body(request)
    cid, verdict = _int_field(data, "candidate_id"), _int_field(data, "verdict", (0, 1))
    change = data.get("change", False)
    if not isinstance(change, bool):
        raise BadRequest(f"change must be true or false, got {change!r}")
    return SafeJSONResponse(await run_in_threadpool(_session(request).label, cid, verdict, change))


async def api_skip(request: Request) -> Response:
    cid = _int_field(await _json_body(request), "candidate_id")
    return SafeJSONResponse(await run_in_threadpool(_session(request).skip, cid))


async def api_undo(request: Request) -> Response:
    await _json_body(request)  # same content-type rule as every other write
    return SafeJSONResponse(await run_in_threadpool(_session(request).undo))


async def image(request: Request) -> Response:
    session, cid = _session(request), request.path_params["cid"]
    if cid not in session.by_id:  # only the sample's images, looked up by id: no paths from the request
        return PlainTextResponse("not found", status_code=404)
    path = session.store.image_path(session.by_id[cid].png)
    # Stored PNGs are content-addressed and never change, so the browser may keep them.
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})


async def on_conflict(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LabelConflict)
    state = await run_in_threadpool(_session(request).state)
    conflict = {"candidate_id": exc.candidate_id, "stored": exc.stored, "wanted": exc.wanted}
    return SafeJSONResponse({"error": str(exc), "conflict": conflict, "state": state}, status_code=409)


async def on_bad_request(request: Request, exc: Exception) -> Response:
    status = exc.status if isinstance(exc, BadRequest) else 404
    return SafeJSONResponse({"error": str(exc)}, status_code=status)


async def on_store_error(request: Request, exc: Exception) -> Response:
    return SafeJSONResponse({"error": f"the label was not stored: {exc}"}, status_code=500)


def create_app(session: LabelSession, token: str, run_name: str = "") -> Starlette:
    """The labelling app for `session`, answering only requests that carry `token`."""
    routes = [
        Route("/", index),
        Route("/static/{name}", asset),
        Route("/api/state", api_state),
        Route("/api/label", api_label, methods=["POST"]),
        Route("/api/skip", api_skip, methods=["POST"]),
        Route("/api/undo", api_undo, methods=["POST"]),
        Route("/image/{cid:int}", image),
    ]
    handlers = {
        LabelConflict: on_conflict,
        BadRequest: on_bad_request,
        NotInSample: on_bad_request,
        UnigapError: on_store_error,
    }
    app = Starlette(routes=routes, middleware=[Middleware(TokenGate, token=token)], exception_handlers=handlers)
    app.state.session = session
    app.state.index_html = render_index(session, run_name)
    return app


# ---- server ------------------------------------------------------------------------------------


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1:port (0: a free port chosen by the OS)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise UnigapError(
            f"cannot listen on {HOST}:{port}: {err}; choose another --port or leave it out for a free one"
        ) from None
    return sock


class LabelServer:
    """uvicorn serving one app on a socket bound before start, so the URL is known before serving."""

    def __init__(self, app: Starlette, port: int = 0) -> None:
        self.sock = bind(port)
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=3)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def url(self, token: str) -> str:
        return f"http://{HOST}:{self.port}/?token={token}"

    def run(self) -> None:
        """Serve until Ctrl-C (uvicorn finishes open requests, then re-raises the signal, caught here)."""
        try:
            self.server.run(sockets=[self.sock])
        except KeyboardInterrupt:
            pass
        finally:
            self.sock.close()

    def start(self, timeout: float = 10.0) -> LabelServer:
        """Serve in a background thread (tests, notebooks); returns once it accepts connections."""
        self._thread = threading.Thread(target=self.run, name="unigap-label", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the label server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def serve(
    run_dir: str | Path,
    name: str,
    sample: int | None = None,
    seed: int = 0,
    source: str | None = None,
    show_judges: bool = False,
    port: int = 0,
    announce: Callable[[str, LabelSession], None] | None = None,
) -> dict:
    """Serve the labelling page for a run until Ctrl-C; returns the final progress (session state)."""
    with RunStore.open(run_dir, create=False) as store:
        session = LabelSession.open(store, name, sample, seed, source, show_judges)
        if not session.order:
            raise UnigapError(f"run dir {run_dir}: no candidates{f' of source {source!r}' if source else ''} to label")
        token = make_token()
        server = LabelServer(create_app(session, token, Path(run_dir).name), port)
        if announce is not None:
            announce(server.url(token), session)
        server.run()
        return session.state()
