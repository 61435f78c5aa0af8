"""Reading staff-supplied files (CSV, plain text, .xlsx): whole or not at all, with Polish
reasons.

A file that cannot be read as a whole (missing, binary, in an encoding we cannot tell,
empty, no header, missing columns, a workbook we cannot open) raises UnreadableFile before
anything is imported. Problems with single rows are the importer's business and are
reported per line. A workbook is told by its content, not its name, and read by
`spreadsheets`; its rows then go through the same header matching as a CSV's.

Encodings: UTF-8 (with or without a BOM) and UTF-16 with a BOM (Excel's "Tekst Unicode")
are read as they are. Anything else is read as Windows-1250 (what Excel on a Polish
Windows writes for "CSV (rozdzielany przecinkami)") only when every non-ASCII character
it then gives is a letter or a mark such a file holds; otherwise (ISO-8859-2, whose ą, ś
and ź would become ±, ¶ and Ľ) the file is refused with a request to save it as UTF-8.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from empikgo_mailer.adapters.import_columns import fold, label
from empikgo_mailer.adapters.spreadsheets import Row, UnreadableFile, is_workbook, read_sheet

# UnreadableFile lives in spreadsheets (which this module reads workbooks through) and is
# everyone's from here.
__all__ = [
    "CsvRow",
    "CsvTable",
    "UnreadableFile",
    "normalise_column",
    "parse_csv",
    "read_column",
    "read_flag",
    "read_table",
    "read_text",
]

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024 * 1024
# Importers parse and write this many rows at a time, so memory stays flat on any file.
ROWS_PER_CHUNK = 2000
_TRUE = {"1", "t", "tak", "true", "y", "yes", "prawda"}
_FALSE = {"0", "n", "nie", "false", "no", "fałsz"}
# The non-ASCII characters a Windows-1250 file of names, addresses and codes holds: Polish
# letters, the Czech, Slovak and German ones in names, typographic quotes and dashes. Not
# "±¶Ľˇ¦¬": ISO-8859-2's ą ś ź Ą Ś Ź read as Windows-1250.
_CP1250_TEXT = set("ąćęłńóśźżĄĆĘŁŃÓŚŹŻáäéëíöôúüýčďěňřšťůÁÄÉÍÖÔÚÜÝČĎĚŇŘŠŤŮßŽž„”“‘’–—…«»°§€\u00a0")


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, str]
    extra_fields: int = 0
    missing_fields: int = 0


@dataclass(frozen=True)
class CsvTable:
    columns: tuple[str, ...]
    rows: Iterator[CsvRow]  # read lazily: a syntax error deep in the file raises UnreadableFile
    line_count: int  # physical lines after the header, for progress bars
    found: dict[str, str] = field(default_factory=dict)  # field -> the header in the file

    def chunks(self, size: int = ROWS_PER_CHUNK) -> Iterator[list[CsvRow]]:
        """The rows in lists of `size`: importers write a chunk at a time, memory stays flat."""
        while chunk := list(islice(self.rows, size)):
            yield chunk


def _content(path: Path) -> bytes:
    try:
        if not path.is_file():
            raise UnreadableFile(f"Nie ma takiego pliku: {path}")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UnreadableFile(f"Plik jest za duży (ponad {MAX_FILE_BYTES // 2**20} MB): {path}")
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"Nie można odczytać pliku {path}: {exc.strerror}") from None


def read_text(path: Path) -> str:
    """The text of a plain text or CSV file (see the module's note on encodings)."""
    data = _content(path)
    if is_workbook(data):
        raise UnreadableFile(f"To arkusz, a nie plik tekstowy: {path}")
    return _decoded(data, path)


def _decoded(data: bytes, path: Path) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise UnreadableFile(f"Plik w UTF-16 jest uszkodzony: {path}") from None
    elif b"\x00" in data:
        raise UnreadableFile(
            f"To nie jest plik tekstowy ani arkusz .xlsx (zawiera dane binarne): {path}"
        )
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            text = _windows_1250(data, path, exc)
    if not text.strip():
        raise UnreadableFile(f"Plik jest pusty: {path}")
    return text


def _windows_1250(data: bytes, path: Path, problem: UnicodeDecodeError) -> str:
    try:
        text = data.decode("cp1250")
    except UnicodeDecodeError:
        text = ""
    if text and all(ch in _CP1250_TEXT for ch in text if not ch.isascii()):
        log.info("read %s as Windows-1250 (not UTF-8)", path.name)
        return text
    line = data[: problem.start].count(b"\n") + 1
    raise UnreadableFile(
        f"Plik nie jest zapisany w UTF-8 (niepoprawny znak w linii {line}): {path}. "
        "Zapisz go w arkuszu jako „CSV UTF-8” albo jako .xlsx."
    ) from None


def _delimiter(header: str) -> str:
    # Polish Excel writes semicolons; everything else commas (or tabs).
    counts = {delimiter: header.count(delimiter) for delimiter in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_flag(text: str) -> bool | None:
    """A yes/no cell the way Polish and English exports write it; None when it is neither."""
    value = text.strip().casefold()
    return True if value in _TRUE else False if value in _FALSE else None


def normalise_column(name: str) -> str:
    return name.strip().strip("\ufeff").strip().lower().replace(" ", "_")


Fits = Callable[[tuple[str, ...]], bool]  # does a header (as columns) hold what we need


def _columns(headers: Sequence[str], aliases: Mapping[str, str] | None) -> tuple[str, ...]:
    if aliases is None:
        return tuple(normalise_column(h) for h in headers)
    return tuple(aliases.get(fold(h), normalise_column(h)) for h in headers)


def _header(
    headers: list[str],
    required: Sequence[str],
    source: Path,
    aliases: Mapping[str, str] | None,
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The columns a header names, and which header became which required field."""
    columns = _columns(headers, aliases)
    duplicates = sorted({c for c in columns if columns.count(c) > 1 and c})
    if duplicates:
        raise UnreadableFile(f"Kolumny powtórzone w nagłówku {source}: {', '.join(duplicates)}")
    missing = [c for c in required if c not in columns]
    if missing:
        # With aliases these are an import's fields: named the way a librarian would, with
        # the field's own name for `[import_columns]` in the configuration.
        names = [f"{label(c)} ({c})" if aliases is not None else c for c in missing]
        raise UnreadableFile(
            f"Brak kolumn w pliku {source}: {', '.join(names)} "
            f"(są: {', '.join(h for h in headers if h) or 'żadne'})"
        )
    return columns, {c: h for c, h in zip(columns, headers, strict=True) if c in required}


def parse_csv(
    text: str,
    required: Sequence[str],
    source: Path,
    aliases: Mapping[str, str] | None = None,
) -> CsvTable:
    """Parse CSV text whose first non-empty line is the header. With `aliases` (a folded
    header -> field, `import_columns`), headers are matched by any name a library system
    exports; `found` then says which header became which field."""
    body = text.lstrip()
    skipped = text[: len(text) - len(body)].count("\n")  # blank lines before the header
    header_line = body.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(body), delimiter=_delimiter(header_line))
    try:
        headers = [h.strip().strip("\ufeff").strip() for h in next(reader)]
    except csv.Error as exc:
        raise UnreadableFile(f"Nie można odczytać nagłówka pliku {source}: {exc}") from None
    columns, found = _header(headers, required, source, aliases)
    return CsvTable(columns, _rows(reader, columns, skipped, source), body.count("\n"), found)


def read_table(
    path: Path,
    required: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
    fits: Fits | None = None,
) -> CsvTable:
    """The table in a CSV file or a workbook, its first non-empty row the header. Of a
    workbook's sheets, the first whose header `fits` (by default: holds every required
    column), else its first sheet. Rows are numbered as the file shows them: a CSV's
    lines, a sheet's row numbers."""
    data = _content(path)
    if not is_workbook(data):
        return parse_csv(_decoded(data, path), required, path, aliases)
    wanted = fits or (lambda columns: all(c in columns for c in required))
    sheet = read_sheet(path, data, lambda headers: wanted(_columns(headers, aliases)))
    (header_row, headers), rows = _first(sheet.rows, path)
    columns, found = _header(headers, required, path, aliases)
    return CsvTable(
        columns, _sheet_rows(rows, columns), max(sheet.row_count - header_row, 0), found
    )


def _first(rows: Iterator[Row], path: Path) -> tuple[Row, Iterator[Row]]:
    first = next(rows, None)
    if first is None:  # read_sheet chose a sheet with a row: only a race could empty it
        raise UnreadableFile(f"Arkusz jest pusty: {path}")
    return first, rows


def _sheet_rows(rows: Iterable[Row], columns: tuple[str, ...]) -> Iterator[CsvRow]:
    """A sheet's rows as a CSV's: an empty cell at a row's end is a field, not a missing
    one (a sheet does not say how wide a row is); a filled cell past the header is extra."""
    for number, cells in rows:
        values = {column: cells[i] if i < len(cells) else "" for i, column in enumerate(columns)}
        yield CsvRow(line=number, values=values, extra_fields=max(0, len(cells) - len(columns)))


def read_column(path: Path, names: Sequence[str]) -> Iterator[tuple[int, str]]:
    """(line, value) of the column that one of `names` heads, or of a plain list (one value
    a line; in a workbook, the first cell of each row) when no header has such a name."""
    data = _content(path)
    if is_workbook(data):
        sheet = read_sheet(path, data, lambda headers: _named(headers, names) is not None)
        (header_row, headers), rows = _first(sheet.rows, path)
        index = _named(headers, names)
        if index is None:
            yield header_row, headers[0]
            yield from ((number, cells[0] if cells else "") for number, cells in rows)
        else:
            yield from ((n, cells[index] if index < len(cells) else "") for n, cells in rows)
        return
    text = _decoded(data, path)
    lines = text.splitlines()
    first = next(line for line in lines if line.strip())
    headers = first.replace(";", ",").replace("\t", ",").split(",")
    column = next((normalise_column(h) for h in headers if normalise_column(h) in names), None)
    if column is None:
        yield from ((n, line.strip()) for n, line in enumerate(lines, start=1) if line.strip())
        return
    yield from ((row.line, row.values[column]) for row in parse_csv(text, (column,), path).rows)


def _named(headers: Sequence[str], names: Sequence[str]) -> int | None:
    columns = _columns(headers, None)
    return next((i for i, column in enumerate(columns) if column in names), None)


def _rows(reader: Any, columns: tuple[str, ...], skipped: int, source: Path) -> Iterator[CsvRow]:
    """`reader` is a csv reader; its line_num gives the physical line for messages."""
    previous_end = 1
    try:
        for fields in reader:
            line = skipped + previous_end + 1
            previous_end = reader.line_num
            if not any(field.strip() for field in fields):
                continue
            values = {
                column: fields[i].strip() if i < len(fields) else ""
                for i, column in enumerate(columns)
            }
            yield CsvRow(
                line=line,
                values=values,
                extra_fields=max(0, len(fields) - len(columns)),
                missing_fields=max(0, len(columns) - len(fields)),
            )
    except csv.Error as exc:
        raise UnreadableFile(
            f"Błąd składni CSV w pliku {source} w linii {skipped + reader.line_num}: {exc}"
        ) from None
