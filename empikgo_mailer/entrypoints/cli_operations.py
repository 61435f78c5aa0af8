"""Commands for the library's IT person: `doctor`, `healthcheck`, `backup`, `restore`."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import urllib.error
import urllib.request
from datetime import datetime, time, timedelta
from pathlib import Path

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from empikgo_mailer.adapters import schema
from empikgo_mailer.adapters.backups import (
    BackupDone,
    Rotation,
    backup,
    backup_into,
    integrity,
    restore,
)
from empikgo_mailer.adapters.database import is_sqlite, unavailable_message
from empikgo_mailer.adapters.imap_mailbox import CONNECTION_ERRORS, MailboxUnavailable
from empikgo_mailer.adapters.operations_queries import ping
from empikgo_mailer.adapters.server_problems import server_text
from empikgo_mailer.adapters.smtp_problems import missing_password, smtp_problem
from empikgo_mailer.bootstrap import App
from empikgo_mailer.config import DOTENV, BranchSettings
from empikgo_mailer.domain.clock import Clock, real_seconds_until
from empikgo_mailer.domain.errors import ExitCode, ProgramError
from empikgo_mailer.entrypoints.cli_support import ClockChoice, clock_options, runtime_of
from empikgo_mailer.entrypoints.click_pl import PolishCommand
from empikgo_mailer.entrypoints.readiness import readiness

log = logging.getLogger("empikgo_mailer")
BACKUP_RETRY = timedelta(minutes=15)  # a failed nightly copy is tried again this soon


def _line(what: str, ok: bool, detail: str) -> bool:
    click.echo(f"{what}: {'OK' if ok else 'BŁĄD'} — {detail}")
    return ok


def _database(app: App) -> bool:
    where = make_url(app.db.url).render_as_string(hide_password=True)
    if app.db.file is not None and not app.db.file.exists():
        # A check creates nothing: an empty file here would hide a wrong data directory.
        return _line(
            "baza danych", False,
            f"{where}: nie ma takiego pliku; utwórz bazę („empikgo-mailer init”) albo sprawdź "
            "katalog danych (EMPIKGO_DATA_DIR, data_dir)",
        )  # fmt: skip
    try:
        ping(app.db)
    except DBAPIError as exc:
        return _line(
            "baza danych", False,
            f"{where}: {unavailable_message(exc).rstrip('.')} — sprawdź, czy serwer bazy działa, "
            "oraz adres (EMPIKGO_DATABASE_URL albo url w [database])",
        )  # fmt: skip
    except Exception as exc:  # not the driver's: said by name, with what to check
        return _line(
            "baza danych", False,
            f"{where}: nie można użyć bazy ({type(exc).__name__}) — sprawdź adres "
            "(EMPIKGO_DATABASE_URL albo url w [database]) i log programu",
        )  # fmt: skip
    current, head = schema.current_revision(app.db), schema.head_revision()
    if current != head:
        return _line(
            "baza danych", False, f"{where}: schemat {current or 'brak'}, potrzebny {head} (init)"
        )
    return _line("baza danych", True, f"{where}, schemat {current}")


def _mailbox(app: App, branch: BranchSettings) -> bool:
    s, folders = branch.imap, app.settings.mail.folders
    what = f"skrzynka {branch.id} ({s.username}@{s.host}:{s.port}, {s.security})"
    mailbox = app.mailbox_factory(s)
    try:
        mailbox.connect()
        wanted = [folders.answered, folders.rejected, folders.staff]
        if app.settings.mail.sent_folder:
            wanted.append(app.settings.mail.sent_folder)
        created = mailbox.ensure_folders(wanted)
        capabilities = mailbox.capabilities
    except MailboxUnavailable as exc:
        return _line(what, False, exc.detail)
    except CONNECTION_ERRORS as exc:  # refused by the server: the decision folders
        return _line(
            what, False,
            f"serwer IMAP nie utworzył folderów na decyzje ({server_text(exc)}): sprawdź "
            "nazwy w [mail.folders] i sent_folder w [mail] oraz prawa tej skrzynki",
        )  # fmt: skip
    finally:
        mailbox.close()
    missing = [c for c in ("IDLE", "MOVE") if c.encode() not in capabilities]
    detail = f"zalogowano, folder {s.folder} otwarty, foldery na decyzje są"
    if created:
        detail += f" (utworzono: {', '.join(created)})"
    detail += (
        "; IDLE i MOVE: są" if not missing else f"; brak {' i '.join(missing)} (działa wolniej)"
    )
    return _line(what, True, detail)


def _smtp(app: App) -> bool:
    s = app.settings.smtp
    what = f"serwer SMTP ({s.host}:{s.port}, {s.security})"

    async def check() -> str:
        async with app.transport_factory(s) as sender:
            return await sender.check()

    missing = missing_password(s)
    if missing is not None:
        return _line(what, False, missing.polish)
    try:
        offered = asyncio.run(check())
    except Exception as exc:  # whatever connecting raised, said in our words
        return _line(what, False, smtp_problem(exc, s).polish)
    login = "zalogowano" if s.username else "bez logowania"
    return _line(what, True, f"połączono, {login}, nic nie wysłano (serwer oferuje: {offered})")


def _drop_folder(app: App) -> bool:
    folder = app.settings.jobs.drop_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".doctor-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return _line(f"folder zrzutu ({folder})", False, f"brak zapisu: {exc.strerror}")
    return _line(f"folder zrzutu ({folder})", True, "istnieje, zapis możliwy")


@click.command(cls=PolishCommand)
@click.pass_context
def doctor(ctx: click.Context) -> int:
    """Sprawdź instalację: konfigurację, bazę, każdą skrzynkę, serwer SMTP i folder zrzutu.

    Jedna linia na sprawdzenie; nic nie jest wysyłane. Kod wyjścia 0 gdy wszystko działa,
    6 gdy któryś serwer albo folder zawodzi, 5 gdy baza danych.
    """
    runtime = runtime_of(ctx)
    app = runtime.app(require_schema=False)
    settings = app.settings
    _line(
        "konfiguracja",
        True,
        f"{settings.source.absolute()} (placówki: {', '.join(settings.branches)}; "
        f"strefa {settings.timezone})",
    )
    secrets_file = Path(DOTENV).resolve()
    click.echo(
        f"sekrety: ze zmiennych środowiska i z {secrets_file}"
        if secrets_file.is_file()
        else f"sekrety: ze zmiennych środowiska (brak pliku {secrets_file})"
    )
    source = "EMPIKGO_DATA_DIR" if runtime.env.get("EMPIKGO_DATA_DIR") else "data_dir w pliku"
    click.echo(f"katalog danych: {settings.data_dir} ({source})")
    if not _database(app):
        return ExitCode.DATABASE
    servers = [_mailbox(app, branch) for branch in settings.branches.values()]
    servers += [_smtp(app), _drop_folder(app)]
    return ExitCode.OK if all(servers) else ExitCode.UNREACHABLE


@click.command(cls=PolishCommand)
@click.option("--url", metavar="URL", help="Sprawdź adres HTTP (np. /healthz procesu web).")
@click.pass_context
def healthcheck(ctx: click.Context, url: str | None) -> int:
    """Dla HEALTHCHECK kontenera i monitoringu: 0 gdy gotowy, 1 gdy nie.

    Bez --url: baza odpowiada, schemat aktualny, demon pracował niedawno (jak /readyz).
    """
    if url is not None:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (an admin's URL)
                ok = answer.status == 200
        except (urllib.error.URLError, OSError) as exc:
            click.echo(f"niegotowy: {exc}")
            return 1
        click.echo("gotowy" if ok else "niegotowy")
        return 0 if ok else 1
    runtime = runtime_of(ctx)
    ok, checks = readiness(runtime.app(require_schema=False), runtime.clock(ClockChoice()))
    click.echo(
        ("gotowy: " if ok else "niegotowy: ") + "; ".join(f"{k}: {v}" for k, v in checks.items())
    )
    return 0 if ok else 1


@click.command(cls=PolishCommand)
@click.argument("file", metavar="PLIK", type=click.Path(path_type=Path), required=False)
@click.option(
    "--into",
    "directory",
    metavar="KATALOG",
    type=click.Path(file_okay=False, path_type=Path),
    help="Kopia z datą w nazwie (empikgo-RRRRMMDD-GGMMSS.backup) w KATALOGU; potem usuwa "
    "kopie starsze niż --keep-days i to, co zostawiły przerwane kopie.",
)
@click.option(
    "--keep-days",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Z --into: ile dni trzymać kopie.",
)
@click.option(
    "--daily",
    "daily_text",
    metavar="GG:MM",
    help="Z --into: działa dalej i robi kopię codziennie o tej godzinie (czas biblioteki), "
    "np. 02:30; dla usługi „backup” w compose.",
)
@clock_options
@click.pass_context
def backup_command(
    ctx: click.Context,
    file: Path | None,
    directory: Path | None,
    keep_days: int,
    daily_text: str | None,
    clock_choice: ClockChoice,
) -> int:
    """Kopia zapasowa bazy do PLIKU (albo do KATALOGU: --into), także podczas pracy demona.

    SQLite: spójna kopia przez API kopii zapasowej SQLite, sprawdzona (integrity_check).
    PostgreSQL: pg_dump w formacie custom (pakiet postgresql-client).
    """
    if (file is None) == (directory is None):
        raise click.UsageError("Podaj PLIK albo --into KATALOG (jedno z dwóch).")
    if daily_text is not None and directory is None:
        raise click.BadParameter("działa tylko razem z --into", param_hint="'--daily'")
    if daily_text is not None and clock_choice.now is not None:
        raise click.BadParameter(
            "--now zatrzymuje zegar; z --daily użyj --from", param_hint="'--now'"
        )
    runtime = runtime_of(ctx)
    app = runtime.app(require_schema=False)
    clock = runtime.clock(clock_choice)
    if file is not None:
        _echo_backup(app, backup(app.db, file))
        return ExitCode.OK
    assert directory is not None
    if daily_text is None:
        _echo_rotation(app, backup_into(app.db, directory, clock(), keep_days))
        return ExitCode.OK
    _backup_daily(app, clock, _daily_at(daily_text), directory, keep_days)
    return ExitCode.OK


def _daily_at(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"„{text}” to nie jest godzina GG:MM (np. 02:30)", param_hint="'--daily'"
        ) from None


def _backup_daily(app: App, clock: Clock, at: time, directory: Path, keep_days: int) -> None:
    """A copy every day at `at` until SIGTERM or Ctrl-C. A failed copy (the database down,
    the disk full) is said (stderr, the log) and tried again every BACKUP_RETRY until it
    is made or the next day's is due: the service stays up, and one bad night is not a
    night without a copy."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info(
        "backups daily at %s into %s, kept %d days", at.isoformat("minutes"), directory, keep_days
    )
    due = next_daily(clock(), at)
    while True:
        click.echo(f"Następna kopia zapasowa: {due:%Y-%m-%d %H:%M}.")
        if stop.wait(max(real_seconds_until(clock, due), 0.0)):
            log.info("backups stopped")
            return
        try:
            _echo_rotation(app, backup_into(app.db, directory, clock(), keep_days))
            due = next_daily(clock(), at)
        except (ProgramError, SQLAlchemyError, OSError) as failed:
            minutes = BACKUP_RETRY.total_seconds() / 60
            log.error("backup failed (%s); again in %.0f min", type(failed).__name__, minutes)
            click.echo(f"Kopia zapasowa nie powiodła się: {failed}", err=True)
            now = clock()
            due = min(now + BACKUP_RETRY, next_daily(now, at))


