"""What a browser gets for an address the console has no page for, a malformed one and a
bug: a Polish page with the console's look, never framework JSON or a bare English
"Internal Server Error"; the catalogue's API under /api keeps its JSON. And the favicon."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.entrypoints.web import create_web_app
from tests.support.cli import Cli

NOW = datetime(2026, 11, 2, 12, 30, tzinfo=ZoneInfo("Europe/Warsaw"))
TOKEN = "errors-test-token"


@pytest.fixture
def web(cli: Cli) -> Iterator[FastAPI]:
    app = bootstrap(load_settings(cli.config, {"EMPIKGO_API_TOKEN": TOKEN}))
    api = create_web_app(app, lambda: NOW)

    @api.get("/placowki/w63/blad-programu")
    def console_bug() -> None:
        raise RuntimeError("a bug on a console page")

    @api.get("/api/blad-programu")
    def api_bug() -> None:
        raise RuntimeError("a bug in the API")

    try:
        yield api
    finally:
        app.db.dispose()


def ask(api: FastAPI, method: str, path: str, **more: object) -> httpx.Response:
    async def go() -> httpx.Response:
        # The app's own exception still propagates after its answer (so it is logged).
        transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://konsola") as client:
            return await client.request(method, path, **more)  # type: ignore[arg-type]

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("method", "path", "status", "title"),
    [
        ("GET", "/nie-ma-takiej-strony", 404, "Nie ma takiej strony"),
        ("GET", "/placowki/w63/prosby/nie-liczba", 422, "Nieprawidłowy adres"),
        ("GET", "/placowki/w63/punkt/wydania/1.5", 422, "Nieprawidłowy adres"),
        ("GET", "/wyloguj", 405, "Nie można otworzyć"),
        ("GET", "/placowki/w63/blad-programu", 500, "Błąd programu"),
    ],
)
def test_a_console_address_gets_a_polish_page(
    web: FastAPI, method: str, path: str, status: int, title: str
) -> None:
    answer = ask(web, method, path)
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    assert '<html lang="pl">' in answer.text
    assert f"<h1>{title}</h1>" in answer.text
    assert 'href="/static/console.css"' in answer.text
    for english in ("Not Found", "Internal Server Error", "detail", "Method Not Allowed"):
        assert english not in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")


def test_the_catalogue_api_keeps_its_json(web: FastAPI) -> None:
    missing = ask(web, "GET", "/api/nie-ma")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    unauthorised = ask(web, "POST", "/api/legimi/claims", json={"card_number": "1000001"})
    assert unauthorised.status_code == 401
    assert unauthorised.json() == {"detail": "Brak lub nieprawidłowy token dostępu."}
    assert unauthorised.headers["www-authenticate"] == "Bearer"
    malformed = ask(
        web, "POST", "/api/legimi/claims", json={"card": "x"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )  # fmt: skip
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["type"] == "missing"
    bug = ask(web, "GET", "/api/blad-programu")
    assert bug.status_code == 500
    assert bug.json()["detail"].startswith("Coś poszło nie tak")


def test_the_favicon_is_answered_and_linked(web: FastAPI) -> None:
    icon = ask(web, "GET", "/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.text.startswith("<svg")
    page = ask(web, "GET", "/logowanie")
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page.text
    assert ask(web, "GET", "/static/favicon.svg").status_code == 200
