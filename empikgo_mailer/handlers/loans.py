"""Loans: the library system's export (upsert) and the desk's returns, renewals and holds.

Every change that could lower a fine is checked against the payments already made at
its location, so a balance can never turn negative.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from empikgo_mailer.adapters.fines_store import FinesStore, LoanKey, loan_state, store_state
from empikgo_mailer.adapters.import_columns import LOAN_COLUMNS, LOAN_FIELDS, with_library_names
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import Loan, Patron
from empikgo_mailer.adapters.text_files import CsvRow, read_flag, read_table
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.config import ImportColumns
from empikgo_mailer.domain.card_number import shown_card
from empikgo_mailer.domain.fines import FineRuleBroken, LoanState, Location, check_balances
from empikgo_mailer.domain.timestamps import InvalidMoment, parse_day
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.debt import read_ledger
from empikgo_mailer.handlers.errors import CommandRefused, CommandRejected
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.patrons import BadRow, RowProblem, no_progress, parsed_card

_BARCODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_-]{0,63}$")


@dataclass(frozen=True)
class ImportLoans(Command["LoansImportReport"]):
    path: Path
    actor: str = "system"


@dataclass
class LoansImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowProblem] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # field -> the header in the file


@dataclass(frozen=True)
class ReturnLoan(Command["LoanOutcome"]):
    barcode: str
    card_number: str | None = None
    returned_on: date | None = None  # None: today
    actor: str = "system"


@dataclass(frozen=True)
class RenewLoan(Command["LoanOutcome"]):
    barcode: str
    card_number: str | None = None
    until: date | None = None  # None: the location's renewal period
    actor: str = "system"


@dataclass(frozen=True)
class HoldLoan(Command["LoanOutcome"]):
    barcode: str
    on_hold: bool = True
    actor: str = "system"


@dataclass(frozen=True)
class LoanOutcome:
    """What the desk sees after an event: the loan, its location's balance, the account."""

    card_number: str
    location: Location
    loan: LoanState
    today: date
    location_balance_grosze: int
    account_blocked: bool


@dataclass(frozen=True)
class _Row:
    line: int
    card: str
    location: Location
    barcode: str
    borrowed_on: date
    due_on: date
    returned_on: date | None
    renewals_used: int
    renewal_limit: int
    on_hold: bool


def _day(values: dict[str, str], column: str, *, required: bool = True) -> date | None:
    text = values[column]
    if not text.strip():
        if required:
            raise BadRow("puste pole", column)
        return None
    try:
        return parse_day(text)
    except InvalidMoment as problem:
        raise BadRow(str(problem), column) from None


def _count(values: dict[str, str], column: str) -> int:
    text = values[column].strip() or "0"
    if not text.isdigit() or int(text) > 99:
        raise BadRow(f"oczekiwano liczby 0–99, jest „{values[column]}”", column)
    return int(text)


def _parse_row(row: CsvRow, library: Library, today: date) -> _Row:
    if row.extra_fields or row.missing_fields:
        raise BadRow("liczba pól nie zgadza się z nagłówkiem")
    values = row.values
    card = parsed_card(values["card_number"])
    barcode = values["item_barcode"].strip()
    if not _BARCODE_RE.match(barcode):
        raise BadRow(f"niepoprawny kod egzemplarza „{barcode}”", "item_barcode")
    try:
        location = library.location(values["location"])
    except CommandRejected as problem:
        raise BadRow(str(problem), "location") from None
    borrowed, due = _day(values, "borrowed_on"), _day(values, "due_on")
    returned = _day(values, "returned_on", required=False)
    assert borrowed is not None
    assert due is not None
    if borrowed > today:
        raise BadRow(f"data w przyszłości ({borrowed.isoformat()})", "borrowed_on")
    if due < borrowed:
        raise BadRow("termin zwrotu przed datą wypożyczenia", "due_on")
    if returned is not None and not borrowed <= returned <= today:
        raise BadRow("zwrot przed wypożyczeniem albo w przyszłości", "returned_on")
    used, limit = _count(values, "renewals_used"), _count(values, "renewal_limit")
    if used > limit:
        raise BadRow(f"{used} prolongat przy limicie {limit}", "renewals_used")
    hold = read_flag(values["on_hold"] or "nie")
    if hold is None:
        raise BadRow(f"oczekiwano tak/nie (1/0), jest „{values['on_hold']}”", "on_hold")
    return _Row(row.line, card, location, barcode, borrowed, due, returned, used, limit, hold)


