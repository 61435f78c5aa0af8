"""The branch's mail: the queue in receipt order, one request with its decision and
reply, and the messages set aside for staff with their one-click actions."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import Response

from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.config import BranchSettings
from empikgo_mailer.domain.explanations import OUTCOME_LABELS
from empikgo_mailer.domain.held_messages import DISMISS, GIVE, REFUSE, held_choices
from empikgo_mailer.domain.statuses import ReplyStatus, RequestKind, RequestStatus
from empikgo_mailer.entrypoints.console.common import Console, field, off_loop
from empikgo_mailer.entrypoints.console.search_pages import reader_url
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.mail_search import (
    DECIDED,
    MAX_SEARCH,
    SET_ASIDE,
    TODAY,
    WAITING,
    ListMail,
    MailPage,
    ShowNeighbours,
)
from empikgo_mailer.handlers.requests import ShowRequest
from empikgo_mailer.handlers.set_aside import (
    AnyReply,
    HeldMessage,
    SetAsideAction,
    Settlement,
    SettleSetAside,
    ShowHeld,
    held_facts,
)
from empikgo_mailer.handlers.staff import OpenSession

KIND_LABELS = {
    RequestKind.REQUEST: "prośba",
    RequestKind.AUTOMATIC: "poczta automatyczna",
    RequestKind.TOO_LARGE: "za duża wiadomość",
    RequestKind.UNREADABLE: "nieczytelna wiadomość",
    RequestKind.DUPLICATE: "kopia wcześniejszej prośby",
}
# The lists the queue page offers (its "wynik" parameter): by status, then by outcome.
SHOW_LABELS = {
    "": "wszystkie wiadomości",
    WAITING: "czekające w kolejce",
    SET_ASIDE: "odłożone dla obsługi",
    TODAY: "rozstrzygnięte dziś",
    DECIDED: "rozstrzygnięte",
    **OUTCOME_LABELS,
}
REPLY_LABELS = {
    ReplyStatus.PENDING: "czeka na wysłanie",
    ReplyStatus.SENT: "wysłana",
    ReplyStatus.FAILED: "niewysłana",
}


def add_mail_pages(api: FastAPI, console: Console) -> None:
    app, clock = console.app, console.clock

    def row(request: MailRequest, reader: str = "") -> dict[str, Any]:
        return {
            "id": request.id,
            "received": console.local_text(request.received_at),
            "sender": request.sender or "(brak poprawnego nadawcy)",
            "subject": request.subject,
            "card": request.card_number or "—",
            "reader": reader,
            "outcome": OUTCOME_LABELS.get(request.outcome or "", request.outcome or "—"),
            "state": _state(request),
            "decided": console.local_text(request.decided_at),
            "why": _reason(request),
        }

    def listed(page: MailPage) -> list[dict[str, Any]]:
        return [row(item.request, item.reader) for item in page.rows]

    @api.get("/placowki/{branch_id}/kolejka", include_in_schema=False)
    def queue_page(
        request: Request, branch_id: str, szukaj: str = "", wynik: str = "", strona: int = 1
    ) -> Response:
        staff, branch = console.at_branch(request, branch_id)
        now = clock()
        text, show = szukaj.strip()[:MAX_SEARCH], wynik if wynik in SHOW_LABELS else ""
        common: dict[str, Any] = {
            "title": f"Kolejka — {branch.name}", "branch": branch, "text": text, "show": show,
            "shows": list(SHOW_LABELS.items()), "now_text": console.local_text(now),
        }  # fmt: skip
        if not text and not show:
            # The day's view: the queue in receipt order and today's decisions, each the
            # first page of its own list (the links carry it, for next/previous).
            waiting = app.handle(ListMail(branch.id, WAITING), now=now)
            today = app.handle(ListMail(branch.id, TODAY), now=now)
            return console.page(
                "queue.html.j2", staff, **common, listing=None, refresh=60,
                waiting=listed(waiting), waiting_total=waiting.total,
                waiting_query=list_query("", WAITING),
                decided=listed(today), decided_total=today.total,
                decided_query=list_query("", TODAY),
            )  # fmt: skip
        found = app.handle(ListMail(branch.id, show, text, strona), now=now)
        query = list_query(text, show)
        return console.page(
            "queue.html.j2", staff, **common,
            listing={
                "title": SHOW_LABELS[show].capitalize() if show else "Wszystkie wiadomości",
                "rows": listed(found), "total": found.total, "page": found.page,
                "pages": found.pages, "offset": found.offset, "waiting": show == WAITING,
                "query": query,
                "previous": _page_link(branch.id, query, found.page - 1, found.pages),
                "next": _page_link(branch.id, query, found.page + 1, found.pages),
            },
        )  # fmt: skip

    @api.get("/placowki/{branch_id}/prosby/{request_id}", include_in_schema=False)
    def request_page(
        request: Request, branch_id: str, request_id: int, szukaj: str = "", wynik: str = ""
    ) -> Response:
        staff, branch = console.at_branch(request, branch_id)
        now = clock()
        view = app.handle(ShowRequest(request_id, branch.id))
        text, show = szukaj.strip()[:MAX_SEARCH], wynik if wynik in SHOW_LABELS else ""
        around = app.handle(ShowNeighbours(request_id, branch.id, show, text), now=now)
        query = list_query(text, show)
        mail = view.request
        here = f"/placowki/{branch.id}/prosby/"
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
            actions=_actions_context(branch, mail, view.replies),
            readers=[
                {"url": reader_url(r.card_number), "name": f"{r.first_name} {r.last_name}",
                 "card": r.card_number}
                for r in around.readers
            ],
            find_url="/czytelnicy?" + urlencode({"szukaj": mail.sender or mail.card_number or ""}),
            list_name=SHOW_LABELS[show] if show else "wszystkie wiadomości",
            list_url=f"/placowki/{branch.id}/kolejka{query}", searched=text,
            previous_url=f"{here}{around.previous}{query}" if around.previous else "",
            next_url=f"{here}{around.next}{query}" if around.next else "",
        )  # fmt: skip

    def set_aside_page(
        staff: OpenSession,
        branch: BranchSettings,
        *,
        focus: int | None = None,
        kept: KeptInput | None = None,
        **extra: Any,
    ) -> Response:
        """The list; `focus`: the entry the keyboard lands on after an action (its heading),
        `kept`: what the librarian typed into an entry whose action did not go through."""
        held = app.handle(ShowHeld(branch.id))
        ids = [m.request.id for m in held]
        if focus not in ids:
            focus = ids[0] if ids and focus is not None else None
        entries = []
        for index, message in enumerate(held):
            following = held[index + 1] if index + 1 < len(held) else None
            entries.append(
                held_entry(console, branch, message, following=following, kept=kept)
                | {"focus": message.request.id == focus and kept is None}
            )
        return console.page(
            "set_aside.html.j2", staff, title=f"Odłożone — {branch.name}",
            branch=branch, held=entries, **extra,
        )  # fmt: skip

    @api.get("/placowki/{branch_id}/odlozone", include_in_schema=False)
    def held_page(request: Request, branch_id: str) -> Response:
        return set_aside_page(*console.at_branch(request, branch_id))

    @api.post("/placowki/{branch_id}/odlozone/{request_id}", include_in_schema=False)
    async def settle(request: Request, branch_id: str, request_id: int) -> Response:
        staff, form = await console.posted(request, branch_id=branch_id)
        branch = console.branch(staff, branch_id)

        def work() -> Response:
            following = _number(field(form, "next", 20))
            try:
                action = SetAsideAction(field(form, "action", 16))
            except ValueError:
                return set_aside_page(
                    staff, branch, message="Wybierz działanie.", message_class="bad"
                )
            card = field(form, "card", 64)
            try:
                result = app.handle(
                    SettleSetAside(
                        request_id, branch.id, action,
                        card_number=card or None,
                        refusal=field(form, "refusal", 32) or None,
                        login=staff.member.login,
                    ),
                    now=clock(),
                )  # fmt: skip
            except CommandRejected as exc:
                result = Settlement(False, str(exc))
            if result.done:
                return set_aside_page(
                    staff, branch, focus=following, message=result.message, message_class="ok"
                )
            # Not done: the entry stays where it was, with what was typed and why not.
            typed = card if action is SetAsideAction.GIVE else ""
            kept = KeptInput(request_id, typed, result.message)
            return set_aside_page(
                staff, branch, focus=request_id, kept=kept, message=result.message,
                message_class="warn",
            )  # fmt: skip

        return await off_loop(work)


def list_query(text: str, show: str) -> str:
    """The query string that names a list of a branch's mail ("" for every message)."""
    params = {name: value for name, value in (("wynik", show), ("szukaj", text)) if value}
    return "?" + urlencode(params) if params else ""


