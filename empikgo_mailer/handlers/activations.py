"""Activation reports from the platforms' panels: which code was activated when.

Importing a report is idempotent (the earliest reported time of a code wins, and a row
seen before changes nothing). A report that proves activation within the month the code
was given in undoes that code's expiry and lifts the ban it caused (RULES.md section 3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.text_files import UnreadableFile, read_table
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.activation import activated_in_time
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.timestamps import InvalidMoment, parse_moment
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.patrons import RowProblem

CODE_COLUMNS = ("code", "kod", "kod_dostępu", "kod_dostepu", "voucher")
TIME_COLUMNS = (
    "activated_at",
    "activation_time",
    "activation_date",
    "data_aktywacji",
    "aktywacja",
    "aktywowano",
)


@dataclass(frozen=True)
class ImportActivations(Command["ActivationReport"]):
    path: Path
    platform: Platform
    actor: str = "system"


@dataclass
class ActivationReport:
    recorded: int = 0  # activations new to us
    already_known: int = 0  # rows that changed nothing
    bans_lifted: int = 0
    unknown: list[RowProblem] = field(default_factory=list)  # codes that are not ours
    refused: list[RowProblem] = field(default_factory=list)  # rows that cannot be right

    @property
    def problems(self) -> int:
        return len(self.unknown) + len(self.refused)


def _column(columns: tuple[str, ...], names: tuple[str, ...], what: str, path: Path) -> str:
    found = next((name for name in names if name in columns), None)
    if found is None:
        raise UnreadableFile(
            f"Brak kolumny z {what} w pliku {path} (nazwy: {', '.join(names)}; "
            f"są: {', '.join(c for c in columns if c) or 'żadne'})"
        )
    return found


def _has_code_and_time(columns: tuple[str, ...]) -> bool:
    """The sheet of a workbook that holds the report (others may hold notes or totals)."""
    return any(c in columns for c in CODE_COLUMNS) and any(c in columns for c in TIME_COLUMNS)


def _rows(
    path: Path, zone: ZoneInfo, now: datetime, report: ActivationReport
) -> list[tuple[int, str, datetime]]:
    """(line, code, activation time) of every usable row; the others go to `report`."""
    table = read_table(path, fits=_has_code_and_time)
    code_column = _column(table.columns, CODE_COLUMNS, "kodem", path)
    time_column = _column(table.columns, TIME_COLUMNS, "czasem aktywacji", path)
    rows: list[tuple[int, str, datetime]] = []
    for row in table.rows:
        code = row.values[code_column].strip()
        try:
            at = parse_moment(row.values[time_column], zone)
        except InvalidMoment as exc:
            report.refused.append(RowProblem(row.line, str(exc)))
            continue
        if not code:
            report.refused.append(RowProblem(row.line, "pusty kod"))
        elif at > now:
            report.refused.append(RowProblem(row.line, "czas aktywacji jest w przyszłości"))
        else:
            rows.append((row.line, code, at))
    return rows


def import_activations(
    command: ImportActivations,
    *,
    uow: UnitOfWork,
    library: Library,
    now: datetime,
    also: Callable[[Store, ActivationReport], None] | None = None,
) -> ActivationReport:
    """`also` runs in the same transaction (the drop folder records the file there)."""
    report = ActivationReport()
    rows = _rows(command.path, library.calendar.zone, now, report)
    with uow:
        store = uow.store
        codes = store.codes_by_value(command.platform, [code for _, code, _ in rows])
        unknown = f"nieznany kod (nie ma go w pulach {command.platform.display_name})"
        early = "czas aktywacji wcześniejszy niż wydanie kodu (zły format daty?)"
        for line, value, at in rows:
            code = codes.get(value)
            issuance = None if code is None or code.id is None else store.issuance_of_code(code.id)
            if code is None:
                report.unknown.append(RowProblem(line, unknown))
                continue
            if issuance is None:
                report.refused.append(RowProblem(line, "ten kod nie został nikomu wydany"))
                continue
            if at < issuance.issued_at:
                report.refused.append(RowProblem(line, early))
                continue
            if code.activated_at is not None and code.activated_at <= at:
                report.already_known += 1
                continue
            code.activated_at = at
            uow.add(code)
            report.recorded += 1
            month = Month.parse(issuance.month)
            if issuance.expired_at is not None and activated_in_time(
                at, library.calendar.month_end(month)
            ):
                issuance.expired_at = None
                uow.add(issuance)
                ban = store.ban_for(issuance.patron_id, month)
                if ban is not None and ban.lifted_at is None:
                    ban.lifted_at = now
                    uow.add(ban)
                    report.bans_lifted += 1
        report.unknown.sort(key=lambda problem: problem.line)
        report.refused.sort(key=lambda problem: problem.line)
        store.audit_import(
            "import-activations",
            at=now,
            actor=command.actor,
            file=command.path,
            platform=command.platform.value,
            recorded=report.recorded,
            already_known=report.already_known,
            bans_lifted=report.bans_lifted,
            unknown=len(report.unknown),
            refused=len(report.refused),
        )
        if also is not None:
            also(store, report)
    return report
