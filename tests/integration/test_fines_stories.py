"""The rules of RULES.md section 5 as stories a librarian would tell, one table row each,
played through the handlers on SQLite and PostgreSQL with the calendar of November 2026.

Locations (tests/support/config.py): multimedia (Biblioteka Główna, transfers accepted),
w63 (Filia nr 1, 0,50 zł a day, transfers accepted), czytelnia-naukowa (Biblioteka Wydziału Fizyki,
no transfers). Every `Expect` also asks the eligibility rules whether "no debt" holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TypedDict
from zoneinfo import ZoneInfo

import pytest

from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.eligibility import Rule, Verdict
from empikgo_mailer.domain.fines import PaymentMethod
from empikgo_mailer.domain.money import parse_pln
from empikgo_mailer.handlers.codes import CheckEligibility, check_eligibility
from empikgo_mailer.handlers.errors import CommandRefused
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


CARD = "1000001"
ONLINE, TRANSFER, CASH = PaymentMethod.ONLINE, PaymentMethod.TRANSFER, PaymentMethod.CASH


def day(text: str) -> date:
    """'11-15' is 15 November 2026; '12-23' is 23 December 2026."""
    month, dom = text.split("-")
    return date(2026, int(month), int(dom))


def noon(text: str) -> datetime:
    return datetime.combine(day(text), datetime.min.time(), tzinfo=WARSAW).replace(hour=12)


@dataclass(frozen=True)
class Lend:
    """One row of the library system's export."""

    barcode: str
    location: str
    due: str
    returned: str | None = None
    renewals: tuple[int, int] = (0, 2)  # used, limit
    hold: bool = False


@dataclass(frozen=True)
class Pay:
    on: str
    location: str
    amount: str
    method: PaymentMethod
    proof: bool = False
    refused: str | None = None  # a fragment of the refusal, or None when it is taken
    expected_by: str | None = None


@dataclass(frozen=True)
class Return:
    on: str
    barcode: str
    refused: str | None = None
    dated: str | None = None  # the day written on the return, when not `on`


@dataclass(frozen=True)
class Renew:
    on: str
    barcode: str
    refused: str | None = None


@dataclass(frozen=True)
class Hold:
    on: str
    barcode: str


@dataclass(frozen=True)
class Post:
    """The bank's statement lists a transfer."""

    on: str
    posting_id: str
    location: str
    amount: str


@dataclass(frozen=True)
class Expect:
    on: str
    balances: dict[str, str]  # location -> what is owed there
    blocked: bool
    paid: dict[str, str] = field(default_factory=dict)

    @property
    def debt_free(self) -> bool:
        return not self.blocked and all(parse_pln(v) == 0 for v in self.balances.values())


Step = Pay | Return | Renew | Hold | Post | Expect


@dataclass(frozen=True)
class Story:
    title: str
    loans: list[Lend]
    steps: list[Step]


