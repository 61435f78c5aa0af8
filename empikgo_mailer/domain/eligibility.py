"""Who may get a code: the rules of RULES.md section 1, evaluated in order.

Every rule is evaluated, so staff can see all of them at once (`check`), and the decision
is the first rule that fails. The sender check of e-mail requests sits right after the
name check: it is part of proving who is asking, and it comes before any rule whose
answer would tell a stranger something about the account holder's money or history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from empikgo_mailer.domain.addresses import same_address
from empikgo_mailer.domain.debt import DebtFacts, has_debt
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.names import names_match
from empikgo_mailer.domain.platforms import Channel, Platform


class Rule(StrEnum):
    ACCOUNT = "account"  # 1: the card exists and the account is active
    NAME = "name"  # 2
    SENDER = "sender"  # e-mail only
    CONTACT = "contact"  # 3
    DEBT = "debt"  # 4
    BAN = "ban"  # 5
    MONTHLY_LIMIT = "monthly-limit"  # 6
    SERVICE = "service"  # 7
    POOL = "pool"  # 8


class Reason(StrEnum):
    """Why a code was refused; the doors turn each into a Polish message."""

    CARD_NOT_FOUND = "card-not-found"
    ACCOUNT_INACTIVE = "account-inactive"
    NAME_MISMATCH = "name-mismatch"
    SENDER_MISMATCH = "sender-mismatch"
    CONTACT_OUTDATED = "contact-outdated"
    DEBT = "debt"
    BANNED = "banned"
    ALREADY_HAS_CODE = "already-has-code"
    SERVICE_OFF = "service-off"
    NO_CODES_LEFT = "no-codes-left"
    CLAIMS_NOT_OPEN = "claims-not-open"


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    NOT_CHECKED = "not-checked"


@dataclass(frozen=True)
class PatronFacts:
    card_number: str
    first_name: str
    last_name: str
    email: str | None
    active: bool
    contact_confirmed_on: date | None


@dataclass(frozen=True)
class EarlierCode:
    """The code a patron already received in the month being decided."""

    platform: Platform
    channel: Channel
    issued_at: datetime
    branch_id: str | None


@dataclass(frozen=True)
class BanPeriod:
    """No codes from `first` through `last`, for a code left unactivated in `cause`."""

    cause: Month
    first: Month
    last: Month

    def covers(self, month: Month) -> bool:
        return self.first <= month <= self.last


@dataclass(frozen=True)
class Situation:
    """Everything known about a patron and a pool at the moment of the decision."""

    platform: Platform
    month: Month
    today: date
    patron: PatronFacts | None
    debt: DebtFacts
    bans: tuple[BanPeriod, ...] = ()
    earlier_code: EarlierCode | None = None
    service_on: bool = True
    claims_open_at: datetime | None = None  # set when the pool is not open yet (Legimi)
    free_codes: int | None = None  # None: the atomic claim will tell
    # A pool per branch and no branch given (`check` without --branch): each branch's
    # free codes, shown side by side, never added up.
    free_by_branch: Mapping[str, int] | None = None


@dataclass(frozen=True)
class Claimant:
    """What the request itself says; None where this door does not ask (desk, check)."""

    written_name: str | None = None
    sender: str | None = None


@dataclass(frozen=True)
class Policy:
    contact_max_age_months: int = 12
    require_sender_match: bool = True


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    verdict: Verdict
    reason: Reason | None = None
    details: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Assessment:
    results: tuple[RuleResult, ...]

    @property
    def refusal(self) -> RuleResult | None:
        return next((r for r in self.results if r.verdict is Verdict.FAIL), None)

    @property
    def eligible(self) -> bool:
        return self.refusal is None


def _passed(rule: Rule, **details: object) -> RuleResult:
    return RuleResult(rule, Verdict.PASS, None, details)


def _failed(rule: Rule, reason: Reason, **details: object) -> RuleResult:
    return RuleResult(rule, Verdict.FAIL, reason, details)


def _not_checked(rule: Rule, **details: object) -> RuleResult:
    return RuleResult(rule, Verdict.NOT_CHECKED, None, details)


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier, clamped to the month's last day."""
    target = Month.of(day).plus(-months)
    return date(target.year, target.month, min(day.day, target.last_day.day))