def _page_link(branch_id: str, query: str, page: int, pages: int) -> str:
    if not 1 <= page <= pages:
        return ""
    joiner = "&" if query else "?"
    shown = f"{joiner}strona={page}" if page > 1 else ""
    return f"/placowki/{branch_id}/kolejka{query}{shown}"


def _state(request: MailRequest) -> str:
    """Where a message stands, in a list of every kind of message."""
    if request.status is RequestStatus.QUEUED:
        return "czeka w kolejce"
    label = OUTCOME_LABELS.get(request.outcome or "", request.outcome or "")
    if request.status is RequestStatus.SET_ASIDE:
        return f"odłożona dla obsługi ({_reason(request)})" if _reason(request) else "odłożona"
    return label or "—"


def _reason(request: MailRequest) -> str:
    """Why a message waits for staff, in a librarian's words."""
    label = OUTCOME_LABELS.get(request.outcome or "", "")
    if request.outcome == "card-missing" and request.cards_found > 1:
        label = f"kilka numerów kart ({', '.join((request.cards or '').split())})"
    return "; ".join(part for part in (label, request.note or "") if part)


def _actions_context(
    branch: BranchSettings, request: MailRequest, replies: Sequence[AnyReply] = ()
) -> dict[str, Any] | None:
    """The actions offered for a set-aside message (None once it is settled): the reason's
    action first, a refusal the reader already got left out, automatic mail only closed.
    `replies`: what the message was already answered with (the request page may pass its
    replies; without them the handler still refuses a second identical refusal)."""
    if request.status is not RequestStatus.SET_ASIDE:
        return None
    choices = held_choices(held_facts(request, replies))
    others = [action for action in (GIVE, REFUSE, DISMISS) if action != choices.default]
    return {
        "url": f"/placowki/{branch.id}/odlozone/{request.id}",
        "card": request.card_number or "",
        "order": [choices.default, *others],
        "default": choices.default,
        "can_give": choices.can_give,
        "cards": list(choices.cards),
        "can_reply": bool(choices.refusals),
        "refusals": [(outcome, OUTCOME_LABELS[outcome]) for outcome in choices.refusals],
        "default_refusal": choices.default_refusal,
        "sender": request.sender or "",
        "next": "",
        "error": "",
    }


