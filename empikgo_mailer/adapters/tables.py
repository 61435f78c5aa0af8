"""The database schema as SQLModel tables. Change it only together with a migration."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from empikgo_mailer.domain.addresses import address_key
from empikgo_mailer.domain.names import name_key
from empikgo_mailer.domain.statuses import (
    CodeStatus,
    DropKind,
    DroppedOutcome,
    JobState,
    ReplyStatus,
    RequestKind,
    RequestStatus,
)

# Named constraints make migrations reproducible on SQLite and PostgreSQL alike.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no zones) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class StatusText(TypeDecorator[E]):
    """A state stored as its text (VARCHAR, as the migrations made it) and read back as
    the enum member, so no code compares bare strings."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 16) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


class Patron(SQLModel, table=True):
    __tablename__ = "patron"

    id: int | None = Field(default=None, primary_key=True)
    card_number: str = Field(max_length=32, unique=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    email: str | None = Field(default=None, max_length=254)
    # `address_key(email)`, written with it (Store.insert_patrons/update_patrons): is a
    # sender on file for any reader (RULES section 9), one index look-up for a batch.
    email_key: str | None = Field(default=None, max_length=254, index=True)
    # `name_key(first_name, last_name)`, written with them: the console's search by name
    # (folded words, so one LIKE per typed word finds "Żak Łukasz" as "zak luk").
    name_key: str | None = Field(default=None, max_length=200)
    active: bool
    contact_confirmed_on: date | None = None
    # The balance the library's own system exported; the fines ledger starts from it.
    opening_balance_grosze: int = 0
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Code(SQLModel, table=True):
    __tablename__ = "code"
    __table_args__ = (
        UniqueConstraint("platform", "value"),
        # The claim walks this index: the oldest free code of one pool.
        Index("ix_code_pool", "platform", "month", "branch_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    month: str = Field(max_length=7)
    # Empik Go pools belong to a branch; NULL is the library-wide Legimi pool.
    branch_id: str | None = Field(default=None, max_length=32)
    value: str = Field(max_length=64)
    status: CodeStatus = Field(default=CodeStatus.FREE, sa_type=StatusText(CodeStatus))
    loaded_at: datetime = Field(sa_type=UTCDateTime)
    # From the platform's activation report; the earliest reported time wins.
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Issuance(SQLModel, table=True):
    """A code given to a patron. The two unique constraints are the heart of the rules:
    a code is given once, and a patron gets one code a month on either platform."""

    __tablename__ = "issuance"
    __table_args__ = (UniqueConstraint("code_id"), UniqueConstraint("patron_id", "month"))

    id: int | None = Field(default=None, primary_key=True)
    code_id: int = Field(sa_column_args=[ForeignKey("code.id")])
    patron_id: int = Field(sa_column_args=[ForeignKey("patron.id")])
    platform: str = Field(max_length=16)
    month: str = Field(max_length=7)
    channel: str = Field(max_length=16)
    branch_id: str | None = Field(default=None, max_length=32)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    # Set when the month closed without an activation in time; cleared by a late report.
    expired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The reply carrying the code was refused for good, or bounced (RULES section 8): the
    # code never reached the reader, so it never counts toward a ban. Cleared when staff
    # send it again; staff may instead return the code to the pool (the row goes).
    undelivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    undelivered_reason: str | None = Field(default=None, sa_type=Text)  # the server's answer


class Ban(SQLModel, table=True):
    """No codes from first_month through last_month for a code left unactivated."""

    __tablename__ = "ban"
    __table_args__ = (UniqueConstraint("patron_id", "cause_month"),)

    id: int | None = Field(default=None, primary_key=True)
    patron_id: int = Field(sa_column_args=[ForeignKey("patron.id")], index=True)
    cause_month: str = Field(max_length=7)
    first_month: str = Field(max_length=7)
    last_month: str = Field(max_length=7)
    created_at: datetime = Field(sa_type=UTCDateTime)
    lifted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """Who did what and when. Never holds a code or a secret: codes are referred to by id."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_actor", "actor", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    outcome: str = Field(max_length=32)
    card_number: str | None = Field(default=None, max_length=32, index=True)
    details: str = Field(default="{}", sa_type=Text)
    address: str | None = Field(default=None, max_length=64)  # where a staff action came from


class MailboxState(SQLModel, table=True):
    """Where the collector stopped in a branch mailbox (IMAP UIDs are 32-bit unsigned)."""

    __tablename__ = "mailbox_state"

    branch_id: str = Field(primary_key=True, max_length=32)
    uidvalidity: int = Field(sa_type=BigInteger)
    last_uid: int = Field(sa_type=BigInteger)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # While a collect is under way, the first message it has still to read, in receipt
    # order (time, UID): the queue is decided only up to it. NULL: nothing seen is unread.
    uncollected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    uncollected_uid: int | None = Field(default=None, sa_type=BigInteger)


class MailRequest(SQLModel, table=True):
    """One message with the request subject, queued per branch in receipt order. Every
    message the collector passes is recorded here, whatever it holds: a request, automatic
    mail, a message too large or unreadable, or a second copy of a request."""

    __tablename__ = "mail_request"
    __table_args__ = (
        # Where the message is in the mailbox now; UIDs are renumbered only with UIDVALIDITY.
        UniqueConstraint("branch_id", "uidvalidity", "uid"),
        Index("ix_mail_request_queue", "branch_id", "status", "received_at", "uid"),
        # A request seen again (the same sender and Message-ID) is filed as a duplicate.
        Index("ix_mail_request_fingerprint", "branch_id", "fingerprint"),
        # After a UIDVALIDITY change each message is recognised by its bytes.
        Index("ix_mail_request_content", "branch_id", "content_hash"),
        # The console's list of a branch's mail, newest first, whatever its status.
        Index("ix_mail_request_recent", "branch_id", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    branch_id: str = Field(max_length=32)
    uidvalidity: int = Field(sa_type=BigInteger)
    uid: int = Field(sa_type=BigInteger)
    fingerprint: str = Field(max_length=80)
    content_hash: str | None = Field(default=None, max_length=64)
    message_id: str | None = Field(default=None, sa_type=Text)
    references: str | None = Field(default=None, sa_type=Text)
    received_at: datetime = Field(sa_type=UTCDateTime)
    size: int = Field(default=0, sa_type=BigInteger)
    sender: str | None = Field(default=None, max_length=254)
    subject: str = Field(default="", sa_type=Text)
    kind: RequestKind = Field(sa_type=StatusText(RequestKind))
    card_number: str | None = Field(default=None, max_length=32)
    cards_found: int = 0
    cards: str | None = Field(default=None, sa_type=Text)  # every card number found, spaced
    words: str = Field(default="", sa_type=Text)
    name_words: str | None = Field(default=None, sa_type=Text)
    status: RequestStatus = Field(sa_type=StatusText(RequestStatus))
    outcome: str | None = Field(default=None, max_length=32)
    note: str | None = Field(default=None, sa_type=Text)
    attempts: int = 0
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    issuance_id: int | None = Field(default=None, sa_column_args=[ForeignKey("issuance.id")])
    filed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    filing_error: str | None = Field(default=None, sa_type=Text)
    rules: str | None = Field(default=None, sa_type=Text)  # JSON: each rule, verdict and why
    handled_by: str | None = Field(default=None, max_length=64)  # staff who settled it
    created_at: datetime = Field(sa_type=UTCDateTime)


# The predicate of the partial index: in the query's own words (IS NULL, no parameter),
# so that both SQLite and PostgreSQL can prove the query implies it.
COPY_NOT_MADE = text("copied_at IS NULL AND copy_error IS NULL")


class OutboxMessage(SQLModel, table=True):
    """A reply composed together with its decision; the sender only transmits it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_recipient_key", "recipient_key", "created_at"),
        # The hourly budget of replies to senders not on file, per branch.
        Index("ix_outbox_branch_priority", "branch_id", "priority", "created_at"),
        # The replies whose copy in Sent is still to be made, in the order they are
        # copied: only the rows not yet copied, so a copy round reads those and not the
        # growing history of every month's sent replies (sent_copies.SentCopies).
        Index(
            "ix_outbox_copy_waiting",
            "branch_id",
            "status",
            "sent_at",
            "id",
            sqlite_where=COPY_NOT_MADE,
            postgresql_where=COPY_NOT_MADE,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int | None = Field(default=None, sa_column_args=[ForeignKey("mail_request.id")])
    # The code this reply carries: a refusal for good or a bounce makes it undelivered.
    issuance_id: int | None = Field(default=None, sa_column_args=[ForeignKey("issuance.id")])
    # The order replies go out in (domain/statuses.ReplyPriority): codes first.
    priority: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    branch_id: str = Field(max_length=32)
    sender: str = Field(max_length=254)
    recipient: str = Field(max_length=254)
    recipient_key: str = Field(max_length=254)  # lower case: the per-sender daily limit
    message_id: str = Field(max_length=255)
    message: str = Field(sa_type=Text)  # the whole RFC 5322 message
    status: ReplyStatus = Field(default=ReplyStatus.PENDING, sa_type=StatusText(ReplyStatus))
    attempts: int = 0  # tries the server answered with 4xx
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A sender claims a row before sending it; a dead sender's claim is taken back.
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The copy appended to the branch mailbox's Sent folder (staff read replies there).
    copied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    copy_error: str | None = Field(default=None, sa_type=Text)


class LinkState(SQLModel, table=True):
    """The health of one connection the daemon depends on ("smtp", "imap:<branch>"): when
    it last worked, the last error, and for SMTP the circuit breaker's next try."""

    __tablename__ = "link_state"

    link: str = Field(primary_key=True, max_length=64)
    ok: bool
    failures: int = 0  # in a row; 0 once it works again
    last_error: str | None = Field(default=None, sa_type=Text)
    last_ok_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retry_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    errors_total: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # ever


class Heartbeat(SQLModel, table=True):
    """The daemon's pulse, written at the end of every pass: `/readyz`, `status`, the
    console and `/metrics` read it from any process."""

    __tablename__ = "heartbeat"

    name: str = Field(primary_key=True, max_length=64)  # "daemon"
    pid: int
    host: str = Field(max_length=255)
    version: str = Field(max_length=32)
    beat_at: datetime = Field(sa_type=UTCDateTime)
    passes: int = 0  # since this process started
    pass_seconds: float = 0.0  # the last pass
    last_good_pass_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_problem: str | None = Field(default=None, sa_type=Text)  # of the last pass


class ClaimLimit(SQLModel, table=True):
    """The per-card limit of the claim endpoint: hits in the window that began at
    `window_start` (seconds since the epoch, wall clock), shared by every web worker."""

    __tablename__ = "claim_limit"

    key: str = Field(primary_key=True, max_length=64)
    window_start: float
    hits: int


class ServiceSwitch(SQLModel, table=True):
    """Staff's runtime switch of a platform (rule 7); no row means "on"."""

    __tablename__ = "service_switch"

    platform: str = Field(primary_key=True, max_length=16)
    enabled: bool
    reason: str | None = Field(default=None, sa_type=Text)
    actor: str = Field(max_length=64)
    changed_at: datetime = Field(sa_type=UTCDateTime)


class MonthClose(SQLModel, table=True):
    """A month that has been closed; its row is what makes closing it again a no-op."""

    __tablename__ = "month_close"

    month: str = Field(primary_key=True, max_length=7)
    closed_at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=64)
    lapsed: int = 0
    expired: int = 0
    banned: int = 0


class JobRun(SQLModel, table=True):
    """The last run of each scheduled job, for `status`."""

    __tablename__ = "job_run"

    job_id: str = Field(primary_key=True, max_length=32)
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: JobState = Field(sa_type=StatusText(JobState))
    summary: str = Field(default="", sa_type=Text)


class DroppedFile(SQLModel, table=True):
    """A file taken from a drop folder. The content hash makes a file imported once, even
    when it is dropped again or the archiving move was lost in a crash."""

    __tablename__ = "dropped_file"
    __table_args__ = (UniqueConstraint("kind", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: DropKind = Field(sa_type=StatusText(DropKind))
    name: str = Field(sa_type=Text)  # path inside the drop folder
    sha256: str = Field(max_length=64)
    taken_at: datetime = Field(sa_type=UTCDateTime, index=True)
    outcome: DroppedOutcome = Field(sa_type=StatusText(DroppedOutcome))
    summary: str = Field(default="", sa_type=Text)


class Loan(SQLModel, table=True):
    """An item lent to a patron, as the library system exports it and the desk changes it.
    Its fine is computed from these dates (see domain/fines.py), never stored."""

    __tablename__ = "loan"
    __table_args__ = (
        UniqueConstraint("patron_id", "item_barcode", "borrowed_on"),
        # The desk finds an item's open loan by its barcode.
        Index("ix_loan_item_open", "item_barcode", "returned_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patron_id: int = Field(sa_column_args=[ForeignKey("patron.id")], index=True)
    item_barcode: str = Field(max_length=64)
    location_id: str = Field(max_length=32)
    borrowed_on: date
    due_on: date
    returned_on: date | None = None
    renewals_used: int = 0
    renewal_limit: int = 0
    on_hold: bool = False
    # The location's rate when the loan was recorded: a new rate applies to new loans.
    daily_rate_grosze: int
    fine_base_on: date
    carried_days: int = 0
    settled_on: date | None = None
    grace_until: date | None = None
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Payment(SQLModel, table=True):
    """Money paid towards one location's fines. A transfer is pending until the bank posts
    it (or a librarian sees a proof); the bank's posting id makes a posting count once."""

    __tablename__ = "payment"

    id: int | None = Field(default=None, primary_key=True)
    patron_id: int = Field(sa_column_args=[ForeignKey("patron.id")], index=True)
    location_id: str = Field(max_length=32)
    method: str = Field(max_length=16)  # online | transfer | cash
    amount_grosze: int
    counted: bool
    proof: bool = False
    made_on: date
    expected_by: date | None = None
    posting_id: str | None = Field(default=None, max_length=128, unique=True)
    posted_on: date | None = None
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=64)


class StaffAccount(SQLModel, table=True):
    """A staff login for the console; the password only as an Argon2id hash."""

    __tablename__ = "staff_account"

    login: str = Field(primary_key=True, max_length=64)
    password_hash: str = Field(sa_type=Text)
    role: str = Field(max_length=16)  # librarian | head | admin
    branch_id: str | None = Field(default=None, max_length=32)
    disabled: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
    changed_at: datetime = Field(sa_type=UTCDateTime)


class StaffSession(SQLModel, table=True):
    """A console session, server side. The cookie carries a random token; only its
    SHA-256 is stored, so a copy of the database opens no session."""

    __tablename__ = "staff_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    login: str = Field(max_length=64, index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    address: str = Field(default="", max_length=64)


class LoginAttempt(SQLModel, table=True):
    """Every console login attempt: throttling reads the failures of the last minutes,
    across restarts and processes."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_login", "login", "at"),
        Index("ix_login_attempt_address", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64)
    address: str = Field(max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)
    ok: bool


@event.listens_for(Patron, "before_insert")
@event.listens_for(Patron, "before_update")
def _email_key(_mapper: object, _connection: object, patron: Patron) -> None:
    """A patron written through the ORM keeps its address and name keys beside its address
    and name, as the bulk writes of `Store` do."""
    patron.email_key = address_key(patron.email) if patron.email else None
    patron.name_key = name_key(patron.first_name, patron.last_name)
