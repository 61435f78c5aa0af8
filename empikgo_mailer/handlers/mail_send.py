"""Sending the outbox: each reply claimed, sent once, and its result recorded at once.

A circuit breaker guards the SMTP server: the first time it cannot be reached (refused,
silent, gone) the send phase ends, every reply keeps its place, and the server is not
tried again before the breaker's pause (1, 5, 15, then 60 minutes) has passed. (A session
that worked and then closed gets one new connection first: servers end sessions after so
many messages.) While the pause lasts, each send phase probes the server
(`Transport.probe`: a connection, no login, nothing sent); once it answers, the pause
ends and what waits goes out in that same phase. A reply
the server defers (4xx) waits on its own schedule; a refusal (5xx), or a reply deferred
for hours, is failed and shown to staff. Decisions never wait for any of this.

The database work runs beside the SMTP conversation, not in its way. The next replies
are claimed in a worker thread while the claimed ones go out (a claim may wait for a
deciding pass's commit). Results are recorded in batches (`_Records`, a group commit):
the answers gathered so far are written while the next message's RCPT TO travels, and
that message is transmitted only once they are on disk, so a crash still repeats at most
the one reply in flight on each session.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, AsyncExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from empikgo_mailer.adapters.outbox import Answer, Links, Outbox, OutgoingReply, Result
from empikgo_mailer.adapters.smtp_sender import (
    BeforeData,
    Delivery,
    SendResult,
    nothing_to_wait_for,
)
from empikgo_mailer.adapters.tables import LinkState
from empikgo_mailer.config import MailSettings, SmtpSettings
from empikgo_mailer.domain.bounces import ReturnPathPattern
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.errors import DatabaseUnavailable
from empikgo_mailer.domain.retries import next_try, pause_after
from empikgo_mailer.handlers.command import Command

log = logging.getLogger(__name__)
SMTP_LINK = "smtp"
# Replies leased per claim and lane. Each claim sorts every due reply by id (the due index
# is by status and time), so a month-start burst wants few, large claims.
CLAIM_BATCH = 500
# The next claim starts when this many claimed replies are left per lane: about a fifth
# of a second of sending, time enough for a claim that waits for a deciding pass's commit.
CLAIM_AHEAD = 250
# How often a sender with nothing due looks again while the pass is still deciding.
LOOK_AGAIN_SECONDS = 0.05


class Transport(Protocol):
    async def send(
        self,
        sender: str,
        recipient: str,
        message: bytes,
        before_data: BeforeData = nothing_to_wait_for,
    ) -> Delivery:
        """Send one message. `before_data` is awaited once the server has taken the
        envelope and always before the message itself leaves; what it raises, `send`
        raises, and the message does not leave."""
        ...

    async def probe(self) -> str | None:
        """Whether the server answers now, without sending: None when it does, else
        why not. Never raises."""
        ...


@dataclass
class SendReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    undelivered: int = 0  # of the failed, replies that carried a code (RULES section 8)
    unreachable: str | None = None  # why the server could not be reached this pass
    paused_until: datetime | None = None  # the breaker was open: nothing was tried

    def add(self, later: SendReport) -> None:
        """Count a later round of the same send phase in."""
        self.sent += later.sent
        self.deferred += later.deferred
        self.failed += later.failed
        self.undelivered += later.undelivered
        self.unreachable = later.unreachable or self.unreachable
        self.paused_until = later.paused_until or self.paused_until


def new_owner() -> str:
    """A lease owner unique to this pass."""
    return f"pass-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class SendDue(Command[SendReport]):
    """Every due reply sent (the send runner)."""


# Opening the outbox (with a lease owner of its own) and holding the sender lock: adapters.
OpenOutbox = Callable[[], AbstractContextManager[Outbox]]
SenderLock = Callable[[], AbstractContextManager[object]]
TransportFactory = Callable[[SmtpSettings], AbstractAsyncContextManager[Transport]]


def send_due(
    command: SendDue,
    *,
    open_outbox: OpenOutbox,
    links: Links,
    sender_lock: SenderLock,
    smtp: SmtpSettings,
    transport_factory: TransportFactory,
    clock: Clock,
    mail: MailSettings | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    more_coming: Callable[[], bool] = lambda: False,
) -> SendReport:
    """Send every due reply, holding the sender lock; while `more_coming()` (the pass is
    still deciding), look again for replies decided meanwhile. Raises PassBusy when a
    sender of a pass that died is still busy after the database's busy timeout."""

    async def rounds() -> SendReport:
        total = SendReport()
        with open_outbox() as outbox:
            async with AsyncExitStack() as sessions:
                # Each session opens its connection at its first reply, so the further
                # ones cost nothing when there is little to send.
                transport, *more = [
                    await sessions.enter_async_context(transport_factory(smtp))
                    for _ in range(smtp.connections)
                ]
                while True:
                    # Asked before the round: a batch committed after this answer is sent
                    # in this round or, once deciding is over, found by the last round.
                    coming = more_coming()
                    part = await send_outbox(
                        outbox=outbox,
                        links=links,
                        transport=transport,
                        more_transports=more,
                        clock=clock,
                        should_stop=should_stop,
                        return_path=mail.return_path() if mail is not None else None,
                    )
                    total.add(part)
                    over = part.unreachable is not None or part.paused_until is not None
                    if not coming or over or should_stop():
                        return total
                    await asyncio.sleep(LOOK_AGAIN_SECONDS)

    with sender_lock():
        return asyncio.run(rounds())


