"""What every command of the staff command line shares: the runtime, parameter types,
`--now`, and progress output."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from empikgo_mailer.adapters import schema
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.config import config_path, load_settings
from empikgo_mailer.domain.card_number import CardNumber, InvalidCardNumber
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.month import InvalidMonth, Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.entrypoints.logs import set_log_zone
from empikgo_mailer.handlers.errors import CommandRejected

PROGRESS_THRESHOLD = 2000


class DatabaseNotReady(Exception):
    """The schema is missing or older than this version of the program."""


@dataclass
class Runtime:
    """Per-invocation state: the configuration is read only when a command needs it."""

    config_option: str | None
    env: dict[str, str]
    _app: App | None = field(default=None, repr=False)

    def app(self, *, require_schema: bool = True) -> App:
        if self._app is None:
            path = config_path(self.config_option, self.env)
            self._app = bootstrap(load_settings(path, self.env))
            set_log_zone(self._app.settings.timezone)
        if require_schema:
            current = schema.current_revision(self._app.db)
            if current is None:
                raise DatabaseNotReady(
                    "Baza danych nie jest utworzona: uruchom najpierw „empikgo-mailer init”."
                )
            if current != schema.head_revision():
                raise DatabaseNotReady(
                    "Baza danych ma starszy schemat: uruchom „empikgo-mailer init”, "
                    "aby ją zaktualizować."
                )
        return self._app

    def config_file(self) -> Path:
        """The configuration file this invocation reads, as an absolute path."""
        return config_path(self.config_option, self.env).resolve()

    def clock(self, text: str | None) -> Clock:
        """--now as a clock that stands still (a replayed moment), or the live clock."""
        zone = self.app(require_schema=False).settings.timezone
        fixed = self.now(text) if text is not None else None
        return (lambda: fixed) if fixed is not None else (lambda: datetime.now(zone))

    def now(self, text: str | None) -> datetime:
        """--now, or the clock; a time without a zone is the library's wall clock."""
        zone = self.app(require_schema=False).settings.timezone
        if text is None:
            return datetime.now(zone)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise click.BadParameter(
                f"„{text}” to nie jest czas ISO 8601 (np. 2026-11-02T10:00)", param_hint="'--now'"
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
        runtime = ctx.find_object(Runtime) if ctx is not None else None
        assert runtime is not None
        library = runtime.app(require_schema=False).library
        try:
            return library.platform(str(value))
        except CommandRejected:
            allowed = ", ".join(p.id for p in library.offered)
            self.fail(f"„{value}” — dozwolone: {allowed}", param, ctx)


class CardType(click.ParamType[str]):
    """A card number as staff type it, in its stored form: the rule every door shares."""

    name = "NUMER"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return CardNumber.parse(str(value)).value
        except InvalidCardNumber as problem:
            self.fail(str(problem), param, ctx)


class MonthType(click.ParamType[Month]):
    name = "RRRR-MM"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Month:
        if isinstance(value, Month):
            return value
        try:
            return Month.parse(str(value))
        except InvalidMonth:
            self.fail(f"„{value}” to nie jest miesiąc w postaci RRRR-MM (np. 2026-11)", param, ctx)


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


class ProgressBar:
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

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def echo_problems(problems: Iterable[Any]) -> None:
    for problem in problems:
        click.echo(f"  linia {problem.line}: {problem.reason}")


def echo_columns(found: Mapping[str, str]) -> None:
    """Which header of the file was read as which field, so staff can check the mapping
    (said only when some header is not the field's own name)."""
    if all(name == header for name, header in found.items()):
        return
    used = "; ".join(f"{name} ← „{header}”" for name, header in found.items())
    click.echo(f"Kolumny pliku: {used}.")
