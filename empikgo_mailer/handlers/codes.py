"""Giving a code to a patron, and explaining whether one could be given: the one decision.

Every door decides the same way: `Facts` reads what the rules need about a batch of
requests in a few queries (the patrons, locked in id order; their codes this month, bans
and debts; the service switch), `Facts.decide` runs the pure rules in memory for each
request in the order given and hands out the pool's oldest free codes (code_supply), and
`Facts.save` writes the codes, issuances and audit entries in bulk. The mail queue and
the catalogue's Legimi claims decide batches; a desk issue, a single claim and a staff
action are batches of one (`decide`). It all runs inside the caller's transaction, so a
decision commits together with what it causes, such as the reply in the outbox.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import Patron
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.card_number import shown_card
from empikgo_mailer.domain.debt import DebtFacts
from empikgo_mailer.domain.eligibility import (
    Assessment,
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
from empikgo_mailer.domain.errors import Conflict
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.handlers.code_supply import CodeSupply, PoolMarks
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


def _with_pool(assessment: Assessment, pool: RuleResult) -> Assessment:
    """The assessment with the pool rule's result as the claim found it."""
    return Assessment(tuple(pool if r.rule is Rule.POOL else r for r in assessment.results))


class Facts:
    """Everything the rules need about a batch's patrons, read in a few queries, and what
    the batch gave. One platform, channel and branch per batch."""

    def __init__(
        self,
        store: Store,
        cards: Iterable[str],
        *,
        library: Library,
        debt_source: DebtSource,
        platform: Platform,
        channel: Channel,
        branch_id: str | None,
        first: datetime,
        marks: PoolMarks | None = None,
        taking: bool = True,
    ) -> None:
        """`first`: the moment of the batch's first request (its day and month);
        `marks`: the door's own (CodeSupply), kept from batch to batch; `taking`: False
        to assess only (no pool is chosen, no code can be taken)."""
        pool = library.pool_branch(platform, branch_id) if taking else None
        if branch_id is not None:
            library.branch(branch_id)  # an unknown branch is refused before anything is read
        self.store, self.library = store, library
        self.platform, self.channel, self.branch_id = platform, channel, branch_id
        self.day, self.month = library.calendar.today(first), library.calendar.month_of(first)
        self.patrons = store.patrons_by_cards(cards, lock=True)
        ids = [p.id for p in self.patrons.values() if p.id is not None]
        # This month's code of each patron and its value (a repeated Legimi claim shows it).
        self.this_month = store.codes_this_month(ids, self.month)
        self.bans = store.bans_of(ids)
        self.debts = debt_source.debts_of(store, list(self.patrons.values()), self.day)
        self.service_on = store.service_switched_on(platform)
        self.supply = (
            CodeSupply(store, platform, self.month, pool, ahead=max(1, len(ids)), marks=marks)
            if taking
            else None
        )
        self.issuances: list[dict[str, Any]] = []
        self.audit: list[dict[str, Any]] = []

    def same_day(self, now: datetime) -> bool:
        """A batch is decided within one day (the daily limits and the month are its)."""
        return self.library.calendar.today(now) == self.day

    def situation(self, card_number: str, now: datetime) -> tuple[Situation, Patron | None]:
        """The facts for the rules about one card, and its patron (None: no such card)."""
        library, calendar = self.library, self.library.calendar
        month = calendar.month_of(now)
        opens_at = library.claims_open_at(self.platform, month)
        situation = Situation(
            platform=self.platform,
            month=month,
            today=calendar.today(now),
            patron=None,
            debt=DebtFacts(0),
            service_on=library.platform_enabled(self.platform) and self.service_on,
            claims_open_at=None if opens_at is None or now >= opens_at else opens_at,
        )
        patron = self.patrons.get(card_number)
        if patron is None or patron.id is None:
            return situation, None
        known = self.this_month.get(patron.id)
        earlier = None if known is None else known[0]
        if earlier is not None:  # its time in the library's zone
            earlier = dataclasses.replace(earlier, issued_at=calendar.local(earlier.issued_at))
        facts = PatronFacts(
            card_number=patron.card_number,
            first_name=patron.first_name,
            last_name=patron.last_name,
            email=patron.email,
            active=patron.active,
            contact_confirmed_on=patron.contact_confirmed_on,
        )
        situation = dataclasses.replace(
            situation,
            patron=facts,
            debt=self.debts[patron.id],
            bans=self.bans.get(patron.id, ()),
            earlier_code=earlier,
        )
        return situation, patron

    def decide(self, command: GiveCode, now: datetime) -> tuple[Decision, int | None]:
        """Assess the rules and, when they allow it, take a code; audited. With the index
        of the issuance it adds (inserted by `save`) when a code was given. A later
        request of the same patron in this batch sees that code as this month's."""
        situation, patron = self.situation(command.card_number, now)
        claimant = Claimant(written_name=command.written_name, sender=command.sender)
        assessment = assess(situation, claimant, self.library.policy)
        given: int | None = None
        assert self.supply is not None, "these facts were read to assess only"
        if not assessment.eligible or patron is None or patron.id is None:
            decision = Decision(assessment)
        elif (code := self.supply.take()) is None:
            no_codes = RuleResult(
                Rule.POOL, Verdict.FAIL, Reason.NO_CODES_LEFT, {"month": situation.month}
            )
            decision = Decision(_with_pool(assessment, no_codes))
        else:
            # The pool rule, not counted before the claim (free_codes None), passed.
            claimed = RuleResult(Rule.POOL, Verdict.PASS, None, {"claimed": True})
            decision = Decision(_with_pool(assessment, claimed), code=code[1], code_id=code[0])
            earlier = EarlierCode(self.platform, self.channel, now, self.branch_id)
            self.this_month[patron.id] = (earlier, code[1])
            given = len(self.issuances)
            self.issuances.append(
                {
                    "code_id": code[0],
                    "patron_id": patron.id,
                    "platform": self.platform.value,
                    "month": str(self.month),
                    "channel": self.channel.value,
                    "branch_id": self.branch_id,
                    "issued_at": now,
                }
            )
        self.audit.append(decision_audit(command, decision, now))
        return decision, given

    def save(self) -> list[int]:
        """Write the batch's codes, issuances and audit entries; the issuances' ids. A
        unique constraint (another process gave a patron a code in the same instant)
        raises here, inside the caller's transaction (the unit of work: `Conflict`)."""
        if self.supply is not None:
            self.store.mark_issued(self.supply.taken)
            self.supply.saved()
        ids = self.store.add_issuances(self.issuances)
        self.store.audit_many(self.audit)
        return ids


