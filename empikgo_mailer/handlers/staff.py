"""Staff accounts and console sessions: add, change a password, disable; log in and out.

Sessions live in the database (one row each, keyed by the SHA-256 of the cookie's token),
so they hold across restarts and across several `web` processes, and so do the login
failures that lock an account or an address out for a while.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from empikgo_mailer.adapters.passwords import Passwords
from empikgo_mailer.adapters.staff_store import StaffStore, member_of, token_hash
from empikgo_mailer.adapters.tables import LoginAttempt, StaffAccount, StaffSession
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.config import WebSettings
from empikgo_mailer.domain.polish import moment_text
from empikgo_mailer.domain.staff import Role, StaffMember, locked_until, password_problem
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.library import Library

LOGIN_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
# A session's last use is written at most this often: not a write per page view.
TOUCH_EVERY = timedelta(minutes=1)
WRONG_LOGIN = "Nieprawidłowy login lub hasło."


@dataclass(frozen=True)
class AddStaff(Command[None]):
    login: str
    password: str
    role: Role
    branch_id: str | None = None
    actor: str = "cli"


@dataclass(frozen=True)
class ChangePassword(Command[None]):
    login: str
    password: str
    actor: str = "cli"


@dataclass(frozen=True)
class DisableStaff(Command[None]):
    login: str
    actor: str = "cli"


@dataclass(frozen=True)
class LoginResult:
    member: StaffMember | None
    token: str | None = None  # the new session's cookie value
    csrf_token: str | None = None
    message: str = ""  # why not, in Polish


@dataclass(frozen=True)
class LogIn(Command[LoginResult]):
    login: str
    password: str
    address: str  # the client's IP address, for throttling and the audit trail
    previous_token: str | None = None  # a session the browser had: ended, never reused


@dataclass(frozen=True)
class OpenSession:
    member: StaffMember
    csrf_token: str


@dataclass(frozen=True)
class ResumeSession(Command["OpenSession | None"]):
    token: str


@dataclass(frozen=True)
class LogOut(Command[None]):
    token: str


def _login(text: str) -> str:
    login = text.strip().lower()
    if not 1 <= len(login) <= 64 or not set(login) <= LOGIN_CHARS:
        raise CommandRejected("Login: małe litery, cyfry, kropka, - i _ (do 64 znaków).")
    return login


def _password(password: str) -> str:
    problem = password_problem(password)
    if problem is not None:
        raise CommandRejected(f"Hasło odrzucone: {problem}.")
    return password


def add_staff(
    command: AddStaff, *, uow: UnitOfWork, library: Library, passwords: Passwords, now: datetime
) -> None:
    login = _login(command.login)
    branch = command.branch_id
    if command.role is Role.LIBRARIAN:
        if branch is None:
            raise CommandRejected("Bibliotekarz należy do placówki: podaj --branch.")
        branch = library.branch(branch).id
    elif branch is not None:
        raise CommandRejected("Tylko bibliotekarz należy do jednej placówki (bez --branch).")
    password_hash = passwords.hash(_password(command.password))
    with uow:
        staff = uow.staff
        if staff.account(login) is not None:
            raise CommandRejected(f"Konto „{login}” już istnieje (zmiana hasła: staff passwd).")
        staff.add(
            StaffAccount(
                login=login,
                password_hash=password_hash,
                role=command.role.value,
                branch_id=branch,
                created_at=now,
                changed_at=now,
            )
        )
        uow.store.audit(
            at=now, actor=command.actor, action="staff-add", outcome="done", login=login,
            role=command.role.value, branch=branch,
        )  # fmt: skip


def _account(staff: StaffStore, login: str) -> StaffAccount:
    account = staff.account(_login(login), lock=True)
    if account is None:
        raise CommandRejected(f"Nie ma konta „{login.strip()}”.")
    return account


def change_password(
    command: ChangePassword, *, uow: UnitOfWork, passwords: Passwords, now: datetime
) -> None:
    password_hash = passwords.hash(_password(command.password))
    with uow:
        staff = uow.staff
        account = _account(staff, command.login)
        account.password_hash, account.changed_at = password_hash, now
        staff.add(account)
        staff.end_sessions_of(account.login)  # a stolen session dies with the old password
        uow.store.audit(
            at=now, actor=command.actor, action="staff-passwd", outcome="done", login=account.login
        )


def disable_staff(command: DisableStaff, *, uow: UnitOfWork, now: datetime) -> None:
    with uow:
        staff = uow.staff
        account = _account(staff, command.login)
        account.disabled, account.changed_at = True, now
        staff.add(account)
        staff.end_sessions_of(account.login)
        uow.store.audit(
            at=now, actor=command.actor, action="staff-disable", outcome="done", login=account.login
        )


def log_in(command: LogIn, *, uow: UnitOfWork, passwords: Passwords, now: datetime) -> LoginResult:
    """Argon2 takes a tenth of a second and four cores: it runs between two short
    transactions, never inside one (on SQLite a transaction holds the one write lock, and
    every Legimi claim of the web process would wait for the hash). The attempt is written
    as a failure before the password is checked, in the transaction that counts the
    failures, so parallel guesses are throttled as one after another would be."""
    login = command.login.strip().lower()[:64]
    address = command.address[:64]
    with uow:
        staff, store = uow.staff, uow.store
        if command.previous_token:
            staff.end_session(command.previous_token)
        until = locked_until(staff.failures(login, address, now), now)
        if until is not None:
            store.audit(at=now, actor=f"staff:{login}", action="login", outcome="throttled",
                        address=address)  # fmt: skip
            return LoginResult(
                None,
                message="Zbyt wiele nieudanych prób logowania. Spróbuj ponownie po "
                f"{moment_text(until)}.",
            )
        account = staff.account(login)
        stored = account.password_hash if account is not None and not account.disabled else None
        attempt = LoginAttempt(login=login, address=address, at=now, ok=False)
        staff.add(attempt)
        uow.flush()
        attempt_id = attempt.id
    ok = passwords.verify(stored, command.password)
    rehashed = None
    if ok and stored is not None and passwords.hasher.check_needs_rehash(stored):
        rehashed = passwords.hash(command.password)
    with uow:
        staff, store = uow.staff, uow.store
        store.audit(at=now, actor=f"staff:{login}", action="login",
                    outcome="done" if ok else "refused", address=address)  # fmt: skip
        account = staff.account(login) if ok else None
        # The account as it is now: disabled or given a new password meanwhile, it is not
        # logged in with the old one.
        if account is None or account.disabled or account.password_hash != stored:
            return LoginResult(None, message=WRONG_LOGIN)
        staff.succeeded(attempt_id)
        if rehashed is not None:
            account.password_hash = rehashed
            staff.add(account)
        # A new random session id at every login: a fixed one planted before cannot be used.
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        staff.add(
            StaffSession(
                token_hash=token_hash(token),
                login=account.login,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                address=address,
            )
        )
        return LoginResult(member_of(account), token, csrf)


def resume_session(
    command: ResumeSession, *, uow: UnitOfWork, web: WebSettings, now: datetime
) -> OpenSession | None:
    """The staff member a session cookie belongs to, or None when there is no such
    session, it was idle too long, or the account was disabled since."""
    with uow:
        staff = uow.staff
        row = staff.open_session(command.token)
        if row is None:
            return None
        account = staff.account(row.login)
        idle = now - row.last_seen_at
        if (
            account is None
            or account.disabled
            or idle > timedelta(minutes=web.session_idle_minutes)
        ):
            staff.end_session(command.token)
            return None
        if idle >= TOUCH_EVERY:
            row.last_seen_at = now
            staff.add(row)
        return OpenSession(member_of(account), row.csrf_token)


def log_out(command: LogOut, *, uow: UnitOfWork) -> None:
    with uow:
        uow.staff.end_session(command.token)
