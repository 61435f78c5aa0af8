"""The audit trail for admins: every staff action, who, when, what and from where."""

from __future__ import annotations

import json
from datetime import date

from fastapi import FastAPI, Request
from fastapi.responses import Response

from empikgo_mailer.domain.staff import Role
from empikgo_mailer.entrypoints.console.common import Console
from empikgo_mailer.handlers.audit_log import ShowAudit, ShowAuditActions


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def add_admin_pages(api: FastAPI, console: Console) -> None:
    app = console.app

    @api.get("/dziennik", include_in_schema=False)
    def audit(request: Request) -> Response:
        staff = console.session_of(request, Role.ADMIN)
        given = request.query_params
        kto, co, karta = given.get("kto", "staff:"), given.get("co", ""), given.get("karta", "")
        od, do = given.get("od", ""), given.get("do", "")
        events = app.handle(ShowAudit(kto[:64], co[:32], karta[:64], _day(od), _day(do)))
        rows = [
            (
                e,
                ", ".join(
                    f"{key}: {value}"
                    for key, value in json.loads(e.details or "{}").items()
                    if value not in (None, "")
                ),
            )
            for e in events
        ]
        return console.page(
            "audit.html.j2", staff, title="Dziennik zdarzeń", rows=rows,
            actions=app.handle(ShowAuditActions()),
            filters={"kto": kto[:64], "co": co[:32], "karta": karta[:64], "od": od[:10],
                     "do": do[:10]},
        )  # fmt: skip
