"""The audit trail for admins: every staff action, who, when, what and from where, in
Polish sentences, a page of events at a time with the filters kept in every link."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import Response

from empikgo_mailer.domain.audit_sentences import (
    AuditEntry,
    AuditNames,
    action_label,
    actor_text,
    moment_short,
    sentence,
)
from empikgo_mailer.domain.staff import Role
from empikgo_mailer.entrypoints.console.common import Console
from empikgo_mailer.handlers.audit_log import PAGE, ShowAudit, ShowAuditActions

MAX_PAGE = 10_000  # 500,000 events back: further is a database query, not a page


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _page_number(text: str) -> int:
    return min(max(int(text), 1), MAX_PAGE) if text.isdigit() else 1


def _details(text: str | None) -> dict[str, Any]:
    try:
        details = json.loads(text or "{}")
    except ValueError:
        return {}
    return details if isinstance(details, dict) else {}


def add_admin_pages(api: FastAPI, console: Console) -> None:
    app = console.app
    library, calendar = app.library, app.library.calendar
    names = AuditNames(
        platforms={p.value: p.display_name for p in library.offered},
        branches={b.id: b.name for b in app.settings.branches.values()},
        locations={loc.id: loc.name for loc in library.locations.values()},
    )

    @api.get("/dziennik", include_in_schema=False)
    def audit(request: Request) -> Response:
        staff = console.session_of(request, Role.ADMIN)
        given = request.query_params
        filters = {
            "kto": given.get("kto", "staff:")[:64],
            "co": given.get("co", "")[:32],
            "karta": given.get("karta", "")[:64],
            "od": given.get("od", "")[:10],
            "do": given.get("do", "")[:10],
        }
        number = _page_number(given.get("strona", ""))
        events = app.handle(
            ShowAudit(
                filters["kto"], filters["co"], filters["karta"], _day(filters["od"]),
                _day(filters["do"]), limit=PAGE + 1, offset=(number - 1) * PAGE,
            )
        )  # fmt: skip
        rows = [
            {
                "when": moment_short(calendar.local(e.at)),
                "iso": calendar.local(e.at).isoformat(timespec="seconds"),
                "who": actor_text(e.actor, names),
                "where": e.address or "",
                "what": sentence(
                    AuditEntry(e.action, e.outcome, e.card_number, _details(e.details)), names
                ),
            }
            for e in events[:PAGE]
        ]

        def link(page_number: int) -> str:
            return "/dziennik?" + urlencode({**filters, "strona": page_number})

        actions = sorted(app.handle(ShowAuditActions()), key=action_label)
        return console.page(
            "audit.html.j2", staff, title="Dziennik zdarzeń", rows=rows,
            actions=[(a, action_label(a)) for a in actions], filters=filters,
            first=(number - 1) * PAGE + 1, page_number=number,
            newer=link(number - 1) if number > 1 else "",
            older=link(number + 1) if len(events) > PAGE else "",
        )  # fmt: skip