STORIES = [
    # --- accrual: 0,30 zł a day per item, from dates, until the day it is returned --------
    Story(
        "a book returned 5 days late costs 1,50 zł, and still does a week later",
        [Lend("B1", "multimedia", due="11-10", returned="11-15")],
        [
            Expect("11-15", {"multimedia": "1,50"}, blocked=True),
            Expect("11-22", {"multimedia": "1,50"}, blocked=True),
        ],
    ),
    Story(
        "two kept books grow 0,30 zł a day each",
        [Lend("B1", "multimedia", due="11-10"), Lend("B2", "multimedia", due="11-10")],
        [
            Expect("11-10", {"multimedia": "0,00"}, blocked=False),
            Expect("11-11", {"multimedia": "0,60"}, blocked=True),
            Expect("11-15", {"multimedia": "3,00"}, blocked=True),
            Return("11-16", "B1"),
            Expect("11-20", {"multimedia": "4,80"}, blocked=True),
        ],
    ),
    Story(
        "the branch charges its own rate: 4 days at Filia nr 1 are 2,00 zł",
        [Lend("F1", "w63", due="11-10", returned="11-14")],
        [Expect("11-20", {"w63": "2,00"}, blocked=True)],
    ),
    # --- locations are settled separately; the story from the issue ---------------------
    Story(
        "two books 5 days late at the main library and one 1 day late at Physics",
        [
            Lend("B1", "multimedia", due="11-10"),
            Lend("B2", "multimedia", due="11-10"),
            Lend("P1", "czytelnia-naukowa", due="11-14"),
        ],
        [
            Expect("11-15", {"multimedia": "3,00", "czytelnia-naukowa": "0,30"}, blocked=True),
            Pay("11-15", "multimedia", "0,30", ONLINE, refused="gotówką na miejscu"),
            Pay("11-15", "multimedia", "3,00", ONLINE),
            Expect("11-15", {"multimedia": "0,00", "czytelnia-naukowa": "0,30"}, blocked=True),
            Return("11-15", "P1"),
            Return("11-15", "B1"),
            Return("11-15", "B2"),
            Pay("11-15", "czytelnia-naukowa", "0,30", CASH),
            Expect("11-15", {"multimedia": "0,00", "czytelnia-naukowa": "0,00"}, blocked=False),
        ],
    ),
    Story(
        "one payment never covers two libraries",
        [
            Lend("B1", "multimedia", due="11-10", returned="11-15"),
            Lend("P1", "czytelnia-naukowa", due="11-14"),
        ],
        [
            Pay(
                "11-15",
                "multimedia",
                "1,80",
                CASH,
                refused="jedna wpłata dotyczy jednej biblioteki",
            ),
            Pay("11-15", "czytelnia-naukowa", "1,50", CASH, refused="więcej niż należność"),
            Expect("11-15", {"multimedia": "1,50", "czytelnia-naukowa": "0,30"}, blocked=True),
        ],
    ),
    # --- online: at least 0,50 zł, unblocks at once, 3 extra days for kept items --------
    Story(
        "paid online, the kept book returned on the 3rd extra day costs nothing more",
        [Lend("B1", "multimedia", due="11-10")],
        [
            Pay("11-15", "multimedia", "1,50", ONLINE),
            Expect("11-15", {"multimedia": "0,00"}, blocked=False),
            Expect("11-18", {"multimedia": "0,00"}, blocked=False),
            Return("11-18", "B1"),
            Expect("11-25", {"multimedia": "0,00"}, blocked=False),
        ],
    ),
    Story(
        "the 3 extra days run out: the kept book blocks and accrues again",
        [Lend("B1", "multimedia", due="11-10")],
        [
            Pay("11-15", "multimedia", "1,50", ONLINE),
            Expect("11-19", {"multimedia": "0,30"}, blocked=True),
            Renew("11-19", "B1", refused="przetrzymany"),
        ],
    ),
    Story(
        "within the extra days the book can be renewed",
        [Lend("B1", "multimedia", due="11-10")],
        [
            Pay("11-15", "multimedia", "1,50", ONLINE),
            Renew("11-17", "B1"),
            Expect("11-30", {"multimedia": "0,00"}, blocked=False),
        ],
    ),
    Story(
        "no extra days when someone holds the book",
        [Lend("B1", "multimedia", due="11-10")],
        [
            Hold("11-14", "B1"),
            Pay("11-15", "multimedia", "1,50", ONLINE),
            Expect("11-15", {"multimedia": "0,00"}, blocked=False),
            Expect("11-16", {"multimedia": "0,30"}, blocked=True),
            Renew("11-16", "B1", refused="zamówił"),
        ],
    ),
    Story(
        "no extra days when the renewals are used up",
        [Lend("B1", "multimedia", due="11-10", renewals=(2, 2))],
        [
            Pay("11-15", "multimedia", "1,50", ONLINE),
            Expect("11-16", {"multimedia": "0,30"}, blocked=True),
        ],
    ),
    Story(
        "no extra days while another library still blocks the account",
        [
            Lend("B1", "multimedia", due="11-10"),
            Lend("P1", "czytelnia-naukowa", due="11-12", returned="11-13"),
        ],
        [
            Pay("11-15", "multimedia", "1,50", ONLINE),
            Pay("11-15", "czytelnia-naukowa", "0,30", CASH),
            Expect("11-16", {"multimedia": "0,30", "czytelnia-naukowa": "0,00"}, blocked=True),
        ],
    ),
    Story(
        "a return dated before the online payment for the kept book is refused",
        [Lend("B1", "multimedia", due="11-10")],
        [
            Pay("11-15", "multimedia", "1,50", ONLINE),
            Return("11-16", "B1", refused="przed wpłatą", dated="11-14"),
        ],
    ),
    # --- transfers: returned items only, only where accepted, pending until posted ------
    Story(
        "a transfer cannot pay for a book still kept",
        [Lend("B1", "multimedia", due="11-10")],
        [Pay("11-15", "multimedia", "1,50", TRANSFER, refused="tylko za pozycje już zwrócone")],
    ),
    Story(
        "the main account takes no transfers for the Faculty of Physics",
        [Lend("P1", "czytelnia-naukowa", due="11-12", returned="11-13")],
        [Pay("11-15", "czytelnia-naukowa", "0,30", TRANSFER, refused="nie można wpłacać")],
    ),
    Story(
        "a transfer blocks until the bank posts it; the statement read twice counts it once",
        [Lend("B1", "multimedia", due="11-10", returned="11-15")],
        [
            Pay("11-20", "multimedia", "1,50", TRANSFER, expected_by="11-25"),
            Expect("11-23", {"multimedia": "1,50"}, blocked=True),
            Pay("11-23", "multimedia", "0,50", CASH, refused="czeka na zaksięgowanie"),
            Post("11-24", "PKO-1", "multimedia", "1,50"),
            Expect("11-24", {"multimedia": "0,00"}, blocked=False, paid={"multimedia": "1,50"}),
            Post("11-25", "PKO-1", "multimedia", "1,50"),
            Expect("11-25", {"multimedia": "0,00"}, blocked=False, paid={"multimedia": "1,50"}),
        ],
    ),
    Story(
        "a librarian who sees the proof unblocks at once; the posting later adds nothing",
        [Lend("F1", "w63", due="11-10", returned="11-13")],
        [
            Pay("11-16", "w63", "1,50", TRANSFER, proof=True),
            Expect("11-16", {"w63": "0,00"}, blocked=False, paid={"w63": "1,50"}),
            Post("11-19", "PKO-7", "w63", "1,50"),
            Expect("11-19", {"w63": "0,00"}, blocked=False, paid={"w63": "1,50"}),
        ],
    ),
    Story(
        "a transfer on 23 December is expected after Christmas: 3 working days is the 30th",
        [Lend("B1", "multimedia", due="12-10", returned="12-11")],
        [Pay("12-23", "multimedia", "0,30", TRANSFER, expected_by="12-30")],
    ),
    # --- cash: any amount, at the library that lent the book ----------------------------
    Story(
        "cash pays any amount, but only where the book came from",
        [Lend("P1", "czytelnia-naukowa", due="11-12", returned="11-13")],
        [
            Pay("11-15", "czytelnia-naukowa", "0,10", CASH),
            Expect("11-15", {"czytelnia-naukowa": "0,20"}, blocked=True),
            Pay("11-15", "multimedia", "0,20", CASH, refused="nie ma należności"),
            Pay("11-15", "czytelnia-naukowa", "0,20", CASH),
            Expect("11-15", {"czytelnia-naukowa": "0,00"}, blocked=False),
        ],
    ),
]


