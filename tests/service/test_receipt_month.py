"""The receipt month decides the pool (RULES section 2): when the mail server's clock is
ahead of the program's and a branch is open at midnight, a request received on the 1st
waits until the program's clock has passed its receipt time, then gets a code of its own
month, never one of the month that is ending."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from empikgo_mailer.adapters.tables import Code, Issuance, MailRequest
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.domain.calendar import OpeningHours
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.statuses import CodeStatus, RequestStatus
from empikgo_mailer.handlers.mail import DecideQueue
from empikgo_mailer.handlers.patrons import ImportPatrons, import_patrons
from tests.support.config import settings_for
from tests.support.data import add_codes
from tests.support.mail import FakeMailbox, collect, fixture

WARSAW = ZoneInfo("Europe/Warsaw")
PATRONS = Path(__file__).parents[2] / "fixtures" / "patrons.csv"
RECEIVED = datetime(2026, 12, 1, 0, 0, 30, tzinfo=WARSAW)  # by the mail server's clock
LAGGING = datetime(2026, 11, 30, 23, 58, 0, tzinfo=WARSAW)  # the program's clock, 2.5 min behind


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    """The multimedia branch open around the clock (a 24-hour pick-up point)."""
    settings = settings_for(tmp_path, database_url)
    branch = settings.branches["multimedia"]
    always = OpeningHours(dict.fromkeys(range(7), (time(0, 0), time.max)))
    branches = {**settings.branches, "multimedia": dataclasses.replace(branch, hours=always)}
    application = bootstrap(dataclasses.replace(settings, branches=branches))
    import_patrons(ImportPatrons(PATRONS), uow=application.uow(), now=LAGGING)
    add_codes(application.db, Platform.EMPIK_GO, Month(2026, 11), "multimedia", ["NOV-1"])
    add_codes(application.db, Platform.EMPIK_GO, Month(2026, 12), "multimedia", ["DEC-1"])
    yield application
    application.db.dispose()


def test_a_request_received_after_the_programs_clock_waits_for_its_own_month(app: App) -> None:
    box = FakeMailbox()
    box.deliver(fixture("gmail.eml"), RECEIVED)
    collect("multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=lambda: LAGGING)

    app.handle(DecideQueue("multimedia"), clock=lambda: LAGGING)
    with app.db.transaction() as session:
        assert session.exec(select(MailRequest.status)).one() == RequestStatus.QUEUED
        assert session.exec(select(Issuance)).all() == []

    after = datetime(2026, 12, 1, 0, 1, tzinfo=WARSAW)
    app.handle(DecideQueue("multimedia"), clock=lambda: after)
    with app.db.transaction() as session:
        request = session.exec(select(MailRequest)).one()
        assert (request.status, request.outcome) == (RequestStatus.DECIDED, "issued")
        issuance = session.exec(select(Issuance)).one()
        assert issuance.month == "2026-12"
        codes = {c.value: c.status for c in session.exec(select(Code))}
    assert codes == {"NOV-1": CodeStatus.FREE, "DEC-1": CodeStatus.ISSUED}
