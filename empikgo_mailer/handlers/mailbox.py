"""Collecting a branch mailbox into the queue.

Every message the collector passes is recorded, whatever it holds; the UID checkpoint
moves in the same transaction as the rows it covers, so it never passes a message that
is not recorded. After a UIDVALIDITY change each message is recognised by its bytes and
keeps its row (and its decision); a second copy of a request is filed as a duplicate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from empikgo_mailer.adapters.imap_mailbox import LINK_ERRORS, FetchedMessage
from empikgo_mailer.adapters.mail_queue import MailQueue, request_values
from empikgo_mailer.adapters.row_objects import bare_row
from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.config import MailSettings
from empikgo_mailer.domain.bounces import (
    DEFAULT_RETURN_PATH,
    BounceReading,
    ReturnPathPattern,
    read_bounce,
)
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.errors import DatabaseUnavailable
from empikgo_mailer.domain.mail_headers import storable
from empikgo_mailer.domain.mail_outcomes import MailOutcome
from empikgo_mailer.domain.mail_requests import MessageReading, fingerprint, read_message
from empikgo_mailer.domain.statuses import RequestKind, RequestStatus
from empikgo_mailer.handlers.command import Command

log = logging.getLogger(__name__)
WAIT_FOR_ALL = (datetime(1970, 1, 1, tzinfo=UTC), 0)  # a mark no request comes before
# What is kept of a message whose row the database refused.
_KNOWN = ("branch_id", "uidvalidity", "uid", "content_hash", "received_at", "size")


class Mailbox(Protocol):
    """What the handlers need from a mailbox (the IMAP adapter, or a fake in tests)."""

    uidvalidity: int

    def uids_after(self, last_uid: int) -> list[int]: ...
    def received_times(self, uids: Sequence[int]) -> dict[int, datetime]: ...
    def fetch(self, uids: Sequence[int], max_bytes: int) -> list[FetchedMessage]: ...
    def uid_of(self, message_id: str) -> int | None: ...
    def move(self, uids: Sequence[int], folder: str) -> None: ...


@dataclass
class CollectReport:
    fetched: int = 0
    queued: int = 0
    automatic: int = 0
    too_large: int = 0
    unreadable: int = 0
    duplicates: int = 0
    bounces: int = 0  # delivery reports about our replies, read and filed
    bounced: int = 0  # of them, failures for good: replies bounced
    undelivered: int = 0  # codes those bounced replies carried
    renumbered: int = 0  # known messages found again after a UIDVALIDITY change
    left: int = 0  # new messages still to read after this batch (a burst in the making)

    def add(self, part: CollectReport) -> None:
        """Count a later part of the same collect in."""
        for name in vars(part):
            setattr(self, name, getattr(self, name) + getattr(part, name))
        self.left = part.left


def content_hash(fetched: FetchedMessage) -> str | None:
    data = fetched.raw if fetched.raw is not None else fetched.header
    return hashlib.sha256(data).hexdigest() if data and fetched.error is None else None


def _set_aside_row(values: dict[str, Any], problem: str, at: datetime) -> MailRequest:
    """A message that cannot be read, or whose row the database refused: recorded (what
    is known of it: `values`), set aside for staff, unanswered."""
    return bare_row(
        MailRequest,
        {
            **values,
            "fingerprint": f"uid:{values['uidvalidity']}:{values['uid']}",
            "kind": RequestKind.UNREADABLE,
            "status": RequestStatus.SET_ASIDE,
            "outcome": MailOutcome.FAILED,
            "note": storable(problem, 2000),
            "decided_at": at,
            "created_at": at,
        },
    )


def _entry(
    fetched: FetchedMessage, reading: MessageReading, known: dict[str, Any], now: datetime
) -> MailRequest:
    content = fetched.raw if fetched.raw is not None else fetched.header
    sender = reading.sender.address
    request = reading.request
    notes = [*reading.problems]
    if sender is None and reading.sender.problem:
        notes.append(reading.sender.problem)
    if fetched.received_at is None:
        notes.append("serwer nie podał czasu odbioru; przyjęto czas pobrania")
    values: dict[str, Any] = {
        **known,
        "fingerprint": fingerprint(sender, reading.message_id, content),
        "message_id": reading.message_id,
        "references": " ".join(reading.references) or None,
        "sender": sender,
        "subject": storable(reading.subject or "", 500),
        "kind": RequestKind.REQUEST,
        "status": RequestStatus.QUEUED,
        "note": "; ".join(notes) or None,
        "created_at": now,
    }
    if reading.automatic is not None:
        # Never decided, never answered: answering automatic mail is how loops start.
        values |= {
            "kind": RequestKind.AUTOMATIC,
            "status": RequestStatus.SET_ASIDE,
            "outcome": MailOutcome.AUTOMATIC,
            "decided_at": now,
            "note": "; ".join([reading.automatic, *notes]),
        }
    elif fetched.raw is None:
        values["kind"] = RequestKind.TOO_LARGE
    else:
        values |= {
            "words": storable(request.words, 2000),
            "name_words": storable(request.name_words, 20_000),
            "card_number": request.card,
            "cards_found": len(request.cards),
            "cards": " ".join(request.cards) or None,
        }
    # Written with a Core INSERT, so built bare (row_objects): SQLModel's constructor
    # costs more than reading the message.
    return bare_row(MailRequest, values)


def _bounce_entry(
    fetched: FetchedMessage,
    reading: MessageReading,
    bounce: BounceReading,
    known: dict[str, Any],
    now: datetime,
) -> MailRequest:
    """A delivery report: recorded as decided (never answered), with what it says about
    which of our replies, for `_store` to apply (`_apply_bounce`)."""
    content = fetched.raw if fetched.raw is not None else fetched.header
    status = f" {bounce.status}" if bounce.status else ""
    kind = "zwrot" if bounce.permanent else "opóźnienie doręczenia"
    facts = {
        "permanent": bounce.permanent,
        "reply_id": bounce.reply_id,
        "diagnostic": bounce.diagnostic,
        "request_subject": reading.is_request,
    }
    return bare_row(
        MailRequest,
        {
            **known,
            "fingerprint": fingerprint(reading.sender.address, reading.message_id, content),
            "message_id": reading.message_id,
            # The messages it reports on: our replies' Message-IDs.
            "references": " ".join(bounce.original_message_ids) or None,
            "sender": reading.sender.address,
            "subject": storable(reading.subject or "", 500),
            "kind": RequestKind.BOUNCE,
            "status": RequestStatus.DECIDED,
            "outcome": MailOutcome.BOUNCE,
            "decided_at": now,
            "note": storable(f"raport doręczenia ({kind}{status}): {bounce.diagnostic}", 2000),
            "rules": json.dumps(facts, ensure_ascii=False),
            "created_at": now,
        },
    )


def _apply_bounce(
    queue: MailQueue, entry: MailRequest, report: CollectReport
) -> MailRequest | None:
    """What a delivery report does: a failure for good makes the replies it names bounced
    and their codes undelivered. The report is kept (and filed) when it is about our
    replies; otherwise it is left alone in the inbox like any mail not ours, or, with the
    request subject, set aside for staff as automatic mail. Counted in `report`."""
    facts = json.loads(entry.rules or "{}")
    permanent = bool(facts.get("permanent"))
    matched, codes = queue.mark_bounced(
        entry.branch_id,
        (entry.references or "").split(),
        facts.get("reply_id"),
        str(facts.get("diagnostic", "")),
        entry.created_at,
        permanent=permanent,
    )
    if matched:
        report.bounced += matched if permanent else 0
        report.undelivered += codes
        return entry
    if not facts.get("request_subject"):
        return None
    return _copy(
        entry,
        kind=RequestKind.AUTOMATIC,
        status=RequestStatus.SET_ASIDE,
        outcome=MailOutcome.AUTOMATIC,
        rules=None,
    )


def classify(
    fetched: FetchedMessage,
    *,
    branch_id: str,
    uidvalidity: int,
    now: datetime,
    own_addresses: frozenset[str] = frozenset(),
    return_path: ReturnPathPattern | None = None,
) -> MailRequest | None:
    """The row for a fetched message; None only when its subject is readable and not ours
    (it stays in the inbox, untouched). `return_path`: the per-reply return path our
    replies go out with, if any. Never raises."""
    known = {
        "branch_id": branch_id,
        "uidvalidity": uidvalidity,
        "uid": fetched.uid,
        "content_hash": content_hash(fetched),
        "received_at": fetched.received_at or now,
        "size": max(0, fetched.size),
    }
    problem = fetched.error
    if problem is None:
        try:
            raw = fetched.raw or fetched.header
            reading = read_message(raw, own_addresses=own_addresses)
            if reading.subject is not None:
                # Only mail that looks automatic is read as a delivery report (cheap).
                bounce = None
                if reading.automatic is not None:
                    pattern = return_path or DEFAULT_RETURN_PATH
                    bounce = read_bounce(raw, return_path_pattern=pattern)
                if bounce is not None:
                    if return_path is None:  # our replies carry no id: a tag is not one
                        bounce = dataclasses.replace(bounce, reply_id=None)
                    return _bounce_entry(fetched, reading, bounce, known, now)
                return _entry(fetched, reading, known, now) if reading.is_request else None
            problem = "; ".join(reading.problems) or "nieczytelne nagłówki"
        except Exception as exc:
            log.exception(
                "cannot read message uid=%s in %s; set aside for staff", fetched.uid, branch_id
            )
            problem = f"błąd odczytu wiadomości ({type(exc).__name__})"
    return _set_aside_row(known, problem, now)


def _legacy_fingerprint(entry: MailRequest) -> str | None:
    """The identity rows had before sender-aware fingerprints (schema 0004 and earlier)."""
    if entry.message_id:
        return "mid:" + hashlib.sha256(entry.message_id.encode()).hexdigest()
    return None


@dataclass
class _Batch:
    """One fetch batch on its way into the database."""

    branch_id: str
    uidvalidity: int
    renumbered: bool  # the mailbox's UIDVALIDITY changed since the last collect
    entries: list[MailRequest]


def _renumber(queue: MailQueue, batch: _Batch, report: CollectReport) -> list[MailRequest]:
    """After a UIDVALIDITY change: a message already recorded keeps its row, which now
    points at its new UID (and is filed again, since it is still in the inbox). Returns
    the entries that are new."""
    hashes = sorted({e.content_hash for e in batch.entries if e.content_hash})
    legacy = sorted({fp for e in batch.entries if (fp := _legacy_fingerprint(e))})
    if not hashes and not legacy:
        return batch.entries
    known = queue.recorded_before_renumbering(batch.branch_id, batch.uidvalidity, hashes, legacy)
    new: list[MailRequest] = []
    for entry in batch.entries:
        legacy_fp = _legacy_fingerprint(entry)
        match = next(
            (
                row
                for row in known
                if row.uidvalidity != batch.uidvalidity
                and (
                    (row.content_hash is not None and row.content_hash == entry.content_hash)
                    or (row.content_hash is None and row.fingerprint == legacy_fp)
                )
            ),
            None,
        )
        if match is None:
            new.append(entry)
            continue
        match.uidvalidity, match.uid = batch.uidvalidity, entry.uid
        match.filed_at = None  # found in the inbox again, so not filed whatever we thought
        match.content_hash = match.content_hash or entry.content_hash
        queue.add(match)
        report.renumbered += 1
    return new


def _store(queue: MailQueue, batch: _Batch) -> CollectReport:
    """Add the batch's rows to the session; the counts of what was added."""
    report = CollectReport()
    entries = _renumber(queue, batch, report) if batch.renumbered else batch.entries
    already = queue.recorded_uids(batch.branch_id, batch.uidvalidity, (e.uid for e in entries))
    fresh = [e for e in entries if e.uid not in already]  # recorded by an earlier, cut pass
    originals: dict[str, int | None] = {
        **queue.first_of_fingerprints(batch.branch_id, (e.fingerprint for e in fresh))
    }
    new: list[MailRequest] = []
    for given in fresh:
        entry = given
        if entry.kind == RequestKind.BOUNCE:
            applied = _apply_bounce(queue, entry, report)
            if applied is None:
                continue  # not about our replies: left in the inbox, untouched
            entry = applied
        if entry.kind != RequestKind.UNREADABLE and entry.fingerprint in originals:
            # The same sender's same message again (a client resending, a copy): one
            # request, one answer; the copy is filed with the original.
            log.info(
                "message uid=%s in %s repeats request #%s: filed with it, not answered again",
                entry.uid,
                batch.branch_id,
                originals[entry.fingerprint] or "in the same batch",
            )
            entry = _copy(
                entry,
                kind=RequestKind.DUPLICATE,
                status=RequestStatus.DECIDED,
                outcome=MailOutcome.DUPLICATE,
                decided_at=entry.created_at,
                note="kopia wcześniejszej prośby (ten sam nadawca i Message-ID)",
            )
            report.duplicates += 1
        else:
            originals.setdefault(entry.fingerprint, None)
            report.queued += entry.status == RequestStatus.QUEUED
            report.automatic += entry.kind == RequestKind.AUTOMATIC
            report.too_large += entry.kind == RequestKind.TOO_LARGE
            report.unreadable += entry.kind == RequestKind.UNREADABLE
            report.bounces += entry.kind == RequestKind.BOUNCE
        new.append(entry)
    queue.insert_requests(new)
    return report


