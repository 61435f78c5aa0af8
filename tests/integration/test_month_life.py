"""The life of a month on both databases: Legimi claims, activation, expiry, bans, closing.

Each test replays moments of a real month with an injected `now`.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, func, select

from empikgo_mailer.adapters.tables import Ban, Code, Issuance, MonthClose
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.claim_answers import CODES_AVAILABLE, NO_FREE_CODES
from empikgo_mailer.domain.eligibility import Reason, Rule, Verdict
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.handlers.activations import (
    ActivationReport,
    ImportActivations,
    import_activations,
)
from empikgo_mailer.handlers.codes import CheckEligibility, GiveCode, check_eligibility, give_code
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.legimi import ClaimAnswer, ClaimLegimiCode, claim_legimi_code
from empikgo_mailer.handlers.month_close import (
    CloseDueMonths,
    CloseMonth,
    CloseReport,
    close_due_months,
    close_month,
)
from empikgo_mailer.handlers.service import SwitchService, switch_service
from tests.support.data import add_codes, add_patron

WARSAW = ZoneInfo("Europe/Warsaw")
JANUARY = Month(2027, 1)
MARCH = Month(2027, 3)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WARSAW)


def claim(app: App, card: str, now: str) -> ClaimAnswer:
    return claim_legimi_code(
        ClaimLegimiCode(card),
        uow=app.uow(),
        library=app.library,
        debt_source=app.debt_source,
        now=at(now),
    )


def desk(app: App, card: str, platform: Platform, now: str, branch: str = "w63") -> str | None:
    command = GiveCode(card, platform, Channel.DESK, branch)
    return give_code(
        command, uow=app.uow(), library=app.library, debt_source=app.debt_source, now=at(now)
    ).code


def refusal(app: App, card: str, now: str) -> Reason | None:
    """The first rule that refuses, not counting an empty pool (no pool is loaded later)."""
    assessment = check_eligibility(
        CheckEligibility(card, Platform.EMPIK_GO, "w63"),
        uow=app.uow(),
        library=app.library,
        debt_source=app.debt_source,
        now=at(now),
    )
    failed = [
        r for r in assessment.results if r.verdict is Verdict.FAIL and r.rule is not Rule.POOL
    ]
    return failed[0].reason if failed else None


def activations(app: App, tmp_path: Path, rows: str, now: str) -> ActivationReport:
    path = tmp_path / "activations.csv"
    path.write_text(rows, encoding="utf-8")
    return import_activations(
        ImportActivations(path, Platform.EMPIK_GO), uow=app.uow(), library=app.library, now=at(now)
    )


def close(app: App, month: Month, now: str) -> CloseReport:
    return close_month(CloseMonth(month), uow=app.uow(), library=app.library, now=at(now))


# --- Legimi claims -------------------------------------------------------------------------


def test_january_2027_legimi_opens_monday_the_4th_at_ten(app: App) -> None:
    """1 January 2027 is a Friday and a holiday; the 2nd and 3rd are a weekend."""
    add_patron(app.db, "1000001")
    add_codes(app.db, Platform.LEGIMI, JANUARY, None, ["LGM-1"])

    for moment in ("2027-01-01T10:00:00", "2027-01-02T12:00:00", "2027-01-04T09:59:59"):
        early = claim(app, "1000001", moment)
        assert not early.granted and early.code is None
        assert early.message == NO_FREE_CODES, moment
    served = claim(app, "1000001", "2027-01-04T10:00:00")
    assert served.granted and served.code == "LGM-1"
    assert served.message == "Biblioteka posiada wolne kody dostępowe."
    assert served.activate_by == JANUARY.last_day


def test_the_two_messages_are_the_librarys_words_exactly() -> None:
    assert CODES_AVAILABLE == "Biblioteka posiada wolne kody dostępowe."
    assert NO_FREE_CODES == (
        "Biblioteka nie posiada wolnych kodów dostępowych. Pobranie kodu będzie możliwe od "
        "pierwszego dnia roboczego kolejnego miesiąca, od godz. 10.00"
    )


def test_a_repeated_claim_returns_the_same_code_and_takes_no_other(app: App) -> None:
    add_patron(app.db, "1000001")
    add_codes(app.db, Platform.LEGIMI, JANUARY, None, ["LGM-1", "LGM-2"])
    first = claim(app, "1000001", "2027-01-04T10:00")
    again = [claim(app, " 1000001 ", f"2027-01-04T10:0{n}") for n in range(1, 6)]
    assert all(a.granted and a.code == first.code and a.repeated for a in again)
    with app.db.transaction() as session:
        free = session.exec(select(func.count()).where(col(Code.status) == "free")).one()
    assert free == 1


def test_one_code_a_month_across_platforms_and_doors(app: App) -> None:
    add_patron(app.db, "1000001")
    add_codes(app.db, Platform.LEGIMI, JANUARY, None, ["LGM-1"])
    add_codes(app.db, Platform.EMPIK_GO, JANUARY, "w63", ["EGM-1"])
    assert desk(app, "1000001", Platform.EMPIK_GO, "2027-01-05T10:00") == "EGM-1"
    answer = claim(app, "1000001", "2027-01-05T11:00")
    assert not answer.granted and answer.reason is Reason.ALREADY_HAS_CODE
    assert "Empik Go" in answer.message and "tylko 1 kod" in answer.message


def test_an_empty_pool_gives_the_no_free_codes_message(app: App) -> None:
    add_patron(app.db, "1000001")
    add_patron(app.db, "1000002", "Anna", "Nowak", email="anna@example.com")
    add_codes(app.db, Platform.LEGIMI, JANUARY, None, ["LGM-1"])
    assert claim(app, "1000001", "2027-01-04T10:00").granted
    late = claim(app, "1000002", "2027-01-04T10:01")
    assert not late.granted and late.message == NO_FREE_CODES
    assert late.reason is Reason.NO_CODES_LEFT


def test_two_readers_claim_the_last_code_at_once(app: App) -> None:
    for n in range(2):
        add_patron(app.db, f"200000{n}", "Jan", f"Nowak{n}", email=f"j{n}@example.com")
    add_codes(app.db, Platform.LEGIMI, JANUARY, None, ["LGM-LAST"])
    barrier = threading.Barrier(2)
    answers: list[ClaimAnswer] = []

    def reader(card: str) -> None:
        barrier.wait()
        answers.append(claim(app, card, "2027-01-04T10:00"))

    threads = [threading.Thread(target=reader, args=(f"200000{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.granted for a in answers) == [False, True]
    loser = next(a for a in answers if not a.granted)
    assert loser.message == NO_FREE_CODES


def test_service_switched_off_refuses_every_door_and_on_again_resumes(app: App) -> None:
    add_patron(app.db, "1000001")
    add_codes(app.db, Platform.LEGIMI, JANUARY, None, ["LGM-1"])
    add_codes(app.db, Platform.EMPIK_GO, JANUARY, "w63", ["EGM-1"])
    switch_service(
        SwitchService(Platform.LEGIMI, False, "Koniec środków"),
        uow=app.uow(),
        now=at("2027-01-04T09:00"),
    )
    off = claim(app, "1000001", "2027-01-04T10:00")
    assert not off.granted and off.reason is Reason.SERVICE_OFF
    assert desk(app, "1000001", Platform.LEGIMI, "2027-01-04T10:00") is None
    # The other platform is not affected.
    assert refusal(app, "1000001", "2027-01-04T10:00") is None
    switch_service(SwitchService(Platform.LEGIMI, True), uow=app.uow(), now=at("2027-01-04T11:00"))
    assert claim(app, "1000001", "2027-01-04T11:01").code == "LGM-1"


# --- activation, expiry, bans ----------------------------------------------------------------


@pytest.fixture
def march(app: App) -> App:
    """A code given on 31 March 2027 to reader 1000001, two codes never given."""
    add_patron(app.db, "1000001")
    add_codes(app.db, Platform.EMPIK_GO, MARCH, "w63", ["EGM-31", "EGM-X", "EGM-Y"])
    assert desk(app, "1000001", Platform.EMPIK_GO, "2027-03-31T15:00") == "EGM-31"
    return app


def test_activated_at_23_59_on_the_last_day_means_no_ban(march: App, tmp_path: Path) -> None:
    activations(march, tmp_path, "code,activated_at\nEGM-31,2027-03-31 23:59\n", "2027-04-01T00:01")
    report = close(march, MARCH, "2027-04-01T00:05")
    assert (report.lapsed, report.expired, report.banned) == (2, 0, 0)
    assert refusal(march, "1000001", "2027-04-10T12:00") is None


def test_not_activated_bans_april_to_june_and_a_late_report_lifts_it(
    march: App, tmp_path: Path
) -> None:
    report = close(march, MARCH, "2027-04-01T00:05")
    assert (report.lapsed, report.expired, report.banned) == (2, 1, 1)
    for month in ("2027-04-02", "2027-05-15", "2027-06-30"):
        assert refusal(march, "1000001", f"{month}T12:00") is Reason.BANNED, month
    assert refusal(march, "1000001", "2027-07-01T12:00") is None

    # The platform's report arrives in April and proves activation on 31 March.
    lifted = activations(
        march, tmp_path, "kod;data aktywacji\nEGM-31;31.03.2027 23:59\n", "2027-04-12T09:00"
    )
    assert lifted.bans_lifted == 1
    assert refusal(march, "1000001", "2027-04-12T12:00") is None
    with march.db.transaction() as session:
        [issuance] = session.exec(select(Issuance))
        assert issuance.expired_at is None


def test_an_activation_after_the_month_does_not_lift_the_ban(march: App, tmp_path: Path) -> None:
    close(march, MARCH, "2027-04-01T00:05")
    late = activations(
        march, tmp_path, "code,activated_at\nEGM-31,2027-04-01T00:00:01\n", "2027-04-02T09:00"
    )
    assert late.recorded == 1 and late.bans_lifted == 0
    assert refusal(march, "1000001", "2027-04-12T12:00") is Reason.BANNED


def test_closing_twice_changes_nothing(march: App) -> None:
    first = close(march, MARCH, "2027-04-01T00:05")
    second = close(march, MARCH, "2027-04-03T00:05")
    assert second.already_closed and not first.already_closed
    assert second.closed_at == first.closed_at
    with march.db.transaction() as session:
        assert len(list(session.exec(select(Ban)))) == 1
        assert len(list(session.exec(select(MonthClose)))) == 1
        statuses = sorted(c.status for c in session.exec(select(Code)))
    assert statuses == ["issued", "lapsed", "lapsed"]


def test_a_month_cannot_be_closed_before_it_ends(march: App) -> None:
    with pytest.raises(CommandRejected, match="jeszcze trwa"):
        close(march, MARCH, "2027-03-31T23:59:59")


def test_the_scheduled_close_catches_up_once(march: App) -> None:
    """Down at 00:05 on 1 April, started at 08:00: March is closed then, and only once."""
    due = CloseDueMonths(close_at=march.settings.jobs.month_close_at)

    def run(now: str) -> list[Month]:
        reports = close_due_months(due, uow=march.uow(), library=march.library, now=at(now))
        return [r.month for r in reports if not r.already_closed]

    assert run("2027-04-01T00:04") == []
    assert run("2027-04-01T08:00") == [MARCH]
    assert run("2027-04-01T08:01") == []
    assert refusal(march, "1000001", "2027-04-01T12:00") is Reason.BANNED
