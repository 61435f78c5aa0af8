"""Where the "no debt" rule gets its figures from: the fines ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Protocol

from empikgo_mailer.adapters.fines_store import FinesStore, loan_state, payment_record
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import Loan, Patron, Payment
from empikgo_mailer.domain.debt import DebtFacts
from empikgo_mailer.domain.fines import FineLedger, Location, LocationAccount


class DebtSource(Protocol):
    def debts_of(
        self, store: Store, patrons: Sequence[Patron], today: date
    ) -> dict[int, DebtFacts]: ...


def read_ledger(
    fines: FinesStore, patron: Patron, locations: Mapping[str, Location], today: date
) -> FineLedger:
    """A patron's loans and payments as the domain's ledger, grouped by location."""
    assert patron.id is not None
    loans, payments = fines.of_patrons(Loan, [patron.id]), fines.of_patrons(Payment, [patron.id])
    return ledger_of(
        patron, loans.get(patron.id, []), payments.get(patron.id, []), locations, today
    )


def ledger_of(
    patron: Patron,
    loan_rows: Sequence[Loan],
    payment_rows: Sequence[Payment],
    locations: Mapping[str, Location],
    today: date,
) -> FineLedger:
    """The ledger from rows already read. The balance exported with the patron records
    from the library's old system is the opening balance the ledger starts from."""
    loans = [loan_state(loan) for loan in loan_rows]
    payments = [payment_record(payment) for payment in payment_rows]
    ids = dict.fromkeys([loan.location_id for loan in loans] + [p.location_id for p in payments])
    accounts = tuple(
        LocationAccount(
            # A location removed from the configuration keeps its history, under its id.
            locations.get(location_id) or Location(location_id, location_id),
            tuple(loan for loan in loans if loan.location_id == location_id),
            tuple(p for p in payments if p.location_id == location_id),
            today,
        )
        for location_id in ids
    )
    return FineLedger(accounts, patron.opening_balance_grosze, today)


class LedgerDebt:
    """Rule 4 from our own ledger of overdue fines and payments."""

    def __init__(self, locations: Mapping[str, Location]) -> None:
        self.locations = locations

    def debts_of(
        self, store: Store, patrons: Sequence[Patron], today: date
    ) -> dict[int, DebtFacts]:
        """Each patron's debt (rule 4), their loans and payments read in two queries."""
        fines = FinesStore(store.session)
        ids = [p.id for p in patrons if p.id is not None]
        loans, payments = fines.of_patrons(Loan, ids), fines.of_patrons(Payment, ids)
        return {
            p.id: ledger_of(
                p, loans.get(p.id, []), payments.get(p.id, []), self.locations, today
            ).debt()
            for p in patrons
            if p.id is not None
        }
