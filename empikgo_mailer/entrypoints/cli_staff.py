"""`empikgo-mailer staff ...`: console accounts. The password comes from a hidden prompt
(typed twice) or from standard input with --password-stdin, never from an argument,
which would stay in the shell history and in the process list."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.domain.staff import Role
from empikgo_mailer.entrypoints.cli_support import app_command
from empikgo_mailer.entrypoints.click_pl import PolishGroup
from empikgo_mailer.handlers.staff import AddStaff, ChangePassword, DisableStaff

password_stdin = click.option(
    "--password-stdin",
    is_flag=True,
    help="Czytaj hasło z pierwszej linii standardowego wejścia (do skryptów).",
)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Hasło", hide_input=True, confirmation_prompt="Powtórz hasło"))


@click.group(cls=PolishGroup)
def staff() -> None:
    """Konta pracowników w konsoli przeglądarkowej."""


@staff.command("add")
@click.option("--login", required=True, metavar="LOGIN", help="Login (małe litery, cyfry, . - _).")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    required=True,
    help="librarian: jedna placówka; head: wszystkie placówki; admin: także konta i dziennik.",
)
@click.option("--branch", "branch_id", metavar="PLACÓWKA", help="Placówka bibliotekarza.")
@password_stdin
@app_command
def staff_add(
    app: App, now: datetime, login: str, role: str, branch_id: str | None, password_stdin: bool
) -> int:
    """Dodaj konto pracownika."""
    app.handle(AddStaff(login, _password(password_stdin), Role(role), branch_id), now=now)
    click.echo(f"Dodano konto „{login.strip().lower()}” ({Role(role).label}).")
    return ExitCode.OK


@staff.command("passwd")
@click.option("--login", required=True, metavar="LOGIN", help="Login konta.")
@password_stdin
@app_command
def staff_passwd(app: App, now: datetime, login: str, password_stdin: bool) -> int:
    """Ustaw nowe hasło (kończy otwarte sesje tego konta)."""
    app.handle(ChangePassword(login, _password(password_stdin)), now=now)
    click.echo(f"Zmieniono hasło konta „{login.strip().lower()}”.")
    return ExitCode.OK


@staff.command("disable")
@click.option("--login", required=True, metavar="LOGIN", help="Login konta.")
@app_command
def staff_disable(app: App, now: datetime, login: str) -> int:
    """Zablokuj konto (kończy jego sesje; historia w dzienniku zostaje)."""
    app.handle(DisableStaff(login), now=now)
    click.echo(f"Zablokowano konto „{login.strip().lower()}”.")
    return ExitCode.OK
