"""A unit of work: one transaction and the repositories on it (cosmicpython's
`service_layer/unit_of_work.py`). A handler asks for `uow` and writes

    with uow:
        uow.store.add_issuances(...)

and never sees a session, a connection or SQL. The block is the transaction: it commits
when the block ends normally (`commit()` commits earlier) and rolls back when it raises,
as every transaction of this program always has, so no write is lost to a forgotten
call. One object is one handler call's: the dispatcher makes a fresh one per command
(`App.uow`), so threads never share one; a handler may enter it again for a second
transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Self, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session

from empikgo_mailer.adapters.audit_trail import AuditTrail
from empikgo_mailer.adapters.database import (
    Database,
    is_disk_full,
    place_of,
    unavailable_message,
)
from empikgo_mailer.adapters.fines_store import FinesStore
from empikgo_mailer.adapters.mail_queue import MailQueue
from empikgo_mailer.adapters.report_queries import ReportQueries
from empikgo_mailer.adapters.staff_store import StaffStore
from empikgo_mailer.adapters.store import Store
from empikgo_mailer.domain.errors import Conflict, DatabaseUnavailable, DiskFull
from empikgo_mailer.domain.platforms import Platform

R = TypeVar("R")
log = logging.getLogger(__name__)


class UnitOfWork:
    def __init__(self, db: Database, platforms: Iterable[Platform] = ()) -> None:
        self.db, self.platforms = db, tuple(platforms)
        self._stack: ExitStack | None = None
        self._session: Session | None = None

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def __enter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("a unit of work is entered once at a time")
        stack = ExitStack()
        stack.enter_context(self.db.write_turn())
        self._session = stack.enter_context(Session(self.db.engine, expire_on_commit=False))
        self._session.begin()
        self._stack = stack
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        """Commit or roll back; the database's own errors that mean something to the
        caller come out as the domain's (`_translate`)."""
        stack, session = self._stack, self._session
        self._stack = self._session = None
        assert stack is not None
        assert session is not None
        with stack:
            if kind is not None:
                try:
                    session.rollback()
                except DBAPIError:  # the connection is gone: the server rolled back
                    log.debug("rollback on a lost connection", exc_info=True)
                _translate(error, self.db)
                return
            try:
                session.commit()
            except DBAPIError as exc:
                _translate(exc, self.db)
                raise

    def commit(self) -> None:
        self.session.commit()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part that rolls back alone when it raises (the rest of the unit goes on)."""
        with self.session.begin_nested():
            yield

    # Rows of the ORM, for handlers that add or change one: no query, no SQL.
    def add(self, row: object) -> None:
        self.session.add(row)

    def get(self, kind: type[R], key: object) -> R | None:
        return self.session.get(kind, key)

    def get_one(self, kind: type[R], key: object, *, with_for_update: bool = False) -> R:
        return self.session.get_one(kind, key, with_for_update=with_for_update)

    def flush(self) -> None:
        self.session.flush()

    def refresh(self, row: object) -> None:
        self.session.refresh(row)

    def connection(self) -> Connection:
        """This unit's connection, for an adapter that works in SQL Core on it."""
        return self.session.connection()

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._session

    # The repositories, each on this unit's transaction.
    @property
    def store(self) -> Store:
        return Store(self.session, self.platforms)

    @property
    def queue(self) -> MailQueue:
        return MailQueue(self.session)

    @property
    def fines(self) -> FinesStore:
        return FinesStore(self.session)

    @property
    def staff(self) -> StaffStore:
        return StaffStore(self.session)

    @property
    def audit(self) -> AuditTrail:
        return AuditTrail(self.session)

    @property
    def reports(self) -> ReportQueries:
        return ReportQueries(self.session, self.platforms)


def _translate(error: BaseException | None, db: Database) -> None:
    """A unique constraint that stopped the work (another process wrote the same row in
    the same instant) is a `Conflict`; a database out of space is `DiskFull` (waiting
    will not help, unlike a lock); one locked or gone is `DatabaseUnavailable`. Anything
    else goes on as it is."""
    if isinstance(error, IntegrityError):
        raise Conflict(type(error.orig).__name__) from error
    if isinstance(error, OperationalError | OSError) and is_disk_full(error, db.file):
        raise DiskFull(place_of(db.file)) from error
    if isinstance(error, OperationalError):
        raise DatabaseUnavailable(unavailable_message(error)) from error