def _copy(entry: MailRequest, **changes: Any) -> MailRequest:
    """A fresh copy: `_store` never changes the entries it is given, so after a failed
    transaction they can be stored again."""
    return bare_row(MailRequest, {**request_values(entry), **changes})


def _store_batch(
    uow: UnitOfWork,
    batch: _Batch,
    last_uid: int,
    now: datetime,
    uncollected: tuple[datetime, int] | None,
) -> CollectReport:
    """Store the batch and move the checkpoint (and the mark of the first message still
    to read, `uncollected`) in one transaction. When the database
    refuses a row, store the entries one by one, each in a savepoint, and keep a minimal
    row for staff in place of a refused one. An unavailable database (locked, gone)
    raises, and the checkpoint stays where it was."""

    try:
        with uow:
            queue = uow.queue
            report = _store(queue, batch)
            queue.move_position(batch.branch_id, batch.uidvalidity, last_uid, now, uncollected)
        return report
    except DatabaseUnavailable:
        raise
    except Exception as exc:
        log.warning(
            "storing %d messages of %s failed (%s); storing them one by one",
            len(batch.entries),
            batch.branch_id,
            exc,
        )
    report = CollectReport()
    with uow:
        queue = uow.queue
        for entry in batch.entries:
            single = _Batch(batch.branch_id, batch.uidvalidity, batch.renumbered, [_copy(entry)])
            try:
                with uow.savepoint():
                    counted = _store(queue, single)
            except DatabaseUnavailable:
                raise
            except Exception as exc:
                log.exception(
                    "message uid=%s in %s cannot be stored; kept for staff",
                    entry.uid,
                    batch.branch_id,
                )
                known = {name: getattr(entry, name) for name in _KNOWN}
                problem = f"baza danych nie przyjęła wiadomości ({type(exc).__name__})"
                with uow.savepoint():
                    queue.insert_requests([_set_aside_row(known, problem, entry.created_at)])
                counted = CollectReport(unreadable=1)
            report.add(counted)
        queue.move_position(batch.branch_id, batch.uidvalidity, last_uid, now, uncollected)
    return report


