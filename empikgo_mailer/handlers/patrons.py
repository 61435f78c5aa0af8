"""Importing patron records exported by the library system (upsert by card number)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from empikgo_mailer.adapters.import_columns import (
    PATRON_COLUMNS,
    PATRON_FIELDS,
    header_of,
    with_library_names,
)
from empikgo_mailer.adapters.text_files import CsvRow, read_flag, read_table
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.config import ImportColumns
from empikgo_mailer.domain.addresses import valid_address
from empikgo_mailer.domain.card_number import CardNumber, InvalidCardNumber
from empikgo_mailer.domain.errors import BadInput
from empikgo_mailer.domain.money import InvalidAmount, parse_pln
from empikgo_mailer.domain.timestamps import InvalidMoment, parse_day
from empikgo_mailer.handlers.command import Command

_ACTIVE = {"aktywny", "aktywne", "aktywna"}
_INACTIVE = {"nieaktywny", "nieaktywne", "nieaktywna"}


Progress = Callable[[int, int], None]  # (rows done, rows expected)


def no_progress(done: int, total: int) -> None:
    """The default: report nothing."""


class BadRow(BadInput):
    """One row cannot be imported; the message says why, in Polish, and `column` which
    field was wrong (named, in an import's report, by the file's own header)."""

    def __init__(self, reason: str, column: str | None = None) -> None:
        self.reason, self.column = reason, column
        super().__init__(f"{column}: {reason}" if column else reason)

    def naming(self, found: Mapping[str, str]) -> str:
        """The problem, its column named as the file names it (`found`: field -> header)."""
        return f"{header_of(self.column, found)}: {self.reason}" if self.column else self.reason


def parsed_card(text: str) -> str:
    """A card_number column's value in its stored form; BadRow when it cannot be one."""
    try:
        return CardNumber.parse(text).value
    except InvalidCardNumber as problem:
        raise BadRow(str(problem), "card_number") from None


@dataclass(frozen=True)
class ImportPatrons(Command["ImportReport"]):
    path: Path
    actor: str = "system"


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: list[RowProblem] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # field -> the header in the file

    @property
    def imported(self) -> int:
        return self.created + self.updated


def _active(text: str) -> bool:
    value = text.strip().casefold()
    flag = True if value in _ACTIVE else False if value in _INACTIVE else read_flag(value)
    if flag is None:
        raise BadRow(f"oczekiwano tak/nie (1/0), jest „{text}”", "active")
    return flag


def _date(text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return parse_day(text)
    except InvalidMoment:
        raise BadRow(
            f"to nie jest data (RRRR-MM-DD albo DD.MM.RRRR): „{text}”", "contact_confirmed_on"
        ) from None


def _balance(text: str) -> int:
    if not text.strip():
        return 0
    try:
        grosze = parse_pln(text)
    except InvalidAmount:
        raise BadRow(f"to nie jest kwota w złotych (np. 1,20): „{text}”", "balance") from None
    if grosze < 0:
        raise BadRow(f"saldo nie może być ujemne: „{text}”", "balance")
    return grosze


def _name(values: dict[str, str], column: str) -> str:
    value = " ".join(values[column].split())
    if not value:
        raise BadRow("puste pole", column)
    if len(value) > 100:
        raise BadRow("za długie (ponad 100 znaków)", column)
    return value


def parse_patron_row(row: CsvRow) -> dict[str, Any]:
    """The column values of one patron, checked; raises BadRow."""
    if row.extra_fields:
        raise BadRow(f"więcej pól ({row.extra_fields} za dużo) niż kolumn w nagłówku")
    if row.missing_fields:
        raise BadRow(f"brakuje {row.missing_fields} pól względem nagłówka")
    values = row.values
    card = parsed_card(values["card_number"])
    email = values["email"].strip() or None
    if email is not None and not valid_address(email):
        raise BadRow(f"niepoprawny adres „{email}”", "email")
    return {
        "card_number": card,
        "first_name": _name(values, "first_name"),
        "last_name": _name(values, "last_name"),
        "email": email,
        "active": _active(values["active"]),
        "contact_confirmed_on": _date(values["contact_confirmed_on"]),
        "opening_balance_grosze": _balance(values["balance"]),
    }


def import_patrons(
    command: ImportPatrons,
    *,
    uow: UnitOfWork,
    now: datetime,
    progress: Progress = no_progress,
    header_names: ImportColumns | None = None,
) -> ImportReport:
    """Upsert the good rows and list the bad ones with their line numbers.

    The whole file is decoded and its header checked before anything is written; the rows
    are then parsed and written in chunks (to keep memory flat on large files) inside one
    transaction, so a file that turns out broken half-way changes nothing.
    """
    library_names = header_names.patrons if header_names is not None else {}
    aliases = with_library_names(PATRON_COLUMNS, library_names)
    table = read_table(command.path, PATRON_FIELDS, aliases)
    report = ImportReport(columns=table.found)
    first_line: dict[str, int] = {}
    done = 0
    with uow:
        store = uow.store
        existing = store.patron_ids_by_card()
        for chunk in table.chunks():
            good: dict[str, dict[str, Any]] = {}
            for row in chunk:
                try:
                    patron = parse_patron_row(row)
                    card = patron["card_number"]
                    if card in first_line:
                        earlier = first_line[card]
                        raise BadRow(
                            f"numer karty {card} powtórzony (pierwszy raz w linii {earlier})"
                        )
                except BadRow as problem:
                    report.rejected.append(RowProblem(row.line, problem.naming(table.found)))
                    continue
                first_line[card] = row.line
                good[card] = patron | {"updated_at": now}
            new = [row for card, row in good.items() if card not in existing]
            store.insert_patrons(new)
            store.update_patrons(
                [row | {"id": existing[card]} for card, row in good.items() if card in existing]
            )
            report.created += len(new)
            report.updated += len(good) - len(new)
            done += len(chunk)
            progress(done, table.line_count)
        store.audit_import(
            "import-patrons",
            at=now,
            actor=command.actor,
            file=command.path,
            created=report.created,
            updated=report.updated,
            rejected=len(report.rejected),
        )
    return report
