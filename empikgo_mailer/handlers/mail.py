"""The e-mail door's work: queue what the mailboxes hold, decide the queue in order while
the branch is open, file decided messages into folders, and send the outbox.

Each decision, the code it takes and the reply it causes are committed in one
transaction; the sender only transmits replies that are already in the database, so a
crash can neither lose a reply nor send one the database does not know about.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.imap_mailbox import FetchedMessage
from empikgo_mailer.adapters.smtp_sender import Delivery, SendResult
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import MailboxState, MailRequest, OutboxMessage
from empikgo_mailer.config import BranchSettings, MailSettings
from empikgo_mailer.domain.mail_requests import (
    automatic_reason,
    card_numbers,
    header_text,
    is_request_subject,
    parse_message,
    read_request,
    sender_address,
)
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.replies import (
    TEMPLATE_OF,
    MailOutcome,
    Render,
    ReplyFacts,
    compose_reply,
    reply_context,
)
from empikgo_mailer.handlers.codes import GiveCode, decide
from empikgo_mailer.handlers.debt import DebtSource
from empikgo_mailer.handlers.library import Library

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
MAX_ATTEMPTS = 3
SET_ASIDE_OUTCOMES = {
    MailOutcome.AUTOMATIC,
    MailOutcome.CARD_MISSING,
    MailOutcome.TOO_LARGE,
    MailOutcome.RATE_LIMITED,
    MailOutcome.NO_SENDER,
    MailOutcome.FAILED,
}


class Mailbox(Protocol):
    """What the handlers need from a mailbox (the IMAP adapter, or a fake in tests)."""

    uidvalidity: int

    def uids_after(self, last_uid: int) -> list[int]: ...
    def fetch(self, uids: Sequence[int], max_bytes: int) -> list[FetchedMessage]: ...
    def uid_of(self, message_id: str) -> int | None: ...
    def move(self, uids: Sequence[int], folder: str) -> None: ...


class Transport(Protocol):
    async def send(self, sender: str, recipient: str, message: bytes) -> Delivery: ...


# --- collecting ---------------------------------------------------------------------------
@dataclass
class CollectReport:
    fetched: int = 0
    queued: int = 0
    automatic: int = 0
    too_large: int = 0
    duplicates: int = 0
    not_ours: int = 0


def fingerprint(message_id: str | None, content: bytes) -> str:
    """Identity of a message across fetches and UIDVALIDITY changes."""
    if message_id:
        return "mid:" + hashlib.sha256(message_id.strip().encode()).hexdigest()
    return "raw:" + hashlib.sha256(content).hexdigest()


def classify(
    fetched: FetchedMessage, *, branch_id: str, uidvalidity: int, now: datetime
) -> MailRequest | None:
    """The queue entry for a fetched message, or None when its subject is not ours."""
    parsed = parse_message(fetched.raw or fetched.header)
    subject = header_text(parsed, "Subject") or ""
    if not is_request_subject(subject):
        return None
    message_id = header_text(parsed, "Message-ID")
    entry = MailRequest(
        branch_id=branch_id,
        uidvalidity=uidvalidity,
        uid=fetched.uid,
        fingerprint=fingerprint(message_id, fetched.raw or fetched.header),
        message_id=message_id,
        references=header_text(parsed, "References"),
        received_at=fetched.received_at,
        size=fetched.size,
        sender=sender_address(parsed),
        subject=subject[:500],
        kind="request",
        status="queued",
        created_at=now,
    )
    automatic = automatic_reason(parsed)
    if automatic is not None:
        # Never decided, never answered: answering automatic mail is how loops start.
        entry.kind, entry.status = "automatic", "set-aside"
        entry.outcome, entry.note, entry.decided_at = MailOutcome.AUTOMATIC, automatic, now
    elif fetched.raw is None:
        entry.kind = "too-large"
    else:
        request = read_request(parsed)
        entry.words, entry.card_number, entry.cards_found = (
            request.words,
            request.card,
            len(request.cards),
        )
    return entry


def _classify_safely(
    fetched: FetchedMessage, branch_id: str, uidvalidity: int, now: datetime
) -> MailRequest | None:
    try:
        return classify(fetched, branch_id=branch_id, uidvalidity=uidvalidity, now=now)
    except Exception:
        log.exception(
            "cannot read message uid=%s in %s; leaving it in the mailbox", fetched.uid, branch_id
        )
        return None


def mailbox_position(session: Session, branch_id: str, uidvalidity: int) -> int:
    """The last UID already collected; 0 after a UIDVALIDITY change (fingerprints then
    keep messages queued before from being queued again)."""
    state = session.get(MailboxState, branch_id)
    return state.last_uid if state is not None and state.uidvalidity == uidvalidity else 0


def collect(
    branch_id: str, mailbox: Mailbox, *, db: Database, mail: MailSettings, clock: Clock
) -> CollectReport:
    report = CollectReport()
    with db.transaction() as session:
        last_uid = mailbox_position(session, branch_id, mailbox.uidvalidity)
    uids = mailbox.uids_after(last_uid)
    for start in range(0, len(uids), mail.fetch_batch):
        batch = uids[start : start + mail.fetch_batch]
        now = clock()
        fetched = mailbox.fetch(batch, mail.max_message_bytes)
        report.fetched += len(fetched)
        entries = [_classify_safely(m, branch_id, mailbox.uidvalidity, now) for m in fetched]
        with db.transaction() as session:
            ours = [e for e in entries if e is not None]
            report.not_ours += len(entries) - len(ours)
            known = set(
                session.exec(
                    select(MailRequest.fingerprint).where(
                        MailRequest.branch_id == branch_id,
                        col(MailRequest.fingerprint).in_([e.fingerprint for e in ours]),
                    )
                )
            )
            for entry in ours:
                if entry.fingerprint in known:
                    report.duplicates += 1
                    continue
                known.add(entry.fingerprint)
                session.add(entry)
                report.queued += entry.status == "queued"
                report.automatic += entry.kind == "automatic"
                report.too_large += entry.kind == "too-large"
            # The position moves in the same transaction as the queue entries it covers.
            session.merge(
                MailboxState(
                    branch_id=branch_id,
                    uidvalidity=mailbox.uidvalidity,
                    last_uid=max(batch),
                    updated_at=now,
                )
            )
    return report


# --- deciding -----------------------------------------------------------------------------
@dataclass
class DecideReport:
    open: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class MailDoor:
    """What deciding a mail request needs, wired once by bootstrap."""

    db: Database
    library: Library
    debt_source: DebtSource
    render: Render
    mail: MailSettings


def _replies_today(session: Session, senders: set[str], since: datetime) -> Counter[str]:
    """Replies already written today to each of `senders` (lower case), in one query."""
    rows = session.exec(
        select(OutboxMessage.recipient_key, func.count())
        .where(
            col(OutboxMessage.recipient_key).in_(sorted(senders)),
            col(OutboxMessage.created_at) >= since,
        )
        .group_by(col(OutboxMessage.recipient_key))
    ).all()
    return Counter({key: int(count) for key, count in rows})


def _next_queued(session: Session, branch_id: str, limit: int) -> list[MailRequest]:
    query = (
        select(MailRequest)
        .where(MailRequest.branch_id == branch_id, MailRequest.status == "queued")
        .order_by(col(MailRequest.received_at), col(MailRequest.uid))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # a second daemon takes other mail
    return list(session.exec(query).all())


def _decide_one(
    session: Session,
    *,
    door: MailDoor,
    branch: BranchSettings,
    request: MailRequest,
    replies_today: Counter[str],
    now: datetime,
) -> str:
    """One decision inside the caller's transaction (and savepoint)."""
    calendar = door.library.calendar
    month = calendar.month_of(now)
    facts = ReplyFacts(
        branch_name=branch.name,
        branch_address=branch.address,
        received=calendar.local(request.received_at),
        month=month,
        card=request.card_number,
        size_bytes=request.size,
        limit_bytes=door.mail.max_message_bytes,
        activation_url=door.library.platforms[Platform.EMPIK_GO].activation_url,
    )
    outcome: str
    if request.sender is None:
        outcome = MailOutcome.NO_SENDER
    elif replies_today[request.sender.lower()] >= door.mail.max_replies_per_sender_per_day:
        outcome = MailOutcome.RATE_LIMITED
    elif request.kind == "too-large":
        outcome = MailOutcome.TOO_LARGE
    elif calendar.month_of(request.received_at) < month:
        outcome = MailOutcome.BEFORE_FIRST
    elif request.card_number is None:
        outcome = MailOutcome.CARD_MISSING
        facts = dataclasses.replace(facts, cards=card_numbers(request.words))
    else:
        decision = decide(
            Store(session),
            GiveCode(
                request.card_number,
                Platform.EMPIK_GO,
                Channel.EMAIL,
                branch.id,
                written_name=request.words,
                sender=request.sender,
                actor=f"mail:{branch.id}",
            ),
            library=door.library,
            debt_source=door.debt_source,
            now=now,
        )
        request.issuance_id = decision.issuance_id
        refusal = decision.refusal
        if refusal is None:
            outcome = MailOutcome.ISSUED
            facts = dataclasses.replace(facts, code=decision.code)
        else:
            outcome = str(refusal.reason)
            facts = dataclasses.replace(facts, details=dict(refusal.details))
    status = "set-aside" if outcome in SET_ASIDE_OUTCOMES else "decided"
    request.status, request.outcome, request.decided_at = status, outcome, now
    template = TEMPLATE_OF.get(outcome)  # no template: no reply (rate limit, no sender)
    if template is not None and request.sender is not None:
        text = door.render(f"mail/{template}.txt.j2", **reply_context(facts))
        reply = compose_reply(
            text=text,
            from_name=branch.name,
            from_address=branch.mailbox,
            to_address=request.sender,
            original_subject=request.subject,
            original_message_id=request.message_id,
            original_references=request.references,
            now=now,
        )
        replies_today[request.sender.lower()] += 1
        session.add(
            OutboxMessage(
                request_id=request.id,
                branch_id=branch.id,
                sender=branch.mailbox,
                recipient=request.sender,
                recipient_key=request.sender.lower(),
                message_id=str(reply["Message-ID"]),
                message=reply.as_string(),
                next_attempt_at=now,
                created_at=now,
            )
        )
    return outcome


