"""Properties of the fines ledger under any sequence of desk events, payments and bank
postings, played through the handlers on a real SQLite database: no location's balance
ever goes negative, and a payment only ever moves money at the location it names."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypedDict
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.fines import PaymentMethod
from empikgo_mailer.handlers.errors import CommandRefused, CommandRejected
from empikgo_mailer.handlers.fines import (
    PayFine,
    PostTransfers,
    ShowFines,
    pay_fine,
    post_transfers,
    show_fines,
)
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.loans import (
    HoldLoan,
    ImportLoans,
    RenewLoan,
    ReturnLoan,
    hold_loan,
    import_loans,
    renew_loan,
    return_loan,
)
from tests.support.data import add_patron

WARSAW = ZoneInfo("Europe/Warsaw")


class Deps(TypedDict):
    uow: UnitOfWork
    library: Library


LOCATIONS = ("multimedia", "w63", "czytelnia-naukowa")
BARCODES = ("A", "B", "C", "D")
START = date(2026, 11, 1)
_cards = itertools.count(1)


@dataclass(frozen=True)
class Wait:
    days: int


@dataclass(frozen=True)
class Pay:
    location: str
    grosze: int | None  # None: `share` per cent of what is payable there now
    share: int
    method: PaymentMethod
    proof: bool


@dataclass(frozen=True)
class Desk:
    action: str  # return | return-earlier | renew | hold
    barcode: str


@dataclass(frozen=True)
class Post:
    location: str
    grosze: int
    posting: int  # a small number: the bank repeats postings


operations = st.one_of(
    st.builds(Wait, st.integers(0, 6)),
    st.builds(
        Pay,
        st.sampled_from(LOCATIONS),
        st.one_of(st.none(), st.none(), st.integers(1, 400)),
        st.sampled_from([10, 50, 100, 100, 101]),
        st.sampled_from(list(PaymentMethod)),
        st.booleans(),
    ),
    st.builds(
        Desk,
        st.sampled_from(["return", "return-earlier", "renew", "hold"]),
        st.sampled_from(BARCODES),
    ),
    st.builds(
        Post, st.sampled_from(LOCATIONS), st.sampled_from([30, 60, 90, 150]), st.integers(1, 3)
    ),
)
loans = st.lists(
    st.tuples(st.sampled_from(LOCATIONS), st.integers(0, 20), st.integers(0, 2), st.booleans()),
    min_size=1,
    max_size=len(BARCODES),
)


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=WARSAW)


def money(app: App, card: str, today: date) -> dict[str, tuple[int, int, int]]:
    """Per location: (fines, counted payments, transfers waiting)."""
    ledger = show_fines(ShowFines(card), uow=app.uow(), library=app.library, now=noon(today)).ledger
    return {
        a.location.id: (a.fines_grosze, a.paid_grosze, a.pending_grosze) for a in ledger.accounts
    }


def money_moved(
    before: dict[str, tuple[int, int, int]], after: dict[str, tuple[int, int, int]]
) -> dict[str, tuple[int, int]]:
    """Where counted or waiting payments changed, and by how much."""
    moved = {}
    for place in set(before) | set(after):
        _, paid, pending = after.get(place, (0, 0, 0))
        _, was_paid, was_pending = before.get(place, (0, 0, 0))
        if (paid, pending) != (was_paid, was_pending):
            moved[place] = (paid - was_paid, pending - was_pending)
    return moved


@settings(
    max_examples=200,
    deadline=None,
    # One database for all examples on purpose: each example is a patron of its own.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lent=loans, steps=st.lists(operations, max_size=14))
def test_balances_never_go_negative_and_payments_never_cross_locations(
    sqlite_app: App, tmp_path: Path, lent: list[tuple[str, int, int, bool]], steps: list[object]
) -> None:
    app = sqlite_app
    card = f"P{next(_cards):06d}"
    add_patron(app.db, card, confirmed=date(2026, 10, 1))
    rows = [
        f"{card},{card}-{BARCODES[i]},{where},2026-10-01,"
        f"{(START + timedelta(days=due)).isoformat()},,{used},2,{'tak' if held else 'nie'}"
        for i, (where, due, used, held) in enumerate(lent)
    ]
    export = tmp_path / f"{card}.csv"
    export.write_text(
        "card_number,item_barcode,location,borrowed_on,due_on,returned_on,renewals_used,"
        "renewal_limit,on_hold\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    kw: Deps = {"uow": app.uow(), "library": app.library}
    assert import_loans(ImportLoans(export), **kw, now=noon(START)).rejected == []

    today = START + timedelta(days=14)  # some loans are overdue from the start
    for step in steps:
        before = money(app, card, today)
        now = noon(today)
        match step:
            case Wait(days):
                today += timedelta(days=days)
            case Pay(location, grosze, share, method, proof):
                if grosze is None:
                    fines, paid, pending = before.get(location, (0, 0, 0))
                    grosze = max(1, (fines - paid - pending) * share // 100)
                proof = proof and method is PaymentMethod.TRANSFER
                result = pay_fine(PayFine(card, location, grosze, method, proof), **kw, now=now)
                moved = money_moved(before, money(app, card, today))
                event("payment taken" if result.refusal is None else "payment refused")
                if result.refusal is None:
                    assert set(moved) == {location}, (step, moved)
                    assert sum(moved[location]) == grosze and min(moved[location]) == 0, step
                else:
                    assert moved == {}, (step, result.refusal)
            case Desk(action, barcode):
                day = today - timedelta(days=2) if action == "return-earlier" else today
                item = f"{card}-{barcode}"
                try:
                    if action.startswith("return"):
                        return_loan(ReturnLoan(item, card, day), **kw, now=now)
                    elif action == "renew":
                        renew_loan(RenewLoan(item, card), **kw, now=now)
                    else:
                        hold_loan(HoldLoan(item), **kw, now=now)
                except (CommandRefused, CommandRejected):
                    pass  # refused by the rules, or the item is back already
                assert money_moved(before, money(app, card, today)) == {}, step
            case Post(location, grosze, posting):
                statement = tmp_path / f"{card}-bank.csv"
                statement.write_text(
                    "posting_id,posted_on,card_number,location,amount\n"
                    f"{card}-{posting},{today.isoformat()},{card},{location},{grosze / 100:.2f}\n",
                    encoding="utf-8",
                )
                report = post_transfers(PostTransfers(statement), **kw, now=now)
                moved = money_moved(before, money(app, card, today))
                assert set(moved) <= {location}, (step, moved)
                if report.matched + report.recorded == 0:
                    assert moved == {}, step
        for place, (fines, paid, pending) in money(app, card, today).items():
            assert fines - paid >= 0, (place, step)
            assert fines >= paid + pending, (place, step)
