"""Where the "no debt" rule gets its figures from."""

from __future__ import annotations

from typing import Protocol

from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import Patron
from empikgo_mailer.domain.debt import DebtFacts


class DebtSource(Protocol):
    def debt_of(self, store: Store, patron: Patron) -> DebtFacts: ...


class ImportedBalance:
    """The balance the library system exported with the patron records.

    The fines ledger replaces this source; the imported figure then becomes the
    opening balance it starts from.
    """

    def debt_of(self, store: Store, patron: Patron) -> DebtFacts:
        owed = patron.opening_balance_grosze
        return DebtFacts(owed, blocked=False, explanation="saldo z systemu bibliotecznego")