def _set_aside_as_failed(request: MailRequest, error: str, now: datetime) -> None:
    request.attempts = MAX_ATTEMPTS
    request.note = error[:2000]
    request.status, request.outcome, request.decided_at = "set-aside", MailOutcome.FAILED, now


DECISION_BATCH = 100


def _decide_safely(
    session: Session,
    *,
    door: MailDoor,
    branch: BranchSettings,
    request: MailRequest,
    replies_today: Counter[str],
    now: datetime,
) -> str:
    """Up to MAX_ATTEMPTS tries, each in a savepoint: a failure rolls back that message's
    decision only (no code is taken for it); then the message is set aside for staff."""
    error = ""
    for _ in range(MAX_ATTEMPTS):
        counted = replies_today.copy()
        try:
            with session.begin_nested():
                return _decide_one(
                    session,
                    door=door,
                    branch=branch,
                    request=request,
                    replies_today=replies_today,
                    now=now,
                )
        except Exception as exc:
            log.exception("deciding mail request %s failed", request.id)
            error = f"{type(exc).__name__}: {exc}"
            replies_today.clear()
            replies_today.update(counted)
    _set_aside_as_failed(request, error, now)
    return MailOutcome.FAILED


def decide_queue(branch_id: str, *, door: MailDoor, clock: Clock) -> DecideReport:
    """Decide the branch's queue strictly in receipt order, only while the branch is open.

    Decisions are committed in batches: each decision, its code and its reply always share
    one transaction; a batch is several of them committed together, and a savepoint per
    request lets one failing message be set aside alone.
    """
    branch = door.library.branch(branch_id)
    calendar = door.library.calendar
    report = DecideReport()
    while calendar.is_open(branch.hours, clock()):
        report.open = True
        with door.db.transaction() as session:
            batch = _next_queued(session, branch_id, DECISION_BATCH)
            day_start = calendar.at(calendar.today(clock()), datetime.min.time())
            senders = {r.sender.lower() for r in batch if r.sender is not None}
            replies_today = _replies_today(session, senders, day_start)
            for request in batch:
                now = clock()
                if not calendar.is_open(branch.hours, now):
                    break
                outcome = _decide_safely(
                    session,
                    door=door,
                    branch=branch,
                    request=request,
                    replies_today=replies_today,
                    now=now,
                )
                report.outcomes[outcome] += 1
        if len(batch) < DECISION_BATCH:
            break
    return report


