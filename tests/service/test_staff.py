"""Staff accounts and console sessions through the dispatcher, on a real database, with
the clock moved by hand: idle expiry, throttling, a changed password, a disabled account."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.staff import Role
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.staff import (
    AddStaff,
    ChangePassword,
    DisableStaff,
    LogIn,
    LoginResult,
    ResumeSession,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
PASSWORD = "dobre-haslo-2026"


def login(
    app: App, at: datetime, password: str = PASSWORD, address: str = "10.0.0.1"
) -> LoginResult:
    return app.handle(LogIn("anna", password, address), now=at)


@pytest.fixture
def staffed(app: App) -> App:
    app.handle(AddStaff("Anna", PASSWORD, Role.LIBRARIAN, "w63"), now=T0)
    return app


def test_a_session_ends_after_the_idle_timeout(staffed: App) -> None:
    result = login(staffed, T0)
    assert result.member is not None and result.member.branch_id == "w63"
    assert result.token is not None
    later = T0 + timedelta(minutes=29)
    assert staffed.handle(ResumeSession(result.token), now=later) is not None
    # Used at 9:29, so it lasts until 9:59; unused for 31 minutes after that it is gone.
    assert staffed.handle(ResumeSession(result.token), now=later + timedelta(minutes=29))
    gone = later + timedelta(minutes=29) + timedelta(minutes=31)
    assert staffed.handle(ResumeSession(result.token), now=gone) is None
    assert staffed.handle(ResumeSession(result.token), now=T0) is None  # ended for good


def test_five_failures_lock_the_login_for_fifteen_minutes(staffed: App) -> None:
    for minute in range(5):
        assert login(staffed, T0 + timedelta(minutes=minute), "zle-haslo-00").member is None
    locked = login(staffed, T0 + timedelta(minutes=5))
    assert locked.member is None and "Zbyt wiele" in locked.message
    # From another address the login itself is still locked.
    assert login(staffed, T0 + timedelta(minutes=6), address="10.0.0.2").member is None
    assert login(staffed, T0 + timedelta(minutes=4 + 15, seconds=1)).member is not None


def test_failures_from_one_address_lock_it_for_every_login(staffed: App) -> None:
    for n in range(5):
        staffed.handle(LogIn(f"nobody{n}", "x" * 12, "10.9.9.9"), now=T0)
    assert login(staffed, T0 + timedelta(minutes=1), address="10.9.9.9").member is None
    assert login(staffed, T0 + timedelta(minutes=1), address="10.0.0.1").member is not None


def test_a_new_password_or_a_disabled_account_ends_its_sessions(staffed: App) -> None:
    first = login(staffed, T0)
    assert first.token is not None
    staffed.handle(ChangePassword("anna", "nowe-haslo-2026"), now=T0)
    assert staffed.handle(ResumeSession(first.token), now=T0) is None
    assert login(staffed, T0).member is None
    second = login(staffed, T0, "nowe-haslo-2026")
    assert second.token is not None
    staffed.handle(DisableStaff("anna"), now=T0)
    assert staffed.handle(ResumeSession(second.token), now=T0) is None
    assert login(staffed, T0, "nowe-haslo-2026").member is None


def test_accounts_are_checked_before_they_are_made(staffed: App) -> None:
    with pytest.raises(CommandRejected, match="co najmniej 10"):
        staffed.handle(AddStaff("ewa", "krotkie", Role.HEAD), now=T0)
    with pytest.raises(CommandRejected, match="podaj --branch"):
        staffed.handle(AddStaff("ewa", PASSWORD, Role.LIBRARIAN), now=T0)
    with pytest.raises(CommandRejected, match="Nieznana placówka"):
        staffed.handle(AddStaff("ewa", PASSWORD, Role.LIBRARIAN, "w99"), now=T0)
    with pytest.raises(CommandRejected, match="już istnieje"):
        staffed.handle(AddStaff("ANNA", PASSWORD, Role.HEAD), now=T0)