def contact_up_to_date(confirmed_on: date | None, today: date, max_age_months: int) -> bool:
    return confirmed_on is not None and confirmed_on >= months_before(today, max_age_months)


def active_ban(bans: tuple[BanPeriod, ...], month: Month) -> BanPeriod | None:
    covering = [ban for ban in bans if ban.covers(month)]
    return max(covering, key=lambda ban: ban.last) if covering else None


def _identity_rules(claimant: Claimant, policy: Policy, patron: PatronFacts) -> list[RuleResult]:
    results: list[RuleResult] = []
    if claimant.written_name is None:
        results.append(_not_checked(Rule.NAME))
    elif names_match(claimant.written_name, patron.first_name, patron.last_name):
        results.append(_passed(Rule.NAME))
    else:
        results.append(_failed(Rule.NAME, Reason.NAME_MISMATCH))

    if claimant.sender is None or not policy.require_sender_match:
        results.append(_not_checked(Rule.SENDER))
    elif patron.email is not None and same_address(claimant.sender, patron.email):
        results.append(_passed(Rule.SENDER))
    else:
        results.append(_failed(Rule.SENDER, Reason.SENDER_MISMATCH))
    return results


def _account_rules(situation: Situation, policy: Policy, patron: PatronFacts) -> list[RuleResult]:
    confirmed, max_age = patron.contact_confirmed_on, policy.contact_max_age_months
    debt, earlier = situation.debt, situation.earlier_code
    ban = active_ban(situation.bans, situation.month)
    return [
        _passed(Rule.CONTACT, confirmed_on=confirmed)
        if contact_up_to_date(confirmed, situation.today, max_age)
        else _failed(
            Rule.CONTACT, Reason.CONTACT_OUTDATED, confirmed_on=confirmed, max_age_months=max_age
        ),
        _failed(
            Rule.DEBT,
            Reason.DEBT,
            outstanding_grosze=debt.outstanding_grosze,
            blocked=debt.blocked,
            why=debt.explanation,
        )
        if has_debt(debt)
        else _passed(Rule.DEBT, outstanding_grosze=0),
        _passed(Rule.BAN)
        if ban is None
        else _failed(Rule.BAN, Reason.BANNED, cause=ban.cause, last=ban.last),
        _passed(Rule.MONTHLY_LIMIT)
        if earlier is None
        else _failed(
            Rule.MONTHLY_LIMIT,
            Reason.ALREADY_HAS_CODE,
            platform=earlier.platform,
            channel=earlier.channel,
            issued_at=earlier.issued_at,
        ),
    ]


def _pool_rules(situation: Situation) -> list[RuleResult]:
    results = [
        _passed(Rule.SERVICE)
        if situation.service_on
        else _failed(Rule.SERVICE, Reason.SERVICE_OFF, platform=situation.platform)
    ]
    if situation.claims_open_at is not None:
        results.append(
            _failed(Rule.POOL, Reason.CLAIMS_NOT_OPEN, opens_at=situation.claims_open_at)
        )
    elif situation.free_codes is None and situation.free_by_branch:
        results.append(_not_checked(Rule.POOL, by_branch=dict(situation.free_by_branch)))
    elif situation.free_codes is None:
        results.append(_not_checked(Rule.POOL))
    elif situation.free_codes > 0:
        results.append(_passed(Rule.POOL, free_codes=situation.free_codes))
    else:
        results.append(_failed(Rule.POOL, Reason.NO_CODES_LEFT, month=situation.month))
    return results


def assess(situation: Situation, claimant: Claimant, policy: Policy) -> Assessment:
    """Evaluate every rule of section 1 in order; the first failure is the decision."""
    patron = situation.patron
    if patron is None:
        results = [_failed(Rule.ACCOUNT, Reason.CARD_NOT_FOUND)]
        # Nothing else can be known about a card that does not exist.
        results += [_not_checked(rule) for rule in list(Rule)[1:]]
        return Assessment(tuple(results))
    results = [
        _passed(Rule.ACCOUNT) if patron.active else _failed(Rule.ACCOUNT, Reason.ACCOUNT_INACTIVE)
    ]
    results += _identity_rules(claimant, policy, patron)
    results += _account_rules(situation, policy, patron)
    results += _pool_rules(situation)
    return Assessment(tuple(results))
