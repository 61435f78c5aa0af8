"""Queries and writes on the tables, inside a transaction the caller owns."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Table,
    Text,
    bindparam,
    case,
    func,
    insert,
    update,
)
from sqlalchemy import select as sql_select
from sqlmodel import Session, SQLModel, col, select

from empikgo_mailer.adapters.database import in_chunks
from empikgo_mailer.adapters.pg_bulk import insert_rows, insert_rows_with_ids, one_of
from empikgo_mailer.adapters.tables import (
    AuditEvent,
    Ban,
    Code,
    DroppedFile,
    Issuance,
    MailRequest,
    MonthClose,
    OutboxMessage,
    Patron,
    ServiceSwitch,
)
from empikgo_mailer.domain.addresses import address_key
from empikgo_mailer.domain.card_number import CardNumber
from empikgo_mailer.domain.eligibility import BanPeriod, EarlierCode
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.names import name_key
from empikgo_mailer.domain.platforms import Channel, Platform, platform_by_id
from empikgo_mailer.domain.statuses import CodeStatus

_PATRON: Table = SQLModel.metadata.tables["patron"]
_AUDIT: Table = SQLModel.metadata.tables["audit_event"]
_CODE: Table = SQLModel.metadata.tables["code"]
_ISSUANCE: Table = SQLModel.metadata.tables["issuance"]


@dataclass(frozen=True)
class PoolCount:
    platform: Platform
    month: Month
    branch_id: str | None
    loaded: int
    issued: int
    left: int


def _pool(platform: Platform, month: Month, branch_id: str | None) -> list[ColumnElement[bool]]:
    branch = (
        col(Code.branch_id).is_(None) if branch_id is None else col(Code.branch_id) == branch_id
    )
    return [col(Code.platform) == platform.value, col(Code.month) == str(month), branch]


# Where the action being audited came from (a console user's IP address), set by the
# web door for the length of one request; None for the daemon and the command line.
ACTION_ORIGIN: ContextVar[str | None] = ContextVar("action_origin", default=None)


def _audit_row(
    *,
    at: datetime,
    actor: str,
    action: str,
    outcome: str,
    card_number: str | None = None,
    address: str | None = None,
    **details: object,
) -> dict[str, Any]:
    """An `audit_event` row: the details as sorted JSON, the address of the request in
    hand when none is given."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "card_number": card_number,
        "details": json.dumps(details, ensure_ascii=False, default=str, sort_keys=True),
        "address": address or ACTION_ORIGIN.get() or None,
    }


