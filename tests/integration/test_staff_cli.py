"""`empikgo-mailer staff ...` as staff run it: the password from stdin, never echoed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from empikgo_mailer.domain.errors import ExitCode
from tests.support.config import write_config


def staff(
    config: Path, *args: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "empikgo_mailer", "--config", str(config), "staff", *args],
        input=None if password is None else password + "\n",
        capture_output=True,
        text=True,
        check=False,
    )


def test_accounts_are_added_changed_and_disabled(tmp_path: Path) -> None:
    database = tmp_path / "staff.sqlite3"
    config = write_config(tmp_path, f"sqlite:///{database}")
    subprocess.run(
        [sys.executable, "-m", "empikgo_mailer", "--config", str(config), "init"], check=True,
        capture_output=True,
    )  # fmt: skip
    secret = "tajne-haslo-konsoli"
    added = staff(
        config, "add", "--login", "Anna", "--role", "librarian", "--branch", "w63",
        "--password-stdin", password=secret,
    )  # fmt: skip
    assert added.returncode == ExitCode.OK and "Dodano konto „anna” (bibliotekarz)" in added.stdout
    short = staff(
        config, "add", "--login", "ewa", "--role", "head", "--password-stdin", password="123"
    )
    assert short.returncode == ExitCode.BAD_INPUT and "co najmniej 10 znaków" in short.stderr
    wrong = staff(
        config, "add", "--login", "ewa", "--role", "chief", "--password-stdin", password=secret
    )
    assert wrong.returncode == ExitCode.USAGE
    changed = staff(config, "passwd", "--login", "anna", "--password-stdin", password=secret + "2")
    assert changed.returncode == ExitCode.OK
    assert staff(config, "disable", "--login", "anna").returncode == ExitCode.OK
    for run in (added, short, wrong, changed):
        assert secret not in run.stdout + run.stderr
    with sqlite3.connect(database) as connection:
        stored, disabled = connection.execute(
            "SELECT password_hash, disabled FROM staff_account WHERE login = 'anna'"
        ).fetchone()
        actions = [a for (a,) in connection.execute("SELECT action FROM audit_event ORDER BY id")]
    assert stored.startswith("$argon2id$") and secret not in stored and disabled
    assert actions == ["staff-add", "staff-passwd", "staff-disable"]
