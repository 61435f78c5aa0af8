"""Staff commands for the life of a month: Legimi claims, the web door, activations,
closing a month, the service switch and the monthly report."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from empikgo_mailer.adapters.report_csv import write_csv
from empikgo_mailer.bootstrap import App
from empikgo_mailer.config import config_path
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.domain.explanations import OUTCOME_LABELS
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.polish import day_text, moment_text, month_name
from empikgo_mailer.domain.report import MonthReport, place_name
from empikgo_mailer.entrypoints.cli_support import (
    MONTH,
    ClockChoice,
    app_command,
    card_option,
    clock_options,
    echo_problems,
    platform_option,
    runtime_of,
)
from empikgo_mailer.entrypoints.click_pl import PolishCommand, PolishGroup
from empikgo_mailer.entrypoints.web_workers import WORKER_CLOCK, WORKER_CONFIG, web_process
from empikgo_mailer.handlers.activations import ImportActivations
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.legimi import ClaimLegimiCode
from empikgo_mailer.handlers.month_close import CloseMonth
from empikgo_mailer.handlers.report import ShowMonthReport
from empikgo_mailer.handlers.service import SwitchService

log = logging.getLogger("empikgo_mailer")
month_option = click.option("--month", "which", type=MONTH, required=True, help="Miesiąc RRRR-MM.")


@click.group(cls=PolishGroup)
def legimi() -> None:
    """Kody Legimi pobierane z konta czytelnika."""


@legimi.command("claim")
@card_option
@app_command
def legimi_claim(app: App, now: datetime, card_number: str) -> int:
    """Pobierz kod Legimi dla czytelnika, jak przycisk w katalogu (kod 0: wydano, 3: odmowa)."""
    answer = app.handle(ClaimLegimiCode(card_number, actor="cli"), now=now)
    click.echo(answer.message)
    if not answer.granted:
        return ExitCode.REFUSED
    assert answer.activate_by is not None
    click.echo(f"Kod: {answer.code}")
    click.echo(f"Aktywacja: {app.library.activation_url(Platform.LEGIMI)}")
    click.echo(f"Aktywuj do: {day_text(answer.activate_by)} (kod działa na dwóch urządzeniach).")
    if answer.repeated:
        click.echo("(Ten sam kod co przy wcześniejszym pobraniu w tym miesiącu.)")
    return ExitCode.OK


@click.command(cls=PolishCommand)
@click.option("--host", metavar="ADRES", help="Adres nasłuchu (domyślnie z [web] host).")
@click.option("--port", type=int, metavar="PORT", help="Port (domyślnie z [web] port).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    metavar="N",
    help="Liczba procesów obsługujących żądania (domyślnie z [web] workers).",
)
@clock_options
@click.pass_context
def web(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    workers: int | None,
    clock_choice: ClockChoice,
) -> int:
    """Serwer HTTP dla katalogu: pobieranie kodów Legimi (opis API pod /docs)."""
    # Imported here: the web stack is heavy and every other command starts faster without it.
    import uvicorn  # noqa: PLC0415

    from empikgo_mailer.entrypoints.web import SERVER_OPTIONS, create_web_app  # noqa: PLC0415

    runtime = runtime_of(ctx)
    if clock_choice.start is not None and clock_choice.anchor is None:
        # Every worker's replayed clock stands for the same real instant.
        clock_choice = dataclasses.replace(clock_choice, anchor=datetime.now(UTC).isoformat())
    clock = runtime.clock(clock_choice)  # a bad --now is refused here, not by every worker
    app = runtime.app()
    if app.settings.web.api_token is None:
        raise CommandRejected(
            "Brak tokenu dla katalogu: ustaw zmienną EMPIKGO_API_TOKEN (w środowisku lub .env)."
        )
    host = host or app.settings.web.host
    port = port or app.settings.web.port
    workers = workers or app.settings.web.workers
    log.warning("serving the catalogue API on http://%s:%d (%d workers)", host, port, workers)
    if workers == 1:
        web_process()
        # log_config=None: uvicorn's lines go through our handler (`logs`), JSON included.
        uvicorn.run(
            create_web_app(app, clock), host=host, port=port, log_level="warning",
            log_config=None, **SERVER_OPTIONS,
        )  # fmt: skip
        return ExitCode.OK
    # Each worker is a process of its own that builds the app again from the same
    # configuration file and clock, passed down in the environment.
    app.db.dispose()
    os.environ[WORKER_CONFIG] = str(config_path(runtime.config_option, runtime.env).resolve())
    os.environ[WORKER_CLOCK] = clock_choice.to_json()
    uvicorn.run(
        "empikgo_mailer.entrypoints.web_workers:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        log_config=None,
        **SERVER_OPTIONS,
    )
    return ExitCode.OK


@click.command("activations", cls=PolishCommand)
@click.argument("file", metavar="PLIK", type=click.Path(path_type=Path))
@platform_option
@app_command
def codes_activations(app: App, now: datetime, file: Path, platform: Platform) -> int:
    """Wczytaj raport aktywacji z panelu platformy, CSV albo .xlsx (kolumny: kod, czas
    aktywacji).

    Można wczytywać wielokrotnie. Późny raport, który dowodzi aktywacji w terminie,
    zdejmuje blokadę za nieaktywowany kod.
    """
    report = app.handle(ImportActivations(file, platform, actor="cli"), now=now)
    click.echo(
        f"Aktywacje {platform.display_name}: nowe {report.recorded}, już znane "
        f"{report.already_known}, zdjęte blokady {report.bans_lifted}."
    )
    if report.unknown:
        click.echo(f"Nieznane kody (pominięte): {len(report.unknown)}")
        echo_problems(report.unknown)
    if report.refused:
        click.echo(f"Błędne wiersze (pominięte): {len(report.refused)}")
    return echo_problems(report.refused)


@click.group(cls=PolishGroup)
def month() -> None:
    """Zamykanie miesiąca: niewykorzystane i nieaktywowane kody, blokady."""


@month.command("close")
@month_option
@app_command
def month_close(app: App, now: datetime, which: Month) -> int:
    """Zamknij miesiąc (robi to też demon o 00:05 1. dnia); ponowne uruchomienie nic nie zmienia."""
    report = app.handle(CloseMonth(which, actor="cli"), now=now)
    local = app.library.calendar.local(report.closed_at)
    if report.already_closed:
        click.echo(
            f"Miesiąc {month_name(report.month)} był już zamknięty ({moment_text(local)}); "
            "nic nie zmieniono."
        )
    else:
        click.echo(f"Zamknięto miesiąc {month_name(report.month)}.")
    click.echo(
        f"  niewykorzystane kody: {report.lapsed}; nieaktywowane kody: {report.expired}; "
        f"czytelnicy z blokadą na 3 miesiące: {report.banned}"
    )
    if report.undelivered:
        click.echo(f"  kody, które nie dotarły (bez blokady dla czytelników): {report.undelivered}")
    return ExitCode.OK


@click.group(cls=PolishGroup)
def service() -> None:
    """Włączanie i wyłączanie wydawania kodów platformy."""


reason_option = click.option("--reason", metavar="TEKST", help="Powód (widoczny w status).")


@service.command("off")
@platform_option
@reason_option
@app_command
def service_off(app: App, now: datetime, platform: Platform, reason: str | None) -> int:
    """Wyłącz wydawanie kodów platformy (np. gdy skończyły się pieniądze)."""
    if not app.handle(SwitchService(platform, False, reason, actor="cli"), now=now):
        click.echo(f"Usługa {platform.display_name} już była wyłączona; nic nie zmieniono.")
        return ExitCode.OK
    click.echo(
        f"Usługa {platform.display_name} wyłączona: prośby e-mail dostają odpowiedź "
        "o wstrzymaniu, wydawanie w placówce i z konta jest wstrzymane."
    )
    return ExitCode.OK


@service.command("on")
@platform_option
@reason_option
@app_command
def service_on(app: App, now: datetime, platform: Platform, reason: str | None) -> int:
    """Włącz ponownie wydawanie kodów platformy."""
    changed = app.handle(SwitchService(platform, True, reason, actor="cli"), now=now)
    click.echo(f"Usługa {platform.display_name} {'włączona' if changed else 'już była włączona'}.")
    if not app.library.platform_enabled(platform):
        click.echo(
            f"Uwaga: w konfiguracji [platforms.{platform.value}] enabled = false, "
            "więc kody nadal nie są wydawane.",
            err=True,
        )
    return ExitCode.OK


def _wait_text(wait: timedelta | None) -> str:
    if wait is None:
        return "—"
    minutes = round(wait.total_seconds() / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return (f"{days} d " if days else "") + f"{hours} h {minutes:02d} min"


def _print_report(report: MonthReport, branch_names: dict[str, str]) -> None:
    click.echo(f"Raport za {month_name(report.month)}")
    if report.closed_at is None:
        click.echo("  (miesiąc nie jest zamknięty: kody nieaktywowane i niewykorzystane = 0)")
    for pool in report.pools:
        given = pool.given
        click.echo(f"{pool.platform.display_name} — {place_name(pool, branch_names)}")
        click.echo(
            f"  wczytane {pool.loaded}; wydane {pool.given_total} (e-mailem "
            f"{given[Channel.EMAIL]}, w placówce {given[Channel.DESK]}, z konta "
            f"{given[Channel.SELF_SERVICE]}); aktywowane {pool.activated}"
        )
        click.echo(
            f"  nieaktywowane {pool.expired}; niewykorzystane {pool.lapsed}; "
            f"czytelnicy z blokadą {pool.banned}"
        )
        refused = ", ".join(f"{OUTCOME_LABELS.get(k, k)}: {v}" for k, v in pool.refused.items())
        click.echo(f"  odmowy: {refused or 'brak'}")
        if pool.platform.pooled_per_branch:
            click.echo(
                f"  czas od prośby do odpowiedzi: mediana {_wait_text(pool.median_wait)}, "
                f"najdłużej {_wait_text(pool.longest_wait)}"
            )


CHART_FORMATS = (".png", ".svg", ".pdf")  # what matplotlib writes for `report --chart`


@click.command(cls=PolishCommand)
@month_option
@click.option("--csv", "csv_file", type=click.Path(path_type=Path), help="Zapisz też jako CSV.")
@click.option(
    "--chart",
    "chart_file",
    type=click.Path(path_type=Path),
    help="Wykres wydanych kodów na tle puli (.png, .svg albo .pdf).",
)
@app_command
def report(
    app: App, now: datetime, which: Month, csv_file: Path | None, chart_file: Path | None
) -> int:
    """Raport miesięczny: pule, wydane, aktywowane, utracone kody, odmowy, czas oczekiwania."""
    if chart_file is not None:
        if chart_file.suffix.lower() not in CHART_FORMATS:
            raise click.BadParameter(
                f"wykres zapisuję jako {', '.join(CHART_FORMATS)}", param_hint="'--chart'"
            )
        if importlib.util.find_spec("matplotlib") is None:
            # An optional extra: the container image leaves it out (160 MB); the console
            # draws its own charts.
            raise click.BadParameter(
                "wykresy wymagają pakietu matplotlib: pip install 'empikgo-mailer[charts]'",
                param_hint="'--chart'",
            )
    result = app.handle(ShowMonthReport(which), now=now)
    names = {branch_id: branch.name for branch_id, branch in app.library.branches.items()}
    _print_report(result, names)
    try:
        if csv_file is not None:
            write_csv(result, csv_file, names)
            click.echo(f"Zapisano CSV: {csv_file}")
        if chart_file is not None:
            # The chart stack (matplotlib) is heavy; only this option needs it.
            from empikgo_mailer.adapters.report_files import write_chart  # noqa: PLC0415

            write_chart(result, chart_file, names)
            click.echo(f"Zapisano wykres: {chart_file}")
    except OSError as exc:
        raise CommandRejected(f"Nie można zapisać pliku: {exc.strerror}: {exc.filename}") from None
    return ExitCode.OK
