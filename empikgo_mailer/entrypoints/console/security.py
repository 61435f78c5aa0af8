"""Console security: session cookies, CSRF tokens, response headers, whose
X-Forwarded-For counts, and the access log."""

from __future__ import annotations

import hmac
import logging
import secrets
import time

from fastapi import FastAPI, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from empikgo_mailer.adapters.store import ACTION_ORIGIN
from empikgo_mailer.domain.errors import ProgramError

SESSION_COOKIE = "empikgo_session"
LOGIN_CSRF_COOKIE = "empikgo_login_csrf"  # the login form's token, before any session
# No inline script or style anywhere: the console's own files only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
# The console needs none of the browser's devices or payment features: off for any
# script that might ever get in.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
# Pages carry codes, readers' names and fines, and the claims API codes: none of it is
# kept by the browser (the back button after logging out) or a shared proxy. Only the
# console's own style and scripts may be cached.
NO_STORE = "no-store"
STATIC_PREFIX = "/static/"
access_log = logging.getLogger("empikgo_mailer.access")


class LoginRequired(ProgramError):
    """A page was asked for without a valid session."""


class Forbidden(ProgramError):
    """A form came without a valid CSRF token: nothing is changed."""


class NotFound(ProgramError):
    """No such page, or not one this staff member may see (the same answer for both)."""


def same_token(given: object, expected: str | None) -> bool:
    return (
        isinstance(given, str)
        and expected is not None
        and hmac.compare_digest(given.encode(), expected.encode())
    )


def new_token() -> str:
    return secrets.token_urlsafe(32)


def set_cookie(response: Response, name: str, value: str, *, https: bool) -> None:
    response.set_cookie(
        name, value, httponly=True, samesite="strict", secure=https, path="/", max_age=None
    )


class SecurityHeaders:
    """Headers on every response, and one access-log line per request: method, path
    (never the query string, which could carry a card number), status, time, login.

    Written against ASGI itself: Starlette's BaseHTTPMiddleware (`@app.middleware`) costs
    a task and a stream per request, a quarter of what a Legimi claim costs the web
    process."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        status = 500

        async def secured(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if "Cache-Control" not in headers and not path.startswith(STATIC_PREFIX):
                    headers["Cache-Control"] = NO_STORE
                if path == "/docs":
                    # Swagger UI (React) styles its own elements; its script stays file-only.
                    headers["Content-Security-Policy"] = DOCS_CSP
            await send(message)

        # The connection's address, or a trusted proxy's X-Forwarded-For (TrustedProxies
        # runs first). Every action audited while answering records where it came from.
        client = scope.get("client")
        origin = ACTION_ORIGIN.set(client[0] if client else "?")
        try:
            await self.app(scope, receive, secured)
        finally:
            ACTION_ORIGIN.reset(origin)
        access_log.info(
            "%s %s %d %.1f ms %s",
            scope["method"],
            path,
            status,
            (time.perf_counter() - started) * 1000,
            scope.get("state", {}).get("login", "-"),
        )


def trust_proxies(api: FastAPI, proxies: tuple[str, ...]) -> None:
    """The client's address from X-Forwarded-For only when the request comes from one of
    `proxies` ([web] trusted_proxies); with none, as the connection says. Added last, so
    it runs first: the login lock and the audit read the address it leaves. uvicorn's own
    proxy handling is off (`web` starts it so): it believes any client on 127.0.0.1, so a
    forged header escaped the per-address login lock."""
    if proxies:
        api.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(proxies))
