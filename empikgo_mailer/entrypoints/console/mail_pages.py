"""The branch's mail: the queue in receipt order, one request with its decision and
reply, and the messages set aside for staff with their one-click actions."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.config import BranchSettings
from empikgo_mailer.domain.explanations import OUTCOME_LABELS
from empikgo_mailer.domain.mail_outcomes import CHOSEN_REFUSALS
from empikgo_mailer.domain.statuses import ReplyStatus, RequestKind, RequestStatus
from empikgo_mailer.entrypoints.console.common import Console, field, off_loop
from empikgo_mailer.handlers.requests import ShowQueue, ShowRequest, ShowSetAside
from empikgo_mailer.handlers.set_aside import SetAsideAction, SettleSetAside
from empikgo_mailer.handlers.staff import OpenSession

KIND_LABELS = {
    RequestKind.REQUEST: "prośba",
    RequestKind.AUTOMATIC: "poczta automatyczna",
    RequestKind.TOO_LARGE: "za duża wiadomość",
    RequestKind.UNREADABLE: "nieczytelna wiadomość",
    RequestKind.DUPLICATE: "kopia wcześniejszej prośby",
}
REPLY_LABELS = {
    ReplyStatus.PENDING: "czeka na wysłanie",
    ReplyStatus.SENT: "wysłana",
    ReplyStatus.FAILED: "niewysłana",
}


def add_mail_pages(api: FastAPI, console: Console) -> None:
    app, clock = console.app, console.clock

    def row(request: MailRequest) -> dict[str, Any]:
        return {
            "id": request.id,
            "received": console.local_text(request.received_at),
            "sender": request.sender or "(brak poprawnego nadawcy)",
            "subject": request.subject,
            "card": request.card_number or "—",
            "outcome": OUTCOME_LABELS.get(request.outcome or "", request.outcome or "—"),
            "decided": console.local_text(request.decided_at),
            "why": _reason(request),
        }

    @api.get("/placowki/{branch_id}/kolejka", include_in_schema=False)
    def queue_page(request: Request, branch_id: str) -> Response:
        staff, branch = console.at_branch(request, branch_id)
        view = app.handle(ShowQueue(branch.id), now=clock())
        return console.page(
            "queue.html.j2", staff, title=f"Kolejka — {branch.name}", branch=branch,
            waiting=[row(r) for r in view.waiting], decided=[row(r) for r in view.decided_today],
            waiting_total=view.waiting_total,
            now_text=console.local_text(clock()), refresh=60,
        )  # fmt: skip

    @api.get("/placowki/{branch_id}/prosby/{request_id}", include_in_schema=False)
    def request_page(request: Request, branch_id: str, request_id: int) -> Response:
        staff, branch = console.at_branch(request, branch_id)
        view = app.handle(ShowRequest(request_id, branch.id))
        mail = view.request
        return console.page(
            "request.html.j2", staff, title=f"Prośba nr {mail.id}", branch=branch,
            mail=row(mail), kind=KIND_LABELS.get(mail.kind, str(mail.kind)),
            words=mail.words, note=mail.note or "", position=view.position,
            state=mail.status.value, handled_by=mail.handled_by or "",
            rules=view.rules,
            replies=[
                {
                    "to": reply.recipient,
                    "state": REPLY_LABELS[reply.status],
                    "css": {"sent": "ok", "failed": "bad"}.get(reply.status.value, "warn"),
                    "sent": console.local_text(reply.sent_at),
                    "error": reply.last_error or "",
                    "text": readable_reply(reply.message),
                }
                for reply in view.replies
            ],
            actions=_actions_context(branch, mail),
        )  # fmt: skip

    def set_aside_page(staff: OpenSession, branch: BranchSettings, **extra: Any) -> Response:
        rows = app.handle(ShowSetAside(branch.id))
        return console.page(
            "set_aside.html.j2", staff, title=f"Odłożone — {branch.name}",
            branch=branch,
            held=[{**row(r), "actions": _actions_context(branch, r)} for r in rows],
            **extra,
        )  # fmt: skip

    @api.get("/placowki/{branch_id}/odlozone", include_in_schema=False)
    def held_page(request: Request, branch_id: str) -> Response:
        return set_aside_page(*console.at_branch(request, branch_id))

    @api.post("/placowki/{branch_id}/odlozone/{request_id}", include_in_schema=False)
    async def settle(request: Request, branch_id: str, request_id: int) -> Response:
        staff, form = await console.posted(request, branch_id=branch_id)
        branch = console.branch(staff, branch_id)

        def work() -> Response:
            try:
                action = SetAsideAction(field(form, "action", 16))
            except ValueError:
                return set_aside_page(
                    staff, branch, message="Wybierz działanie.", message_class="bad"
                )
            result = app.handle(
                SettleSetAside(
                    request_id, branch.id, action,
                    card_number=field(form, "card", 64) or None,
                    refusal=field(form, "refusal", 32) or None,
                    login=staff.member.login,
                ),
                now=clock(),
            )  # fmt: skip
            return set_aside_page(
                staff, branch, message=result.message,
                message_class="ok" if result.done else "warn",
            )  # fmt: skip

        return await off_loop(work)


def _reason(request: MailRequest) -> str:
    """Why a message waits for staff, in a librarian's words."""
    label = OUTCOME_LABELS.get(request.outcome or "", "")
    if request.outcome == "card-missing" and request.cards_found > 1:
        label = f"kilka numerów kart ({request.cards})"
    return "; ".join(part for part in (label, request.note or "") if part)


def _actions_context(branch: BranchSettings, request: MailRequest) -> dict[str, Any] | None:
    if request.status is not RequestStatus.SET_ASIDE:
        return None
    return {
        "url": f"/placowki/{branch.id}/odlozone/{request.id}",
        "card": request.card_number or "",
        "can_reply": request.sender is not None,
        "refusals": [(outcome, OUTCOME_LABELS[outcome]) for outcome in CHOSEN_REFUSALS],
    }


def readable_reply(message: str) -> str:
    """The reply as the reader sees it: the headers that matter and the decoded text."""
    parsed = email.message_from_string(message, policy=email.policy.default)
    shown = {"From": "Od", "To": "Do", "Subject": "Temat"}
    lines = [f"{label}: {parsed[name]}" for name, label in shown.items() if parsed[name]]
    body = parsed.get_body(preferencelist=("plain",)) if parsed.is_multipart() else parsed
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return "\n".join(lines) + "\n\n" + str(text).rstrip()
