"""The web door's Legimi claims, decided in the order they arrive, a batch per transaction.

At 10:00 on the first working day a catalogue sends thousands of claims within seconds.
Each web process takes every claim waiting at that moment, in arrival order, and decides
them together (handlers/codes.Facts): the per-card limit counted, the
facts read in a few queries, the rules in memory, the codes and issuances written in
bulk and committed once. The first claim to arrive gets the first code; a claim waits for
the batch in hand at most, never for a lock held by thirty others.

What the batch keeps, and the tests that guard it: one code per reader a month, the same
code for a repeated claim (test_web: hammering, double click), no code given twice across
web workers (test_claim_desk: two workers), the per-card limit across workers
(test_claim_desk), refusals as the one-at-a-time claim gives them (test_web). A batch that
fails is rolled back and its claims are decided one by one, each in a transaction of its
own, so one bad claim answers alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from empikgo_mailer.adapters.claim_limits import DatabaseRateLimiter
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.handlers.code_supply import PoolMarks
from empikgo_mailer.handlers.debt import DebtSource
from empikgo_mailer.handlers.legimi import (
    ClaimAnswer,
    ClaimLegimiCode,
    answer_claim,
    claim_facts,
    claim_legimi_code,
)
from empikgo_mailer.handlers.library import Library

log = logging.getLogger(__name__)
MAX_BATCH = 200


@dataclass(frozen=True)
class Limited:
    """Too many claims for this card: try again in `retry_after` seconds."""

    retry_after: float


Outcome = ClaimAnswer | Limited | BaseException


@dataclass(frozen=True)
class _Waiting:
    command: ClaimLegimiCode
    now: datetime
    answer: asyncio.Future[Outcome]


class ClaimDesk:
    """Claims in, answers out, in arrival order. The batch is decided on the event loop
    itself, after every request that arrived meanwhile has been read: no thread to hand
    each claim to (and wait for the GIL on the way back), and the batch grows by itself
    with the rush, since whatever arrives while one batch is decided forms the next."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        library: Library,
        debt_source: DebtSource,
        *,
        limiter: DatabaseRateLimiter | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        """`uow`: a new unit of work for each batch (`App.uow`)."""
        self.uow, self.library, self.debt_source = uow, library, debt_source
        self.limiter, self.max_batch = limiter, max_batch
        self._waiting: list[_Waiting] = []
        self._due = False  # a batch is scheduled on the loop
        self._marks: PoolMarks | None = {} if uow().dialect == "postgresql" else None

    async def claim(self, command: ClaimLegimiCode, now: datetime) -> ClaimAnswer | Limited:
        """Queue a claim and wait for its answer."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(command, now, loop.create_future())
        self._waiting.append(waiting)
        if not self._due:
            self._due = True
            # After the callbacks already ready: the requests read in this round of the
            # loop join the batch.
            loop.call_soon(self._decide_waiting)
        outcome = await waiting.answer
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _decide_waiting(self) -> None:
        batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
        self._due = bool(self._waiting)
        if self._due:
            asyncio.get_running_loop().call_soon(self._decide_waiting)
        try:
            outcomes = self._decide(batch)
        except Exception:
            log.exception("a batch of %d claims failed; deciding them one by one", len(batch))
            outcomes = [self._alone(waiting) for waiting in batch]
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if not waiting.answer.done():  # the client may have gone away
                waiting.answer.set_result(outcome)

    def _decide(self, batch: list[_Waiting]) -> list[Outcome]:
        """The whole batch in one transaction; raises, having committed nothing, when any
        part of it fails."""
        first = batch[0].now
        calendar = self.library.calendar
        if any(calendar.today(w.now) != calendar.today(first) for w in batch):
            return [self._alone(waiting) for waiting in batch]  # across midnight: rare
        outcomes: list[Outcome] = []
        with self.uow() as uow:
            limits = (
                self.limiter.retry_after_many(
                    uow.connection(), [w.command.card_number for w in batch]
                )
                if self.limiter is not None
                else [None] * len(batch)
            )
            facts = claim_facts(
                uow.store,
                [
                    w.command.card_number
                    for w, limit in zip(batch, limits, strict=True)
                    if not limit
                ],
                library=self.library,
                debt_source=self.debt_source,
                now=first,
                marks=self._marks,
            )
            for waiting, limit in zip(batch, limits, strict=True):
                outcomes.append(
                    Limited(limit) if limit else answer_claim(facts, waiting.command, waiting.now)
                )
            facts.save()
        return outcomes

    def _alone(self, waiting: _Waiting) -> Outcome:
        """One claim in transactions of its own, as the command line decides it."""
        try:
            if self.limiter is not None:
                wait = self.limiter.retry_after(waiting.command.card_number)
                if wait is not None:
                    return Limited(wait)
            return claim_legimi_code(
                waiting.command,
                uow=self.uow(),
                library=self.library,
                debt_source=self.debt_source,
                now=waiting.now,
            )
        except Exception as exc:  # answered to its own request (HTTP 500), and logged there
            return exc
