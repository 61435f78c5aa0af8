"""Overdue fines (RULES.md section 5): accrual, blocks, and what a payment may do.

Fines are counted in days, and money is the location's daily rate times those days, so
the same dates always give the same amount however late or often it is computed. A loan
accrues for every day after its `fine_base_on` until it is returned. That base starts as
the due date; a payment that settles a location moves it to the payment day (plus the
3 extra days of an online payment), keeping the days charged so far in `carried_days`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from empikgo_mailer.domain.debt import DebtFacts
from empikgo_mailer.domain.errors import ExitCode, ProgramError
from empikgo_mailer.domain.money import format_pln

DEFAULT_DAILY_RATE_GROSZE = 30
ONLINE_MINIMUM_GROSZE = 50
GRACE_DAYS = 3
TRANSFER_POSTING_WORKING_DAYS = 3


class PaymentMethod(StrEnum):
    ONLINE = "online"
    TRANSFER = "transfer"
    CASH = "cash"

    @property
    def label(self) -> str:
        return {"online": "online", "transfer": "przelew", "cash": "gotówka"}[self.value]


class FineRuleBroken(ProgramError, ValueError):
    """A payment or desk event the rules do not allow; the message is Polish, for staff."""

    exit_code = ExitCode.REFUSED
    label = "Odmowa"


@dataclass(frozen=True)
class Location:
    """A library that lends items and settles its own fines."""

    id: str
    name: str
    daily_rate_grosze: int = DEFAULT_DAILY_RATE_GROSZE
    # The main library, its branches and dormitory libraries: yes; faculty ones: no.
    accepts_transfers: bool = False
    renewal_days: int = 30
    # The branch whose librarians take this location's payments at their desk (heads and
    # admins take any); None: only heads and admins.
    branch_id: str | None = None


@dataclass(frozen=True)
class LoanState:
    id: int
    barcode: str
    location_id: str
    borrowed_on: date
    due_on: date
    returned_on: date | None
    renewals_used: int
    renewal_limit: int
    on_hold: bool
    daily_rate_grosze: int
    fine_base_on: date
    carried_days: int = 0
    settled_on: date | None = None  # the last day a payment settled this loan's fine
    grace_until: date | None = None

    @property
    def returned(self) -> bool:
        return self.returned_on is not None

    def _end(self, today: date) -> date:
        return min(self.returned_on, today) if self.returned_on is not None else today

    def charged_days(self, today: date) -> int:
        """Days late that carry a fine, up to the return or `today`."""
        return self.carried_days + max(0, (self._end(today) - self.fine_base_on).days)

    def fine(self, today: date) -> int:
        return self.daily_rate_grosze * self.charged_days(today)

    def blocks(self, today: date) -> bool:
        """An item kept past its due date blocks the account automatically."""
        return self.returned_on is None and today > self.fine_base_on

    def in_grace(self, today: date) -> bool:
        grace = self.grace_until
        return self.returned_on is None and grace is not None and today <= grace

    def renewable(self) -> bool:
        return not self.on_hold and self.renewals_used < self.renewal_limit

    def settled(self, today: date, extra_days: int) -> LoanState:
        """Its fine paid up to `today`: accrual (and the block) resume after the extra days."""
        return dataclasses.replace(
            self,
            carried_days=self.charged_days(today),
            fine_base_on=today + timedelta(days=extra_days),
            settled_on=today,
            grace_until=today + timedelta(days=extra_days) if extra_days else None,
        )

    def with_due(self, new_due: date, today: date) -> LoanState:
        """A new due date (a renewal, or the library system's record). Days already charged
        stay charged; only the days ahead follow the new date."""
        accrued = max(0, (self._end(today) - self.fine_base_on).days)
        if accrued:
            carried, base = self.carried_days + accrued, max(new_due, today)
        else:
            carried, base = self.carried_days, new_due
        return dataclasses.replace(
            self, due_on=new_due, fine_base_on=base, carried_days=carried, grace_until=None
        )

    def renewed(self, until: date, today: date, *, account_blocked: bool) -> LoanState:
        """A renewal to `until`: not for a held item, past the limit, on a blocked account,
        or for an item kept past its due date outside the 3 extra days of an online payment."""
        if self.on_hold:
            raise FineRuleBroken("ktoś zamówił ten egzemplarz, nie można go prolongować")
        if self.renewals_used >= self.renewal_limit:
            raise FineRuleBroken(
                f"limit prolongat wykorzystany ({self.renewals_used} z {self.renewal_limit})"
            )
        if today > self.due_on and not self.in_grace(today):
            raise FineRuleBroken(
                f"egzemplarz jest przetrzymany ({format_pln(self.fine(today))}); prolongata "
                "jest możliwa po opłaceniu należności online, w ciągu 3 dodatkowych dni"
            )
        if account_blocked:
            raise FineRuleBroken("konto jest zablokowane za należności, najpierw je ureguluj")
        if until <= max(self.due_on, today):
            raise FineRuleBroken(
                f"nowy termin {until.isoformat()} musi być po dzisiejszym i obecnym terminie"
            )
        return dataclasses.replace(
            self.with_due(until, today), renewals_used=self.renewals_used + 1
        )

    def returned_at(self, day: date, today: date) -> LoanState:
        if day > today:
            raise FineRuleBroken(f"data zwrotu {day.isoformat()} jest w przyszłości")
        if day < self.borrowed_on:
            raise FineRuleBroken(
                f"data zwrotu {day.isoformat()} jest przed wypożyczeniem "
                f"({self.borrowed_on.isoformat()})"
            )
        if self.settled_on is not None and day < self.settled_on:
            raise FineRuleBroken(
                f"data zwrotu {day.isoformat()} jest przed wpłatą za tę pozycję jako "
                f"niezwróconą ({self.settled_on.isoformat()})"
            )
        return dataclasses.replace(self, returned_on=day, grace_until=None)


@dataclass(frozen=True)
class PaymentRecord:
    location_id: str
    method: PaymentMethod
    amount_grosze: int
    counted: bool  # False: a transfer not yet posted nor proved
    made_on: date
    expected_by: date | None = None
    proof: bool = False
    posted_on: date | None = None
    id: int | None = None


@dataclass(frozen=True)
class LocationAccount:
    """One location's side of a patron's fines; settled on its own."""

    location: Location
    loans: tuple[LoanState, ...]
    payments: tuple[PaymentRecord, ...]
    today: date

    @property
    def fines_grosze(self) -> int:
        return sum(loan.fine(self.today) for loan in self.loans)

    @property
    def paid_grosze(self) -> int:
        return sum(p.amount_grosze for p in self.payments if p.counted)

    @property
    def pending_grosze(self) -> int:
        return sum(p.amount_grosze for p in self.payments if not p.counted)

    @property
    def balance_grosze(self) -> int:
        return self.fines_grosze - self.paid_grosze

    @property
    def payable_grosze(self) -> int:
        """The most one more payment may be: what is owed less transfers on their way."""
        return self.balance_grosze - self.pending_grosze

    @property
    def returned_owed_grosze(self) -> int:
        """Owed for items already returned; payments count against these first, because
        their fines no longer change."""
        returned = sum(loan.fine(self.today) for loan in self.loans if loan.returned)
        return max(0, min(returned - self.paid_grosze, self.balance_grosze))

    @property
    def overdue_loans(self) -> tuple[LoanState, ...]:
        return tuple(loan for loan in self.loans if loan.blocks(self.today))

    @property
    def blocked(self) -> bool:
        return self.balance_grosze > 0 or bool(self.overdue_loans)

    def why_blocked(self) -> str:
        """Polish, for staff and `check`: '2,40 zł, 2 pozycje po terminie'."""
        parts = []
        if self.balance_grosze > 0:
            parts.append(format_pln(self.balance_grosze))
        overdue = len(self.overdue_loans)
        if overdue:
            parts.append(f"{items_text(overdue)} po terminie")
        if self.pending_grosze:
            parts.append(f"przelew {format_pln(self.pending_grosze)} czeka na zaksięgowanie")
        return ", ".join(parts)


def items_text(count: int) -> str:
    """'1 pozycja', '2 pozycje', '5 pozycji', '22 pozycje'."""
    if count == 1:
        return "1 pozycja"
    if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        return f"{count} pozycje"
    return f"{count} pozycji"


@dataclass(frozen=True)
class FineLedger:
    """A patron's fines over every location, as of `today`."""

    accounts: tuple[LocationAccount, ...]
    opening_balance_grosze: int
    today: date

    def account(self, location: Location) -> LocationAccount:
        for account in self.accounts:
            if account.location.id == location.id:
                return account
        return LocationAccount(location, (), (), self.today)

    @property
    def outstanding_grosze(self) -> int:
        return self.opening_balance_grosze + sum(a.balance_grosze for a in self.accounts)

    @property
    def blocked(self) -> bool:
        return any(account.blocked for account in self.accounts)

    def explanation(self) -> str | None:
        """Where the debt is: '<location>: 2,40 zł, 2 pozycje po terminie; <location>: ...'."""
        parts = [
            f"{account.location.name}: {account.why_blocked()}"
            for account in self.accounts
            if account.blocked
        ]
        opening = self.opening_balance_grosze
        if opening and parts:
            parts.append(f"saldo z poprzedniego systemu: {format_pln(opening)}")
        elif opening:
            parts.append("saldo przeniesione z poprzedniego systemu biblioteki")
        return "; ".join(parts) or None

    def debt(self) -> DebtFacts:
        """The figures behind rule 4, "no debt"."""
        return DebtFacts(self.outstanding_grosze, self.blocked, self.explanation())

    def blocked_apart_from(self, location: Location) -> bool:
        return self.opening_balance_grosze > 0 or any(
            a.blocked for a in self.accounts if a.location.id != location.id
        )


@dataclass(frozen=True)
class PaymentPlan:
    """What a payment that the rules allow does to the ledger."""

    counted: bool
    expected_by: date | None
    settled_loans: tuple[LoanState, ...]  # unblocked loans, with their new accrual base


def plan_payment(
    ledger: FineLedger,
    location: Location,
    method: PaymentMethod,
    amount_grosze: int,
    *,
    proof: bool,
    expected_by: date,
) -> PaymentPlan:
    """Check one payment against the rules of section 5; raise FineRuleBroken if refused.

    `expected_by` is when a transfer should be posted (about 3 working days).
    """
    if amount_grosze <= 0:
        raise FineRuleBroken("kwota musi być większa od zera")
    account = ledger.account(location)
    payable = account.payable_grosze
    if payable <= 0:
        waiting = account.pending_grosze
        note = f" (przelew {format_pln(waiting)} czeka na zaksięgowanie)" if waiting else ""
        raise FineRuleBroken(f"{location.name}: nie ma należności do zapłaty{note}")
    if method is PaymentMethod.ONLINE and amount_grosze < ONLINE_MINIMUM_GROSZE:
        raise FineRuleBroken(
            f"płatności online przyjmujemy od {format_pln(ONLINE_MINIMUM_GROSZE)}; "
            f"{format_pln(amount_grosze)} można zapłacić gotówką na miejscu ({location.name})"
        )
    if method is PaymentMethod.TRANSFER:
        _check_transfer(account, amount_grosze)
    if amount_grosze > payable:
        raise FineRuleBroken(
            f"{format_pln(amount_grosze)} to więcej niż należność ({location.name}): "
            f"{format_pln(payable)}; jedna wpłata dotyczy jednej biblioteki"
        )
    counted = method is not PaymentMethod.TRANSFER or proof
    settled: tuple[LoanState, ...] = ()
    # Everything payable now is paid: the kept items' fines are paid up to today, so they
    # stop blocking today. The extra days need an account free of any other block,
    # including a transfer here that the bank has not posted yet.
    if counted and amount_grosze == payable and method is not PaymentMethod.TRANSFER:
        grace_possible = (
            method is PaymentMethod.ONLINE
            and account.pending_grosze == 0
            and not ledger.blocked_apart_from(location)
        )
        settled = tuple(
            loan.settled(ledger.today, GRACE_DAYS if grace_possible and loan.renewable() else 0)
            for loan in account.overdue_loans
        )
    return PaymentPlan(counted, None if counted else expected_by, settled)


def _check_transfer(account: LocationAccount, amount_grosze: int) -> None:
    location = account.location
    if not location.accepts_transfers:
        raise FineRuleBroken(
            f"na konto Biblioteki nie można wpłacać należności za książki z tej biblioteki "
            f"({location.name}); zapłać online albo gotówką na miejscu"
        )
    transferable = account.returned_owed_grosze - account.pending_grosze
    if transferable <= 0:
        raise FineRuleBroken(
            "przelewem można zapłacić tylko za pozycje już zwrócone, a takiej należności "
            f"nie ma do zapłaty ({location.name}); zwróć pozycje albo zapłać online lub gotówką"
        )
    if amount_grosze > transferable:
        raise FineRuleBroken(
            f"przelewem można zapłacić najwyżej {format_pln(transferable)}: tyle wynosi "
            f"należność za pozycje już zwrócone ({location.name})"
        )


def check_balances(accounts: Iterable[LocationAccount]) -> None:
    """A change to loans must never leave a location owing less than was paid there."""
    for account in accounts:
        if account.fines_grosze < account.paid_grosze + account.pending_grosze:
            raise FineRuleBroken(
                f"zmiana zmniejszyłaby należność ({account.location.name}) do "
                f"{format_pln(account.fines_grosze)}, poniżej wpłat: "
                f"{format_pln(account.paid_grosze + account.pending_grosze)}"
            )
