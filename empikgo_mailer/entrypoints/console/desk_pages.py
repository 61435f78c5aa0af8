"""The desk: every rule for a card and a code given over the counter with its printable
slip; and one reader: codes, bans, fines, and recording a payment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from empikgo_mailer.config import BranchSettings
from empikgo_mailer.domain.card_number import CardNumber, InvalidCardNumber
from empikgo_mailer.domain.explanations import (
    CHANNEL_LABELS,
    RULE_LABELS,
    VERDICT_LABELS,
    explain,
    explain_refusal,
)
from empikgo_mailer.domain.fines import FineLedger, Location, PaymentMethod
from empikgo_mailer.domain.money import format_pln
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.polish import day_text, days_text, month_name
from empikgo_mailer.domain.staff import Role
from empikgo_mailer.entrypoints.console.common import Console, field, off_loop
from empikgo_mailer.handlers.codes import CheckEligibility, GiveCode
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.fines import PayFine, ShowReceipt, amount_of
from empikgo_mailer.handlers.patrons import BadRow
from empikgo_mailer.handlers.readers import ReaderView, ShowReader, ShowSlip
from empikgo_mailer.handlers.staff import OpenSession


def typed_card(text: str) -> tuple[str | None, str]:
    """(the card, "") or (None, why not) for what a librarian typed."""
    if not text.strip():
        return None, ""
    try:
        return str(CardNumber.parse(text)), ""
    except InvalidCardNumber as exc:
        return None, f"Numer karty: {exc}"


def add_desk_pages(api: FastAPI, console: Console) -> None:
    app, clock, library = console.app, console.clock, console.app.library

    def platform_of(text: str) -> Platform:
        try:
            return library.platform(text or Platform.EMPIK_GO.id)
        except CommandRejected:
            return library.offered[0]

    def desk_page(
        staff: OpenSession,
        branch: BranchSettings,
        card_text: str,
        platform: Platform,
        status: int = 200,
        **extra: Any,
    ) -> Response:
        card, problem = typed_card(card_text)
        rules: list[dict[str, str]] = []
        verdict, eligible = "", False
        if card is not None:
            # The branch is given, so the pool is this branch's: the rules are all counted.
            assessment = app.handle(CheckEligibility(card, platform, branch.id), now=clock())
            rules = [
                {
                    "rule": RULE_LABELS[r.rule],
                    "verdict": VERDICT_LABELS[r.verdict],
                    "css": {"pass": "ok", "fail": "bad"}.get(r.verdict.value, ""),
                    "why": explain(r),
                }
                for r in assessment.results
            ]
            refusal, eligible = assessment.refusal, assessment.eligible
            verdict = "Kod może zostać wydany."
            if refusal is not None and refusal.reason is not None:
                verdict = f"Odmowa — {explain_refusal(refusal.reason, dict(refusal.details))}"
        return console.page(
            "desk.html.j2", staff, status, title=f"Wydanie w placówce — {branch.name}",
            branch=branch, card=card or card_text[:64], problem=problem, rules=rules,
            verdict=verdict, eligible=eligible,
            platform=platform, platforms=library.offered, **extra,
        )  # fmt: skip

    @api.get("/placowki/{branch_id}/punkt", include_in_schema=False)
    def desk(request: Request, branch_id: str, karta: str = "", platforma: str = "") -> Response:
        staff, branch = console.at_branch(request, branch_id)
        return desk_page(staff, branch, karta[:64], platform_of(platforma))

    @api.post("/placowki/{branch_id}/punkt", include_in_schema=False)
    async def give(request: Request, branch_id: str) -> Response:
        staff, form = await console.posted(request, branch_id=branch_id)
        branch = console.branch(staff, branch_id)

        def work() -> Response:
            platform = platform_of(field(form, "platform", 32))
            card, problem = typed_card(field(form, "card", 64))
            if card is None:
                return desk_page(
                    staff, branch, field(form, "card", 64), platform, 422,
                    message=problem or "Podaj numer karty.", message_class="bad",
                )  # fmt: skip
            decision = app.handle(
                GiveCode(
                    card, platform, Channel.DESK, branch.id, actor=f"staff:{staff.member.login}"
                ),
                now=clock(),
            )
            refusal = decision.refusal
            if refusal is not None or decision.issuance_id is None:
                assert refusal is not None
                assert refusal.reason is not None
                why = explain_refusal(refusal.reason, dict(refusal.details))
                return desk_page(
                    staff, branch, card, platform, message=f"Odmowa: {why}", message_class="bad"
                )
            return RedirectResponse(
                f"/placowki/{branch.id}/punkt/wydania/{decision.issuance_id}", status_code=303
            )

        return await off_loop(work)

    @api.get("/placowki/{branch_id}/punkt/wydania/{issuance_id}", include_in_schema=False)
    def slip(request: Request, branch_id: str, issuance_id: int) -> Response:
        staff, branch = console.at_branch(request, branch_id)
        found = app.handle(ShowSlip(issuance_id, branch.id))
        month = Month.parse(found.month)
        return console.page(
            "slip.html.j2", staff, title="Kod wydany w placówce", branch=branch,
            platform=found.platform.display_name, code=found.code,
            activation_url=library.activation_url(found.platform),
            last_day=day_text(month.last_day), month_text=month_name(month),
            issued=console.local_text(found.issued_at),
        )  # fmt: skip


# At the desk money comes as cash; a transfer's proof next; online is the reader's own.
DESK_METHODS = (PaymentMethod.CASH, PaymentMethod.TRANSFER, PaymentMethod.ONLINE)


def desk_branch(staff: OpenSession) -> str | None:
    """The branch whose locations a librarian takes payments for; None for heads and
    admins, who take any."""
    member = staff.member
    return member.branch_id if member.role is Role.LIBRARIAN else None


def add_reader_pages(api: FastAPI, console: Console) -> None:
    app, clock, library = console.app, console.clock, console.app.library

    def reader_page(
        staff: OpenSession, card_text: str, status: int = 200, **extra: Any
    ) -> Response:
        card, problem = typed_card(card_text)
        reader = None
        if card is not None:
            try:
                view = app.handle(ShowReader(card), now=clock())
            except CommandRejected as exc:
                problem = str(exc)
            else:
                reader = _reader_context(view, console)
                reader["pay"] = _payment_form(view.fines.ledger, staff, library.locations)
        return console.page(
            "reader.html.j2", staff, status, title="Czytelnik",
            card=card or card_text[:64], problem=problem, reader=reader,
            methods=[(m.value, m.label) for m in DESK_METHODS], **extra,
        )  # fmt: skip

    @api.get("/czytelnik", include_in_schema=False)
    def reader(request: Request, karta: str = "") -> Response:
        return reader_page(console.session_of(request), karta[:64])

    @api.post("/czytelnik/wplata", include_in_schema=False)
    async def payment(request: Request) -> Response:
        staff, form = await console.posted(request)

        def work() -> Response:
            card_text = field(form, "card", 64)
            try:
                amount = amount_of(field(form, "amount", 32))
                method = PaymentMethod(field(form, "method", 16))
            except (BadRow, ValueError) as exc:
                why = str(exc) if isinstance(exc, BadRow) else "wybierz sposób zapłaty"
                return reader_page(
                    staff, card_text, 422, message=f"Kwota: {why}.", message_class="bad"
                )
            result = app.handle(
                PayFine(
                    card_text, field(form, "location", 32), amount, method,
                    proof=form.get("proof") == "on", actor=f"staff:{staff.member.login}",
                    desk_branch=desk_branch(staff),
                ),
                now=clock(),
            )  # fmt: skip
            if result.refusal is not None or result.payment_id is None:
                return reader_page(
                    staff, card_text, message=f"Odmowa: {result.refusal}.", message_class="bad"
                )
            # Redirected: reloading the receipt never records the payment again.
            return RedirectResponse(f"/czytelnik/wplaty/{result.payment_id}", status_code=303)

        return await off_loop(work)

    @api.get("/czytelnik/wplaty/{payment_id}", include_in_schema=False)
    def receipt(request: Request, payment_id: int) -> Response:
        staff = console.session_of(request)
        found = app.handle(ShowReceipt(payment_id, desk_branch(staff)), now=clock())
        branch = app.settings.branches.get(found.location.branch_id or "")
        if found.counted:
            state = "wpłata przyjęta"
        else:
            expected = day_text(found.expected_by) if found.expected_by else "kilka dni"
            state = (
                f"przelew czeka na zaksięgowanie (zwykle do {expected}); do tego czasu "
                "należność pozostaje"
            )
        return console.page(
            "receipt.html.j2", staff, title="Pokwitowanie wpłaty", receipt=found,
            branch=branch, amount=format_pln(found.amount_grosze),
            balance=format_pln(found.balance_after_grosze),
            outstanding=format_pln(found.outstanding_after_grosze),
            taken=console.local_text(found.recorded_at),
            taken_by=found.actor.removeprefix("staff:"), state=state,
        )  # fmt: skip


def _payment_form(
    ledger: FineLedger, staff: OpenSession, locations: Mapping[str, Location]
) -> dict[str, Any]:
    """The locations this member takes payments for, the one chosen first (the one owed
    the most), its amount to pay, and whether anything is owed at all (the form then
    comes first on the page)."""
    branch = desk_branch(staff)
    offered = [loc for loc in locations.values() if branch is None or loc.branch_id == branch]
    owed = {loc.id: ledger.account(loc).payable_grosze for loc in offered}
    chosen = max(offered, key=lambda loc: owed[loc.id], default=None)
    payable = owed[chosen.id] if chosen is not None else 0
    # Owed where this member takes no payments: said, so the reader is sent the right way.
    elsewhere = [
        a.location.name
        for a in ledger.accounts
        if a.payable_grosze > 0 and a.location.id not in owed
    ]
    return {
        "locations": offered,
        "elsewhere": ", ".join(elsewhere),
        "chosen": chosen.id if chosen is not None else "",
        "amount": format_pln(payable).removesuffix(" zł") if payable > 0 else "",
        "first": ledger.outstanding_grosze > 0,
    }


def _reader_context(view: ReaderView, console: Console) -> dict[str, Any]:
    ledger: FineLedger = view.fines.ledger
    today = ledger.today
    names = {b.id: b.name for b in console.app.settings.branches.values()}
    return {
        "card": view.card_number,
        "name": view.name,
        "email": view.email or "brak",
        "active": view.active,
        "contact": day_text(view.contact_confirmed_on) if view.contact_confirmed_on else "brak",
        "codes": [
            {
                "month": month_name(Month.parse(c.month)),
                "platform": c.platform.display_name,
                "channel": CHANNEL_LABELS[c.channel],
                "branch": names.get(c.branch_id or "", "—"),
                "issued": console.local_text(c.issued_at),
                "state": "aktywowany"
                if c.activated_at
                else "nieaktywowany (miesiąc zamknięty)"
                if c.expired_at
                else "jeszcze nieaktywowany",
            }
            for c in view.codes
        ],
        "bans": view.bans,
        "accounts": [
            {
                "name": account.location.name,
                "id": account.location.id,
                "balance": format_pln(account.balance_grosze),
                "state": f"konto zablokowane: {account.why_blocked()}"
                if account.blocked
                else "rozliczona",
                "css": "bad" if account.blocked else "ok",
                "loans": [
                    {
                        "barcode": loan.barcode,
                        "borrowed": day_text(loan.borrowed_on),
                        "due": day_text(loan.due_on),
                        "returned": day_text(loan.returned_on) if loan.returned_on else "nie",
                        "late": days_text(loan.charged_days(today))
                        if loan.charged_days(today)
                        else "—",
                        "fine": format_pln(loan.fine(today)),
                        "note": "blokuje konto"
                        if loan.blocks(today)
                        else f"dodatkowe dni do {day_text(loan.grace_until)}"
                        if loan.in_grace(today) and loan.grace_until
                        else "",
                    }
                    for loan in account.loans
                ],
                "payments": [
                    {
                        "made": day_text(p.made_on),
                        "method": p.method.label,
                        "amount": format_pln(p.amount_grosze),
                        "state": f"zaksięgowana {day_text(p.posted_on)}"
                        if p.posted_on
                        else "potwierdzona dowodem wpłaty"
                        if p.proof
                        else "czeka na zaksięgowanie"
                        if not p.counted
                        else "przyjęta",
                    }
                    for p in account.payments
                ],
            }
            for account in ledger.accounts
        ],
        "opening": format_pln(ledger.opening_balance_grosze)
        if ledger.opening_balance_grosze
        else "",
        "outstanding": format_pln(ledger.outstanding_grosze),
        "blocked": ledger.blocked,
        "why": ledger.explanation() or "",
    }
