"""Files dropped into the drop folder by staff or by a platform's export: new pools and
activation reports, each imported once and then archived.

    <drop>/pools/empik-go/<branch>/<YYYY-MM>.csv    an Empik Go pool of one branch
    <drop>/pools/legimi/<YYYY-MM>.csv               the library-wide Legimi pool
    <drop>/activations/<platform>/<any name>.csv     an activation report

(each also as .xlsx, or a pool as a .txt list).

A file is recorded by its content hash in the same transaction as its import, so a file
dropped twice, or found again after a crash before it was archived, is never imported
twice. A file that cannot be imported is moved to `rejected/` with the reason in the log
and in `status`; nothing is deleted.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from empikgo_mailer.adapters.store import Store
from empikgo_mailer.adapters.tables import DroppedFile
from empikgo_mailer.adapters.text_files import UnreadableFile
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.errors import Conflict
from empikgo_mailer.domain.month import InvalidMonth, Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.polish import moment_text
from empikgo_mailer.domain.statuses import DropKind, DroppedOutcome
from empikgo_mailer.handlers.activations import (
    ActivationReport,
    ImportActivations,
    import_activations,
)
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.pools import CodeImportReport, ImportCodes, import_codes

log = logging.getLogger(__name__)
POOLS, ACTIVATIONS = DropKind.POOLS, DropKind.ACTIVATIONS
ARCHIVE, REJECTED = "archive", "rejected"
SUFFIXES = {".csv", ".txt", ".xlsx"}
# Files still being written: copy under such a name, then rename into place.
UNFINISHED = (".part", ".tmp", ".crdownload")
# Excel's "owner file" beside a workbook open in a shared folder: never a drop.
OWNER_FILE = "~$"


@dataclass(frozen=True)
class TakeDroppedFiles(Command["list[DroppedFileResult]"]):
    kind: DropKind
    drop_dir: Path
    actor: str = "scheduler"


@dataclass(frozen=True)
class DroppedFileResult:
    name: str  # the path inside the drop folder
    outcome: DroppedOutcome
    summary: str  # one Polish line for the log and `status`


def _waiting(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and not path.name.endswith(UNFINISHED)
        and not path.name.startswith(OWNER_FILE)
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _move(path: Path, drop_dir: Path, into: str, now: datetime) -> Path:
    relative = path.relative_to(drop_dir)
    target_dir = drop_dir / into / relative.parent
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%dT%H%M%S")
    target = target_dir / f"{path.stem}.{stamp}{path.suffix}"
    counter = 1
    while target.exists():
        counter += 1
        target = target_dir / f"{path.stem}.{stamp}-{counter}{path.suffix}"
    shutil.move(path, target)
    return target


def _pool_of(relative: Path, library: Library) -> tuple[Platform, Month, str | None]:
    """(platform, branch, month) from pools/<platform>/[<branch>/]<YYYY-MM>.csv."""
    parts = relative.parts[1:]
    layout = " albo ".join(
        f"pools/{p.id}/<placówka>/<RRRR-MM>.csv"
        if p.pooled_per_branch
        else f"pools/{p.id}/<RRRR-MM>.csv"
        for p in library.offered
    )
    wrong = CommandRejected(f"nazwa pliku nie pasuje do układu {layout}")
    try:
        platform = library.platform(parts[0])
        month = Month.parse(Path(parts[-1]).stem)
    except (CommandRejected, InvalidMonth, IndexError):
        raise wrong from None
    expected = 3 if platform.pooled_per_branch else 2
    if len(parts) != expected or Path(parts[-1]).suffix.lower() not in SUFFIXES:
        raise wrong
    return platform, month, parts[1] if platform.pooled_per_branch else None


def _activations_of(relative: Path, library: Library) -> Platform:
    parts = relative.parts[1:]
    wrong = CommandRejected("nazwa pliku nie pasuje do układu activations/<platforma>/<nazwa>.csv")
    try:
        platform = library.platform(parts[0])
    except (CommandRejected, IndexError):
        raise wrong from None
    if len(parts) != 2 or relative.suffix.lower() not in SUFFIXES:
        raise wrong
    return platform


def _pool_summary(report: CodeImportReport) -> str:
    return f"wczytano kodów: {report.loaded}, odrzucono wierszy: {len(report.refused)}"


def _activation_summary(report: ActivationReport) -> str:
    return (
        f"nowe aktywacje: {report.recorded}, już znane: {report.already_known}, "
        f"zdjęte blokady: {report.bans_lifted}, nieznane kody: {len(report.unknown)}, "
        f"błędne wiersze: {len(report.refused)}"
    )


def take_dropped_files(
    command: TakeDroppedFiles, *, uow: UnitOfWork, library: Library, now: datetime
) -> list[DroppedFileResult]:
    drop_dir = command.drop_dir
    results = []
    for path in _waiting(drop_dir / command.kind):
        relative = path.relative_to(drop_dir)
        result = _take(command, path, relative, uow=uow, library=library, now=now)
        level = (
            logging.WARNING
            if result.outcome in (DroppedOutcome.REJECTED, DroppedOutcome.PROBLEMS)
            else logging.INFO
        )
        log.log(level, "drop folder: %s: %s: %s", relative, result.outcome, result.summary)
        _move(
            path, drop_dir, REJECTED if result.outcome == DroppedOutcome.REJECTED else ARCHIVE, now
        )
        results.append(result)
    return results


def _take(
    command: TakeDroppedFiles,
    path: Path,
    relative: Path,
    *,
    uow: UnitOfWork,
    library: Library,
    now: datetime,
) -> DroppedFileResult:
    name = relative.as_posix()
    try:
        sha = _sha256(path)
        with uow:
            earlier = uow.store.dropped_file(command.kind, sha)
        if earlier is not None:
            when = moment_text(library.calendar.local(earlier.taken_at))
            return DroppedFileResult(
                name,
                DroppedOutcome.DUPLICATE,
                f"ten sam plik wczytano już {when} ({earlier.name}); nie wczytano go drugi raz",
            )

        def record(store: Store, summary: str, problems: int) -> None:
            store.record_dropped_file(
                DroppedFile(
                    kind=command.kind,
                    name=name,
                    sha256=sha,
                    taken_at=now,
                    outcome=DroppedOutcome.PROBLEMS if problems else DroppedOutcome.IMPORTED,
                    summary=summary,
                )
            )

        if command.kind == POOLS:
            platform, month, branch_id = _pool_of(relative, library)
            codes = import_codes(
                ImportCodes(path, platform, month, branch_id, command.actor),
                uow=uow,
                library=library,
                now=now,
                also=lambda store, r: record(store, _pool_summary(r), len(r.refused)),
            )
            summary, problems = _pool_summary(codes), len(codes.refused)
        else:
            platform = _activations_of(relative, library)
            activations = import_activations(
                ImportActivations(path, platform, command.actor),
                uow=uow,
                library=library,
                now=now,
                also=lambda store, r: record(store, _activation_summary(r), r.problems),
            )
            summary, problems = _activation_summary(activations), activations.problems
        return DroppedFileResult(
            name, DroppedOutcome.PROBLEMS if problems else DroppedOutcome.IMPORTED, summary
        )
    except (CommandRejected, UnreadableFile) as exc:
        return DroppedFileResult(name, DroppedOutcome.REJECTED, str(exc))
    except Conflict:
        return DroppedFileResult(
            name, DroppedOutcome.DUPLICATE, "ten sam plik wczytał w tej chwili inny proces"
        )
    except OSError as exc:
        return DroppedFileResult(
            name, DroppedOutcome.REJECTED, f"nie można odczytać pliku: {exc.strerror}"
        )


@dataclass(frozen=True)
class ShowDroppedFiles(Command[list[DroppedFile]]):
    """The files imported last, newest first, for `status`."""

    limit: int = 5


def recent_dropped_files(query: ShowDroppedFiles, *, uow: UnitOfWork) -> list[DroppedFile]:
    with uow:
        return uow.store.recent_dropped_files(query.limit)
