"""Legimi self-service claims: the reader presses "Pobierz kod Legimi" in the catalogue.

No queue: the claim is decided at once, by the same decision as every other door
(handlers/codes.Facts). A claim
repeated by the same reader (a double click, a script hammering the button) gets the same
answer and the same code, never a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.claim_answers import CODES_AVAILABLE, refusal_message
from empikgo_mailer.domain.eligibility import EarlierCode, Reason
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.handlers.code_supply import PoolMarks
from empikgo_mailer.handlers.codes import Decision, Facts, GiveCode, decided_once
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.debt import DebtSource
from empikgo_mailer.handlers.library import Library


@dataclass(frozen=True)
class ClaimLegimiCode(Command["ClaimAnswer"]):
    card_number: str
    actor: str = "catalogue"


@dataclass(frozen=True)
class ClaimAnswer:
    granted: bool
    message: str
    reason: Reason | None = None
    code: str | None = None
    activate_by: date | None = None  # the last day of the month the code was given in
    repeated: bool = False  # the same code as an earlier claim this month


def claim_command(command: ClaimLegimiCode) -> GiveCode:
    return GiveCode(
        command.card_number, Platform.LEGIMI, Channel.SELF_SERVICE, None, actor=command.actor
    )


def repeated_answer(earlier: EarlierCode, code: str, month: Month) -> ClaimAnswer | None:
    """The same code again when this month's code was a Legimi claim (a double click);
    None when the patron's code this month came another way (the rules then refuse)."""
    if earlier.platform.id != Platform.LEGIMI.id or earlier.channel != Channel.SELF_SERVICE:
        return None
    return ClaimAnswer(True, CODES_AVAILABLE, code=code, activate_by=month.last_day, repeated=True)


def answer_of(decision: Decision, month: Month) -> ClaimAnswer:
    refusal = decision.refusal
    if refusal is None:
        return ClaimAnswer(True, CODES_AVAILABLE, code=decision.code, activate_by=month.last_day)
    assert refusal.reason is not None
    return ClaimAnswer(False, refusal_message(refusal.reason, refusal.details), refusal.reason)


def claim_facts(
    store: Store,
    cards: list[str],
    *,
    library: Library,
    debt_source: DebtSource,
    now: datetime,
    marks: PoolMarks | None = None,
) -> Facts:
    """The facts of a batch of claims (the first arrived at `now`)."""
    return Facts(
        store,
        cards,
        library=library,
        debt_source=debt_source,
        platform=Platform.LEGIMI,
        channel=Channel.SELF_SERVICE,
        branch_id=None,
        first=now,
        marks=marks,
    )


def answer_claim(facts: Facts, command: ClaimLegimiCode, now: datetime) -> ClaimAnswer:
    """One claim of a batch: the same code again for a repeated claim, else the decision.
    The patrons' rows are locked (Facts), so of two identical claims at once the second
    sees the first one's code here rather than a refusal from the rules."""
    patron = facts.patrons.get(command.card_number)
    if patron is not None and patron.id is not None:
        known = facts.this_month.get(patron.id)
        repeated = None if known is None else repeated_answer(known[0], known[1], facts.month)
        if repeated is not None:
            return repeated
    decision, _given = facts.decide(claim_command(command), now)
    return answer_of(decision, facts.month)


def claim_legimi_code(
    command: ClaimLegimiCode,
    *,
    uow: UnitOfWork,
    library: Library,
    debt_source: DebtSource,
    now: datetime,
) -> ClaimAnswer:
    """One claim, a batch of one in a transaction of its own (the command line; the web
    door batches them: claim_desk)."""

    def claim(store: Store) -> ClaimAnswer:
        facts = claim_facts(
            store, [command.card_number], library=library, debt_source=debt_source, now=now
        )
        answer = answer_claim(facts, command, now)
        facts.save()
        return answer

    return decided_once(uow, claim)
