"""The catalogue API's documentation (Swagger UI) for staff, from files shipped in a
package: library networks and CI are offline, so no CDN. fastapi-offline carries Swagger
UI 5 (OpenAPI 3.1, which FastAPI writes); only its static files are used here, under our
own page and Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from empikgo_mailer.entrypoints.console.common import Console

SWAGGER_FILES = Path(fastapi_offline.__file__).parent / "static"


def add_docs_pages(api: FastAPI, console: Console) -> None:
    api.mount("/docs-assets", StaticFiles(directory=SWAGGER_FILES), name="docs-assets")

    @api.get("/openapi.json", include_in_schema=False)
    def openapi() -> Response:
        # Part of the catalogue API (its machine-readable description): no staff login.
        return JSONResponse(api.openapi())

    @api.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        staff = console.session_of(request)
        return console.page("docs.html.j2", staff, title="API katalogu")
