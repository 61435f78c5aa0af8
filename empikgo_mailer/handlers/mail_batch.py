"""The mail door's one decision: a batch of a branch's queue, decided at once.

The facts of the whole batch are read in a handful of queries (handlers/codes.Facts), the
pure rules run in memory request by request in receipt order, and the results are written
in bulk: the codes marked, the issuances, the requests' outcomes, the replies and the
audit entries, one statement each, in the caller's transaction. A single request (the
fallback after a failed batch) is a batch of one; a property test
(tests/service/test_one_decision.py) holds that deciding N requests together gives what
deciding them one by one gives:
- receipt order, and a code to the earliest eligible request first;
- one code per patron a month when one patron writes twice in a batch;
- the per-sender daily reply limit, and the hourly budget of replies to senders not on
  file, counted across the batch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from empikgo_mailer.adapters.mail_queue import MailQueue
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.config import BranchSettings
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.explanations import rule_rows
from empikgo_mailer.domain.mail_outcomes import SET_ASIDE_OUTCOMES, MailOutcome
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.statuses import ReplyPriority, RequestStatus
from empikgo_mailer.handlers.codes import Facts, GiveCode
from empikgo_mailer.handlers.mail_decision import (
    Deciding,
    QueuedRequest,
    SenderTally,
    reply_row,
    reply_text,
    screened_facts,
    sender_key,
)

log = logging.getLogger(__name__)
_PRIORITY: dict[str, ReplyPriority] = {
    MailOutcome.ISSUED: ReplyPriority.CODE,
    MailOutcome.STRANGER: ReplyPriority.STRANGER,
}


@dataclass
class _Writes:
    """What the batch decided about its requests, written together at its end."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    # The rows (a request's, its reply's) that name an issuance, with its index.
    issued: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)

    def save(self, facts: Facts, queue: MailQueue) -> None:
        ids = facts.save()
        for row, index in self.issued:
            row["issuance_id"] = ids[index]
        queue.record_decisions(self.requests)
        queue.add_replies(self.replies)  # one COPY on PostgreSQL


def decide_batch(
    uow: UnitOfWork,
    requests: Sequence[QueuedRequest],
    *,
    deciding: Deciding,
    branch: BranchSettings,
    tally: SenderTally,
    clock: Clock,
    may_go_on: Callable[[datetime], bool],
) -> list[tuple[int, str]]:
    """Decide `requests` (the head of the queue, in receipt order) in the caller's
    transaction, as far as `may_go_on(now)` allows and all on one day; each decided
    request's id and outcome, in order. Raises on any failure, having written nothing
    the caller's savepoint does not roll back."""
    facts_of_batch = Facts(
        uow.store,
        [r.card_number for r in requests if r.card_number is not None],
        library=deciding.library,
        debt_source=deciding.debt_source,
        platform=Platform.EMPIK_GO,
        channel=Channel.EMAIL,
        branch_id=branch.id,
        first=clock(),
        marks=deciding.code_marks if uow.dialect == "postgresql" else None,
    )
    writes, decided = _Writes(), []
    for request in requests:
        now = clock()
        if not may_go_on(now) or not facts_of_batch.same_day(now):
            break  # the rest waits for the next batch (a new day: new limits, new month)
        assert request.id is not None
        key = sender_key(request)
        facts, screened = screened_facts(deciding, branch, request, tally=tally, now=now)
        row: dict[str, Any] = {"request_id": request.id, "issuance_id": None, "rules": None}
        given: int | None = None
        if screened is None:
            assert request.card_number is not None  # screened: one card number
            give = GiveCode(
                request.card_number,
                Platform.EMPIK_GO,
                Channel.EMAIL,
                branch.id,
                written_name=request.name_words or request.words,
                sender=request.sender,
                actor=f"mail:{branch.id}",
            )
            decision, given = facts_of_batch.decide(give, now)
            row["rules"] = json.dumps(rule_rows(decision.assessment.results), ensure_ascii=False)
            if (refusal := decision.refusal) is None:
                outcome: str = MailOutcome.ISSUED
                facts = replace(facts, code=decision.code)
            else:
                outcome = str(refusal.reason)
                facts = replace(facts, details=dict(refusal.details))
        else:
            outcome = str(screened)
        status = RequestStatus.SET_ASIDE if outcome in SET_ASIDE_OUTCOMES else RequestStatus.DECIDED
        row |= {"status": status, "outcome": outcome, "decided_at": now}
        writes.requests.append(row)
        if given is not None:
            writes.issued.append((row, given))
        text = reply_text(deciding, outcome, facts, request.sender)
        if text is not None and request.sender is not None:
            reply = reply_row(
                branch=branch, request=request, to=request.sender, text=text, now=now,
                priority=_PRIORITY.get(outcome, ReplyPriority.READER),
            )  # fmt: skip
            writes.replies.append(reply)
            if given is not None:
                writes.issued.append((reply, given))
            tally.count(key, outcome)
        decided.append((request.id, outcome))
    writes.save(facts_of_batch, uow.queue)
    return decided