# --- filing -------------------------------------------------------------------------------
def folder_for(outcome: str | None, mail: MailSettings) -> str:
    if outcome == MailOutcome.ISSUED:
        return mail.folders.answered
    if outcome in SET_ASIDE_OUTCOMES:
        return mail.folders.staff
    return mail.folders.rejected


def file_decided(
    branch_id: str, mailbox: Mailbox, *, db: Database, mail: MailSettings, clock: Clock
) -> int:
    """Move decided and set-aside messages out of the inbox, to a folder per outcome."""
    with db.transaction() as session:
        pending = session.exec(
            select(MailRequest).where(
                MailRequest.branch_id == branch_id,
                col(MailRequest.status).in_(["decided", "set-aside"]),
                col(MailRequest.filed_at).is_(None),
            )
        ).all()
    by_folder: dict[str, list[int]] = {}
    for request in pending:
        uid: int | None = request.uid
        if request.uidvalidity != mailbox.uidvalidity:
            uid = mailbox.uid_of(request.message_id) if request.message_id else None
        if uid is not None:
            by_folder.setdefault(folder_for(request.outcome, mail), []).append(uid)
    for folder, uids in by_folder.items():
        mailbox.move(uids, folder)
    with db.transaction() as session:
        now = clock()
        for request in pending:
            request.filed_at = now
            session.add(request)
    return len(pending)


