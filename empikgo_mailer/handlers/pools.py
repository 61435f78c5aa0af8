"""Monthly code pools: loading codes and counting what is left."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from empikgo_mailer.adapters.store import PoolCount, Store
from empikgo_mailer.adapters.text_files import read_column
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.polish import month_name
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.patrons import RowProblem

MAX_CODE_LENGTH = 64
_CODE_COLUMNS = ("code", "kod")


@dataclass(frozen=True)
class ImportCodes(Command["CodeImportReport"]):
    path: Path
    platform: Platform
    month: Month
    branch_id: str | None = None
    actor: str = "system"
    preview: bool = False  # every check, nothing stored: what confirming would load


@dataclass
class CodeImportReport:
    loaded: int = 0
    refused: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class ShowPools(Command["list[PoolCount]"]):
    month: Month
    branch_id: str | None = None


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, code) from a plain list, or from a CSV file or a workbook with a
    `kod` column."""
    return list(read_column(path, _CODE_COLUMNS))


def _problem(code: str) -> str | None:
    if not code:
        return "pusty kod"
    if len(code) > MAX_CODE_LENGTH:
        return f"kod dłuższy niż {MAX_CODE_LENGTH} znaków"
    if any(ch.isspace() for ch in code) or not code.isprintable():
        return "kod zawiera spacje lub znaki niedrukowalne"
    return None


def import_codes(
    command: ImportCodes,
    *,
    uow: UnitOfWork,
    library: Library,
    now: datetime,
    also: Callable[[Store, CodeImportReport], None] | None = None,
) -> CodeImportReport:
    """Load new codes into one pool; codes already known or repeated in the file are refused
    and listed by line (never by value: a code is as good as a voucher).
    `also` runs in the same transaction (the drop folder records the file there)."""
    if command.platform.pooled_per_branch and command.branch_id is None:
        raise CommandRejected("Kody Empik Go są przypisane do placówki: podaj --branch.")
    if not command.platform.pooled_per_branch and command.branch_id is not None:
        raise CommandRejected(
            "Pula Legimi jest wspólna dla całej biblioteki: nie podawaj --branch."
        )
    if command.branch_id is not None:
        library.branch(command.branch_id)
    current = library.calendar.month_of(now)
    if command.month < current:
        raise CommandRejected(
            f"Miesiąc {month_name(command.month)} już minął; kod można wydać tylko w miesiącu, "
            "na który go wczytano."
        )

    report = CodeImportReport()
    accepted: dict[str, int] = {}
    for line, code in _code_lines(command.path):
        problem = _problem(code)
        if problem is None and code in accepted:
            problem = f"kod powtórzony w pliku (pierwszy raz w linii {accepted[code]})"
        if problem is not None:
            report.refused.append(RowProblem(line, problem))
            continue
        accepted[code] = line

    with uow:
        store = uow.store
        known = store.known_code_values(command.platform, list(accepted))
        report.refused.extend(
            RowProblem(line, "kod już jest w bazie")
            for code, line in accepted.items()
            if code in known
        )
        report.refused.sort(key=lambda problem: problem.line)
        fresh = [code for code in accepted if code not in known]
        report.loaded = len(fresh)
        if command.preview:
            return report
        store.insert_codes(command.platform, command.month, command.branch_id, fresh, now)
        store.audit_import(
            "import-codes",
            at=now,
            actor=command.actor,
            file=command.path,
            platform=command.platform.value,
            month=str(command.month),
            branch=command.branch_id,
            loaded=report.loaded,
            refused=len(report.refused),
        )
        if also is not None:
            also(store, report)
    return report


def show_pools(query: ShowPools, *, uow: UnitOfWork, library: Library) -> list[PoolCount]:
    """Every pool of the month, including pools with nothing loaded yet."""
    if query.branch_id is not None:
        library.branch(query.branch_id)
    with uow:
        counted = {
            (count.platform, count.branch_id): count
            for count in uow.store.pool_counts(query.month, query.branch_id)
        }
    expected = [
        (platform, branch)
        for platform, branch in library.expected_pools()
        if query.branch_id in (None, branch)
    ]
    keys = expected + [key for key in counted if key not in expected]
    return [counted.get(key) or PoolCount(key[0], query.month, key[1], 0, 0, 0) for key in keys]