def decide(
    store: Store, command: GiveCode, *, library: Library, debt_source: DebtSource, now: datetime
) -> Decision:
    """One request decided as a batch of one, and saved; the caller commits."""
    facts = Facts(
        store,
        [command.card_number],
        library=library,
        debt_source=debt_source,
        platform=command.platform,
        channel=command.channel,
        branch_id=command.branch_id,
        first=now,
    )
    decision, given = facts.decide(command, now)
    ids = facts.save()
    return decision if given is None else dataclasses.replace(decision, issuance_id=ids[given])


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


def decided_once(uow: UnitOfWork, work: Callable[[Store], T]) -> T:
    """Run a decision in a transaction of its own and commit; decide again after a race.

    Another process may give the same patron a code in the same instant: the unique
    constraint stops the second one, and deciding again sees the first.
    """
    for attempt in range(1, RACE_RETRIES + 1):
        try:
            with uow:
                return work(uow.store)
        except Conflict:
            log.info("concurrent issuance for one patron; deciding again (attempt %d)", attempt)
    raise RuntimeError("could not decide after repeated concurrent conflicts")


def give_code(
    command: GiveCode,
    *,
    uow: UnitOfWork,
    library: Library,
    debt_source: DebtSource,
    now: datetime,
) -> Decision:
    """Decide in a transaction of its own, and commit."""
    return decided_once(
        uow,
        lambda store: decide(store, command, library=library, debt_source=debt_source, now=now),
    )


def check_eligibility(
    command: CheckEligibility,
    *,
    uow: UnitOfWork,
    library: Library,
    debt_source: DebtSource,
    now: datetime,
) -> Assessment:
    """Every rule with its verdict, without taking a code."""
    with uow:
        store = uow.store
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
        facts = Facts(
            store,
            [command.card_number],
            library=library,
            debt_source=debt_source,
            platform=command.platform,
            channel=Channel.DESK,
            branch_id=command.branch_id,
            first=now,
            taking=False,
        )
        situation, _ = facts.situation(command.card_number, now)
        situation = dataclasses.replace(situation, free_codes=free, free_by_branch=by_branch)
        claimant = Claimant(written_name=command.written_name, sender=command.sender)
        return assess(situation, claimant, library.policy)
