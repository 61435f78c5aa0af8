"""Queries and writes on loans and payments, inside a transaction the caller owns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlmodel import Session, SQLModel, col, select

from empikgo_mailer.adapters.database import in_chunks
from empikgo_mailer.adapters.pg_bulk import insert_rows
from empikgo_mailer.adapters.tables import Loan, Payment
from empikgo_mailer.domain.fines import LoanState, PaymentMethod, PaymentRecord

LoanKey = tuple[int, str, date]
R = TypeVar("R", Loan, Payment)
_LOAN: Table = SQLModel.metadata.tables["loan"]  # patron id, item barcode, borrowed on
_LOAN_DEFAULTS: dict[str, Any] = {
    column.name: column.default.arg  # type: ignore[attr-defined]
    if column.default is not None and not callable(column.default.arg)  # type: ignore[attr-defined]
    else None
    for column in _LOAN.columns
    if column.name != "id"
}


def loan_state(loan: Loan) -> LoanState:
    assert loan.id is not None
    return LoanState(
        id=loan.id,
        barcode=loan.item_barcode,
        location_id=loan.location_id,
        borrowed_on=loan.borrowed_on,
        due_on=loan.due_on,
        returned_on=loan.returned_on,
        renewals_used=loan.renewals_used,
        renewal_limit=loan.renewal_limit,
        on_hold=loan.on_hold,
        daily_rate_grosze=loan.daily_rate_grosze,
        fine_base_on=loan.fine_base_on,
        carried_days=loan.carried_days,
        settled_on=loan.settled_on,
        grace_until=loan.grace_until,
    )


# The fields a desk event or an import may change; the rest is fixed when the loan is made.
_CHANGEABLE = (
    "due_on",
    "returned_on",
    "renewals_used",
    "renewal_limit",
    "on_hold",
    "fine_base_on",
    "carried_days",
    "settled_on",
    "grace_until",
)


def store_state(loan: Loan, state: LoanState, now: datetime) -> bool:
    """Copy a changed state onto its row; True when anything changed."""
    changed = False
    for name in _CHANGEABLE:
        value = getattr(state, name)
        if getattr(loan, name) != value:
            setattr(loan, name, value)
            changed = True
    if changed:
        loan.updated_at = now
    return changed


def payment_record(payment: Payment) -> PaymentRecord:
    return PaymentRecord(
        id=payment.id,
        location_id=payment.location_id,
        method=PaymentMethod(payment.method),
        amount_grosze=payment.amount_grosze,
        counted=payment.counted,
        made_on=payment.made_on,
        expected_by=payment.expected_by,
        proof=payment.proof,
        posted_on=payment.posted_on,
    )


class FinesStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_patrons(self, model: type[R], patron_ids: Sequence[int]) -> dict[int, list[R]]:
        """The loans or payments of these patrons in id order, by patron: one query per
        chunk of ids."""
        found: dict[int, list[R]] = {}
        for chunk in in_chunks(sorted(set(patron_ids))):
            query = select(model).where(col(model.patron_id).in_(chunk)).order_by(col(model.id))
            for row in self.session.exec(query):
                found.setdefault(row.patron_id, []).append(row)
        return found

    def open_loans_of_item(self, barcode: str) -> list[Loan]:
        query = select(Loan).where(Loan.item_barcode == barcode, col(Loan.returned_on).is_(None))
        return list(self.session.exec(query))

    def loans_by_key(self, patron_ids: Sequence[int]) -> dict[LoanKey, Loan]:
        """Every loan of these patrons, by the key the library system's export upserts on."""
        return {
            (loan.patron_id, loan.item_barcode, loan.borrowed_on): loan
            for loans in self.of_patrons(Loan, patron_ids).values()
            for loan in loans
        }

    def insert_loans(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """New loans, every column given (the model's defaults for the rest): one COPY on
        PostgreSQL, so a library system's export of 10^5 loans goes in at several times
        the speed of multi-row INSERTs (bench.fines), all or nothing with the import."""
        insert_rows(self.session, _LOAN, [{**_LOAN_DEFAULTS, **row} for row in rows])

    def add_payment(self, payment: Payment) -> Payment:
        self.session.add(payment)
        self.session.flush()
        return payment

    def payment_by_posting(self, posting_id: str) -> Payment | None:
        return self.session.exec(select(Payment).where(Payment.posting_id == posting_id)).first()

    def unposted_transfer(self, patron_id: int, location_id: str, amount: int) -> Payment | None:
        """The oldest transfer a patron declared (pending or proved) that the bank has not
        posted yet, for this location and amount."""
        query = (
            select(Payment)
            .where(
                Payment.patron_id == patron_id,
                Payment.location_id == location_id,
                Payment.method == PaymentMethod.TRANSFER.value,
                Payment.amount_grosze == amount,
                col(Payment.posting_id).is_(None),
            )
            .order_by(col(Payment.id))
        )
        return self.session.exec(query).first()
