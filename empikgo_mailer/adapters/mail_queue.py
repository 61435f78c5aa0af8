"""The mail queue and the replies written for it: every query the mail door makes.

The handlers (collect, decide, file, status) say what they need in the words of the
door; the SQL is here, in one place, for SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    String,
    Table,
    and_,
    bindparam,
    func,
    or_,
    text,
    update,
)
from sqlalchemy import select as sql_select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, col, select

from empikgo_mailer.adapters.database import in_chunks
from empikgo_mailer.adapters.pg_bulk import insert_rows, one_of
from empikgo_mailer.adapters.tables import (
    Issuance,
    MailboxState,
    MailRequest,
    OutboxMessage,
    Patron,
)
from empikgo_mailer.domain.mail_outcomes import MailOutcome
from empikgo_mailer.domain.queue_status import FailedReply, QueueStatus, UndeliveredCode
from empikgo_mailer.domain.statuses import ReplyPriority, ReplyStatus, RequestKind, RequestStatus

_REQUESTS: Table = SQLModel.metadata.tables["mail_request"]


log = logging.getLogger(__name__)


class ReplySummary(NamedTuple):
    """What the staff list shows of a reply: whom, what (a code or not), when, its state."""

    request_id: int
    issuance_id: int | None
    recipient: str
    status: ReplyStatus
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None


class Unfiled(NamedTuple):
    """A decided message still in the inbox: what filing needs of its row."""

    id: int
    uid: int
    uidvalidity: int
    message_id: str | None
    kind: str
    fingerprint: str
    outcome: str | None


_OUTBOX: Table = SQLModel.metadata.tables["outbox"]
_REQUEST_COLUMNS = tuple(column.name for column in _REQUESTS.columns if column.name != "id")
_DECIDED = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("request_id"))
    .values(
        status=bindparam("status"),
        outcome=bindparam("outcome"),
        decided_at=bindparam("decided_at"),
        issuance_id=bindparam("issuance_id"),
        rules=bindparam("rules"),
    )
)


def request_values(entry: MailRequest) -> dict[str, object]:
    """A request's columns for a Core INSERT."""
    held = entry.__dict__  # a bare row holds every column; an attribute read costs 10x
    return {n: held[n] if n in held else getattr(entry, n) for n in _REQUEST_COLUMNS}