def next_daily(now: datetime, at: time) -> datetime:
    """The first moment at `at` on the library's wall clock after `now`."""
    moment = datetime.combine(now.date(), at, tzinfo=now.tzinfo)
    if moment <= now:
        moment = datetime.combine(now.date() + timedelta(days=1), at, tzinfo=now.tzinfo)
    return moment


def _echo_backup(app: App, done: BackupDone) -> None:
    size = f"{done.size / 2**20:.1f}".replace(".", ",")
    schema_note = f", schemat {done.schema}" if done.schema else ""
    check = ", integralność: ok" if is_sqlite(app.db.url) else ""
    click.echo(f"Kopia zapasowa zapisana: {done.path} ({size} MB{schema_note}{check}).")


def _echo_rotation(app: App, rotation: Rotation) -> None:
    _echo_backup(app, rotation.done)
    if rotation.expired:
        click.echo(f"Usunięte stare kopie: {len(rotation.expired)}.")
    if rotation.leftovers:
        names = ", ".join(path.name for path in rotation.leftovers)
        click.echo(f"Usunięte pozostałości przerwanych kopii: {names}.")


@click.command(cls=PolishCommand)
@click.argument("file", metavar="PLIK", type=click.Path(path_type=Path))
@click.pass_context
def restore_command(ctx: click.Context, file: Path) -> int:
    """Odtwórz bazę z kopii zapasowej, tylko do pustej bazy (nowy plik SQLite, pusta baza
    PostgreSQL). Potem „empikgo-mailer init” dociągnie schemat, jeśli kopia jest starsza."""
    app = runtime_of(ctx).app(require_schema=False)
    restore(app.db, file)
    app.db.engine.dispose()
    current = schema.current_revision(app.db)
    where = make_url(app.db.url).render_as_string(hide_password=True)
    if is_sqlite(app.db.url):
        database = make_url(app.db.url).database or ""
        click.echo(f"Integralność odtworzonej bazy: {integrity(Path(database))}.")
    click.echo(f"Odtworzono bazę {where} z {file} (schemat {current}).")
    if current != schema.head_revision():
        click.echo("Uruchom „empikgo-mailer init”, aby zaktualizować schemat.")
    return ExitCode.OK