# --- sending ------------------------------------------------------------------------------
@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0


RETRY_PAUSES = (0.2, 1.0, 3.0)  # seconds between attempts within one run
COMMIT_EVERY = 100


async def send_outbox(
    *, db: Database, transport: Transport, clock: Clock, pauses: Sequence[float] = RETRY_PAUSES
) -> SendReport:
    """Send every due reply. A temporary failure (4xx, lost connection) is retried a few
    times now and then left for a later run; a permanent one (5xx) is recorded for staff.

    Results are committed every COMMIT_EVERY messages: a crash in between may send those
    replies again, each with the same text and code, but never loses one.
    """
    report = SendReport()
    with db.transaction() as session:
        due = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", col(OutboxMessage.next_attempt_at) <= clock())
            .order_by(col(OutboxMessage.id))
        ).all()
    done: list[OutboxMessage] = []
    for row in due:
        for pause in [*pauses, None]:
            delivery = await transport.send(row.sender, row.recipient, row.message.encode("utf-8"))
            if delivery.result is not SendResult.TEMPORARY or pause is None:
                break
            await asyncio.sleep(pause)
        result, detail = delivery.result, delivery.detail
        now = clock()
        row.attempts += 1
        if result is SendResult.SENT:
            row.status, row.sent_at, row.last_error = "sent", now, None
            report.sent += 1
        elif result is SendResult.PERMANENT:
            row.status, row.last_error = "failed", detail
            report.failed += 1
            log.warning("reply %s to a reader refused permanently: %s", row.id, detail)
        else:
            row.last_error = detail
            row.next_attempt_at = now + timedelta(minutes=5 * row.attempts)
            report.deferred += 1
        done.append(row)
        if len(done) >= COMMIT_EVERY:
            _save(db, done)
    _save(db, done)
    return report


def _save(db: Database, rows: list[OutboxMessage]) -> None:
    """One bulk UPDATE by primary key for a batch of send results."""
    if not rows:
        return
    with db.transaction() as session:
        session.execute(
            update(OutboxMessage),
            [
                {
                    "id": row.id,
                    "status": row.status,
                    "attempts": row.attempts,
                    "sent_at": row.sent_at,
                    "last_error": row.last_error,
                    "next_attempt_at": row.next_attempt_at,
                }
                for row in rows
            ],
        )
    rows.clear()


# --- status -------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueStatus:
    branch_id: str
    waiting: int
    decided_today: dict[str, int]
    outbox_pending: int
    outbox_failed: int
    failed_replies: list[str]  # why each permanently failed reply failed (no codes, no bodies)


def queue_status(*, db: Database, library: Library, now: datetime) -> list[QueueStatus]:
    calendar = library.calendar
    day_start = calendar.at(calendar.today(now), datetime.min.time())
    result = []
    with db.transaction() as session:
        for branch_id in library.branches:
            waiting = session.exec(
                select(func.count())
                .select_from(MailRequest)
                .where(MailRequest.branch_id == branch_id, MailRequest.status == "queued")
            ).one()
            decided = session.exec(
                select(MailRequest.outcome, func.count())
                .where(MailRequest.branch_id == branch_id, col(MailRequest.decided_at) >= day_start)
                .group_by(col(MailRequest.outcome))
            ).all()
            outbox = dict(
                session.exec(
                    select(OutboxMessage.status, func.count())
                    .where(OutboxMessage.branch_id == branch_id)
                    .group_by(col(OutboxMessage.status))
                ).all()
            )
            failed = session.exec(
                select(OutboxMessage.recipient, OutboxMessage.last_error).where(
                    OutboxMessage.branch_id == branch_id, OutboxMessage.status == "failed"
                )
            ).all()
            result.append(
                QueueStatus(
                    branch_id=branch_id,
                    waiting=int(waiting),
                    decided_today={str(outcome): int(n) for outcome, n in decided},
                    outbox_pending=int(outbox.get("pending", 0)),
                    outbox_failed=int(outbox.get("failed", 0)),
                    failed_replies=[f"{recipient}: {error}" for recipient, error in failed],
                )
            )
    return result