@dataclass(frozen=True)
class CollectMailbox(Command[Iterator[CollectReport]]):
    """The branch mailbox's new mail into the queue (`mailbox=`, given by the runner), a
    fetch batch at a time: the answer yields what each batch stored."""

    branch_id: str


def collect_batches(
    command: CollectMailbox,
    *,
    mailbox: Mailbox,
    uow: UnitOfWork,
    mail: MailSettings,
    clock: Clock,
    own_addresses: frozenset[str] = frozenset(),
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[CollectReport]:
    """Record every new message, a fetch batch at a time, yielding what each stored; a
    stop request is honoured between batches (the position moves with the rows it covers).

    With each batch but the last, the mailbox's row is marked with the first message
    still to read, in receipt order (`MailQueue.uncollected`): the queue may be decided
    up to it between batches, so a month-start burst's first replies need not wait for
    the whole mailbox to be read."""
    branch_id = command.branch_id
    with uow:
        last_uid, renumbered = uow.queue.position(branch_id, mailbox.uidvalidity)
    if renumbered and last_uid == 0:
        log.warning("mailbox %s was renumbered (UIDVALIDITY changed): reading it again", branch_id)
    uids = mailbox.uids_after(last_uid)
    marks: dict[int, tuple[datetime, int]] = {}
    if len(uids) > mail.fetch_batch:
        marks = _first_unread(mailbox, uids, mail.fetch_batch, clock())
    for start in range(0, len(uids), mail.fetch_batch):
        if should_stop():
            return
        chunk = uids[start : start + mail.fetch_batch]
        now = clock()
        fetched = mailbox.fetch(chunk, mail.max_message_bytes)
        rows = [
            classify(
                m,
                branch_id=branch_id,
                uidvalidity=mailbox.uidvalidity,
                now=now,
                own_addresses=own_addresses,
                return_path=mail.return_path(),
            )
            for m in fetched
        ]
        entries = [row for row in rows if row is not None]
        batch = _Batch(branch_id, mailbox.uidvalidity, renumbered, entries)
        mark = marks.get(start + mail.fetch_batch)
        stored = _store_batch(uow, batch, max(chunk), now, mark)
        stored.fetched = len(fetched)
        stored.left = max(0, len(uids) - start - len(chunk))
        if start == 0 and len(uids) > mail.fetch_batch:
            with uow:  # a new table's first statistics, so each batch's look-ups use indexes
                if uow.queue.gather_statistics():
                    log.info("mail_request had no statistics yet: analysed it")
        yield stored


def _first_unread(
    mailbox: Mailbox, uids: list[int], batch: int, now: datetime
) -> dict[int, tuple[datetime, int]]:
    """For each batch boundary (the index of the first UID still to collect), the first
    of the messages from there on in receipt order (time, UID). A message without a
    receipt time will be stamped with its fetch time, which is `now` at the earliest.
    When the server will not give the times, every mark is the beginning of time: the
    queue then waits for the whole collect."""
    try:
        times = mailbox.received_times(uids)
    except LINK_ERRORS:
        raise
    except Exception as exc:  # the server refused (a NO): only slower, nothing is lost
        log.warning("the receipt times of the new mail could not be read (%s)", exc)
        return dict.fromkeys(range(batch, len(uids), batch), WAIT_FOR_ALL)
    marks: dict[int, tuple[datetime, int]] = {}
    first: tuple[datetime, int] | None = None
    for index in range(len(uids) - 1, 0, -1):
        uid = uids[index]
        key = (times.get(uid, now), uid)
        first = key if first is None or key < first else first
        if index % batch == 0:
            marks[index] = first
    return marks
