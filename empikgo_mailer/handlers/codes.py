"""Giving a code to a patron, and explaining whether one could be given.

`decide` is the single place where a code leaves a pool. It runs inside the caller's
transaction so that other doors (the e-mail queue, the Legimi claim) can commit a
decision together with what it causes, such as the reply in the outbox.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import Patron
from empikgo_mailer.domain.card_number import shown_card
from empikgo_mailer.domain.debt import DebtFacts
from empikgo_mailer.domain.eligibility import (
    Assessment,
    BanPeriod,
    Claimant,
    EarlierCode,
    PatronFacts,
    Reason,
    Rule,
    RuleResult,
    Situation,
    Verdict,
    assess,
)
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.debt import DebtSource
from empikgo_mailer.handlers.library import Library

log = logging.getLogger(__name__)
T = TypeVar("T")
RACE_RETRIES = 3


@dataclass(frozen=True)
class GiveCode(Command["Decision"]):
    """Give `card_number` one code of `platform` through `channel`.

    For Empik Go `branch_id` picks the pool; for Legimi it only records where it happened.
    `written_name` and `sender` are what an e-mail request said (None at the desk).
    """

    card_number: str
    platform: Platform
    channel: Channel
    branch_id: str | None
    written_name: str | None = None
    sender: str | None = None
    actor: str = "system"


@dataclass(frozen=True)
class CheckEligibility(Command["Assessment"]):
    card_number: str
    platform: Platform = Platform.EMPIK_GO
    branch_id: str | None = None
    written_name: str | None = None
    sender: str | None = None


@dataclass(frozen=True)
class Decision:
    assessment: Assessment
    code: str | None = None
    code_id: int | None = None
    issuance_id: int | None = None

    @property
    def granted(self) -> bool:
        return self.code is not None

    @property
    def refusal(self) -> RuleResult | None:
        return self.assessment.refusal


def patron_facts(patron: Patron) -> PatronFacts:
    return PatronFacts(
        card_number=patron.card_number,
        first_name=patron.first_name,
        last_name=patron.last_name,
        email=patron.email,
        active=patron.active,
        contact_confirmed_on=patron.contact_confirmed_on,
    )


def base_situation(
    library: Library,
    *,
    platform: Platform,
    now: datetime,
    service_on: bool,
    free_codes: int | None,
) -> Situation:
    """The facts of the moment and the pool, before anything about the patron."""
    calendar = library.calendar
    month = calendar.month_of(now)
    opens_at: datetime | None = library.claims_open_at(platform, month)
    if opens_at is not None and now >= opens_at:
        opens_at = None
    return Situation(
        platform=platform,
        month=month,
        today=calendar.today(now),
        patron=None,
        debt=DebtFacts(0),
        service_on=library.platform_enabled(platform) and service_on,
        claims_open_at=opens_at,
        free_codes=free_codes,
    )


def patron_situation(
    base: Situation,
    library: Library,
    *,
    patron: Patron,
    earlier: EarlierCode | None,
    debt: DebtFacts,
    bans: tuple[BanPeriod, ...],
) -> Situation:
    """`base` with the patron's own facts (an earlier code's time in the library's zone)."""
    if earlier is not None:
        earlier = dataclasses.replace(earlier, issued_at=library.calendar.local(earlier.issued_at))
    return dataclasses.replace(
        base, patron=patron_facts(patron), debt=debt, bans=bans, earlier_code=earlier
    )


class Unread:
    """A fact not read yet: `_situation` reads it (None would mean "there is none")."""


UNREAD = Unread()


def _situation(
    store: Store,
    *,
    library: Library,
    debt_source: DebtSource,
    patron: Patron | None,
    platform: Platform,
    now: datetime,
    free_codes: int | None,
    earlier: EarlierCode | Unread | None = UNREAD,
) -> tuple[Situation, int | None]:
    """The facts for the rules, and the patron's id when the card exists."""
    base = base_situation(
        library,
        platform=platform,
        now=now,
        service_on=store.service_switched_on(platform),
        free_codes=free_codes,
    )
    if patron is None or patron.id is None:
        return base, None
    situation = patron_situation(
        base,
        library,
        patron=patron,
        earlier=(
            store.earlier_code(patron.id, base.month) if isinstance(earlier, Unread) else earlier
        ),
        debt=debt_source.debt_of(store, patron, base.today),
        bans=store.bans(patron.id),
    )
    return situation, patron.id


def pool_exhausted(assessment: Assessment, situation: Situation) -> Assessment:
    results = tuple(
        RuleResult(Rule.POOL, Verdict.FAIL, Reason.NO_CODES_LEFT, {"month": situation.month})
        if r.rule is Rule.POOL
        else r
        for r in assessment.results
    )
    return Assessment(results)


def pool_gave(assessment: Assessment) -> Assessment:
    """The pool rule, not counted before the claim, passed: a code was taken from it."""
    return Assessment(
        tuple(
            RuleResult(Rule.POOL, Verdict.PASS, None, {"claimed": True})
            if r.rule is Rule.POOL and r.verdict is Verdict.NOT_CHECKED
            else r
            for r in assessment.results
        )
    )