def _new_loan(row: _Row, patron_id: int, now: datetime) -> dict[str, Any]:
    return {
        "patron_id": patron_id,
        "item_barcode": row.barcode,
        "location_id": row.location.id,
        "borrowed_on": row.borrowed_on,
        "due_on": row.due_on,
        "returned_on": row.returned_on,
        "renewals_used": row.renewals_used,
        "renewal_limit": row.renewal_limit,
        "on_hold": row.on_hold,
        "daily_rate_grosze": row.location.daily_rate_grosze,
        "fine_base_on": row.due_on,
        "carried_days": 0,
        "updated_at": now,
    }


def _updated(state: LoanState, row: _Row, today: date) -> LoanState:
    """The library system's view over ours. A return recorded at the desk is never undone
    by an export that lags behind it, and the counters only move forward."""
    if row.location.id != state.location_id:
        raise BadRow(
            f"wypożyczenie zapisane już w lokalizacji {state.location_id}, "
            f"w pliku {row.location.id}",
            "location",
        )
    if row.due_on != state.due_on and not state.returned:
        state = state.with_due(row.due_on, today)
    if row.returned_on is not None and not state.returned:
        state = state.returned_at(row.returned_on, today)
    used = max(state.renewals_used, row.renewals_used)
    return replace(
        state, renewals_used=used, renewal_limit=max(row.renewal_limit, used), on_hold=row.on_hold
    )


def import_loans(
    command: ImportLoans,
    *,
    uow: UnitOfWork,
    library: Library,
    now: datetime,
    progress: Callable[[int, int], None] = no_progress,
    header_names: ImportColumns | None = None,
) -> LoansImportReport:
    """Upsert loans by card + barcode + borrowed_on; list bad rows by line.

    One transaction: a file that turns out broken half-way changes nothing.
    """
    library_names = header_names.loans if header_names is not None else {}
    aliases = with_library_names(LOAN_COLUMNS, library_names)
    table = read_table(command.path, LOAN_FIELDS, aliases)
    today = library.calendar.today(now)
    report = LoansImportReport(columns=table.found)
    first_line: dict[tuple[str, str, date], int] = {}
    done = 0
    with uow:
        store, fines = uow.store, uow.fines
        patron_ids = store.patron_ids_by_card()
        for chunk in table.chunks():
            good: list[tuple[_Row, int]] = []
            for csv_row in chunk:
                try:
                    row = _parse_row(csv_row, library, today)
                    patron_id = patron_ids.get(row.card)
                    if patron_id is None:
                        raise BadRow(f"nie ma czytelnika z kartą {row.card}", "card_number")
                    key = (row.card, row.barcode, row.borrowed_on)
                    if key in first_line:
                        raise BadRow(
                            f"to wypożyczenie powtórzone (pierwszy raz w linii {first_line[key]})"
                        )
                except BadRow as problem:
                    report.rejected.append(RowProblem(csv_row.line, problem.naming(table.found)))
                    continue
                first_line[key] = row.line
                good.append((row, patron_id))
            existing = fines.loans_by_key([patron_id for _, patron_id in good])
            new = []
            for row, patron_id in good:
                loan_key: LoanKey = (patron_id, row.barcode, row.borrowed_on)
                loan = existing.get(loan_key)
                if loan is None:
                    new.append(_new_loan(row, patron_id, now))
                    continue
                try:
                    changed = _update_loan(uow, loan, row, fines=fines, library=library, now=now)
                except BadRow as problem:
                    report.rejected.append(RowProblem(row.line, problem.naming(table.found)))
                    continue
                except FineRuleBroken as problem:
                    report.rejected.append(RowProblem(row.line, str(problem)))
                    continue
                if changed:
                    report.updated += 1
                else:
                    report.unchanged += 1
            fines.insert_loans(new)
            report.created += len(new)
            done += len(chunk)
            progress(done, table.line_count)
        store.audit_import(
            "import-loans",
            at=now,
            actor=command.actor,
            file=command.path,
            created=report.created,
            updated=report.updated,
            rejected=len(report.rejected),
        )
    return report


def _update_loan(
    uow: UnitOfWork, loan: Loan, row: _Row, *, fines: FinesStore, library: Library, now: datetime
) -> bool:
    today = library.calendar.today(now)
    state = loan_state(loan)
    updated = _updated(state, row, today)
    if updated == state:
        return False
    if updated.fine(today) < state.fine(today):
        patron = uow.get_one(Patron, loan.patron_id, with_for_update=True)
        _check_after(updated, patron=patron, fines=fines, library=library, today=today)
    return store_state(loan, updated, now)


