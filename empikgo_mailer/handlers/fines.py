"""Paying overdue fines, posting the bank's transfers, and showing a patron's ledger."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

from empikgo_mailer.adapters.fines_store import store_state
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import Loan, Patron, Payment
from empikgo_mailer.adapters.text_files import CsvRow, read_table
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.card_number import shown_card
from empikgo_mailer.domain.fines import (
    TRANSFER_POSTING_WORKING_DAYS,
    FineLedger,
    FineRuleBroken,
    LoanState,
    Location,
    PaymentMethod,
    plan_payment,
)
from empikgo_mailer.domain.money import InvalidAmount, parse_pln
from empikgo_mailer.domain.timestamps import InvalidMoment, parse_day
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.debt import ledger_of, read_ledger
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.patrons import BadRow, RowProblem, parsed_card

POSTING_COLUMNS = ("posting_id", "posted_on", "card_number", "location", "amount")
_POSTING_ID_RE = re.compile(r"^\S.{0,127}$")


@dataclass(frozen=True)
class PayFine(Command["PaymentResult"]):
    card_number: str
    location_id: str
    amount_grosze: int
    method: PaymentMethod
    proof: bool = False  # a librarian has seen the transfer's proof of payment
    actor: str = "system"
    # A librarian's branch: only its locations' payments are hers to take. None: a head,
    # an admin or the command line, who take any.
    desk_branch: str | None = None


@dataclass(frozen=True)
class ShowReceipt(Command["Receipt"]):
    """A payment's printable receipt; with `desk_branch`, only for that branch's locations."""

    payment_id: int
    desk_branch: str | None = None


@dataclass(frozen=True)
class PostTransfers(Command["PostingReport"]):
    path: Path
    actor: str = "system"


@dataclass(frozen=True)
class ShowFines(Command["FinesView"]):
    card_number: str


@dataclass(frozen=True)
class PaymentResult:
    """A payment taken, or the rule that refused it; with the ledger after it."""

    card_number: str
    location: Location
    method: PaymentMethod
    amount_grosze: int
    refusal: str | None
    counted: bool = False
    expected_by: date | None = None
    settled: tuple[LoanState, ...] = ()
    ledger: FineLedger | None = None
    payment_id: int | None = None


@dataclass(frozen=True)
class Receipt:
    """What the reader takes home: the payment, who took it, and the balance after it."""

    payment_id: int
    card_number: str
    name: str
    location: Location
    method: PaymentMethod
    amount_grosze: int
    counted: bool
    expected_by: date | None
    recorded_at: datetime
    actor: str
    balance_after_grosze: int  # this location's, as the payment left it
    outstanding_after_grosze: int  # every location's, with the opening balance


@dataclass
class PostingReport:
    matched: int = 0  # transfers declared earlier, now posted
    recorded: int = 0  # transfers the bank posted that nobody had declared
    repeated: list[RowProblem] = field(default_factory=list)  # already counted: skipped
    rejected: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class FinesView:
    card_number: str
    name: str
    ledger: FineLedger


def _patron(store: Store, card_number: str) -> Patron:
    # Locked: two payments for one patron are decided one after the other.
    patron = store.patron_by_card(card_number, lock=True)
    if patron is None or patron.id is None:
        raise CommandRejected(f"Nie ma czytelnika z kartą {shown_card(card_number)}.")
    return patron


def pay_fine(
    command: PayFine, *, uow: UnitOfWork, library: Library, now: datetime
) -> PaymentResult:
    """Record one payment at one location, if the rules of section 5 allow it."""
    if command.proof and command.method is not PaymentMethod.TRANSFER:
        raise CommandRejected("Dowód wpłaty (--proof) dotyczy tylko przelewu.")
    location = library.location(command.location_id)
    calendar = library.calendar
    today = calendar.today(now)
    with uow:
        store, fines = uow.store, uow.fines
        patron = _patron(store, command.card_number)
        assert patron.id is not None
        ledger = read_ledger(fines, patron, library.locations, today)
        result = PaymentResult(
            patron.card_number, location, command.method, command.amount_grosze, None
        )
        if not _takes_payments(command.desk_branch, location):
            _audit_payment(store, command, patron, location, now, outcome="refused")
            why = (
                f"wpłaty dla: {location.name} przyjmuje inna placówka albo kierownik; "
                "ta placówka przyjmuje tylko wpłaty swoich wypożyczalni"
            )
            return replace(result, refusal=why, ledger=ledger)
        try:
            plan = plan_payment(
                ledger,
                location,
                command.method,
                command.amount_grosze,
                proof=command.proof,
                expected_by=calendar.working_days_after(today, TRANSFER_POSTING_WORKING_DAYS),
            )
        except FineRuleBroken as problem:
            _audit_payment(store, command, patron, location, now, outcome="refused")
            return replace(result, refusal=str(problem), ledger=ledger)
        payment = fines.add_payment(
            Payment(
                patron_id=patron.id,
                location_id=location.id,
                method=command.method.value,
                amount_grosze=command.amount_grosze,
                counted=plan.counted,
                proof=command.proof,
                made_on=today,
                expected_by=plan.expected_by,
                recorded_at=now,
                actor=command.actor,
            )
        )
        for state in plan.settled_loans:
            store_state(uow.get_one(Loan, state.id), state, now)
        outcome = "counted" if plan.counted else "pending"
        _audit_payment(store, command, patron, location, now, outcome=outcome)
        return replace(
            result,
            counted=plan.counted,
            expected_by=plan.expected_by,
            settled=plan.settled_loans,
            ledger=read_ledger(fines, patron, library.locations, today),
            payment_id=payment.id,
        )


def _takes_payments(desk_branch: str | None, location: Location) -> bool:
    return desk_branch is None or location.branch_id == desk_branch


def show_receipt(
    command: ShowReceipt, *, uow: UnitOfWork, library: Library, now: datetime
) -> Receipt:
    """The receipt of one payment, as it was when taken: the ledger on its day with the
    payments up to it (a receipt printed again the next day says the same)."""
    with uow:
        payment = uow.get(Payment, command.payment_id)
        location = library.locations.get(payment.location_id) if payment else None
        patron = uow.get(Patron, payment.patron_id) if payment else None
        # The same answer for "no such payment" and "not this branch's".
        if (
            payment is None
            or payment.id is None
            or patron is None
            or location is None
            or not _takes_payments(command.desk_branch, location)
        ):
            raise CommandRejected("Nie ma takiej wpłaty.")
        assert patron.id is not None
        loans = uow.fines.of_patrons(Loan, [patron.id]).get(patron.id, [])
        payments = uow.fines.of_patrons(Payment, [patron.id]).get(patron.id, [])
        upto = [p for p in payments if p.id is not None and p.id <= payment.id]
        ledger = ledger_of(patron, loans, upto, library.locations, payment.made_on)
        return Receipt(
            payment_id=payment.id,
            card_number=patron.card_number,
            name=f"{patron.first_name} {patron.last_name}",
            location=location,
            method=PaymentMethod(payment.method),
            amount_grosze=payment.amount_grosze,
            counted=payment.counted,
            expected_by=payment.expected_by,
            recorded_at=payment.recorded_at,
            actor=payment.actor,
            balance_after_grosze=ledger.account(location).balance_grosze,
            outstanding_after_grosze=ledger.outstanding_grosze,
        )


def _audit_payment(
    store: Store,
    command: PayFine,
    patron: Patron,
    location: Location,
    now: datetime,
    *,
    outcome: str,
) -> None:
    store.audit(
        at=now,
        actor=command.actor,
        action="pay-fine",
        outcome=outcome,
        card_number=patron.card_number,
        location=location.id,
        method=command.method.value,
        amount_grosze=command.amount_grosze,
        **({"desk_branch": command.desk_branch} if command.desk_branch else {}),
    )


def _posting(row: CsvRow, library: Library, today: date) -> tuple[str, date, str, Location, int]:
    if row.extra_fields or row.missing_fields:
        raise BadRow("liczba pól nie zgadza się z nagłówkiem")
    values = row.values
    posting_id = values["posting_id"].strip()
    if not _POSTING_ID_RE.match(posting_id):
        raise BadRow("posting_id: puste albo za długie (do 128 znaków)")
    try:
        posted_on = parse_day(values["posted_on"])
    except InvalidMoment as problem:
        raise BadRow(f"posted_on: {problem}") from None
    if posted_on > today:
        raise BadRow(f"posted_on: data w przyszłości ({posted_on.isoformat()})")
    card = parsed_card(values["card_number"])
    try:
        location = library.location(values["location"])
    except CommandRejected as problem:
        raise BadRow(f"location: {problem}") from None
    try:
        amount = amount_of(values["amount"])
    except BadRow as problem:
        raise BadRow(f"amount: {problem}") from None
    return posting_id, posted_on, card, location, amount


def amount_of(text: str) -> int:
    """A positive amount in grosze from '1,20', '1.2' or '1 200,00'; BadRow otherwise."""
    try:
        grosze = parse_pln(text)
    except InvalidAmount:
        raise BadRow(f"to nie jest kwota w złotych (np. 1,20): „{text}”") from None
    if grosze <= 0:
        raise BadRow(f"kwota musi być większa od zera: „{text}”")
    return grosze


def post_transfers(
    command: PostTransfers, *, uow: UnitOfWork, library: Library, now: datetime
) -> PostingReport:
    """Count the bank's postings: each posting id once, however often it is listed.

    A posting settles the transfer the patron declared for the same location and amount;
    one nobody declared is checked like a transfer with proof. Rows the rules refuse are
    listed for staff and change nothing: the money is on the bank statement, to be
    explained by a person.
    """
    table = read_table(command.path, POSTING_COLUMNS)
    today = library.calendar.today(now)
    report = PostingReport()
    seen: dict[str, int] = {}
    with uow:
        store, fines = uow.store, uow.fines
        for row in table.rows:
            try:
                posting_id, posted_on, card, location, amount = _posting(row, library, today)
                if posting_id in seen:
                    report.repeated.append(
                        RowProblem(
                            row.line,
                            f"przelew {posting_id} powtórzony w pliku (linia {seen[posting_id]}) "
                            "— policzony raz",
                        )
                    )
                    continue
                seen[posting_id] = row.line
                earlier = fines.payment_by_posting(posting_id)
                if earlier is not None:
                    when = earlier.posted_on.isoformat() if earlier.posted_on else "?"
                    report.repeated.append(
                        RowProblem(row.line, f"przelew {posting_id} już zaksięgowany ({when})")
                    )
                    continue
                patron = _patron(store, card)
                assert patron.id is not None
                declared = fines.unposted_transfer(patron.id, location.id, amount)
                if declared is not None:
                    declared.posting_id, declared.posted_on = posting_id, posted_on
                    declared.counted = True
                    report.matched += 1
                else:
                    # Nobody declared it: the transfer rules decide whether it can count.
                    ledger = read_ledger(fines, patron, library.locations, today)
                    plan_payment(
                        ledger,
                        location,
                        PaymentMethod.TRANSFER,
                        amount,
                        proof=True,
                        expected_by=posted_on,
                    )
                    fines.add_payment(
                        Payment(
                            patron_id=patron.id,
                            location_id=location.id,
                            method=PaymentMethod.TRANSFER.value,
                            amount_grosze=amount,
                            counted=True,
                            made_on=posted_on,
                            posting_id=posting_id,
                            posted_on=posted_on,
                            recorded_at=now,
                            actor="bank",
                        )
                    )
                    report.recorded += 1
                uow.flush()
            except (BadRow, CommandRejected) as problem:
                report.rejected.append(RowProblem(row.line, str(problem)))
            except FineRuleBroken as problem:
                report.rejected.append(
                    RowProblem(row.line, f"przelew do wyjaśnienia przez bibliotekarza: {problem}")
                )
        store.audit(
            at=now,
            actor=command.actor,
            action="post-transfers",
            outcome="done",
            file=command.path.name,
            matched=report.matched,
            recorded=report.recorded,
            repeated=len(report.repeated),
            rejected=len(report.rejected),
        )
    return report


def show_fines(
    command: ShowFines, *, uow: UnitOfWork, library: Library, now: datetime
) -> FinesView:
    today = library.calendar.today(now)
    with uow:
        patron = uow.store.patron_by_card(command.card_number)
        if patron is None:
            raise CommandRejected(f"Nie ma czytelnika z kartą {shown_card(command.card_number)}.")
        ledger = read_ledger(uow.fines, patron, library.locations, today)
        return FinesView(patron.card_number, f"{patron.first_name} {patron.last_name}", ledger)