def decide(
    store: Store, command: GiveCode, *, library: Library, debt_source: DebtSource, now: datetime
) -> Decision:
    """Assess the rules and, when they allow it, claim a code; audit the decision.
    The caller commits."""
    patron = store.patron_by_card(command.card_number, lock=True)
    return decide_for(store, command, patron, library=library, debt_source=debt_source, now=now)


def decide_for(
    store: Store,
    command: GiveCode,
    patron: Patron | None,
    *,
    library: Library,
    debt_source: DebtSource,
    now: datetime,
    earlier: EarlierCode | Unread | None = UNREAD,
) -> Decision:
    """`decide` for a patron the caller has already read and locked (None: no such card);
    `earlier`: the patron's code this month, when the caller has read it already."""
    pool_branch = library.pool_branch(command.platform, command.branch_id)
    if command.branch_id is not None:
        library.branch(command.branch_id)
    situation, patron_id = _situation(
        store,
        library=library,
        debt_source=debt_source,
        patron=patron,
        platform=command.platform,
        now=now,
        free_codes=None,
        earlier=earlier,
    )
    claimant = Claimant(written_name=command.written_name, sender=command.sender)
    assessment = assess(situation, claimant, library.policy)
    if not assessment.eligible or patron_id is None:
        return _audited(store, command, Decision(assessment), now)
    code = store.take_free_code(command.platform, situation.month, pool_branch)
    if code is None:
        return _audited(store, command, Decision(pool_exhausted(assessment, situation)), now)
    code_id, value = code
    # Inserted now, not at commit, so that a unique-constraint violation (another
    # process gave this patron a code in the same instant) surfaces inside the decision.
    [issuance_id] = store.add_issuances(
        [
            {
                "code_id": code_id,
                "patron_id": patron_id,
                "platform": command.platform.value,
                "month": str(situation.month),
                "channel": command.channel.value,
                "branch_id": command.branch_id,
                "issued_at": now,
            }
        ]
    )
    decision = Decision(pool_gave(assessment), code=value, code_id=code_id, issuance_id=issuance_id)
    return _audited(store, command, decision, now)


def _audited(store: Store, command: GiveCode, decision: Decision, now: datetime) -> Decision:
    """Every decision about a code, granted or refused, in the audit trail (never the code)."""
    store.audit_many([decision_audit(command, decision, now)])
    return decision


def decision_audit(command: GiveCode, decision: Decision, now: datetime) -> dict[str, Any]:
    """The audit entry of a decision, as `Store.audit` takes it."""
    refusal = decision.refusal
    return {
        "at": now,
        "actor": command.actor,
        "action": "give-code",
        "outcome": "issued" if refusal is None else str(refusal.reason),
        "card_number": shown_card(command.card_number),
        "platform": command.platform.value,
        "channel": command.channel.value,
        "branch": command.branch_id,
        "code_id": decision.code_id,
    }


def decided_once(db: Database, library: Library, work: Callable[[Store], T]) -> T:
    """Run a decision in a transaction of its own and commit; decide again after a race.

    Another process may give the same patron a code in the same instant: the unique
    constraint stops the second one, and deciding again sees the first.
    """
    for attempt in range(1, RACE_RETRIES + 1):
        try:
            with db.transaction() as session:
                return work(Store(session, library.offered))
        except IntegrityError:
            log.info("concurrent issuance for one patron; deciding again (attempt %d)", attempt)
    raise RuntimeError("could not decide after repeated concurrent conflicts")


def give_code(
    command: GiveCode, *, db: Database, library: Library, debt_source: DebtSource, now: datetime
) -> Decision:
    """Decide in a transaction of its own, and commit."""
    return decided_once(
        db,
        library,
        lambda store: decide(store, command, library=library, debt_source=debt_source, now=now),
    )


def check_eligibility(
    command: CheckEligibility,
    *,
    db: Database,
    library: Library,
    debt_source: DebtSource,
    now: datetime,
) -> Assessment:
    """Every rule with its verdict, without taking a code."""
    with db.transaction() as session:
        store = Store(session, library.offered)
        month = library.calendar.month_of(now)
        free: int | None = None
        by_branch: dict[str, int] | None = None
        if command.platform.pooled_per_branch and command.branch_id is None:
            by_branch = {
                branch: store.count_free(command.platform, month, branch)
                for branch in library.branches
            }
        else:
            pool_branch = library.pool_branch(command.platform, command.branch_id)
            free = store.count_free(command.platform, month, pool_branch)
        situation, _ = _situation(
            store,
            library=library,
            debt_source=debt_source,
            patron=store.patron_by_card(command.card_number),
            platform=command.platform,
            now=now,
            free_codes=free,
        )
        situation = dataclasses.replace(situation, free_by_branch=by_branch)
        claimant = Claimant(written_name=command.written_name, sender=command.sender)
        return assess(situation, claimant, library.policy)
