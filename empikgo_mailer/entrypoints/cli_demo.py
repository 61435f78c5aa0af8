"""`empikgo-mailer demo`: a month's first morning on throwaway servers, to watch."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

import click

from empikgo_mailer.adapters.holidays_pl import PolishHolidays
from empikgo_mailer.domain.calendar import LibraryCalendar
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.domain.month import Month
from empikgo_mailer.entrypoints.click_pl import PolishCommand
from empikgo_mailer.rehearsal.demo import DemoError, run_demo


@click.command(cls=PolishCommand)
@click.option("--port", default=8080, show_default=True, help="Port konsoli na 127.0.0.1.")
@click.option(
    "--month",
    "month_text",
    metavar="RRRR-MM",
    help="Miesiąc, którego pierwszy poranek pokazać, dowolny: miniony albo przyszły "
    "(domyślnie bieżący).",
)
def demo(port: int, month_text: str | None) -> int:
    """Próba generalna: pierwszy poranek miesiąca na tymczasowym Dovecocie i serwerze SMTP,
    z demonem i konsolą pod http://127.0.0.1:8080 (do Ctrl-C)."""
    calendar = LibraryCalendar(ZoneInfo("Europe/Warsaw"), PolishHolidays())
    real = partial(datetime.now, calendar.zone)
    try:
        month = Month.parse(month_text) if month_text else calendar.month_of(real())
    except ValueError:
        raise click.BadParameter("miesiąc ma postać RRRR-MM", param_hint="--month") from None
    try:
        return run_demo(port, calendar=calendar, month=month, real=real)
    except DemoError as exc:
        click.echo(f"Demo: {exc}", err=True)
        return ExitCode.USAGE