@dataclass(frozen=True)
class KeptInput:
    """What a librarian typed into an entry whose action did not go through, and why."""

    request_id: int
    card: str
    error: str


WORDS_EXCERPT = 320  # characters of the reader's words shown before "pokaż całość"


def excerpt(words: str, limit: int = WORDS_EXCERPT) -> str:
    """The start of the reader's words, cut at a word, for the list; "" when it all fits."""
    if len(words) <= limit + limit // 4:
        return ""
    cut = words[:limit]
    return (cut[: cut.rfind(" ")] if " " in cut else cut).rstrip() + " …"


TOLD_STATES = {
    ReplyStatus.PENDING: ("czeka na wysłanie", "warn"),
    ReplyStatus.SENT: ("wysłana", "ok"),
    ReplyStatus.FAILED: ("niewysłana", "bad"),
    ReplyStatus.BOUNCED: ("nie dotarła (wróciła)", "bad"),
}


def held_entry(
    console: Console,
    branch: BranchSettings,
    message: HeldMessage,
    *,
    following: HeldMessage | None,
    kept: KeptInput | None,
) -> dict[str, Any]:
    """One entry of the set-aside list: the message, the reason, what the reader was
    already told, and the actions."""
    request = message.request
    actions = _actions_context(branch, request, message.replies)
    assert actions is not None
    actions["next"] = str(following.request.id) if following is not None else ""
    if kept is not None and kept.request_id == request.id:
        actions |= {"card": kept.card, "error": kept.error}
    told = []
    for reply in message.replies:
        state, css = TOLD_STATES[reply.status]
        when = reply.sent_at if reply.status is ReplyStatus.SENT else reply.created_at
        what = (
            "kod"
            if reply.issuance_id is not None
            else f"odmowa „{OUTCOME_LABELS.get(request.outcome or '', request.outcome or '')}”"
        )
        told.append(
            {"what": what, "to": reply.recipient, "state": state, "css": css,
             "when": console.local_text(when), "error": reply.last_error or ""}
        )  # fmt: skip
    return {
        "id": request.id,
        "sender": request.sender or "(brak poprawnego nadawcy)",
        "received": console.local_text(request.received_at),
        "subject": request.subject,
        "kind": KIND_LABELS.get(request.kind, str(request.kind)),
        "why": _reason(request),
        "words": request.words,
        "excerpt": excerpt(request.words),
        "told": told,
        "automatic": not actions["can_give"],
        "actions": actions,
    }


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def readable_reply(message: str) -> str:
    """The reply as the reader sees it: the headers that matter and the decoded text."""
    parsed = email.message_from_string(message, policy=email.policy.default)
    shown = {"From": "Od", "To": "Do", "Subject": "Temat"}
    lines = [f"{label}: {parsed[name]}" for name, label in shown.items() if parsed[name]]
    body = parsed.get_body(preferencelist=("plain",)) if parsed.is_multipart() else parsed
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return "\n".join(lines) + "\n\n" + str(text).rstrip()
