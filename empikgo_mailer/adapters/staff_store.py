"""Staff accounts, console sessions and login attempts in the database."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Session, col, delete, or_, select

from empikgo_mailer.adapters.tables import LoginAttempt, StaffAccount, StaffSession
from empikgo_mailer.domain.staff import FAILURE_WINDOW, LOCKOUT, Role, StaffMember


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def member_of(account: StaffAccount) -> StaffMember:
    return StaffMember(account.login, Role(account.role), account.branch_id)


class StaffStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def account(self, login: str, *, lock: bool = False) -> StaffAccount | None:
        query = select(StaffAccount).where(StaffAccount.login == login)
        if lock and self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        return self.session.exec(query).first()

    def add(self, row: StaffAccount | StaffSession | LoginAttempt) -> None:
        self.session.add(row)

    def succeeded(self, attempt_id: int | None) -> None:
        """A log-in attempt written as a failure before its password was checked, which
        turned out right."""
        attempt = self.session.get(LoginAttempt, attempt_id)
        if attempt is not None:
            attempt.ok = True
            self.session.add(attempt)

    def failures(self, login: str, address: str, now: datetime) -> list[datetime]:
        """Failed attempts recent enough to matter, for this login or from this address."""
        since = now - FAILURE_WINDOW - LOCKOUT
        return list(
            self.session.exec(
                select(LoginAttempt.at).where(
                    or_(LoginAttempt.login == login, LoginAttempt.address == address),
                    col(LoginAttempt.ok).is_(False),
                    col(LoginAttempt.at) >= since,
                )
            )
        )

    def open_session(self, token: str) -> StaffSession | None:
        return self.session.get(StaffSession, token_hash(token))

    def end_session(self, token: str) -> None:
        self.session.exec(
            delete(StaffSession).where(col(StaffSession.token_hash) == token_hash(token))
        )

    def end_sessions_of(self, login: str) -> None:
        self.session.exec(delete(StaffSession).where(col(StaffSession.login) == login))
