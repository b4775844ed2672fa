"""The console at /ui: jobs, evaluations, audits, training runs and adapters, as pages
(docs/console.md). Mounted by the gateway, the one port a deployment publishes, behind the
same API keys as the API (a sign-in form turns a key into a session cookie)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advisor_shared.api.errors import error_body
from advisor_shared.store import ObjectStore

from ..adapters.service import AdapterService
from ..core.config import Settings
from .backends import BackendError, Backends
from .routes import LoginRequired, page, router
from .session import SessionCodec
from .state import ConsoleState

STATIC = Path(__file__).parent / "static"
# Pages and their assets come from this origin only; nothing inline runs, nothing frames them.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
        b"script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class ConsoleHeaders:
    """Security headers on every /ui response; pages are never cached (they show live jobs
    and carry the session's CSRF token)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/ui"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers.extend(SECURITY_HEADERS)
                if not any(name == b"cache-control" for name, _ in headers):
                    # Assets are revalidated by their ETag; pages are never stored.
                    static = scope["path"].startswith("/ui/static/")
                    headers.append((b"cache-control", b"no-cache" if static else b"no-store"))
            await send(message)

        await self.app(scope, receive, with_headers)


def install_console(
    app: FastAPI,
    settings: Settings,
    store: ObjectStore,
    adapters: AdapterService,
) -> None:
    """Mount the console's pages and assets on the gateway app."""
    app.state.console = ConsoleState(
        codec=SessionCodec(
            settings.api_keys, settings.effective_admin_keys(), settings.console_session_ttl_s
        ),
        backends=Backends(
            settings.evaluator_url,
            settings.auditor_url,
            settings.trainer_url,
            settings.console_backend_timeout_s,
        ),
        store=store,
        adapters=adapters,
        flower_url=settings.flower_url,
        base=(settings.base_alias, settings.base_model, settings.engine),
    )
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_middleware(ConsoleHeaders)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/ui/login?{urlencode({'next': target})}", status_code=303)
        return JSONResponse(
            error_body(401, "sign in at /ui/login first", code="login_required"), status_code=401
        )

    @app.exception_handler(BackendError)
    async def _backend_error(request: Request, exc: BackendError) -> Response:
        if "text/html" not in request.headers.get("accept", ""):
            return JSONResponse(error_body(exc.status, exc.message), status_code=exc.status)
        session = app.state.console.codec.open(request.cookies.get("advisor_console"))
        return page(request, "error.html", session, exc.status, message=exc.message)
