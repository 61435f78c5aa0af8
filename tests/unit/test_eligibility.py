"""RULES.md section 1, rule by rule, and the order in which refusals are reported."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from empikgo_mailer.domain.debt import DebtFacts
from empikgo_mailer.domain.eligibility import (
    BanPeriod,
    Claimant,
    EarlierCode,
    PatronFacts,
    Policy,
    Reason,
    Rule,
    Situation,
    Verdict,
    assess,
    contact_up_to_date,
)
from empikgo_mailer.domain.explanations import explain, explain_refusal
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform

NOVEMBER = Month(2026, 11)
TODAY = date(2026, 11, 2)
PATRON = PatronFacts("1000001", "Łukasz", "Żak", "Lukasz.Zak@example.com", True, date(2026, 9, 1))
GOOD = Situation(
    platform=Platform.EMPIK_GO,
    month=NOVEMBER,
    today=TODAY,
    patron=PATRON,
    debt=DebtFacts(0),
    free_codes=3,
)
EMAIL = Claimant(written_name="zak lukasz", sender="lukasz.zak@EXAMPLE.com")
POLICY = Policy()
EARLIER = EarlierCode(
    Platform.LEGIMI,
    Channel.SELF_SERVICE,
    datetime(2026, 11, 2, 10, 1, tzinfo=ZoneInfo("Europe/Warsaw")),
    None,
)


def refusal_of(
    situation: Situation, claimant: Claimant = EMAIL, policy: Policy = POLICY
) -> Reason | None:
    refusal = assess(situation, claimant, policy).refusal
    return None if refusal is None else refusal.reason


def test_a_patron_who_meets_every_rule_is_eligible() -> None:
    assessment = assess(GOOD, EMAIL, POLICY)
    assert assessment.eligible
    assert [r.rule for r in assessment.results] == list(Rule)
    assert all(r.verdict is Verdict.PASS for r in assessment.results)


@pytest.mark.parametrize(
    ("change", "claimant", "reason"),
    [
        ({"patron": None}, EMAIL, Reason.CARD_NOT_FOUND),
        ({"patron": dataclasses.replace(PATRON, active=False)}, EMAIL, Reason.ACCOUNT_INACTIVE),
        ({}, Claimant("Jan Żak", EMAIL.sender), Reason.NAME_MISMATCH),
        ({}, Claimant(EMAIL.written_name, "someone@else.pl"), Reason.SENDER_MISMATCH),
        ({"patron": dataclasses.replace(PATRON, email=None)}, EMAIL, Reason.SENDER_MISMATCH),
        (
            {"patron": dataclasses.replace(PATRON, contact_confirmed_on=date(2025, 11, 1))},
            EMAIL,
            Reason.CONTACT_OUTDATED,
        ),
        (
            {"patron": dataclasses.replace(PATRON, contact_confirmed_on=None)},
            EMAIL,
            Reason.CONTACT_OUTDATED,
        ),
        ({"debt": DebtFacts(1)}, EMAIL, Reason.DEBT),
        (
            {"debt": DebtFacts(0, blocked=True, explanation="przetrzymana książka")},
            EMAIL,
            Reason.DEBT,
        ),
        (
            {"bans": (BanPeriod(Month(2026, 8), Month(2026, 9), Month(2026, 11)),)},
            EMAIL,
            Reason.BANNED,
        ),
        ({"earlier_code": EARLIER}, EMAIL, Reason.ALREADY_HAS_CODE),
        ({"service_on": False}, EMAIL, Reason.SERVICE_OFF),
        ({"free_codes": 0}, EMAIL, Reason.NO_CODES_LEFT),
        (
            {"claims_open_at": datetime(2026, 11, 2, 10, tzinfo=ZoneInfo("Europe/Warsaw"))},
            EMAIL,
            Reason.CLAIMS_NOT_OPEN,
        ),
    ],
)
def test_each_rule_refuses_on_its_own(
    change: dict[str, object], claimant: Claimant, reason: Reason
) -> None:
    situation = dataclasses.replace(GOOD, **change)  # type: ignore[arg-type]
    assert refusal_of(situation, claimant) is reason
    # Every refusal has a Polish explanation for staff, with no placeholder left in it.
    refusal = assess(situation, claimant, POLICY).refusal
    assert refusal is not None
    text = explain(refusal)
    assert text and "{" not in text and "?" not in text


def test_when_several_rules_fail_the_first_in_rulebook_order_is_named() -> None:
    everything_wrong = dataclasses.replace(
        GOOD,
        patron=dataclasses.replace(PATRON, active=False, contact_confirmed_on=None),
        debt=DebtFacts(500),
        earlier_code=EARLIER,
        service_on=False,
        free_codes=0,
    )
    assert refusal_of(everything_wrong) is Reason.ACCOUNT_INACTIVE
    reasons = [r.reason for r in assess(everything_wrong, EMAIL, POLICY).results if r.reason]
    assert reasons == [
        Reason.ACCOUNT_INACTIVE,
        Reason.CONTACT_OUTDATED,
        Reason.DEBT,
        Reason.ALREADY_HAS_CODE,
        Reason.SERVICE_OFF,
        Reason.NO_CODES_LEFT,
    ]


def test_an_impostor_learns_nothing_about_the_account_holders_money() -> None:
    # Wrong sender and a debt: the reply is about the sender, not the debt.
    situation = dataclasses.replace(GOOD, debt=DebtFacts(120))
    assert (
        refusal_of(situation, Claimant(EMAIL.written_name, "thief@example.com"))
        is Reason.SENDER_MISMATCH
    )


def test_sender_check_can_be_switched_off() -> None:
    claimant = Claimant(EMAIL.written_name, "other@example.com")
    assert refusal_of(GOOD, claimant, Policy(require_sender_match=False)) is None


def test_desk_and_check_do_not_ask_for_name_or_sender() -> None:
    results = {r.rule: r.verdict for r in assess(GOOD, Claimant(), POLICY).results}
    assert results[Rule.NAME] is Verdict.NOT_CHECKED
    assert results[Rule.SENDER] is Verdict.NOT_CHECKED


def test_unknown_card_checks_nothing_else() -> None:
    results = assess(dataclasses.replace(GOOD, patron=None), EMAIL, POLICY).results
    assert [r.verdict for r in results[1:]] == [Verdict.NOT_CHECKED] * (len(Rule) - 1)


def test_pool_not_counted_is_left_to_the_atomic_claim() -> None:
    results = {
        r.rule: r.verdict
        for r in assess(dataclasses.replace(GOOD, free_codes=None), EMAIL, POLICY).results
    }
    assert results[Rule.POOL] is Verdict.NOT_CHECKED


@pytest.mark.parametrize(
    ("confirmed", "today", "months", "ok"),
    [
        (date(2025, 11, 2), date(2026, 11, 2), 12, True),  # exactly 12 months
        (date(2025, 11, 1), date(2026, 11, 2), 12, False),
        (date(2025, 2, 28), date(2026, 2, 28), 12, True),
        (date(2025, 8, 31), date(2026, 2, 28), 6, True),  # 31 August -> end of February
        (date(2025, 8, 30), date(2026, 2, 28), 6, True),
        (date(2025, 8, 27), date(2026, 2, 28), 6, False),
        (None, date(2026, 2, 28), 12, False),
    ],
)
def test_contact_data_age(confirmed: date | None, today: date, months: int, ok: bool) -> None:
    assert contact_up_to_date(confirmed, today, months) is ok


@pytest.mark.parametrize(
    ("month", "banned"),
    [
        (Month(2026, 3), False),
        (Month(2026, 4), True),
        (Month(2026, 6), True),
        (Month(2026, 7), False),
    ],
)
def test_ban_covers_the_three_months_after_the_unactivated_code(month: Month, banned: bool) -> None:
    ban = BanPeriod(Month(2026, 3), Month(2026, 4), Month(2026, 6))
    situation = dataclasses.replace(GOOD, month=month, bans=(ban,))
    assert (refusal_of(situation) is Reason.BANNED) is banned


def test_refusal_explanations_are_polish_sentences() -> None:
    assert (
        explain_refusal(Reason.DEBT, {"outstanding_grosze": 120})
        == "Na koncie jest zadłużenie: 1,20 zł."
    )
    assert (
        explain_refusal(Reason.BANNED, {"cause": Month(2026, 3), "last": Month(2026, 6)})
        == "Blokada do końca czerwca 2026 za kod z miesiąca marzec 2026, który nie został aktywowany."
    )
    assert "z konta czytelnika, 2 listopada 2026, godz. 10:01" in explain_refusal(
        Reason.ALREADY_HAS_CODE,
        {
            "platform": Platform.LEGIMI,
            "channel": Channel.SELF_SERVICE,
            "issued_at": EARLIER.issued_at,
        },
    )
