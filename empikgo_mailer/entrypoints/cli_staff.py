"""`empikgo-mailer staff ...`: console accounts. The password comes from a hidden prompt
(typed twice) or from standard input with --password-stdin, never from an argument,
which would stay in the shell history and in the process list."""

from __future__ import annotations

import sys

import click

from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.domain.staff import Role
from empikgo_mailer.entrypoints.cli_support import now_option, runtime_of
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
    return str(
        click.prompt(
            "Hasło",
            hide_input=True,
            confirmation_prompt="Powtórz hasło",
        )
    )


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
@now_option
@click.pass_context
def staff_add(
    ctx: click.Context,
    login: str,
    role: str,
    branch_id: str | None,
    password_stdin: bool,
    now_text: str | None,
) -> int:
    """Dodaj konto pracownika."""
    runtime = runtime_of(ctx)
    app = runtime.app()
    password = _password(password_stdin)
    app.handle(AddStaff(login, password, Role(role), branch_id), now=runtime.now(now_text))
    click.echo(f"Dodano konto „{login.strip().lower()}” ({Role(role).label}).")
    return ExitCode.OK


@staff.command("passwd")
@click.option("--login", required=True, metavar="LOGIN", help="Login konta.")
@password_stdin
@now_option
@click.pass_context
def staff_passwd(ctx: click.Context, login: str, password_stdin: bool, now_text: str | None) -> int:
    """Ustaw nowe hasło (kończy otwarte sesje tego konta)."""
    runtime = runtime_of(ctx)
    app = runtime.app()
    password = _password(password_stdin)
    app.handle(ChangePassword(login, password), now=runtime.now(now_text))
    click.echo(f"Zmieniono hasło konta „{login.strip().lower()}”.")
    return ExitCode.OK


@staff.command("disable")
@click.option("--login", required=True, metavar="LOGIN", help="Login konta.")
@now_option
@click.pass_context
def staff_disable(ctx: click.Context, login: str, now_text: str | None) -> int:
    """Zablokuj konto (kończy jego sesje; historia w dzienniku zostaje)."""
    runtime = runtime_of(ctx)
    app = runtime.app()
    app.handle(DisableStaff(login), now=runtime.now(now_text))
    click.echo(f"Zablokowano konto „{login.strip().lower()}”.")
    return ExitCode.OK
