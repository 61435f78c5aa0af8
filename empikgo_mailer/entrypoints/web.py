"""The HTTP door: the library catalogue's "Pobierz kod Legimi" button (FastAPI + uvicorn).

The catalogue authenticates the reader and calls us with its own bearer token; we trust
it for who the reader is, exactly as staff at the desk trust a library card. The staff
console (entrypoints/console) is served by the same application.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at
# run time, and `Depends(bearer)` refers to a local of create_web_app.
import hmac
import logging
import math
from datetime import date
from typing import Annotated, Any

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.exc import DBAPIError

from empikgo_mailer import __version__
from empikgo_mailer.adapters.link_errors import DATABASE, database_down
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.card_number import CardNumber
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.errors import DatabaseUnavailable
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.entrypoints.claim_desk import ClaimDesk
from empikgo_mailer.entrypoints.console.common import Console
from empikgo_mailer.entrypoints.console.pages import add_console
from empikgo_mailer.entrypoints.console.security import trust_proxies
from empikgo_mailer.entrypoints.operations_web import add_operations
from empikgo_mailer.entrypoints.outage_log import OutageLog
from empikgo_mailer.handlers.legimi import ClaimLegimiCode, Limited

log = logging.getLogger(__name__)
CLAIMS_PATH = "/api/legimi/claims"
# With the database down: when to ask again (the catalogue and browsers read Retry-After).
RETRY_AFTER_SECONDS = 30
DATABASE_DOWN_TEXT = "Baza danych biblioteki jest chwilowo niedostępna. Spróbuj ponownie za chwilę."
# What the database's drivers raise when it cannot be reached or used.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    DBAPIError,
    DatabaseUnavailable,
    psycopg.OperationalError,
)


# How `web` starts uvicorn: no proxy headers of its own (believed from any client on
# 127.0.0.1; [web] trusted_proxies decides instead) and no "Server: uvicorn" telling a
# scanner what to try.
SERVER_OPTIONS: dict[str, Any] = {"proxy_headers": False, "server_header": False}


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_number: str = Field(
        min_length=1,
        max_length=64,
        description="Numer karty czytelnika zalogowanego w katalogu.",
        examples=["1000001"],
    )

    @field_validator("card_number")
    @classmethod
    def _card(cls, text: str) -> str:
        """The same card number rule as every other door; a clear 422 otherwise."""
        return CardNumber.parse(text).value


class ClaimResponse(BaseModel):
    granted: bool = Field(description="Czy czytelnik otrzymał kod.")
    message: str = Field(description="Komunikat dla czytelnika, do pokazania bez zmian.")
    code: str | None = Field(description="Kod dostępu Legimi, gdy granted.")
    activation_url: str | None = Field(description="Strona aktywacji kodu, gdy granted.")
    activate_by: date | None = Field(description="Ostatni dzień na aktywację, gdy granted.")
    reason: str | None = Field(description="Powód odmowy (stała nazwa), gdy nie granted.")
    repeated: bool = Field(description="Ten sam kod co przy wcześniejszym pobraniu.")


class ErrorResponse(BaseModel):
    detail: str


def create_web_app(app: App, clock: Clock) -> FastAPI:
    """The per-card limit is counted in the database, inside each batch of claims: every
    worker sees the same counts."""
    outages = OutageLog(log, clock)
    desk = ClaimDesk(app, outages)
    bearer = HTTPBearer(auto_error=False, description="Token katalogu (EMPIKGO_API_TOKEN).")
    api = FastAPI(
        title="empikgo-mailer",
        version=__version__,
        description="Kody Legimi pobierane przez czytelników z konta w katalogu biblioteki.",
        # The console serves the API's documentation itself, from vendored files, to staff.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    async def authorised(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        expected = app.settings.web.api_token
        given = credentials.credentials if credentials is not None else ""
        # Constant-time comparison; the token itself is never logged or echoed.
        if expected is None or not hmac.compare_digest(given.encode(), expected.value.encode()):
            raise HTTPException(
                status_code=401,
                detail="Brak lub nieprawidłowy token dostępu.",
                headers={"WWW-Authenticate": "Bearer"},
            )

    @api.post(
        CLAIMS_PATH,
        response_model=ClaimResponse,
        summary="Pobierz kod Legimi",
        description=(
            "Wydaje czytelnikowi kod Legimi od razu albo odmawia z komunikatem dla "
            "czytelnika. Powtórzone pobranie w tym samym miesiącu zwraca ten sam kod."
        ),
        responses={
            401: {"model": ErrorResponse, "description": "Brak lub zły token."},
            422: {"description": "Błędne dane żądania."},
            429: {"model": ErrorResponse, "description": "Za dużo prób dla tej karty."},
            503: {
                "model": ErrorResponse,
                "description": "Baza danych chwilowo niedostępna; ponów po Retry-After.",
            },
        },
        dependencies=[Depends(authorised)],
    )
    async def claim(body: ClaimRequest) -> ClaimResponse:
        answer = await desk.claim(ClaimLegimiCode(body.card_number), clock())
        if isinstance(answer, Limited):
            raise HTTPException(
                status_code=429,
                detail="Zbyt wiele prób pobrania kodu. Spróbuj ponownie za chwilę.",
                headers={"Retry-After": str(max(1, math.ceil(answer.retry_after)))},
            )
        return ClaimResponse(
            granted=answer.granted,
            message=answer.message,
            code=answer.code,
            activation_url=(
                app.library.activation_url(Platform.LEGIMI) if answer.granted else None
            ),
            activate_by=answer.activate_by,
            reason=answer.reason.value if answer.reason is not None else None,
            repeated=answer.repeated,
        )

    add_operations(api, app, clock, outages)
    console = add_console(api, app, clock)
    _answer_database_outages(api, console, outages)
    trust_proxies(api, app.settings.web.trusted_proxies)
    return api


def _answer_database_outages(api: FastAPI, console: Console, outages: OutageLog) -> None:
    """With the database down a request gets 503 and Retry-After (the claims API its
    JSON error, a console page a Polish page), and the outage is said once in the log,
    not a traceback a request. Any other database error is a bug: it goes on as one."""

    def answer(request: Request, exc: Exception) -> Response:
        if not database_down(exc):
            raise exc
        outages.failed(DATABASE, exc, known=True, what="requests answered 503")
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": DATABASE_DOWN_TEXT}, status_code=503, headers=headers)
        page = console.page(
            "message.html.j2", None, 503, title="Chwilowa przerwa", text=DATABASE_DOWN_TEXT
        )
        page.headers.update(headers)
        return page

    for kind in DATABASE_ERRORS:
        api.add_exception_handler(kind, answer)
