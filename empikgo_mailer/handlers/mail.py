"""The e-mail door's decisions: the branch's queue, strictly in receipt order, only while
the branch is open.

Each decision, the code it takes and the reply it causes are committed in one
transaction; the sender only transmits replies that are already in the database, so a
crash can neither lose a reply nor send one the database does not know about.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from empikgo_mailer.adapters.mail_queue import MailQueue
from empikgo_mailer.adapters.tables import MailRequest, OutboxMessage
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.config import BranchSettings, MailSettings
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.mail_headers import storable
from empikgo_mailer.domain.mail_outcomes import MailOutcome
from empikgo_mailer.domain.replies import Render
from empikgo_mailer.handlers.code_supply import PoolMarks
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.debt import DebtSource
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.mail_batch import decide_batch
from empikgo_mailer.handlers.mail_decision import (
    Deciding,
    QueuedRequest,
    SenderTally,
    reply_row,
    sender_key,
)

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
# Requests decided in one transaction: large enough that the facts' queries cost little
# per decision, small enough that the write lock is held for a fraction of a second.
DECISION_BATCH = 250
# The first batch of a round is small: its replies are committed, and can leave, within
# milliseconds while the rest of a burst is decided (and collected) behind them.
FIRST_BATCH = 20


@dataclass
class DecideReport:
    open: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class DecideQueue(Command[DecideReport]):
    """The branch's queue, decided as far as it may be now (the decide runner)."""

    branch_id: str


def queue_reply(
    queue: MailQueue,
    *,
    branch: BranchSettings,
    request: MailRequest,
    to: str,
    text: str,
    now: datetime,
    issuance_id: int | None = None,
) -> None:
    """Write the reply to `request` into the outbox, threaded to it (In-Reply-To and
    References), from the branch's mailbox; the sender loop sends it. `issuance_id`: the
    code it carries."""
    row = reply_row(
        branch=branch, request=request, to=to, text=text, now=now, issuance_id=issuance_id
    )
    queue.add(OutboxMessage(**row))


Decide = Callable[[Sequence[QueuedRequest], SenderTally], list[tuple[int, str]]]


def _one_at_a_time(
    uow: UnitOfWork,
    batch: Sequence[QueuedRequest],
    decide: Decide,
    tally: SenderTally,
    clock: Clock,
) -> list[tuple[int, str]]:
    """Each request as a batch of one, up to MAX_ATTEMPTS tries, each in a savepoint: a
    failure rolls back that message's decision only (no code is taken for it); then the
    message is set aside for staff. Stops when the branch closes meanwhile."""
    decided = []
    for request in batch:
        assert request.id is not None
        error = ""
        for _ in range(MAX_ATTEMPTS):
            counted = tally.copy()
            try:
                with uow.savepoint():
                    done = decide([request], tally)
                break
            except Exception as exc:
                log.exception("deciding mail request %s failed", request.id)
                error = f"{type(exc).__name__}: {exc}"
                tally.restore(counted)
        else:
            uow.queue.set_aside_failed(request.id, storable(error, 2000), MAX_ATTEMPTS, clock())
            done = [(request.id, MailOutcome.FAILED)]
        if not done:
            break
        decided += done
    return decided


def _tally(
    uow: UnitOfWork,
    deciding: Deciding,
    branch_id: str,
    heads: Sequence[QueuedRequest],
    now: datetime,
) -> SenderTally:
    """What the batch's senders got today, whether they are on file, and the replies to
    strangers the branch may still write this hour: three queries."""
    calendar = deciding.library.calendar
    day_start = calendar.at(calendar.today(now), datetime.min.time())
    senders = {sender_key(r) for r in heads if r.sender is not None}
    queue = uow.queue
    written = queue.stranger_replies_since(branch_id, now - timedelta(hours=1))
    return SenderTally(
        replies_today=queue.replies_since(senders, day_start),
        strangers_left=max(0, deciding.mail.stranger_replies_per_hour - written),
        on_file=(
            uow.store.addresses_on_file(senders)
            if deciding.library.policy.require_sender_match
            else None
        ),
    )


def decide_queue(
    command: DecideQueue,
    *,
    uow: UnitOfWork,
    library: Library,
    debt_source: DebtSource,
    render: Render,
    mail: MailSettings,
    code_marks: PoolMarks,
    clock: Clock,
    should_stop: Callable[[], bool] = lambda: False,
    batch: int = DECISION_BATCH,
) -> DecideReport:
    """Decide the branch's queue strictly in receipt order, only while the branch is open,
    and while a collect is under way only up to its first unread message
    (`MailQueue.uncollected`).

    A batch of the queue's head is decided at once (mail_batch) and committed with its
    codes and replies. When anything in a batch fails, the batch is rolled back and its
    requests are decided again as batches of one, each in a savepoint, so that one
    failing message is set aside alone. `should_stop` is asked before every decision: a
    daemon told to stop commits what it decided and leaves the rest queued, in order,
    for the next pass. `batch`: requests per transaction.
    """
    branch_id = command.branch_id
    branch, calendar = library.branch(branch_id), library.calendar
    deciding = Deciding(library, debt_source, render, mail, code_marks)
    report = DecideReport()

    def may_go_on(now: datetime) -> bool:
        return calendar.is_open(branch.hours, now) and not should_stop()

    def decide(requests: Sequence[QueuedRequest], tally: SenderTally) -> list[tuple[int, str]]:
        return decide_batch(
            uow,
            requests,
            deciding=deciding,
            branch=branch,
            tally=tally,
            clock=clock,
            may_go_on=may_go_on,
        )

    size = min(batch, FIRST_BATCH)
    while may_go_on(clock()):
        report.open = True
        with uow:
            queue = uow.queue
            now = clock()
            heads = queue.next_queued_rows(branch_id, size, now)
            if not heads:
                break
            tally = _tally(uow, deciding, branch_id, heads, now)
            counted = tally.copy()
            try:
                with uow.savepoint():
                    decided = decide(heads, tally)
            except Exception:
                log.exception("deciding a batch of %s failed; deciding it one by one", branch_id)
                decided = _one_at_a_time(uow, heads, decide, counted, clock)
            for request_id, outcome in decided:
                report.outcomes[outcome] += 1
                # The request id and outcome only: never the code, the card or the address.
                log.info(
                    "request decided",
                    extra={"request_id": request_id, "branch": branch_id, "outcome": outcome},
                )
        if len(heads) < size and len(decided) == len(heads):
            break  # the queue is empty (otherwise: the day changed, or it is closing time)
        size = batch
    return report
