"""Reading `.xlsx` workbooks as staff save them (Excel, LibreOffice, library systems).

A workbook is read with openpyxl in read-only mode, values only, a row at a time, so a
large sheet never sits in memory whole. Every cell becomes the text a CSV export of the
same sheet would hold: dates as `2026-11-02`, whole numbers without `.0` (a card number
typed as a number), yes/no as `tak`/`nie`. A file that is not a workbook we can read
(an old `.xls`, a password-protected workbook, an `.ods` or another zip) raises
UnreadableFile with a Polish reason that says how to save it instead.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from empikgo_mailer.domain.errors import BadInput

log = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"
# Compound File Binary: an Excel 97-2003 workbook, or any workbook saved with a password
# (Office encrypts the whole .xlsx into an "EncryptedPackage" stream of such a file).
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")
# What the sheets may unpack to: a zip of a few megabytes can hold gigabytes of XML.
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
SAVE_AS = "Zapisz go jako „Skoroszyt programu Excel (.xlsx)” albo „CSV UTF-8”."

Row = tuple[int, list[str]]  # (the row's number in the sheet, its cells as text)


class UnreadableFile(BadInput):
    """A file staff gave us (text or workbook) cannot be used at all; the message is for
    staff, in Polish. Defined here, below text_files, which reads workbooks through us."""


@dataclass(frozen=True)
class Sheet:
    name: str
    rows: Iterator[Row]  # non-empty rows only, read lazily
    row_count: int  # the sheet's last row as the workbook states it, for progress bars


def is_workbook(head: bytes) -> bool:
    """A zip or a compound file: never text, always for this module to read or refuse."""
    return head.startswith((ZIP_MAGIC, CFB_MAGIC))


def cell_text(value: Any) -> str:
    """A cell's value as a CSV export would write it."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: True is an int
        return "tak" if value else "nie"
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):  # a duration cell; no import has one, but never a crash
        return str(value)
    if isinstance(value, float):
        # 1000012.0 is a card number typed as a number; 1.2000000000000002 is 1,20 zł.
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    return str(value)


def read_sheet(path: Path, data: bytes, fits: Callable[[list[str]], bool]) -> Sheet:
    """The first sheet whose first non-empty row `fits` (the headers an import expects),
    or else the first sheet. `data` is the file's content (already size-checked)."""
    if data.startswith(CFB_MAGIC):
        if _ENCRYPTED in data:
            raise UnreadableFile(
                f"Arkusz jest zabezpieczony hasłem: {path}. Otwórz go, usuń hasło (Plik › "
                "Informacje › Chroń skoroszyt) i zapisz go jako .xlsx albo „CSV UTF-8”."
            )
        raise UnreadableFile(
            f"To arkusz w starym formacie Excela (.xls), którego nie czytamy: {path}. {SAVE_AS}"
        )
    workbook = _open(path, data)
    try:
        sheets = workbook.worksheets
        chosen = None
        for sheet in sheets:
            first = next(_rows(sheet), None)
            if first is not None and fits(first[1]):
                chosen = sheet
                break
        if chosen is None:
            chosen = next((s for s in sheets if next(_rows(s), None) is not None), None)
        if chosen is None:
            raise UnreadableFile(f"Arkusz jest pusty: {path}")
        count = chosen.max_row or 0
    except UnreadableFile:
        workbook.close()
        raise
    except Exception as exc:
        workbook.close()
        raise _damaged(path, exc) from None
    return Sheet(chosen.title, _guarded(workbook, chosen, path), count)


def _open(path: Path, data: bytes) -> Any:
    from openpyxl import load_workbook  # noqa: PLC0415 (here: only a workbook pays its 0.6 s)

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            unpacked = sum(info.file_size for info in archive.infolist())
            kind = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise UnreadableFile(f"Plik ZIP jest uszkodzony albo niepełny: {path}. {SAVE_AS}") from None
    if b"opendocument.spreadsheet" in kind:
        raise UnreadableFile(
            f"To arkusz OpenDocument (.ods), którego nie czytamy: {path}. {SAVE_AS}"
        )
    if "xl/workbook.xml" not in names:
        raise UnreadableFile(f"To plik ZIP, ale nie arkusz Excela (.xlsx): {path}. {SAVE_AS}")
    if unpacked > MAX_UNPACKED_BYTES:
        raise UnreadableFile(
            f"Arkusz jest za duży (po rozpakowaniu ponad {MAX_UNPACKED_BYTES // 2**20} MB): {path}"
        )
    try:
        # From memory, not the path: no file handle stays open while rows are read lazily.
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise _damaged(path, exc) from None


def _damaged(path: Path, exc: Exception) -> UnreadableFile:
    # openpyxl meets a damaged workbook with whatever the XML or zip layer raised
    # (KeyError, ParseError, ValueError, zlib.error ...): any of them means the same here.
    log.info("unreadable workbook: %s: %s", type(exc).__name__, exc)
    return UnreadableFile(f"Arkusz jest uszkodzony i nie da się go odczytać: {path}. {SAVE_AS}")


def _rows(sheet: Any) -> Iterator[Row]:
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells = [cell_text(value).strip() for value in values]
        if any(cells):
            yield number, _trimmed(cells)


def _trimmed(cells: Sequence[str]) -> list[str]:
    """Without the empty cells at the end: a sheet's rows are as wide as its widest one."""
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return list(cells[:end])


def _guarded(workbook: Any, sheet: Any, path: Path) -> Iterator[Row]:
    """The rows; damage found half-way is UnreadableFile (the import then stores nothing)."""
    try:
        yield from _rows(sheet)
    except Exception as exc:
        raise _damaged(path, exc) from None
    finally:
        workbook.close()
