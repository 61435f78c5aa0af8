"""Legimi self-service claims: the reader presses "Pobierz kod Legimi" in the catalogue.

No queue: the claim is decided at once, by the same decision as every other door
(handlers/codes.Facts). A claim
repeated by the same reader (a double click, a script hammering the button) gets the same
answer and the same code, never a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby

from empikgo_mailer.adapters.claim_limits import DatabaseRateLimiter
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.claim_answers import CODES_AVAILABLE, refusal_message
from empikgo_mailer.domain.eligibility import Reason
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.handlers.code_supply import PoolMarks
from empikgo_mailer.handlers.codes import Facts, GiveCode, decided_once
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


def answer_claim(facts: Facts, command: ClaimLegimiCode, now: datetime) -> ClaimAnswer:
    """One claim of a batch: the same code again for a repeated claim, else the decision.
    The patrons' rows are locked (Facts), so of two identical claims at once the second
    sees the first one's code here rather than a refusal from the rules."""
    activate_by = facts.month.last_day
    patron = facts.patrons.get(command.card_number)
    known = None if patron is None or patron.id is None else facts.this_month.get(patron.id)
    if known is not None:
        earlier, code = known
        # Only a Legimi claim (a double click) is answered again; a code this month that
        # came another way is left to the rules, which refuse.
        if earlier.platform.id == Platform.LEGIMI.id and earlier.channel == Channel.SELF_SERVICE:
            return ClaimAnswer(
                True, CODES_AVAILABLE, code=code, activate_by=activate_by, repeated=True
            )
    give = GiveCode(
        command.card_number, Platform.LEGIMI, Channel.SELF_SERVICE, None, actor=command.actor
    )
    decision, _given = facts.decide(give, now)
    refusal = decision.refusal
    if refusal is None:
        return ClaimAnswer(True, CODES_AVAILABLE, code=decision.code, activate_by=activate_by)
    assert refusal.reason is not None
    return ClaimAnswer(False, refusal_message(refusal.reason, refusal.details), refusal.reason)


@dataclass(frozen=True)
class Limited:
    """Too many claims for this card: try again in `retry_after` seconds."""

    retry_after: float


@dataclass(frozen=True)
class ClaimLegimiCodes(Command[list[ClaimAnswer | Limited]]):
    """Claims in the order they arrived, each with its moment, decided together: the
    catalogue's rush at 10:00 (the web door batches it: entrypoints/claim_desk)."""

    claims: tuple[tuple[ClaimLegimiCode, datetime], ...]


def claim_legimi_codes(
    command: ClaimLegimiCodes,
    *,
    uow: UnitOfWork,
    library: Library,
    debt_source: DebtSource,
    claim_limits: DatabaseRateLimiter | None = None,
    code_marks: PoolMarks | None = None,
) -> list[ClaimAnswer | Limited]:
    """Each day's claims in one transaction: the per-card limit counted (`claim_limits`,
    none from the command line), the facts read in a few queries, the rules in memory,
    the codes and issuances written in bulk. The first claim to arrive gets the first
    code. Raises, having committed nothing of that day's claims, when any part fails."""
    marks = code_marks if uow.dialect == "postgresql" else None
    answers: list[ClaimAnswer | Limited] = []
    # Across midnight (rare): each day's claims under that day's rules, in turn.
    for _day, group in groupby(command.claims, key=lambda claim: library.calendar.today(claim[1])):
        claims = list(group)

        def claim_day(
            store: Store, claims: list[tuple[ClaimLegimiCode, datetime]] = claims
        ) -> list[ClaimAnswer | Limited]:
            cards = [claim.card_number for claim, _now in claims]
            limits = (
                claim_limits.retry_after_many(uow.connection(), cards)
                if claim_limits is not None
                else [None] * len(cards)
            )
            allowed = [card for card, limit in zip(cards, limits, strict=True) if not limit]
            facts = Facts(
                store,
                allowed,
                library=library,
                debt_source=debt_source,
                platform=Platform.LEGIMI,
                channel=Channel.SELF_SERVICE,
                branch_id=None,
                first=claims[0][1],  # the first claim's moment
                marks=marks,
            )
            decided: list[ClaimAnswer | Limited] = [
                Limited(limit) if limit else answer_claim(facts, claim, now)
                for (claim, now), limit in zip(claims, limits, strict=True)
            ]
            facts.save()
            return decided

        answers += decided_once(uow, claim_day)
    return answers


def claim_legimi_code(
    command: ClaimLegimiCode,
    *,
    uow: UnitOfWork,
    library: Library,
    debt_source: DebtSource,
    now: datetime,
) -> ClaimAnswer:
    """One claim, a batch of one (the command line: no per-card limit)."""
    (answer,) = claim_legimi_codes(
        ClaimLegimiCodes(((command, now),)), uow=uow, library=library, debt_source=debt_source
    )
    assert isinstance(answer, ClaimAnswer)  # only a counted limit answers otherwise
    return answer
