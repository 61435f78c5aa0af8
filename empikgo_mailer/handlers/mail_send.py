"""Sending the outbox: each reply claimed, sent once, and its result recorded at once.

A circuit breaker guards the SMTP server: the first time it cannot be reached (refused,
silent, gone) the send phase ends, every reply keeps its place, and the server is not
tried again before the breaker's pause (1, 5, 15, then 60 minutes) has passed. (A session
that worked and then closed gets one new connection first: servers end sessions after so
many messages.) A reply
the server defers (4xx) waits on its own schedule; a refusal (5xx), or a reply deferred
for hours, is failed and shown to staff. Decisions never wait for any of this.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from empikgo_mailer.adapters.outbox import Links, Outbox, OutgoingReply
from empikgo_mailer.adapters.smtp_sender import Delivery, SendResult
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.retries import next_try, pause_after

log = logging.getLogger(__name__)
SMTP_LINK = "smtp"
# Replies leased per claim and lane. Each claim sorts every due reply by id (the due index
# is by status and time), so a month-start burst wants few, large claims.
CLAIM_BATCH = 500


class Transport(Protocol):
    async def send(self, sender: str, recipient: str, message: bytes) -> Delivery: ...


@dataclass
class SendReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    unreachable: str | None = None  # why the server could not be reached this pass
    paused_until: datetime | None = None  # the breaker was open: nothing was tried

    def add(self, later: SendReport) -> None:
        """Count a later round of the same send phase in."""
        self.sent += later.sent
        self.deferred += later.deferred
        self.failed += later.failed
        self.unreachable = later.unreachable or self.unreachable
        self.paused_until = later.paused_until or self.paused_until


def new_owner() -> str:
    """A lease owner unique to this pass."""
    return f"pass-{uuid.uuid4().hex}"


async def send_outbox(
    *,
    outbox: Outbox,
    links: Links,
    transport: Transport,
    clock: Clock,
    should_stop: Callable[[], bool] = lambda: False,
    more_transports: Sequence[Transport] = (),
) -> SendReport:
    """Send every due reply. Call with the sender lock held (`pass_lock.SEND`): leases
    of senders that died are taken back first, so their replies go out now rather than
    after the lease.

    `more_transports`: further SMTP sessions that send side by side with the first once
    the server has taken a reply (a server that cannot be reached is found by one
    connection, as with one session); a further session that fails leaves the work to
    the others, and only when the last one fails is the server unreachable."""
    report = SendReport()
    state = links.get(SMTP_LINK)
    if state is not None and state.retry_at is not None and state.retry_at > clock():
        report.paused_until = state.retry_at
        return report
    taken_back = outbox.take_back_leases()
    if taken_back:
        log.warning("%d replies were claimed by a pass that died; sending them now", taken_back)
    phase = _Phase(outbox, links, clock, report, should_stop)
    phase.lanes = [transport, *more_transports]
    try:
        while not phase.over() and (batch := outbox.claim(clock(), CLAIM_BATCH * len(phase.lanes))):
            phase.waiting.extend(batch)
            if not phase.connected:
                await phase.lane(transport, until_connected=True)
            if phase.waiting and not phase.over():
                await asyncio.gather(*(phase.lane(lane) for lane in list(phase.lanes)))
    finally:
        outbox.release_mine()
    return report


class _Phase:
    """One send phase: the claimed replies waiting for a lane, and what the lanes share."""

    def __init__(
        self,
        outbox: Outbox,
        links: Links,
        clock: Clock,
        report: SendReport,
        should_stop: Callable[[], bool],
    ) -> None:
        self.outbox, self.links, self.clock, self.report = outbox, links, clock, report
        self.should_stop = should_stop
        self.waiting: deque[OutgoingReply] = deque()
        self.connected = False  # the server has taken a reply in this phase
        self.stopped = False  # unreachable, or told to stop
        self.lanes: list[Transport] = []  # the sessions still sending

    def over(self) -> bool:
        return self.stopped or self.should_stop()

    async def lane(self, transport: Transport, *, until_connected: bool = False) -> None:
        """Send waiting replies one after another over one SMTP session."""
        while self.waiting and not self.stopped:
            if self.should_stop():
                self.stopped = True
                return  # the claimed rest is released (release_mine) for the next pass
            reply = self.waiting.popleft()
            delivery = await _deliver(transport, reply, second_chance=self.connected)
            now = self.clock()
            if delivery.result is SendResult.UNREACHABLE:
                if self.connected and len(self.lanes) > 1:
                    # This session broke, or a further one could not be opened (a server
                    # may limit sessions): the others carry on with its reply, and it is
                    # not tried again in this phase.
                    log.info("one SMTP session ended (%s); the others go on", delivery.detail)
                    self.lanes.remove(transport)
                    self.waiting.appendleft(reply)
                    return
                self._unreachable(reply, delivery, now)
                return
            if not self.connected:
                self.links.worked(SMTP_LINK, now)
                self.connected = True
            _record(self.outbox, reply, delivery, now, self.report)
            if until_connected:
                return

    def _unreachable(self, reply: OutgoingReply, delivery: Delivery, now: datetime) -> None:
        self.outbox.unreachable(reply.id, now, delivery.detail)
        state = self.links.failed(SMTP_LINK, now, delivery.detail, pause_after)
        log.warning("SMTP server unreachable (%s); next try at %s", delivery.detail, state.retry_at)
        self.report.unreachable, self.report.paused_until = delivery.detail, state.retry_at
        self.stopped = True


async def _deliver(transport: Transport, reply: OutgoingReply, *, second_chance: bool) -> Delivery:
    """Send one reply. A connection that worked in this phase and then broke (servers
    close sessions after so many messages, or after a while) gets one fresh try before
    the server counts as unreachable."""
    message = reply.message.encode("utf-8")
    delivery = await transport.send(reply.sender, reply.recipient, message)
    if delivery.result is SendResult.UNREACHABLE and second_chance:
        log.info("SMTP connection lost (%s); one more try on a new one", delivery.detail)
        delivery = await transport.send(reply.sender, reply.recipient, message)
    return delivery


def _record(
    outbox: Outbox, reply: OutgoingReply, delivery: Delivery, now: datetime, report: SendReport
) -> None:
    if delivery.result is SendResult.SENT:
        outbox.sent(reply.id, now)
        report.sent += 1
        return
    attempts = reply.attempts + 1
    retry_at = next_try(attempts, now) if delivery.result is SendResult.TEMPORARY else None
    if retry_at is None:
        outbox.failed(reply.id, now, delivery.detail, attempts)
        report.failed += 1
        log.warning("reply %s failed for good: %s", reply.id, delivery.detail)
    else:
        outbox.deferred(reply.id, now, delivery.detail, attempts, retry_at)
        report.deferred += 1
