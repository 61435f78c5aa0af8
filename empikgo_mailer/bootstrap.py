"""The one place that wires settings to the database, adapters and handlers."""

from __future__ import annotations

from dataclasses import dataclass

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.holidays_pl import PolishHolidays
from empikgo_mailer.adapters.templates import Templates
from empikgo_mailer.config import Settings
from empikgo_mailer.handlers.debt import DebtSource, LedgerDebt
from empikgo_mailer.handlers.library import Library


@dataclass(frozen=True)
class App:
    settings: Settings
    db: Database
    library: Library
    debt_source: DebtSource
    templates: Templates


def bootstrap(settings: Settings) -> App:
    return App(
        settings=settings,
        db=Database(settings.database_url, settings.database_busy_timeout),
        library=Library.from_settings(settings, PolishHolidays()),
        debt_source=LedgerDebt(settings.locations),
        templates=Templates(settings.templates_dir),
    )