class MailQueue:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: MailRequest | OutboxMessage) -> None:
        self.session.add(row)

    def _count(self, *where: Any) -> int:
        return int(self.session.exec(select(func.count()).where(*where)).one())

    def _requests(self, *where: Any, order: tuple[Any, ...], limit: int) -> list[MailRequest]:
        query = select(MailRequest).where(*where).order_by(*order).limit(limit)
        return list(self.session.exec(query))

    # collecting ----------------------------------------------------------------------
    def insert_requests(self, entries: Sequence[MailRequest]) -> None:
        """New requests: one COPY on PostgreSQL, one multi-row INSERT per chunk on SQLite
        (built bare: row_objects)."""
        insert_rows(self.session, _REQUESTS, [request_values(entry) for entry in entries])

    def record_decisions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Each decided request's status, outcome, time, issuance and rules: one statement
        (rows keyed by `request_id`)."""
        if rows:
            self.session.connection().execute(_DECIDED, list(rows))

    def add_replies(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Replies into the outbox: one COPY on PostgreSQL."""
        insert_rows(self.session, _OUTBOX, rows)

    def position(self, branch_id: str, uidvalidity: int) -> tuple[int, bool]:
        """The last UID already collected (0 after a UIDVALIDITY change: everything is read
        again), and whether rows of an earlier UIDVALIDITY exist, whose messages are then
        recognised by their bytes. That stays true after the change, so a collect cut
        short half-way still recognises the rest next time."""
        state = self.session.get(MailboxState, branch_id)
        last_uid = state.last_uid if state is not None and state.uidvalidity == uidvalidity else 0
        older = self.session.exec(
            select(MailRequest.id)
            .where(MailRequest.branch_id == branch_id, MailRequest.uidvalidity != uidvalidity)
            .limit(1)
        ).first()
        return last_uid, older is not None

    def move_position(
        self,
        branch_id: str,
        uidvalidity: int,
        last_uid: int,
        at: datetime,
        uncollected: tuple[datetime, int] | None = None,
    ) -> None:
        """The collect has read up to `last_uid`; `uncollected`: the first message, in
        receipt order, it has still to read (None: none)."""
        first_at, first_uid = uncollected or (None, None)
        self.session.merge(
            MailboxState(
                branch_id=branch_id,
                uidvalidity=uidvalidity,
                last_uid=last_uid,
                updated_at=at,
                uncollected_at=first_at,
                uncollected_uid=first_uid,
            )
        )

    def uncollected(self, branch_id: str) -> tuple[datetime, int] | None:
        """The first message a collect under way has still to read (see `move_position`)."""
        state = self.session.get(MailboxState, branch_id)
        if state is None or state.uncollected_at is None or state.uncollected_uid is None:
            return None
        return state.uncollected_at, state.uncollected_uid

    def recorded_before_renumbering(
        self, branch_id: str, uidvalidity: int, hashes: Sequence[str], fingerprints: Sequence[str]
    ) -> list[MailRequest]:
        """Rows of an earlier UIDVALIDITY with these contents (or, for rows older than
        content hashes, these fingerprints), oldest first."""
        return list(
            self.session.exec(
                select(MailRequest)
                .where(
                    MailRequest.branch_id == branch_id,
                    MailRequest.uidvalidity != uidvalidity,
                    or_(
                        col(MailRequest.content_hash).in_(hashes),
                        col(MailRequest.fingerprint).in_(fingerprints),
                    ),
                )
                .order_by(col(MailRequest.id))
            )
        )

    def recorded_uids(self, branch_id: str, uidvalidity: int, uids: Iterable[int]) -> set[int]:
        wanted = sorted(set(uids))
        if not wanted:
            return set()
        r = _REQUESTS.c
        return set(
            self.session.execute(
                sql_select(r.uid).where(
                    r.branch_id == branch_id,
                    r.uidvalidity == uidvalidity,
                    # The range makes the unique index's range scan the plan whatever the
                    # statistics say; the list alone can mean a scan of the whole branch.
                    r.uid.between(wanted[0], wanted[-1]),
                    one_of(self.session, r.uid, wanted, BigInteger()),
                )
            ).scalars()
        )

    def first_of_fingerprints(self, branch_id: str, fingerprints: Iterable[str]) -> dict[str, int]:
        """The oldest request (not a copy) with each of these fingerprints, by fingerprint."""
        wanted = sorted(set(fingerprints))
        if not wanted:
            return {}
        r = _REQUESTS.c
        found: dict[str, int] = {}
        for fingerprint, request_id in self.session.execute(
            sql_select(r.fingerprint, r.id)
            .where(
                r.branch_id == branch_id,
                r.kind != RequestKind.DUPLICATE,
                one_of(self.session, r.fingerprint, wanted, String()),
            )
            .order_by(r.id)
        ):
            found.setdefault(fingerprint, request_id)
        return found

    def gather_statistics(self) -> bool:
        """ANALYZE mail_request on PostgreSQL when it was never analysed. The planner
        chooses its indexes from statistics, which a new table lacks until autovacuum's
        first run, a minute or more after a burst began: without them, looking up a
        batch's fingerprints scans the whole branch, 10 ms a batch at 5,000 requests and
        growing. True when it ran."""
        if self.session.get_bind().dialect.name != "postgresql":
            return False
        try:
            with self.session.begin_nested():
                never = self.session.execute(
                    text("SELECT reltuples < 0 FROM pg_class WHERE oid = 'mail_request'::regclass")
                ).scalar()
                if never:
                    self.session.execute(text("ANALYZE mail_request"))
        except SQLAlchemyError as exc:  # only slower without them: the collect goes on
            log.warning("could not analyse mail_request (%s); collecting without statistics", exc)
            return False
        return bool(never)

    def originals(self, branch_id: str, fingerprints: Iterable[str]) -> list[MailRequest]:
        """The requests (not their copies) with these fingerprints, oldest first."""
        wanted = sorted(set(fingerprints))
        if not wanted:
            return []
        return list(
            self.session.exec(
                select(MailRequest)
                .where(
                    MailRequest.branch_id == branch_id,
                    MailRequest.kind != RequestKind.DUPLICATE,
                    col(MailRequest.fingerprint).in_(wanted),
                )
                .order_by(col(MailRequest.id))
            )
        )

    # deciding ------------------------------------------------------------------------
    def next_queued_rows(self, branch_id: str, limit: int, now: datetime) -> Sequence[Row[Any]]:
        """The branch's queue in receipt order, as plain rows (no ORM objects); while a
        collect is under way, only the requests before its first unread message. A request
        received after `now` (the mail server's clock ahead of ours) waits until the clock
        has passed it: it is decided with the pool of its own month (RULES section 2)."""
        before = self.uncollected(branch_id)
        r = _REQUESTS.c
        query = (
            sql_select(_REQUESTS)
            .where(r.branch_id == branch_id, r.status == RequestStatus.QUEUED, r.received_at <= now)
            .order_by(r.received_at, r.uid)
            .limit(limit)
        )
        if before is not None:
            at, uid = before
            query = query.where(or_(r.received_at < at, and_(r.received_at == at, r.uid < uid)))
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return self.session.execute(query).all()

    def set_aside_failed(self, request_id: int, error: str, attempts: int, now: datetime) -> None:
        """A request that could not be decided: set aside for staff with the error."""
        self.session.execute(
            update(_REQUESTS)
            .where(_REQUESTS.c.id == request_id)
            .values(
                attempts=attempts,
                note=error,
                status=RequestStatus.SET_ASIDE,
                outcome=MailOutcome.FAILED,
                decided_at=now,
            )
        )

    def stranger_replies_since(self, branch_id: str, since: datetime) -> int:
        """Replies the branch wrote to senders not on file for any reader since `since`."""
        return self._count(
            OutboxMessage.branch_id == branch_id,
            OutboxMessage.priority == ReplyPriority.STRANGER,
            col(OutboxMessage.created_at) >= since,
        )

    def replies_since(self, recipient_keys: Iterable[str], since: datetime) -> Counter[str]:
        """Replies already written to each recipient (lower-case key) since `since`."""
        rows = self.session.exec(
            select(OutboxMessage.recipient_key, func.count())
            .where(
                col(OutboxMessage.recipient_key).in_(sorted(set(recipient_keys))),
                col(OutboxMessage.created_at) >= since,
            )
            .group_by(col(OutboxMessage.recipient_key))
        ).all()
        return Counter({key: int(count) for key, count in rows})

    # filing --------------------------------------------------------------------------
    def unfiled(self, branch_id: str) -> list[Unfiled]:
        """Decided and set-aside messages still in the inbox, as far as we know: only what
        filing needs (a month-start burst is thousands of rows)."""
        r = _REQUESTS.c
        rows = self.session.connection().execute(
            sql_select(
                r.id, r.uid, r.uidvalidity, r.message_id, r.kind, r.fingerprint, r.outcome
            ).where(
                r.branch_id == branch_id,
                r.status.in_([RequestStatus.DECIDED, RequestStatus.SET_ASIDE]),
                r.filed_at.is_(None),
            )
        )
        return [Unfiled(*row) for row in rows]

    def mark_filed(self, ids: Iterable[int], at: datetime) -> None:
        for chunk in in_chunks(sorted(ids)):
            self.session.connection().execute(
                update(_REQUESTS)
                .where(_REQUESTS.c.id.in_(chunk))
                .values(filed_at=at, filing_error=None)
            )

    def mark_not_filed(self, errors: Mapping[int, str]) -> None:
        """Why each message could not be moved; it is tried again next pass."""
        r = _REQUESTS.c
        if errors:
            self.session.connection().execute(
                update(_REQUESTS)
                .where(r.id == bindparam("row_id"))
                .values(filing_error=bindparam("error")),
                [{"row_id": row_id, "error": error} for row_id, error in errors.items()],
            )

    # status --------------------------------------------------------------------------
    def status(self, branch_id: str, day_start: datetime) -> QueueStatus:
        mine = MailRequest.branch_id == branch_id
        waiting, oldest = self.session.exec(
            select(func.count(), func.min(MailRequest.received_at)).where(
                mine, MailRequest.status == RequestStatus.QUEUED
            )
        ).one()
        decided = self.session.exec(
            select(MailRequest.outcome, func.count())
            .where(mine, col(MailRequest.decided_at) >= day_start)
            .group_by(col(MailRequest.outcome))
        ).all()
        filing_errors = self.session.exec(
            select(MailRequest.filing_error).where(mine, col(MailRequest.filing_error).is_not(None))
        ).all()
        set_aside = self._count(mine, MailRequest.status == RequestStatus.SET_ASIDE)
        unfiled = self._count(
            mine, MailRequest.status == RequestStatus.SET_ASIDE, col(MailRequest.filed_at).is_(None)
        )
        theirs = OutboxMessage.branch_id == branch_id
        pending, oldest_pending = self.session.exec(
            select(func.count(), func.min(OutboxMessage.created_at)).where(
                theirs, OutboxMessage.status == ReplyStatus.PENDING
            )
        ).one()
        pending_error = self.session.exec(
            select(OutboxMessage.last_error)
            .where(
                theirs,
                OutboxMessage.status == ReplyStatus.PENDING,
                col(OutboxMessage.last_error).is_not(None),
            )
            .order_by(col(OutboxMessage.last_attempt_at).desc())
            .limit(1)
        ).first()
        failed = self.session.exec(
            select(
                OutboxMessage.id,
                OutboxMessage.recipient,
                OutboxMessage.last_error,
                OutboxMessage.created_at,
            )
            .where(
                theirs,
                col(OutboxMessage.status).in_([ReplyStatus.FAILED, ReplyStatus.BOUNCED]),
                # A code's reply is shown with its code (`undelivered_codes`).
                col(OutboxMessage.issuance_id).is_(None),
            )
            .order_by(col(OutboxMessage.id))
        ).all()
        undelivered = self.undelivered_codes(branch_id)
        return QueueStatus(
            branch_id=branch_id,
            waiting=int(waiting),
            oldest_waiting=oldest,
            decided_today={str(outcome): int(n) for outcome, n in decided},
            set_aside=set_aside,
            set_aside_unfiled=unfiled,
            filing_errors=[str(e) for e in filing_errors],
            outbox_pending=int(pending),
            oldest_pending=oldest_pending,
            pending_error=pending_error,
            outbox_failed=len(failed) + len(undelivered),
            failed_replies=[FailedReply(i or 0, r, e or "", c) for i, r, e, c in failed],
            undelivered_codes=undelivered,
        )

    def mark_bounced(
        self,
        branch_id: str,
        message_ids: Sequence[str],
        reply_id: int | None,
        diagnostic: str,
        at: datetime,
        *,
        permanent: bool = True,
    ) -> tuple[int, int]:
        """A delivery report came back for the branch's sent replies named by Message-ID
        or by the id of their return path: for a failure for good (`permanent`), each
        becomes bounced, and the code it carried undelivered (RULES section 8). How many
        replies it was about, and how many codes it made undelivered."""
        o = OutboxMessage
        named: list[ColumnElement[bool]] = []
        if message_ids:
            named.append(col(o.message_id).in_(list(message_ids)))
        if reply_id is not None:
            named.append(col(o.id) == reply_id)
        if not named:
            return 0, 0
        # Both, when the report gives both: a report's headers can be written by anyone.
        which = and_(*named)
        # A reply whose result still sits in the sender's journal is leased and pending:
        # a report can be read that fast (Postfix bounces within a second).
        out = or_(
            col(o.status) == ReplyStatus.SENT,
            and_(col(o.status) == ReplyStatus.PENDING, col(o.lease_owner).is_not(None)),
        )
        rows = self.session.exec(
            select(o.id, o.issuance_id).where(o.branch_id == branch_id, out, which)
        ).all()
        if not rows or not permanent:
            return len(rows), 0
        self.session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_([reply for reply, _ in rows]))
            # The lease goes too: the journal no longer finds the reply its own (sent).
            .values(
                status=ReplyStatus.BOUNCED,
                last_error=diagnostic,
                lease_owner=None,
                lease_until=None,
            )
        )
        codes = [issuance for _, issuance in rows if issuance is not None]
        if codes:
            self.session.execute(
                update(Issuance)
                .where(col(Issuance.id).in_(codes), col(Issuance.undelivered_at).is_(None))
                .values(undelivered_at=at, undelivered_reason=diagnostic)
            )
        return len(rows), len(codes)

    def undelivered(
        self, issuance_id: int, branch_id: str
    ) -> tuple[Issuance, Patron, MailRequest | None] | None:
        """The branch's undelivered issuance (locked until commit), its reader and its
        request; None when it is not, or no longer, undelivered here."""
        row = self.session.exec(
            select(Issuance, Patron)
            .join(Patron, col(Patron.id) == col(Issuance.patron_id))
            .where(
                Issuance.id == issuance_id,
                Issuance.branch_id == branch_id,
                col(Issuance.undelivered_at).is_not(None),
            )
            .with_for_update()
        ).first()
        if row is None:
            return None
        request = self.session.exec(
            select(MailRequest).where(MailRequest.issuance_id == issuance_id)
        ).first()
        return row[0], row[1], request

    def last_recipient_of(self, issuance_id: int) -> str | None:
        """Where the last reply carrying this issuance's code went."""
        return self.session.exec(
            select(OutboxMessage.recipient)
            .where(OutboxMessage.issuance_id == issuance_id)
            .order_by(col(OutboxMessage.id).desc())
            .limit(1)
        ).first()

    def undelivered_codes(self, branch_id: str) -> list[UndeliveredCode]:
        """The branch's codes that never reached their readers, oldest first."""
        rows = self.session.exec(
            select(Issuance, Patron)
            .join(Patron, col(Patron.id) == col(Issuance.patron_id))
            .where(Issuance.branch_id == branch_id, col(Issuance.undelivered_at).is_not(None))
            .order_by(col(Issuance.undelivered_at))
        ).all()
        sent_to = dict(
            self.session.exec(
                select(OutboxMessage.issuance_id, OutboxMessage.recipient)
                .where(col(OutboxMessage.issuance_id).in_([i.id for i, _ in rows]))
                .order_by(col(OutboxMessage.id))
            ).all()
        )  # the last reply of each issuance wins
        return [
            UndeliveredCode(
                issuance_id=issuance.id or 0,
                card_number=patron.card_number,
                month=issuance.month,
                sent_to=sent_to.get(issuance.id, ""),
                address_now=patron.email,
                reason=issuance.undelivered_reason or "",
                at=issuance.undelivered_at or issuance.issued_at,
            )
            for issuance, patron in rows
        ]

    # the console ---------------------------------------------------------------------
    def waiting(self, branch_id: str, limit: int) -> list[MailRequest]:
        """The queue in receipt order: its first `limit` requests (position = index + 1)."""
        return self._requests(
            MailRequest.branch_id == branch_id,
            MailRequest.status == RequestStatus.QUEUED,
            order=(col(MailRequest.received_at), col(MailRequest.uid)),
            limit=limit,
        )

    def count_waiting(self, branch_id: str) -> int:
        return self._count(
            MailRequest.branch_id == branch_id, MailRequest.status == RequestStatus.QUEUED
        )

    def count_queued(self) -> int:
        """Requests waiting for a decision in every branch."""
        return self._count(MailRequest.status == RequestStatus.QUEUED)

    def count_to_send(self) -> int:
        """Replies waiting to be sent, due or not."""
        return self._count(OutboxMessage.status == ReplyStatus.PENDING)

    def decided_since(self, branch_id: str, since: datetime, limit: int) -> list[MailRequest]:
        """Requests decided since `since`, the newest first."""
        return self._requests(
            MailRequest.branch_id == branch_id,
            MailRequest.status == RequestStatus.DECIDED,
            col(MailRequest.decided_at) >= since,
            order=(col(MailRequest.decided_at).desc(), col(MailRequest.id).desc()),
            limit=limit,
        )

    def set_aside(self, branch_id: str, limit: int) -> list[MailRequest]:
        """Messages waiting for staff, the oldest first."""
        return self._requests(
            MailRequest.branch_id == branch_id,
            MailRequest.status == RequestStatus.SET_ASIDE,
            order=(col(MailRequest.received_at), col(MailRequest.id)),
            limit=limit,
        )

    def request(self, request_id: int) -> MailRequest | None:
        return self.session.get(MailRequest, request_id)

    def replies_to(self, request_id: int) -> list[OutboxMessage]:
        return list(
            self.session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.request_id == request_id)
                .order_by(col(OutboxMessage.id))
            )
        )

    def reply_summaries(self, request_ids: Sequence[int]) -> dict[int, list[ReplySummary]]:
        """The replies written to each request, the oldest first, without their text."""
        o = _OUTBOX.c
        found: dict[int, list[ReplySummary]] = {request_id: [] for request_id in request_ids}
        for chunk in in_chunks(list(request_ids)):
            rows = self.session.connection().execute(
                sql_select(o.request_id, o.issuance_id, o.recipient, o.status)
                .add_columns(o.created_at, o.sent_at, o.last_error)
                .where(o.request_id.in_(chunk))
                .order_by(o.id)
            )
            for row in rows:
                found[row.request_id].append(ReplySummary(*row))
        return found

    def settle(self, request_id: int, outcome: str, login: str, now: datetime) -> bool:
        """Take a set-aside message off the staff list, once: False when someone else
        already settled it (the row changes only while it is still set aside)."""
        changed = self.session.execute(
            update(MailRequest)
            .where(
                col(MailRequest.id) == request_id,
                col(MailRequest.status) == RequestStatus.SET_ASIDE,
            )
            .values(status=RequestStatus.DECIDED, outcome=outcome, handled_by=login, decided_at=now)
        )
        return bool(getattr(changed, "rowcount", 0))

    def send_again(self, reply_id: int, branch_id: str, now: datetime) -> OutboxMessage | None:
        """Put a failed reply back in the outbox, once; None when it is not failed now."""
        changed = self.session.execute(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == reply_id,
                col(OutboxMessage.branch_id) == branch_id,
                col(OutboxMessage.status) == ReplyStatus.FAILED,
            )
            .values(status=ReplyStatus.PENDING, attempts=0, next_attempt_at=now)
        )
        return (
            self.session.get(OutboxMessage, reply_id) if getattr(changed, "rowcount", 0) else None
        )

    def retry_now(self, branch_id: str | None, now: datetime) -> tuple[int, int]:
        """Replies waiting for their next try become due now, and replies failed for good
        that carry no code go back to the outbox (an undelivered code has staff actions of
        its own). How many of each."""
        o = OutboxMessage
        mine = [col(o.branch_id) == branch_id] if branch_id is not None else []
        waiting = self.session.execute(
            update(o)
            .where(col(o.status) == ReplyStatus.PENDING, col(o.next_attempt_at) > now, *mine)
            .values(next_attempt_at=now)
        )
        failed = self.session.execute(
            update(o)
            .where(col(o.status) == ReplyStatus.FAILED, col(o.issuance_id).is_(None), *mine)
            .values(status=ReplyStatus.PENDING, attempts=0, next_attempt_at=now)
        )
        return int(getattr(waiting, "rowcount", 0)), int(getattr(failed, "rowcount", 0))

    def position_in_queue(self, request: MailRequest) -> int:
        """1 for the next request to be decided."""
        ahead = self._count(
            MailRequest.branch_id == request.branch_id,
            MailRequest.status == RequestStatus.QUEUED,
            or_(
                col(MailRequest.received_at) < request.received_at,
                (col(MailRequest.received_at) == request.received_at)
                & (col(MailRequest.uid) < request.uid),
            ),
        )
        return ahead + 1