def _check_after(
    updated: LoanState, *, patron: Patron, fines: FinesStore, library: Library, today: date
) -> None:
    """Refuse a change that would leave the loan's location owing less than was paid."""
    ledger = read_ledger(fines, patron, library.locations, today)
    for account in ledger.accounts:
        if account.location.id == updated.location_id:
            loans = tuple(updated if loan.id == updated.id else loan for loan in account.loans)
            check_balances([replace(account, loans=loans)])


# desk events ------------------------------------------------------------------------------


def _open_loan(fines: FinesStore, store: Store, barcode: str, card: str | None) -> Loan:
    barcode = barcode.strip()
    loans = fines.open_loans_of_item(barcode)
    if card is not None:
        patron = store.patron_by_card(card)
        if patron is None:
            raise CommandRejected(f"Nie ma czytelnika z kartą {shown_card(card)}.")
        loans = [loan for loan in loans if loan.patron_id == patron.id]
    if not loans:
        whose = f" przez kartę {shown_card(card)}" if card else ""
        raise CommandRejected(f"Egzemplarz {barcode} nie jest wypożyczony{whose}.")
    if len(loans) > 1:
        raise CommandRejected(
            f"Egzemplarz {barcode} jest wypożyczony kilka razy: podaj --card, żeby wskazać "
            "czytelnika."
        )
    return loans[0]


def _desk_event(
    change: Callable[[LoanState, Location, bool], LoanState],
    command: ReturnLoan | RenewLoan | HoldLoan,
    action: str,
    *,
    uow: UnitOfWork,
    library: Library,
    now: datetime,
) -> LoanOutcome:
    """Find the open loan, apply `change` (given the loan, its location and whether the
    account is blocked), check the balances, store it and audit it."""
    card = None if isinstance(command, HoldLoan) else command.card_number
    today = library.calendar.today(now)
    with uow:
        store, fines = uow.store, uow.fines
        loan = _open_loan(fines, store, command.barcode, card)
        # Locked like a payment, so a return and a payment for one patron never interleave.
        patron = uow.get_one(Patron, loan.patron_id, with_for_update=True)
        location = library.locations.get(loan.location_id) or Location(
            loan.location_id, loan.location_id
        )
        state = loan_state(loan)
        ledger = read_ledger(fines, patron, library.locations, today)
        try:
            updated = change(state, location, ledger.blocked)
            _check_after(updated, patron=patron, fines=fines, library=library, today=today)
        except FineRuleBroken as problem:
            raise CommandRefused(f"{problem}.") from None
        store_state(loan, updated, now)
        uow.flush()
        after = read_ledger(fines, patron, library.locations, today)
        store.audit(
            at=now,
            actor=command.actor,
            action=action,
            outcome="done",
            card_number=patron.card_number,
            barcode=loan.item_barcode,
            location=loan.location_id,
        )
        return LoanOutcome(
            patron.card_number,
            location,
            updated,
            today,
            after.account(location).balance_grosze,
            after.blocked,
        )


def return_loan(
    command: ReturnLoan, *, uow: UnitOfWork, library: Library, now: datetime
) -> LoanOutcome:
    today = library.calendar.today(now)

    def returned(state: LoanState, location: Location, blocked: bool) -> LoanState:
        return state.returned_at(command.returned_on or today, today)

    return _desk_event(returned, command, "return-loan", uow=uow, library=library, now=now)


def renew_loan(
    command: RenewLoan, *, uow: UnitOfWork, library: Library, now: datetime
) -> LoanOutcome:
    today = library.calendar.today(now)

    def renewed(state: LoanState, location: Location, blocked: bool) -> LoanState:
        until = command.until or max(state.due_on, today) + timedelta(days=location.renewal_days)
        return state.renewed(until, today, account_blocked=blocked)

    return _desk_event(renewed, command, "renew-loan", uow=uow, library=library, now=now)


def hold_loan(
    command: HoldLoan, *, uow: UnitOfWork, library: Library, now: datetime
) -> LoanOutcome:
    def held(state: LoanState, location: Location, blocked: bool) -> LoanState:
        return replace(state, on_hold=command.on_hold)

    action = "hold-loan" if command.on_hold else "release-hold"
    return _desk_event(held, command, action, uow=uow, library=library, now=now)
