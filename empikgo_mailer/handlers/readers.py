"""One reader as staff see them: account, codes by month, bans, fines; and a desk slip."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.card_number import shown_card
from empikgo_mailer.domain.eligibility import BanPeriod
from empikgo_mailer.domain.platforms import Channel, Platform, platform_by_id
from empikgo_mailer.domain.statuses import CodeStatus
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.debt import read_ledger
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.fines import FinesView
from empikgo_mailer.handlers.library import Library


@dataclass(frozen=True)
class GivenCode:
    month: str
    platform: Platform
    channel: Channel
    branch_id: str | None
    issued_at: datetime
    activated_at: datetime | None
    expired_at: datetime | None  # the month closed with it unactivated


@dataclass(frozen=True)
class ReaderView:
    card_number: str
    name: str
    email: str | None
    active: bool
    contact_confirmed_on: date | None
    codes: list[GivenCode]
    bans: tuple[BanPeriod, ...]
    fines: FinesView


@dataclass(frozen=True)
class ShowReader(Command["ReaderView"]):
    card_number: str


@dataclass(frozen=True)
class Slip:
    """What a desk slip prints: the code is shown here and nowhere else after the desk."""

    platform: Platform
    code: str
    month: str
    branch_id: str
    issued_at: datetime


@dataclass(frozen=True)
class ShowSlip(Command["Slip"]):
    issuance_id: int
    branch_id: str  # only the branch that gave the code at its desk prints its slip


def show_reader(
    query: ShowReader, *, uow: UnitOfWork, library: Library, now: datetime
) -> ReaderView:
    today = library.calendar.today(now)
    with uow:
        store = uow.store
        patron = store.patron_by_card(query.card_number)
        if patron is None or patron.id is None:
            raise CommandRejected(f"Nie ma czytelnika z kartą {shown_card(query.card_number)}.")
        codes = [
            GivenCode(
                month=issuance.month,
                platform=platform_by_id(issuance.platform, library.offered),
                channel=Channel(issuance.channel),
                branch_id=issuance.branch_id,
                issued_at=issuance.issued_at,
                activated_at=code.activated_at,
                expired_at=issuance.expired_at,
            )
            for issuance, code in store.issuances_of(patron.id)
        ]
        name = f"{patron.first_name} {patron.last_name}"
        ledger = read_ledger(uow.fines, patron, library.locations, today)
        return ReaderView(
            card_number=patron.card_number,
            name=name,
            email=patron.email,
            active=patron.active,
            contact_confirmed_on=patron.contact_confirmed_on,
            codes=codes,
            bans=store.bans_of([patron.id]).get(patron.id, ()),
            fines=FinesView(patron.card_number, name, ledger),
        )


def show_slip(query: ShowSlip, *, uow: UnitOfWork, library: Library) -> Slip:
    with uow:
        found = uow.store.issuance(query.issuance_id)
    if found is None:
        raise CommandRejected("Nie ma takiego wydania.")
    issuance, code = found
    if issuance.channel != Channel.DESK.value or issuance.branch_id != query.branch_id:
        raise CommandRejected("Nie ma takiego wydania.")
    assert code.status is CodeStatus.ISSUED
    return Slip(
        platform=platform_by_id(issuance.platform, library.offered),
        code=code.value,
        month=issuance.month,
        branch_id=issuance.branch_id,
        issued_at=issuance.issued_at,
    )
