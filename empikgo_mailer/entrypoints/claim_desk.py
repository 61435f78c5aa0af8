"""The web door's Legimi claims, taken in the order they arrive, a batch per command.

At 10:00 on the first working day a catalogue sends thousands of claims within seconds.
Each web process takes every claim waiting at that moment, in arrival order, and hands
them to the dispatcher as one command (`handlers/legimi.ClaimLegimiCodes`): the
per-card limit counted, the facts read in a few queries, the rules in memory, the codes
and issuances written in bulk and committed once. The first claim to arrive gets the
first code; a claim waits for the batch in hand at most, never for a lock held by thirty
others.

What the batch keeps, and the tests that guard it: one code per reader a month, the same
code for a repeated claim (test_web: hammering, double click), no code given twice across
web workers (test_claim_desk: two workers), the per-card limit across workers
(test_claim_desk), refusals as the one-at-a-time claim gives them (test_web). A batch that
fails is rolled back and its claims are decided one by one, each in a transaction of its
own, so one bad claim answers alone; but with the database down every claim would fail
the same way, so the batch is answered at once (503 at the door) and said once an outage.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from empikgo_mailer.adapters.link_errors import DATABASE, database_down
from empikgo_mailer.bootstrap import App
from empikgo_mailer.entrypoints.outage_log import OutageLog
from empikgo_mailer.handlers.legimi import ClaimAnswer, ClaimLegimiCode, ClaimLegimiCodes, Limited

log = logging.getLogger(__name__)
MAX_BATCH = 200
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

    def __init__(self, app: App, outages: OutageLog, *, max_batch: int = MAX_BATCH) -> None:
        self.app, self.outages, self.max_batch = app, outages, max_batch
        self._waiting: list[_Waiting] = []
        self._due = False  # a batch is scheduled on the loop

    async def claim(self, command: ClaimLegimiCode, now: datetime) -> ClaimAnswer | Limited:
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
            outcomes: list[Outcome] = list(self._decide(batch))
            self.outages.worked(DATABASE)
        except Exception as exc:
            if database_down(exc):  # each alone would only meet it again
                self.outages.failed(DATABASE, exc, known=True, what="claims answered 503")
                outcomes = [exc] * len(batch)
            else:
                log.exception("a batch of %d claims failed; deciding them one by one", len(batch))
                outcomes = [self._alone(waiting) for waiting in batch]
        for waiting, outcome in zip(batch, outcomes, strict=True):
            if not waiting.answer.done():  # the client may have gone away
                waiting.answer.set_result(outcome)

    def _decide(self, batch: list[_Waiting]) -> list[ClaimAnswer | Limited]:
        claims = tuple((waiting.command, waiting.now) for waiting in batch)
        return self.app.handle(ClaimLegimiCodes(claims))

    def _alone(self, waiting: _Waiting) -> Outcome:
        """A claim of a failed batch, as a batch of its own: one bad claim answers alone."""
        try:
            (answer,) = self._decide([waiting])
            return answer
        except Exception as exc:  # answered to its own request (HTTP 500), and logged there
            return exc