def _import(app: App, tmp_path: Path, loans: list[Lend]) -> None:
    lines = [
        "card_number,item_barcode,location,borrowed_on,due_on,returned_on,"
        "renewals_used,renewal_limit,on_hold"
    ]
    for lend in loans:
        used, limit = lend.renewals
        returned = day(lend.returned).isoformat() if lend.returned else ""
        lines.append(
            f"{CARD},{lend.barcode},{lend.location},2026-10-01,{day(lend.due).isoformat()},"
            f"{returned},{used},{limit},{'tak' if lend.hold else 'nie'}"
        )
    path = tmp_path / "loans.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_loans(ImportLoans(path), uow=app.uow(), library=app.library, now=noon("12-31"))
    assert (report.created, report.rejected) == (len(loans), [])


def _refused(step: Return | Renew, app: App) -> str | None:
    kw: Deps = {"uow": app.uow(), "library": app.library}
    try:
        if isinstance(step, Return):
            returned = day(step.dated or step.on)
            return_loan(ReturnLoan(step.barcode, CARD, returned), **kw, now=noon(step.on))
        else:
            renew_loan(RenewLoan(step.barcode, CARD), **kw, now=noon(step.on))
    except CommandRefused as refused:
        return str(refused)
    return None


def _play(app: App, tmp_path: Path, step: Step) -> None:
    kw: Deps = {"uow": app.uow(), "library": app.library}
    match step:
        case Pay():
            command = PayFine(
                CARD, step.location, parse_pln(step.amount), step.method, proof=step.proof
            )
            result = pay_fine(command, **kw, now=noon(step.on))
            if step.refused is None:
                assert result.refusal is None, result.refusal
            else:
                assert result.refusal is not None and step.refused in result.refusal, result
            if step.expected_by is not None:
                assert result.expected_by == day(step.expected_by)
        case Return() | Renew():
            refusal = _refused(step, app)
            if step.refused is None:
                assert refusal is None, refusal
            else:
                assert refusal is not None and step.refused in refusal, refusal
        case Hold():
            hold_loan(HoldLoan(step.barcode), **kw, now=noon(step.on))
        case Post():
            path = tmp_path / f"bank-{step.on}.csv"
            path.write_text(
                "posting_id,posted_on,card_number,location,amount\n"
                f'{step.posting_id},{day(step.on).isoformat()},{CARD},{step.location},"{step.amount}"\n',
                encoding="utf-8",
            )
            report = post_transfers(PostTransfers(path), **kw, now=noon(step.on))
            assert report.rejected == []
        case Expect():
            ledger = show_fines(ShowFines(CARD), **kw, now=noon(step.on)).ledger
            owed = {a.location.id: a.balance_grosze for a in ledger.accounts}
            assert {k: owed.get(k, 0) for k in step.balances} == {
                k: parse_pln(v) for k, v in step.balances.items()
            }, step
            assert ledger.blocked is step.blocked, step
            paid = {a.location.id: a.paid_grosze for a in ledger.accounts}
            assert {k: paid.get(k, 0) for k in step.paid} == {
                k: parse_pln(v) for k, v in step.paid.items()
            }
            assessment = check_eligibility(
                CheckEligibility(CARD), **kw, debt_source=app.debt_source, now=noon(step.on)
            )
            debt_rule = next(r for r in assessment.results if r.rule is Rule.DEBT)
            assert (debt_rule.verdict is Verdict.PASS) is step.debt_free, debt_rule


@pytest.mark.parametrize("story", STORIES, ids=[s.title for s in STORIES])
def test_fine_story(app: App, tmp_path: Path, story: Story) -> None:
    add_patron(app.db, CARD, "Ewa", "Zielińska", confirmed=date(2026, 10, 1))
    _import(app, tmp_path, story.loans)
    for step in story.steps:
        _play(app, tmp_path, step)
