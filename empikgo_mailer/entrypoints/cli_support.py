"""What every command of the staff command line shares: the runtime, parameter types,
common options, and progress, problem and JSON output."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar, cast

import click
from sqlalchemy.exc import DBAPIError

from empikgo_mailer.adapters import schema
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.config import config_path, load_settings
from empikgo_mailer.domain.card_number import CardNumber, InvalidCardNumber
from empikgo_mailer.domain.clock import Clock, FixedClock, Pace, ReplayedClock
from empikgo_mailer.domain.errors import DatabaseProblem, DiskFull, ExitCode, SchemaNewer
from empikgo_mailer.domain.month import InvalidMonth, Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.entrypoints.logs import set_log_zone
from empikgo_mailer.handlers.errors import CommandRejected

PROGRESS_THRESHOLD = 2000
# --wait-for-schema: how often a command that waits for `init` looks at the database again.
SCHEMA_POLL_SECONDS = 2.0
T = TypeVar("T")
log = logging.getLogger(__name__)
Local = Callable[[datetime], datetime]  # a moment on the library's wall clock


def _check_schema(app: App) -> None:
    """Raise DatabaseProblem unless the database exists and its schema is this version's
    (SchemaNewer when a newer version's)."""
    database = app.db.file
    # The first connection is where a full disk shows first (SQLite cannot make its
    # shared-memory file): said as such, not as a "disk I/O error".
    with app.db.full_disk_as_error():
        current = (
            None
            if database is not None and not database.exists()
            else schema.current_revision(app.db)
        )
    if current is None:
        raise DatabaseProblem(
            "Baza danych nie jest utworzona: uruchom najpierw „empikgo-mailer init”."
        )
    schema.refuse_newer(current)
    if current != schema.head_revision():
        raise DatabaseProblem(
            "Baza danych ma starszy schemat: uruchom „empikgo-mailer init”, aby ją zaktualizować."
        )


@dataclass
class Runtime:
    """Per-invocation state: the configuration is read only when a command needs it."""

    config_option: str | None
    env: dict[str, str]
    # --wait-for-schema: how long a command that needs the schema waits for it (for a
    # service started beside the one that runs `init`); 0: it fails at once.
    wait_for_schema: float = 0.0
    _app: App | None = field(default=None, repr=False)

    def app(self, *, require_schema: bool = True) -> App:
        if self._app is None:
            path = config_path(self.config_option, self.env)
            self._app = bootstrap(load_settings(path, self.env))
            set_log_zone(self._app.settings.timezone)
        if require_schema:
            self._await_schema(self._app)
        return self._app

    def _await_schema(self, app: App) -> None:
        """Return when the schema is this version's. A database that cannot be reached,
        is not created or is older may get there (another process runs `init`): with
        --wait-for-schema it is looked at again every SCHEMA_POLL_SECONDS until the time
        runs out, then its error is raised. A full disk and a newer schema are raised at
        once (waiting frees no space and makes no schema older)."""
        deadline = time.monotonic() + self.wait_for_schema
        waited = False
        while True:
            try:
                _check_schema(app)
            except (DiskFull, SchemaNewer):
                raise
            except (DatabaseProblem, DBAPIError) as problem:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                if not waited:
                    # The class only: a driver's text can name the server and the user.
                    log.info(
                        "the database schema is not ready (%s); waiting up to %.0f s",
                        type(problem).__name__,
                        left,
                    )
                    waited = True
                time.sleep(min(SCHEMA_POLL_SECONDS, left))
                continue
            if waited:
                log.info("the database schema is ready")
            return

    def clock(self, choice: ClockChoice) -> Clock:
        """The clock a long-running command reads: the live one; --now, a moment standing
        still; or --from with --speed, a replayed clock that moves (see ReplayedClock)."""
        zone = self.app(require_schema=False).settings.timezone
        if choice.now is not None:
            return FixedClock(self.now(choice.now))
        live: Clock = lambda: datetime.now(zone)  # noqa: E731 (the one real clock)
        if choice.start is None:
            return live
        start = self.now(choice.start, option="--from")
        paces = [self._pace(text, start) for text in choice.speeds]
        anchor = live() if choice.anchor is None else self.now(choice.anchor, option="--anchor")
        return ReplayedClock(start, paces, anchor=anchor, real=live)

    def _pace(self, text: str, start: datetime) -> Pace:
        """--speed N (from --from on) or --speed CHWILA=N (from that moment on)."""
        moment_text, _, speed_text = text.rpartition("=")
        try:
            speed = float(speed_text.replace(",", "."))
            if not speed > 0 or speed == float("inf"):
                raise ValueError(speed_text)
        except ValueError:
            raise click.BadParameter(
                f"„{text}” — podaj liczbę większą od zera, np. 720, albo CHWILA=LICZBA, "
                "np. 2026-11-01T02:15=5000",
                param_hint="'--speed'",
            ) from None
        return Pace(self.now(moment_text, option="--speed") if moment_text else start, speed)

    def now(self, text: str | None, *, option: str = "--now") -> datetime:
        """--now, or the clock; a time without a zone is the library's wall clock."""
        zone = self.app(require_schema=False).settings.timezone
        if text is None:
            return datetime.now(zone)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise click.BadParameter(
                f"„{text}” to nie jest czas ISO 8601 (np. 2026-11-02T10:00)",
                param_hint=f"'{option}'",
            ) from None
        return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed.astimezone(zone)


class PlatformType(click.ParamType[Platform]):
    name = "PLATFORMA"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Platform:
        if isinstance(value, Platform):
            return value
        # The platforms offered are the configuration's: read it to know them.
        assert ctx is not None
        library = runtime_of(ctx).app(require_schema=False).library
        try:
            return library.platform(str(value))
        except CommandRejected:
            allowed = ", ".join(p.id for p in library.offered)
            self.fail(f"„{value}” — dozwolone: {allowed}", param, ctx)


class ParsedType(click.ParamType[T]):
    """A value as staff type it, read by the domain's own rule; a wrong one is refused with
    the rule's own message, or with `message` (the value in place of {})."""

    def __init__(
        self, name: str, parse: Callable[[str], T], problem: type[Exception], message: str = ""
    ) -> None:
        self.name, self.parse, self.problem, self.message = name, parse, problem, message

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> T:
        if not isinstance(value, str):  # already read (a default)
            return cast(T, value)
        try:
            return self.parse(value)
        except self.problem as problem:
            self.fail(self.message.format(value) if self.message else str(problem), param, ctx)


# A card number in its stored form: the rule every door shares.
CARD = ParsedType("NUMER", lambda text: CardNumber.parse(text).value, InvalidCardNumber)


MONTH = ParsedType(
    "RRRR-MM", Month.parse, InvalidMonth, "„{}” to nie jest miesiąc w postaci RRRR-MM (np. 2026-11)"
)


def runtime_of(ctx: click.Context) -> Runtime:
    runtime = ctx.find_object(Runtime)
    assert runtime is not None
    return runtime


now_option = click.option(
    "--now",
    "now_text",
    metavar="ISO8601",
    help="Udawany bieżący czas, np. 2026-11-02T10:00 (domyślnie: zegar systemowy).",
)
platform_option = click.option(
    "--platform",
    type=PlatformType(),
    required=True,
    help="Platforma z konfiguracji, np. empik-go albo legimi.",
)
card_option = click.option(
    "--card", "card_number", type=CARD, required=True, help="Numer karty czytelnika."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Wynik jako JSON.")


def app_command(command: Callable[..., Any]) -> Callable[..., Any]:
    """--now, and the command called with the app (its schema checked) and the moment
    (--now, or the clock) before its own parameters."""

    @now_option
    @click.pass_context
    @functools.wraps(command)
    def wrapped(ctx: click.Context, /, *args: Any, now_text: str | None, **kwargs: Any) -> Any:
        runtime = runtime_of(ctx)
        app = runtime.app()
        return command(app, runtime.now(now_text), *args, **kwargs)

    return wrapped


@dataclass(frozen=True)
class ClockChoice:
    """The clock options of a long-running command (`run`, `web`), as typed."""

    now: str | None = None  # --now: a moment standing still
    start: str | None = None  # --from: a replayed clock's first moment
    speeds: tuple[str, ...] = ()  # --speed: N, or CHWILA=N
    anchor: str | None = None  # --anchor: the real instant --from stands for

    def __post_init__(self) -> None:
        if self.now is not None and self.start is not None:
            raise click.BadParameter("podaj --now albo --from, nie oba", param_hint="'--from'")
        if self.start is None and (self.speeds or self.anchor is not None):
            raise click.BadParameter(
                "--speed i --anchor działają tylko razem z --from", param_hint="'--speed'"
            )

    def to_json(self) -> str:
        """For the web workers, which rebuild the same clock in processes of their own."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str | None) -> ClockChoice:
        if not text:
            return cls()
        fields = json.loads(text)
        return cls(**{**fields, "speeds": tuple(fields.get("speeds", ()))})


def clock_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--now, --from, --speed and --anchor, given to the command as `clock_choice`."""

    @now_option
    @click.option(
        "--from",
        "from_text",
        metavar="ISO8601",
        help="Powtórka: zegar zaczyna od tej chwili i biegnie dalej "
        "(np. 2026-10-31T23:55; próba generalna dowolnego miesiąca).",
    )
    @click.option(
        "--speed",
        "speeds",
        multiple=True,
        metavar="[CHWILA=]N",
        help="Z --from: zegar biegnie N razy szybciej (720: godzina w 5 s); "
        "CHWILA=N zmienia tempo od tej chwili (1: czas rzeczywisty). Można powtórzyć.",
    )
    @click.option(
        "--anchor",
        "anchor_text",
        metavar="ISO8601",
        help="Z --from: rzeczywista chwila, w której zegar pokazuje --from (domyślnie "
        "start polecenia); ta sama w kilku procesach daje im jeden zegar.",
    )
    @functools.wraps(command)
    def wrapped(
        *args: Any,
        now_text: str | None,
        from_text: str | None,
        speeds: tuple[str, ...],
        anchor_text: str | None,
        **kwargs: Any,
    ) -> Any:
        choice = ClockChoice(now_text, from_text, speeds, anchor_text)
        return command(*args, clock_choice=choice, **kwargs)

    return wrapped


class ProgressBar(contextlib.AbstractContextManager["ProgressBar"]):
    """A progress bar on standard error, shown only for large files."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if total < PROGRESS_THRESHOLD:
                return
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def __exit__(self, *_: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def echo_problems(problems: Sequence[Any]) -> ExitCode:
    """Each problem row; BAD_INPUT when there is any."""
    for problem in problems:
        click.echo(f"  linia {problem.line}: {problem.reason}")
    return ExitCode.BAD_INPUT if problems else ExitCode.OK


def echo_columns(found: Mapping[str, str]) -> None:
    """Which header of the file was read as which field, so staff can check the mapping
    (said only when some header is not the field's own name)."""
    if all(name == header for name, header in found.items()):
        return
    used = "; ".join(f"{name} ← „{header}”" for name, header in found.items())
    click.echo(f"Kolumny pliku: {used}.")


def json_fields(row: object, names: str, local: Local | None = None) -> dict[str, Any]:
    """The attributes named (`key=attribute` where the two differ) as JSON values: days
    and times in ISO 8601 (times in the library's zone, by `local`), platforms and enums
    by value; all None when there is no row."""
    fields: dict[str, Any] = {}
    for name in names.split():
        key, _, attribute = name.partition("=")
        value = None if row is None else getattr(row, attribute or key)
        if isinstance(value, datetime) and local is not None:
            value = local(value)
        if isinstance(value, date):  # a datetime is a date too
            value = value.isoformat()
        fields[key] = value.value if isinstance(value, Platform | Enum) else value
    return fields


def echo_json(document: object) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))
