"""Find a reader from any page's header: by card, by name (any order, with or without
diacritics, as the mail rule matches names) or by e-mail; one match opens the reader."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from empikgo_mailer.entrypoints.console.common import Console
from empikgo_mailer.handlers.mail_search import MAX_SEARCH, READERS_SHOWN, FindReaders


def reader_url(card_number: str) -> str:
    return "/czytelnik?" + urlencode({"karta": card_number})


def add_search_pages(api: FastAPI, console: Console) -> None:
    app = console.app

    @api.get("/czytelnicy", include_in_schema=False)
    def find_reader(request: Request, szukaj: str = "") -> Response:
        staff = console.session_of(request)
        text = szukaj.strip()[:MAX_SEARCH]
        found = app.handle(FindReaders(text)) if text else []
        if len(found) == 1:
            return RedirectResponse(reader_url(found[0].card_number), status_code=303)
        return console.page(
            "readers.html.j2", staff, title="Znajdź czytelnika", text=text,
            more=len(found) > READERS_SHOWN,
            readers=[
                {
                    "url": reader_url(r.card_number),
                    "name": f"{r.first_name} {r.last_name}",
                    "card": r.card_number,
                    "email": r.email or "—",
                    "active": "aktywne" if r.active else "nieaktywne",
                }
                for r in found[:READERS_SHOWN]
            ],
        )  # fmt: skip
