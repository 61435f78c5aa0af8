"""Giving codes through the handler, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from empikgo_mailer.adapters.tables import AuditEvent, Issuance
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.domain.eligibility import Reason, Rule, Verdict
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.handlers.codes import (
    CheckEligibility,
    Decision,
    GiveCode,
    check_eligibility,
    give_code,
)
from empikgo_mailer.handlers.errors import CommandRejected
from tests.support.config import settings_for
from tests.support.data import add_ban, add_codes, add_patron

WARSAW = ZoneInfo("Europe/Warsaw")
MONDAY_10 = datetime(2026, 11, 2, 10, 0, tzinfo=WARSAW)
NOVEMBER = Month(2026, 11)


def give(
    app: App,
    card: str,
    platform: Platform = Platform.EMPIK_GO,
    branch: str | None = "multimedia",
    now: datetime = MONDAY_10,
    channel: Channel = Channel.DESK,
) -> Decision:
    return give_code(
        GiveCode(card, platform, channel, branch),
        uow=app.uow(),
        library=app.library,
        debt_source=app.debt_source,
        now=now,
    )


def reason(decision: Decision) -> Reason | None:
    return None if decision.refusal is None else decision.refusal.reason


def test_codes_go_out_oldest_first_until_the_pool_is_empty(app: App) -> None:
    for card in ("1", "2", "3"):
        add_patron(app.db, card)
    add_codes(app.db, Platform.EMPIK_GO, NOVEMBER, "multimedia", ["FIRST", "SECOND"])
    add_codes(app.db, Platform.EMPIK_GO, NOVEMBER, "w63", ["W63-ONLY"])
    assert give(app, "1").code == "FIRST"
    assert give(app, "2").code == "SECOND"
    assert reason(give(app, "3")) is Reason.NO_CODES_LEFT
    # The other branch's pool is its own.
    assert give(app, "3", branch="w63").code == "W63-ONLY"


def test_one_code_per_patron_per_month_across_platforms(app: App) -> None:
    add_patron(app.db, "1")
    add_codes(app.db, Platform.EMPIK_GO, NOVEMBER, "multimedia", ["E1", "E2"])
    add_codes(app.db, Platform.LEGIMI, NOVEMBER, None, ["L1"])
    assert give(app, "1").granted
    assert reason(give(app, "1", branch="w63")) is Reason.ALREADY_HAS_CODE
    assert reason(give(app, "1", Platform.LEGIMI)) is Reason.ALREADY_HAS_CODE
    # Next month the patron may have a code again.
    add_codes(app.db, Platform.LEGIMI, Month(2026, 12), None, ["L-DEC"])
    december = datetime(2026, 12, 1, 10, 0, tzinfo=WARSAW)
    assert give(app, "1", Platform.LEGIMI, now=december).code == "L-DEC"


def test_a_code_of_one_month_is_never_given_in_another(app: App) -> None:
    add_patron(app.db, "1")
    add_codes(app.db, Platform.EMPIK_GO, Month(2026, 10), "multimedia", ["OCTOBER"])
    assert reason(give(app, "1")) is Reason.NO_CODES_LEFT


def test_legimi_pool_opens_at_ten_on_the_first_working_day(app: App) -> None:
    add_patron(app.db, "1")
    add_codes(app.db, Platform.LEGIMI, NOVEMBER, None, ["L1"])
    before = datetime(2026, 11, 2, 9, 59, 59, tzinfo=WARSAW)
    refused = give(app, "1", Platform.LEGIMI, now=before)
    assert reason(refused) is Reason.CLAIMS_NOT_OPEN
    assert give(app, "1", Platform.LEGIMI).code == "L1"


def test_unknown_card_debt_ban_and_inactive_are_refused(app: App) -> None:
    add_patron(app.db, "DEBT", balance=30)
    add_patron(app.db, "OFF", active=False)
    add_patron(app.db, "OLD", confirmed=date(2025, 10, 1))
    banned = add_patron(app.db, "BAN")
    add_ban(app.db, banned, Month(2026, 9))
    add_codes(app.db, Platform.EMPIK_GO, NOVEMBER, "multimedia", ["E1"])
    assert reason(give(app, "NOPE")) is Reason.CARD_NOT_FOUND
    assert reason(give(app, "DEBT")) is Reason.DEBT
    assert reason(give(app, "OFF")) is Reason.ACCOUNT_INACTIVE
    assert reason(give(app, "OLD")) is Reason.CONTACT_OUTDATED
    assert reason(give(app, "BAN")) is Reason.BANNED
    with app.db.transaction() as session:
        assert session.exec(select(func.count()).select_from(Issuance)).one() == 0


def test_card_numbers_are_matched_without_spaces_and_case(app: App) -> None:
    add_patron(app.db, "B0012345")
    add_codes(app.db, Platform.EMPIK_GO, NOVEMBER, "multimedia", ["E1"])
    assert give(app, " b001 2345 ").granted


def test_service_switched_off_in_the_configuration(database_url: str, tmp_path: Path) -> None:
    app = bootstrap(settings_for(tmp_path, database_url, empik_enabled=False))
    add_patron(app.db, "1")
    add_codes(app.db, Platform.EMPIK_GO, NOVEMBER, "multimedia", ["E1"])
    assert reason(give(app, "1")) is Reason.SERVICE_OFF
    app.db.dispose()


def test_every_decision_is_audited_without_the_code(app: App) -> None:
    add_patron(app.db, "1")
    add_codes(app.db, Platform.EMPIK_GO, NOVEMBER, "multimedia", ["SECRET-CODE-1"])
    give(app, "1")
    give(app, "1")
    with app.db.transaction() as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    assert [(e.action, e.outcome, e.card_number) for e in events] == [
        ("give-code", "issued", "1"),
        ("give-code", "already-has-code", "1"),
    ]
    assert all("SECRET-CODE-1" not in e.details for e in events)


def test_unknown_branch_is_rejected_as_a_command(app: App) -> None:
    add_patron(app.db, "1")
    with pytest.raises(CommandRejected, match="Nieznana placówka „nowhere”"):
        give(app, "1", branch="nowhere")


def test_check_lists_every_rule_and_counts_the_pool(app: App) -> None:
    add_patron(app.db, "1", balance=120)
    add_codes(app.db, Platform.EMPIK_GO, NOVEMBER, "multimedia", ["E1", "E2"])
    add_codes(app.db, Platform.EMPIK_GO, NOVEMBER, "w63", ["W1"])
    assessment = check_eligibility(
        CheckEligibility("1"),
        uow=app.uow(),
        library=app.library,
        debt_source=app.debt_source,
        now=MONDAY_10,
    )
    verdicts = {r.rule: r for r in assessment.results}
    assert verdicts[Rule.DEBT].verdict is Verdict.FAIL
    # Each branch has its own Empik Go pool: without a branch, both are shown, not summed.
    assert verdicts[Rule.POOL].verdict is Verdict.NOT_CHECKED
    assert verdicts[Rule.POOL].details["by_branch"] == {"multimedia": 2, "w63": 1}
    assert not assessment.eligible