async def send_outbox(
    *,
    outbox: Outbox,
    links: Links,
    transport: Transport,
    clock: Clock,
    should_stop: Callable[[], bool] = lambda: False,
    more_transports: Sequence[Transport] = (),
    return_path: ReturnPathPattern | None = None,
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
        if await transport.probe() is not None:  # still down: said when it went down
            report.paused_until = state.retry_at
            return report
        now = clock()
        links.worked(SMTP_LINK, now)  # the pause ends: what waits goes out now
        began = outage_began(state, now)
        log.info("SMTP link back after %.0f s", (now - began).total_seconds())
    taken_back = outbox.take_back_leases()
    if taken_back:
        log.warning("%d replies were claimed by a pass that died; sending them now", taken_back)
    lanes = [transport, *more_transports]
    phase = _Phase(outbox, links, clock, report, should_stop, lanes=lanes, return_path=return_path)
    try:
        await phase.lane(transport, until_connected=True)
        if phase.connected and not phase.over():
            # A lane that fails (its database gone) stops the others before the leases
            # are given back: none may send a reply that is no longer its own.
            async with asyncio.TaskGroup() as group:
                for lane in list(phase.lanes):
                    group.create_task(phase.lane(lane))
    finally:
        await phase.claims_settled()
        outbox.release_mine()
    return report


def outage_began(state: LinkState, now: datetime) -> datetime:
    """When the link's outage began, as far as its row tells: its first failure in a
    row, counted back over the breaker's pauses, and not before it last worked."""
    if state.last_failure_at is None:
        return now
    pauses = sum((pause_after(n) for n in range(1, state.failures)), timedelta())
    began = state.last_failure_at - pauses
    return began if state.last_ok_at is None else max(began, state.last_ok_at)


class _Phase:
    """One send phase: the claimed replies waiting for a lane, the claim on its way, and
    what the lanes share."""

    def __init__(
        self,
        outbox: Outbox,
        links: Links,
        clock: Clock,
        report: SendReport,
        should_stop: Callable[[], bool],
        *,
        lanes: list[Transport],
        return_path: ReturnPathPattern | None = None,
    ) -> None:
        self.outbox, self.links, self.clock, self.report = outbox, links, clock, report
        self.return_path = return_path  # each reply's own envelope sender, if any
        self.records = _Records(outbox)
        self.should_stop = should_stop
        self.lanes = lanes  # the sessions still sending
        self.batch = CLAIM_BATCH * len(lanes)
        self.waiting: deque[OutgoingReply] = deque()
        self.connected = False  # the server has taken a reply in this phase
        self.stopped = False  # unreachable, or told to stop
        self._claiming: asyncio.Future[list[OutgoingReply]] | None = None
        self._claim_when_left = CLAIM_AHEAD * len(lanes)
        self._dry = False  # a claim found nothing due: this phase is over when sent

    def over(self) -> bool:
        return self.stopped or self.should_stop()

    async def lane(self, transport: Transport, *, until_connected: bool = False) -> None:
        """Send claimed replies one after another over one SMTP session."""
        try:
            while (reply := await self._next()) is not None:
                delivery = await _deliver(
                    transport, reply, self._envelope_sender(reply),
                    second_chance=self.connected, before_data=self.records.written,
                )  # fmt: skip
                self.records.write()  # this session's last result, if no DATA came
                now = self.clock()
                if delivery.result is SendResult.UNREACHABLE:
                    if self.connected and len(self.lanes) > 1:
                        # This session broke, or a further one could not be opened (a
                        # server may limit sessions): the others carry on with its reply,
                        # and it is not tried again in this phase.
                        log.info("one SMTP session ended (%s); the others go on", delivery.detail)
                        self.lanes.remove(transport)
                        self.waiting.appendleft(reply)
                        return
                    self._unreachable(reply, delivery, now)
                    return
                if not self.connected:
                    self.links.worked(SMTP_LINK, now)
                    self.connected = True
                self.records.add(self._result(reply, delivery, now))
                if until_connected:
                    return
        finally:
            self.records.write()

    def _envelope_sender(self, reply: OutgoingReply) -> str:
        """The branch mailbox, tagged with the reply's id when the library uses a
        per-reply return path: a delivery report then names its reply."""
        if self.return_path is None:
            return reply.sender
        return self.return_path.address(reply.sender, reply.id)

    async def _next(self) -> OutgoingReply | None:
        """The next claimed reply; the next claim is started while enough are left."""
        while not self.stopped:
            if self.should_stop():
                self.stopped = True  # the claimed rest is released (release_mine)
                break
            if len(self.waiting) <= self._claim_when_left:
                self._claim_more()
            if self.waiting:
                return self.waiting.popleft()
            if self._claiming is None:
                break
            await self._claim_landed()
        return None

    def _claim_more(self) -> None:
        if self._claiming is None and not self._dry:
            self._claiming = asyncio.ensure_future(
                asyncio.to_thread(self.outbox.claim, self.clock(), self.batch)
            )

    async def _claim_landed(self) -> None:
        """Wait for the claim on its way; the first lane to see it lands it."""
        claiming = self._claiming
        assert claiming is not None
        batch = await claiming
        if self._claiming is not claiming:
            return  # another lane landed it
        self._claiming = None
        self.waiting.extend(batch)
        if batch:
            self._claim_when_left = CLAIM_AHEAD * len(self.lanes)
        elif self.waiting:
            self._claim_when_left = 0  # look again once these are sent
        else:
            self._dry = True

    async def claims_settled(self) -> None:
        """The phase is over: a claim still on its way lands before the leases are given
        back, so that none of its replies stays leased to nobody."""
        claiming, self._claiming = self._claiming, None
        if claiming is None:
            return
        try:
            await claiming
        except DatabaseUnavailable as exc:  # an outage: the daemon says it once
            log.debug("claiming the next replies failed (%s); they wait", type(exc).__name__)
        except Exception:
            log.exception("claiming the next replies failed; they wait for the next round")

    def _result(self, reply: OutgoingReply, delivery: Delivery, now: datetime) -> Result:
        """The result to record, counted."""
        if delivery.result is SendResult.SENT:
            self.report.sent += 1
            return Result(reply.id, Answer.SENT, now)
        attempts = reply.attempts + 1
        retry_at = next_try(attempts, now) if delivery.result is SendResult.TEMPORARY else None
        if retry_at is None:
            self.report.failed += 1
            if reply.issuance_id is not None:
                self.report.undelivered += 1
                log.warning(
                    "reply %s carrying a code failed for good: %s", reply.id, delivery.detail
                )
            else:
                log.warning("reply %s failed for good: %s", reply.id, delivery.detail)
            return Result(
                reply.id, Answer.FAILED, now, delivery.detail, attempts,
                issuance_id=reply.issuance_id,
            )  # fmt: skip
        self.report.deferred += 1
        return Result(reply.id, Answer.DEFERRED, now, delivery.detail, attempts, retry_at)

    def _unreachable(self, reply: OutgoingReply, delivery: Delivery, now: datetime) -> None:
        self.records.add(Result(reply.id, Answer.UNREACHABLE, now, delivery.detail))
        self.records.write()
        state = self.links.failed(SMTP_LINK, now, delivery.detail, pause_after)
        log.warning("SMTP server unreachable (%s); next try at %s", delivery.detail, state.retry_at)
        self.report.unreachable, self.report.paused_until = delivery.detail, state.retry_at
        self.stopped = True


class _Records:
    """Results on their way to the outbox, written a batch at a time (a group commit):
    every answer gathered since the last write goes in the next one, made by whichever
    session is about to send a message. So a session's message never leaves before every
    earlier result is on disk, and several sessions share one write."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self._gathering: list[Result] = []

    def add(self, result: Result) -> None:
        self._gathering.append(result)

    def write(self) -> None:
        if self._gathering:
            batch, self._gathering = self._gathering, []
            try:
                self.outbox.record(batch)
            except BaseException:
                self._gathering[:0] = batch  # kept: the next write tries them again
                raise

    async def written(self) -> None:
        """`write`, as a session's `before_data` (run while RCPT TO travels)."""
        self.write()


async def _deliver(
    transport: Transport,
    reply: OutgoingReply,
    sender: str,
    *,
    second_chance: bool,
    before_data: BeforeData,
) -> Delivery:
    """Send one reply. A connection that worked in this phase and then broke (servers
    close sessions after so many messages, or after a while) gets one fresh try before
    the server counts as unreachable."""
    message = reply.message.encode("utf-8")
    delivery = await transport.send(sender, reply.recipient, message, before_data)
    if delivery.result is SendResult.UNREACHABLE and second_chance:
        log.info("SMTP connection lost (%s); one more try on a new one", delivery.detail)
        delivery = await transport.send(sender, reply.recipient, message, before_data)
    return delivery
