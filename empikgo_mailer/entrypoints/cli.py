"""The staff command line: `empikgo-mailer ...` (also `python -m empikgo_mailer`)."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from empikgo_mailer import __version__
from empikgo_mailer.adapters import schema
from empikgo_mailer.adapters.database import is_disk_full, unavailable_message
from empikgo_mailer.adapters.operations_queries import ping
from empikgo_mailer.adapters.pass_lock import PassBusy
from empikgo_mailer.bootstrap import App
from empikgo_mailer.config import (
    EXAMPLE_CONFIG,
    imap_password_variable,
    read_environment,
)
from empikgo_mailer.domain.eligibility import Rule
from empikgo_mailer.domain.errors import (
    PASS_EXIT_CODES,
    DiskFull,
    ExitCode,
    PassOutcome,
    ProgramError,
    pass_exit_code,
)
from empikgo_mailer.domain.explanations import (
    OUTCOME_LABELS,
    RULE_LABELS,
    VERDICT_LABELS,
    explain,
    explain_refusal,
)
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.polish import day_text, moment_text, month_name
from empikgo_mailer.entrypoints.cli_demo import demo
from empikgo_mailer.entrypoints.cli_fines import fines, loans
from empikgo_mailer.entrypoints.cli_month import (
    codes_activations,
    legimi,
    month,
    report,
    service,
    web,
)
from empikgo_mailer.entrypoints.cli_operations import (
    backup_command,
    doctor,
    healthcheck,
    restore_command,
)
from empikgo_mailer.entrypoints.cli_staff import staff
from empikgo_mailer.entrypoints.cli_status import replies, status
from empikgo_mailer.entrypoints.cli_support import (
    MONTH,
    ClockChoice,
    PlatformType,
    ProgressBar,
    Runtime,
    app_command,
    card_option,
    clock_options,
    echo_columns,
    echo_json,
    echo_problems,
    json_fields,
    json_option,
    platform_option,
    runtime_of,
)
from empikgo_mailer.entrypoints.click_pl import PolishGroup, polish_error
from empikgo_mailer.entrypoints.daemon import Daemon, Runner, RunReport, StopRequested
from empikgo_mailer.entrypoints.logs import LOG_FORMATS, LogFormat, configure_logging
from empikgo_mailer.handlers.codes import CheckEligibility, GiveCode
from empikgo_mailer.handlers.patrons import ImportPatrons
from empikgo_mailer.handlers.pools import ImportCodes

log = logging.getLogger("empikgo_mailer")


@click.group(cls=PolishGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_option",
    metavar="PLIK",
    help="Plik konfiguracji (domyślnie $EMPIKGO_CONFIG albo config/empikgo.toml).",
)
@click.option("-v", "--verbose", count=True, help="Więcej komunikatów w dzienniku (-vv: debug).")
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    help="Dziennik jako tekst albo JSON, jeden wiersz na zdarzenie "
    "(domyślnie $EMPIKGO_LOG_FORMAT albo text).",
)
@click.option(
    "--wait-for-schema",
    "wait_for_schema",
    type=click.IntRange(min=0),
    metavar="SEKUNDY",
    help="Polecenie, które potrzebuje bazy danych, czeka do tylu sekund, aż baza będzie "
    "osiągalna i „init” utworzy lub zaktualizuje jej schemat (usługi startujące razem z "
    "„init”, np. w kontenerach; domyślnie $EMPIKGO_WAIT_FOR_SCHEMA albo 0: bez czekania).",
)
@click.version_option(
    __version__,
    "-V",
    "--version",
    prog_name="empikgo-mailer",
    message="%(prog)s %(version)s",
    help="Pokaż wersję programu i zakończ.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    config_option: str | None,
    verbose: int,
    log_format: LogFormat | None,
    wait_for_schema: int | None,
) -> None:
    """empikgo-mailer: kody Empik Go i Legimi dla czytelników biblioteki."""
    env = read_environment()
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    chosen = log_format or env.get("EMPIKGO_LOG_FORMAT", "text")
    if chosen not in LOG_FORMATS:
        raise click.BadParameter(
            f"„{chosen}” — dozwolone: text, json", param_hint="EMPIKGO_LOG_FORMAT"
        )
    configure_logging(level, "json" if chosen == "json" else "text")
    if wait_for_schema is None:
        wait_for_schema = _seconds_from_env(env, "EMPIKGO_WAIT_FOR_SCHEMA")
    ctx.obj = Runtime(config_option, env, wait_for_schema=wait_for_schema)


def _seconds_from_env(env: dict[str, str], name: str) -> int:
    """A whole number of seconds from the environment (0 when not set)."""
    text = env.get(name, "").strip()
    if not text:
        return 0
    if not text.isdigit():
        raise click.BadParameter(f"„{text}” — podaj liczbę sekund, np. 60", param_hint=name)
    return int(text)


@cli.command("example-config")
def example_config() -> int:
    """Wypisz przykładową konfigurację z opisem każdej opcji (do skopiowania i edycji)."""
    click.echo(EXAMPLE_CONFIG.read_text(encoding="utf-8"), nl=False)
    return ExitCode.OK


@cli.command()
@click.option(
    "--wait",
    "wait_seconds",
    type=click.IntRange(0, 3600),
    default=0,
    metavar="SEKUNDY",
    help="Czekaj tyle na bazę danych, która dopiero startuje (np. w kontenerze).",
)
@click.pass_context
def init(ctx: click.Context, wait_seconds: int) -> int:
    """Utwórz bazę danych albo zaktualizuj jej schemat (można uruchamiać wielokrotnie)."""
    app = runtime_of(ctx).app(require_schema=False)
    app.db.make_home()
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            ping(app.db)
            break
        except (OperationalError, DBAPIError) as exc:
            if time.monotonic() >= deadline:
                raise
            log.info("the database does not answer yet (%s); waiting", type(exc).__name__)
            time.sleep(1.0)
    before, after = schema.upgrade(app.db)
    where = make_url(app.db.url).render_as_string(hide_password=True)
    if before == after:
        click.echo(f"Baza danych jest aktualna (wersja schematu {after}): {where}")
    elif before is None:
        click.echo(f"Utworzono bazę danych (wersja schematu {after}): {where}")
    else:
        click.echo(f"Zaktualizowano bazę danych z wersji {before} do {after}: {where}")
    return ExitCode.OK


@cli.group(cls=PolishGroup)
def patrons() -> None:
    """Czytelnicy: import z systemu bibliotecznego."""


@patrons.command("import")
@click.argument("file", metavar="PLIK", type=click.Path(path_type=Path))
@app_command
def patrons_import(app: App, now: datetime, file: Path) -> int:
    """Wczytaj czytelników z arkusza .xlsx albo pliku CSV (aktualizacja po numerze karty).

    Kolumny: numer karty, imię, nazwisko, e-mail, aktywny, data potwierdzenia danych,
    saldo (nagłówki polskie albo card_number, first_name, last_name, email, active,
    contact_confirmed_on, balance; inne nazwy: [import_columns.patrons] w konfiguracji).
    CSV w UTF-8 (z BOM lub bez) albo Windows-1250, separator przecinek, średnik albo
    tabulator; z arkusza .xlsx ten, który ma takie nagłówki (inaczej pierwszy).
    """
    with ProgressBar("Wczytywanie czytelników") as bar:
        report = app.handle(ImportPatrons(file, actor="cli"), now=now, progress=bar)
    echo_columns(report.columns)
    click.echo(
        f"Zaimportowano czytelników: {report.imported} (nowych: {report.created}, "
        f"zaktualizowanych: {report.updated}); odrzuconych wierszy: {len(report.rejected)}."
    )
    return echo_problems(report.rejected)


@cli.group(cls=PolishGroup)
def codes() -> None:
    """Pule kodów: wczytywanie kodów na miesiąc."""


@codes.command("import")
@click.argument("file", metavar="PLIK", type=click.Path(path_type=Path))
@platform_option
@click.option("--month", type=MONTH, required=True, help="Miesiąc puli, RRRR-MM.")
@click.option("--branch", "branch_id", metavar="PLACÓWKA", help="Placówka (tylko Empik Go).")
@app_command
def codes_import(
    app: App, now: datetime, file: Path, platform: Platform, month: Month, branch_id: str | None
) -> int:
    """Wczytaj kody z pliku: jeden kod w linii, CSV z kolumną „kod” albo arkusz .xlsx."""
    report = app.handle(ImportCodes(file, platform, month, branch_id, actor="cli"), now=now)
    where = f", placówka {branch_id}" if branch_id else ""
    click.echo(
        f"Wczytano kodów {platform.display_name} na {month_name(month)}{where}: {report.loaded}; "
        f"odrzuconych: {len(report.refused)}."
    )
    return echo_problems(report.refused)


@cli.command()
@click.option(
    "--branch", "branch_id", metavar="PLACÓWKA", required=True, help="Placówka wydająca kod."
)
@card_option
@platform_option
@app_command
def issue(app: App, now: datetime, branch_id: str, card_number: str, platform: Platform) -> int:
    """Wydaj kod czytelnikowi w placówce (kod 0: wydano, 3: odmowa)."""
    command = GiveCode(card_number, platform, Channel.DESK, branch_id, actor=f"desk:{branch_id}")
    decision = app.handle(command, now=now)
    refusal = decision.refusal
    if refusal is not None:
        assert refusal.reason is not None
        click.echo(f"Odmowa: {explain_refusal(refusal.reason, dict(refusal.details))}")
        return ExitCode.REFUSED
    branch = app.library.branch(branch_id)
    click.echo(
        app.templates.render(
            "desk_slip.txt.j2",
            library_unit=branch.name,
            branch_address=branch.address,
            platform=platform.display_name,
            code=decision.code,
            activation_url=app.library.activation_url(platform),
            last_day=day_text(app.library.calendar.month_of(now).last_day),
            issued_at=moment_text(now),
        ),
        nl=False,
    )
    return ExitCode.OK


@cli.command()
@card_option
@click.option("--platform", type=PlatformType(), default="empik-go", help="Domyślnie empik-go.")
@click.option("--branch", "branch_id", metavar="PLACÓWKA", help="Pula placówki (Empik Go).")
@click.option("--name", "written_name", metavar="TEKST", help="Imię i nazwisko z prośby.")
@click.option("--sender", metavar="ADRES", help="Adres nadawcy prośby e-mail.")
@json_option
@app_command
def check(
    app: App,
    now: datetime,
    card_number: str,
    platform: Platform,
    branch_id: str | None,
    written_name: str | None,
    sender: str | None,
    as_json: bool,
) -> int:
    """Sprawdź każdy warunek wydania kodu i pokaż, dlaczego jest (nie)spełniony."""
    command = CheckEligibility(card_number, platform, branch_id, written_name, sender)
    assessment = app.handle(command, now=now)
    month = app.library.calendar.month_of(now)
    if as_json:
        document = {
            "card": card_number,
            "month": str(month),
            "platform": platform.value,
            "eligible": assessment.eligible,
            "rules": [
                {**json_fields(r, "rule verdict reason"), "explanation": explain(r)}
                for r in assessment.results
            ],
        }
        echo_json(document)
    else:
        click.echo(f"Karta {card_number} — {platform.display_name}, {month_name(month)}:")
        for result in assessment.results:
            label = RULE_LABELS[result.rule]
            click.echo(f"  {VERDICT_LABELS[result.verdict]:<4} {label}: {explain(result)}")
        refusal = assessment.refusal
        pool = next(r for r in assessment.results if r.rule is Rule.POOL)
        if refusal is None and "by_branch" in pool.details:
            click.echo("Wynik: czytelnik spełnia warunki; kod zależy od puli placówki (--branch).")
        elif refusal is None:
            click.echo("Wynik: kod może zostać wydany.")
        else:
            assert refusal.reason is not None
            click.echo(f"Wynik: odmowa — {explain_refusal(refusal.reason, dict(refusal.details))}")
    return ExitCode.OK if assessment.eligible else ExitCode.REFUSED


# The pass's exit codes for `run --help`, in the order `pass_exit_code` tries them.
_PASS_CODES_PL = {
    ExitCode.DISK_FULL: "brak miejsca na dysku bazy danych: przebieg przerwany, nic nie\n"
    "     przepadło; zwolnij miejsce, następny przebieg dokończy pracę",
    ExitCode.DATABASE: "inny przebieg obsługuje tę bazę danych (albo baza jest niedostępna)",
    ExitCode.PHASE_FAILED: "część przebiegu nie powiodła się (skrzynka, serwer SMTP albo baza\n"
    "     danych nieosiągalne, albo błąd); reszta została zrobiona",
    ExitCode.UNDELIVERED_CODES: "kod nie dotarł: serwer na stałe odrzucił albo zwrócił\n"
    "     odpowiedź z kodem (lista w „status”, działania na pulpicie konsoli)",
    ExitCode.REPLIES_FAILED: "serwer SMTP na stałe odrzucił odpowiedzi (lista w „status”)",
}
RUN_EPILOG = (
    "\b\nKod wyjścia przebiegu (--once); gdy pasuje kilka, pierwszy z listy:\n"
    + "".join(f"  {int(code)}  {_PASS_CODES_PL[code]}\n" for _, code in PASS_EXIT_CODES)
    + "  0  wszystko w porządku"
)


@cli.command(epilog=RUN_EPILOG)
@click.option(
    "--once", is_flag=True, help="Jeden przebieg: poczta, decyzje, wysyłka; potem koniec."
)
@click.option(
    "--only",
    type=click.Choice([runner.value for runner in Runner]),
    help="Tylko jedna część pracy, dla osobnej usługi: collect (odbiór poczty, "
    "segregacja), decide (decyzje, zadania okresowe) albo send (wysyłka odpowiedzi). "
    "Bez tej opcji: wszystko.",
)
@clock_options
@click.pass_context
def run(ctx: click.Context, once: bool, only: str | None, clock_choice: ClockChoice) -> int:
    """Demon poczty: zbiera prośby „EMPIK GO”, wydaje kody w godzinach pracy, wysyła odpowiedzi."""
    runtime = runtime_of(ctx)
    if not once:
        daemon = _daemon(runtime, once, only, clock_choice)
        log.info("mail daemon started")
        daemon.run_forever()
        log.info("mail daemon stopped")
        return ExitCode.OK
    # A pass ends with its exit code (`pass_exit_code`), from the start (a full disk is
    # met as the database is opened) to the end.
    try:
        daemon = _daemon(runtime, once, only, clock_choice)
        report = daemon.run_once()
    except StopRequested:
        click.echo("Przerwano (sygnał); reszta poczeka na następny przebieg.", err=True)
        return ExitCode.OK
    except DiskFull as full:
        click.echo(f"{full.label}: {full.message(DiskFull.THEN_NEXT_RUN)}", err=True)
        return pass_exit_code(PassOutcome(disk_full=True))
    except PassBusy as busy:
        click.echo(f"{busy.label}: {busy}", err=True)
        return pass_exit_code(PassOutcome(busy=True))
    _echo_pass(daemon.app, report)
    return pass_exit_code(report.outcome())


def _daemon(runtime: Runtime, once: bool, only: str | None, clock_choice: ClockChoice) -> Daemon:
    """The daemon of `run`, stopped by SIGTERM and Ctrl-C after the item in hand."""
    app = runtime.app()
    if clock_choice.now is not None and not once:
        raise click.BadParameter(
            "--now działa tylko razem z --once (zegar, który biegnie: --from)",
            param_hint="'--now'",
        )
    daemon = Daemon(app, runtime.clock(clock_choice), only=None if only is None else Runner(only))

    def request_stop(signum: int, _frame: object) -> None:
        log.info("signal %d: finishing the current item", signum)
        daemon.request_stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return daemon


def _echo_pass(app: App, report: RunReport) -> None:
    """What a pass did, and on stderr what went wrong (for cron's mail)."""
    queued = sum(c.queued for c in report.collected.values())
    decided = (
        ", ".join(f"{OUTCOME_LABELS.get(k, k)}: {v}" for k, v in sorted(report.decided.items()))
        or "brak"
    )
    sent = report.sent
    # A send phase cut short by a full disk (or a sender beside the pass that met it)
    # leaves no count behind; only a pass that stopped after sending (copying) knows it.
    unknown = report.disk_full is not None and not (report.stopped_in or "").startswith("copy")
    how_many = "nie wiadomo ile (przebieg przerwany)" if unknown else str(sent.sent)
    click.echo(f"Nowe prośby: {queued}; decyzje: {decided}; wysłane odpowiedzi: {how_many}.")
    if sent.deferred or sent.failed:
        click.echo(
            f"Odpowiedzi odłożone na później: {sent.deferred}; niewysłane (błąd): {sent.failed}."
        )
    if sent.failed:
        click.echo(
            f"Uwaga: serwer SMTP na stałe odrzucił odpowiedzi: {sent.failed} "
            "(adresaci i powody: „empikgo-mailer status”).",
            err=True,
        )
    undelivered = report.outcome().undelivered_codes
    if undelivered:
        click.echo(
            f"Uwaga: kody, które nie dotarły do czytelników: {undelivered} (karty i odpowiedzi "
            "serwera: „empikgo-mailer status”; wyślij ponownie albo zwróć do puli w konsoli).",
            err=True,
        )
    if sent.unreachable is not None:
        click.echo(f"Uwaga: serwer SMTP jest nieosiągalny ({sent.unreachable}).", err=True)
    if sent.paused_until is not None:
        at = moment_text(app.library.calendar.local(sent.paused_until))
        click.echo(f"Uwaga: wysyłka wstrzymana do {at} (serwer SMTP niedostępny).", err=True)
    for error in report.errors:
        click.echo(f"Uwaga: część przebiegu nie powiodła się — {error}.", err=True)
    for job in report.failed_jobs:
        click.echo(f"Uwaga: zadanie {job} nie powiodło się (szczegóły w „status”).", err=True)
    for branch_id in report.unreachable:
        variable = imap_password_variable(branch_id)
        click.echo(
            f"Uwaga: skrzynka placówki {branch_id} jest nieosiągalna "
            f"(sprawdź [branches.{branch_id}.imap] i hasło w {variable}).",
            err=True,
        )
    if report.disk_full is not None:
        full = report.disk_full
        click.echo(f"{full.label}: {full.message(DiskFull.THEN_NEXT_RUN)}", err=True)


for command in (
    status, replies, legimi, loans, fines, web, month, service, report, staff, demo, doctor
):  # fmt: skip
    cli.add_command(command)
cli.add_command(healthcheck)
cli.add_command(backup_command, "backup")
cli.add_command(restore_command, "restore")
codes.add_command(codes_activations)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code. Errors are one Polish line, never a traceback."""
    try:
        result = cli.main(args=argv, prog_name="empikgo-mailer", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.Abort:
        click.echo("Przerwano.", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"Błąd: {polish_error(exc.format_message())}", err=True)
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            click.echo(f"Pomoc: {exc.ctx.command_path} --help", err=True)
        return ExitCode.USAGE
    except ProgramError as exc:
        # A refusal is the command's answer (stdout); the rest are errors (stderr).
        click.echo(f"{exc.label}: {exc}", err=exc.exit_code != ExitCode.REFUSED)
        return exc.exit_code
    except (OperationalError, DBAPIError) as exc:
        if is_disk_full(exc):  # one the database's own adapters did not see first
            full = DiskFull()
            click.echo(f"{full.label}: {full}", err=True)
            return full.exit_code
        click.echo(f"Błąd: {unavailable_message(exc)}", err=True)
        return ExitCode.DATABASE
    except Exception as exc:
        log.exception("unexpected error")
        click.echo(
            f"Błąd wewnętrzny programu: {type(exc).__name__}. Szczegóły w dzienniku.", err=True
        )
        return ExitCode.INTERNAL
    return int(result) if isinstance(result, int) else ExitCode.OK


if __name__ == "__main__":
    raise SystemExit(main())