class Store:
    def __init__(self, session: Session, platforms: Iterable[Platform] = ()) -> None:
        """`platforms`: the library's own rows, so stored ids read back as them."""
        self.session = session
        self.platforms = tuple(platforms)

    def _platform(self, platform_id: str) -> Platform:
        return platform_by_id(platform_id, self.platforms)

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    # patrons -------------------------------------------------------------------------

    def patron_by_card(self, card_number: str, *, lock: bool = False) -> Patron | None:
        """The patron whose card `card_number` is, written any way a card number may be
        written; None when there is none or the text cannot be a card number.

        `lock`: hold the patron's row until commit, so that two decisions about one
        patron (two mailboxes, mail and desk) run one after the other on PostgreSQL.
        SQLite's BEGIN IMMEDIATE already runs every decision one after the other."""
        card = CardNumber.find(card_number)
        if card is None:
            return None
        query = select(Patron).where(Patron.card_number == card.value)
        if lock and self._postgres:
            query = query.with_for_update()
        return self.session.exec(query).first()

    def patrons_by_cards(self, cards: Iterable[str], *, lock: bool = False) -> dict[str, Patron]:
        """`patron_by_card` for many card numbers at once, keyed by the card as written.
        `lock` takes the rows in id order, so two batches never wait on each other in a
        circle."""
        found = {text: card.value for text in set(cards) if (card := CardNumber.find(text))}
        by_value: dict[str, Patron] = {}
        for chunk in in_chunks(sorted(set(found.values()))):
            query = (
                select(Patron).where(col(Patron.card_number).in_(chunk)).order_by(col(Patron.id))
            )
            if lock and self._postgres:
                query = query.with_for_update()
            by_value.update((p.card_number, p) for p in self.session.exec(query))
        return {text: by_value[value] for text, value in found.items() if value in by_value}

    def codes_this_month(
        self, patron_ids: Sequence[int], month: Month
    ) -> dict[int, tuple[EarlierCode, str]]:
        """`earlier_code` for many patrons, each with the code's value: one query."""
        found: dict[int, tuple[EarlierCode, str]] = {}
        i, c = _ISSUANCE.c, _CODE.c
        for chunk in in_chunks(sorted(set(patron_ids))):
            rows = self.session.execute(
                sql_select(i.patron_id, i.platform, i.channel, i.issued_at, i.branch_id, c.value)
                .join_from(_ISSUANCE, _CODE, c.id == i.code_id)
                .where(i.patron_id.in_(chunk), i.month == str(month))
            )
            for patron_id, platform, channel, issued_at, branch_id, value in rows:
                earlier = EarlierCode(
                    self._platform(platform), Channel(channel), issued_at, branch_id
                )
                found[patron_id] = (earlier, value)
        return found

    def bans_of(self, patron_ids: Sequence[int]) -> dict[int, tuple[BanPeriod, ...]]:
        """`bans` for many patrons: one query."""
        found: dict[int, list[BanPeriod]] = {}
        for chunk in in_chunks(sorted(set(patron_ids))):
            rows = self.session.exec(
                select(Ban)
                .where(col(Ban.patron_id).in_(chunk), col(Ban.lifted_at).is_(None))
                .order_by(col(Ban.id))
            )
            for b in rows:
                found.setdefault(b.patron_id, []).append(
                    BanPeriod(
                        Month.parse(b.cause_month),
                        Month.parse(b.first_month),
                        Month.parse(b.last_month),
                    )
                )
        return {patron_id: tuple(bans) for patron_id, bans in found.items()}

    def patron_ids_by_card(self) -> dict[str, int]:
        """Every card number with its patron id: one query, a few MB even for 10^5 cards."""
        rows = self.session.execute(sql_select(col(Patron.card_number), col(Patron.id)))
        return {card: patron_id for card, patron_id in rows if patron_id is not None}

    def addresses_on_file(self, keys: Iterable[str]) -> frozenset[str]:
        """Which of these address keys (`address_key`) are on file for some reader."""
        found: set[str] = set()
        for chunk in in_chunks(sorted(set(keys))):
            rows = self.session.exec(
                select(Patron.email_key).where(col(Patron.email_key).in_(chunk)).distinct()
            )
            found.update(key for key in rows if key is not None)
        return frozenset(found)

    def insert_patrons(self, rows: Sequence[Mapping[str, Any]]) -> None:
        # The ORM's bulk INSERT sends multi-row VALUES batches ("insertmanyvalues"); plain
        # Core executemany on psycopg went row by row, 30x slower on PostgreSQL.
        if rows:
            self.session.execute(insert(Patron), [_with_email_key(row) for row in rows])

    def update_patrons(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Bulk UPDATE by primary key; each row carries its `id`."""
        if not rows:
            return
        rows = [_with_email_key(row) for row in rows]
        columns = [name for name in rows[0] if name != "id"]
        statement = (
            update(_PATRON)
            .where(_PATRON.c.id == bindparam("patron_id"))
            .values({name: bindparam(name) for name in columns})
        )
        self.session.connection().execute(
            statement, [{**{n: row[n] for n in columns}, "patron_id": row["id"]} for row in rows]
        )

    # codes ---------------------------------------------------------------------------
    def known_code_values(self, platform: Platform, values: Sequence[str]) -> set[str]:
        """Which of `values` are loaded already: on PostgreSQL in one statement (one array
        parameter: a 5 MB pool file's 300,000 codes took 1.8 s in 643 IN lists, all of it
        Python holding the web process's GIL), on SQLite in IN lists it accepts."""
        known: set[str] = set()
        for chunk in [values] if self._postgres else in_chunks(values):
            known.update(
                self.session.exec(
                    select(Code.value).where(
                        Code.platform == platform.value,
                        one_of(self.session, col(Code.value), chunk, Text()),
                    )
                )
            )
        return known

    def insert_codes(
        self,
        platform: Platform,
        month: Month,
        branch_id: str | None,
        values: Sequence[str],
        loaded_at: datetime,
    ) -> None:
        rows = [
            {
                "platform": platform.value,
                "month": str(month),
                "branch_id": branch_id,
                "value": value,
                "status": CodeStatus.FREE,
                "loaded_at": loaded_at,
            }
            for value in values
        ]
        for chunk in in_chunks(rows):
            self.session.execute(insert(Code), list(chunk))

    def count_free(self, platform: Platform, month: Month, branch_id: str | None) -> int:
        query = (
            select(func.count())
            .select_from(Code)
            .where(*_pool(platform, month, branch_id), col(Code.status) == CodeStatus.FREE)
        )
        return int(self.session.exec(query).one())

    def free_codes(
        self,
        platform: Platform,
        month: Month,
        branch_id: str | None,
        limit: int,
        *,
        besides: Sequence[int] = (),
        wait: bool = False,
        after: int | None = None,
    ) -> list[tuple[int, str]]:
        """Up to `limit` of the oldest free codes of a pool (id, value), locked for this
        transaction, leaving out `besides` (taken already). The
        caller marks the ones it gives (`mark_issued`); the others stay free.

        PostgreSQL: SKIP LOCKED unless `wait`, which waits for codes other claims hold
        (they may still roll back) rather than call the pool empty too early. `after`:
        only codes above this id (see CodeSupply)."""
        c = _CODE.c
        query = (
            sql_select(c.id, c.value)
            .where(*_pool(platform, month, branch_id), c.status == CodeStatus.FREE)
            .order_by(c.id)
            .limit(limit)
        )
        if besides:
            query = query.where(c.id.not_in(list(besides)))
        if after is not None:
            query = query.where(c.id > after)
        if self._postgres:
            query = query.with_for_update(skip_locked=not wait)
        return [(int(code_id), str(value)) for code_id, value in self.session.execute(query)]

    def mark_issued(self, code_ids: Sequence[int]) -> None:
        for chunk in in_chunks(list(code_ids)):
            self.session.execute(
                update(_CODE)
                .where(one_of(self.session, _CODE.c.id, chunk, BigInteger()))
                .values(status=CodeStatus.ISSUED)
            )

    def add_issuances(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Insert issuances together (one COPY on PostgreSQL); their ids, in the rows'
        order. A unique constraint (a code given twice, a patron's second code this
        month) raises IntegrityError here, inside the decision."""
        return insert_rows_with_ids(self.session, _ISSUANCE, rows)

    def pool_counts(self, month: Month, branch_id: str | None = None) -> list[PoolCount]:
        def counted(status: CodeStatus) -> Any:
            return func.sum(case((col(Code.status) == status, 1), else_=0))

        query = (
            sql_select(
                col(Code.platform),
                col(Code.branch_id),
                func.count(),
                counted(CodeStatus.ISSUED),
                counted(CodeStatus.FREE),
            )
            .where(col(Code.month) == str(month))
            .group_by(col(Code.platform), col(Code.branch_id))
            .order_by(col(Code.platform), col(Code.branch_id))
        )
        if branch_id is not None:
            query = query.where(col(Code.branch_id) == branch_id)
        return [
            PoolCount(self._platform(platform), month, branch, int(loaded), int(issued), int(free))
            for platform, branch, loaded, issued, free in self.session.execute(query)
        ]

    def codes_by_value(self, platform: Platform, values: Sequence[str]) -> dict[str, Code]:
        found: dict[str, Code] = {}
        for chunk in in_chunks(values):
            query = select(Code).where(Code.platform == platform.value, col(Code.value).in_(chunk))
            found.update((code.value, code) for code in self.session.exec(query))
        return found

    def issuance_of_code(self, code_id: int) -> Issuance | None:
        return self.session.exec(select(Issuance).where(Issuance.code_id == code_id)).first()

    def issuances_of(self, patron_id: int) -> list[tuple[Issuance, Code]]:
        """Every code a patron was given, the newest month first."""
        return list(
            self.session.exec(
                select(Issuance, Code)
                .join(Code, col(Code.id) == col(Issuance.code_id))
                .where(Issuance.patron_id == patron_id)
                .order_by(col(Issuance.month).desc(), col(Issuance.issued_at).desc())
            ).all()
        )

    def issuance(self, issuance_id: int) -> tuple[Issuance, Code] | None:
        row = self.session.exec(
            select(Issuance, Code)
            .join(Code, col(Code.id) == col(Issuance.code_id))
            .where(Issuance.id == issuance_id)
        ).first()
        return None if row is None else (row[0], row[1])

    def return_code(self, issuance: Issuance, code: Code, *, to_pool: bool) -> None:
        """Undo an issuance whose code never reached its reader (RULES section 8): the
        reader's code of the month is free again, and the code goes back to its pool
        (`to_pool`) or, its month over, lapses. The requests and replies that named it
        keep their history and lose the link."""
        for table in (MailRequest, OutboxMessage):
            self.session.execute(
                update(table).where(col(table.issuance_id) == issuance.id).values(issuance_id=None)
            )
        self.session.delete(issuance)
        code.status = CodeStatus.FREE if to_pool else CodeStatus.LAPSED
        self.session.add(code)
        self.session.flush()

    def bans_caused_in(self, month: Month) -> list[tuple[Ban, Patron]]:
        """The bans for codes of `month` left unactivated, with their patrons."""
        return list(
            self.session.exec(
                select(Ban, Patron)
                .join(Patron, col(Patron.id) == col(Ban.patron_id))
                .where(Ban.cause_month == str(month))
                .order_by(col(Patron.card_number))
            ).all()
        )

    def lapse_free_codes(self, month: Month) -> int:
        """Codes of `month` never given become unusable; the number of codes lapsed."""
        result = self.session.execute(
            update(Code)
            .where(col(Code.month) == str(month), col(Code.status) == CodeStatus.FREE)
            .values(status=CodeStatus.LAPSED)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def undelivered_count(self, month: Month) -> int:
        """Codes of `month` whose reply was refused for good or bounced."""
        query = select(func.count()).where(
            Issuance.month == str(month), col(Issuance.undelivered_at).is_not(None)
        )
        return int(self.session.exec(query).one())

    def unactivated_issuances(self, month: Month, deadline: datetime) -> list[Issuance]:
        """Codes given in `month`, not yet expired, with no activation before `deadline`."""
        activated_in_time = col(Code.activated_at).is_not(None) & (
            col(Code.activated_at) < deadline
        )
        query = (
            select(Issuance)
            .join(Code, col(Code.id) == col(Issuance.code_id))
            .where(
                Issuance.month == str(month),
                col(Issuance.expired_at).is_(None),
                # A code that never reached its reader never costs a ban (RULES section 8).
                col(Issuance.undelivered_at).is_(None),
                ~activated_in_time,
            )
            .order_by(col(Issuance.id))
        )
        return list(self.session.exec(query))

    def ban_for(self, patron_id: int, cause: Month) -> Ban | None:
        return self.session.exec(
            select(Ban).where(Ban.patron_id == patron_id, Ban.cause_month == str(cause))
        ).first()

    def months_with_codes_not_closed(self, before: Month) -> list[Month]:
        closed = sql_select(col(MonthClose.month))
        query = (
            sql_select(col(Code.month))
            .where(col(Code.month) < str(before), col(Code.month).not_in(closed))
            .distinct()
            .order_by(col(Code.month))
        )
        return [Month.parse(month) for (month,) in self.session.execute(query)]

    # the drop folder ------------------------------------------------------------------
    def dropped_file(self, kind: str, sha256: str) -> DroppedFile | None:
        """The file of this kind with these bytes, if one was taken already."""
        query = select(DroppedFile).where(DroppedFile.kind == kind, DroppedFile.sha256 == sha256)
        return self.session.exec(query).first()

    def record_dropped_file(self, row: DroppedFile) -> None:
        """In the import's transaction: the same bytes taken at once twice collide here."""
        self.session.add(row)
        self.session.flush()

    def recent_dropped_files(self, limit: int) -> list[DroppedFile]:
        query = select(DroppedFile).order_by(col(DroppedFile.taken_at).desc()).limit(limit)
        rows = list(self.session.exec(query))
        for row in rows:
            self.session.expunge(row)
        return rows

    # services --------------------------------------------------------------------------
    def service_switched_on(self, platform: Platform) -> bool:
        switch = self.session.get(ServiceSwitch, platform.value)
        return switch is None or switch.enabled

    def service_switches(self) -> dict[Platform, ServiceSwitch]:
        return {
            self._platform(switch.platform): switch
            for switch in self.session.exec(select(ServiceSwitch))
        }

    def switch_service(
        self, platform: Platform, *, enabled: bool, reason: str | None, actor: str, at: datetime
    ) -> None:
        switch = self.session.get(ServiceSwitch, platform.value) or ServiceSwitch(
            platform=platform.value, enabled=enabled, actor=actor, changed_at=at
        )
        switch.enabled, switch.reason, switch.actor, switch.changed_at = enabled, reason, actor, at
        self.session.add(switch)

    # audit ---------------------------------------------------------------------------
    def audit(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        outcome: str,
        card_number: str | None = None,
        address: str | None = None,
        **details: object,
    ) -> None:
        row = _audit_row(
            at=at,
            actor=actor,
            action=action,
            outcome=outcome,
            card_number=card_number,
            address=address,
            **details,
        )
        self.session.add(AuditEvent(**row))

    def audit_many(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Many `audit(**entry)` calls in one statement (a batch of decisions)."""
        insert_rows(self.session, _AUDIT, [_audit_row(**entry) for entry in entries])

    def audit_import(
        self, action: str, *, at: datetime, actor: str, file: Path, **counts: object
    ) -> None:
        """An import that went through, with its file's name and what it counted."""
        details: dict[str, Any] = {"file": file.name, **counts}
        self.audit(at=at, actor=actor, action=action, outcome="done", **details)


def _with_email_key(row: Mapping[str, Any]) -> dict[str, Any]:
    """A patron row with its address key beside its address (tables.Patron.email_key) and
    its name key beside its name (tables.Patron.name_key)."""
    keyed = dict(row)
    if "email" in row:
        email = row["email"]
        keyed["email_key"] = address_key(email) if email else None
    if "first_name" in row and "last_name" in row:
        keyed["name_key"] = name_key(row["first_name"], row["last_name"])
    return keyed
