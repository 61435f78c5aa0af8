"""Reading staff-supplied text and CSV files: whole or not at all, with Polish reasons.

A file that cannot be read as a whole (missing, binary, not UTF-8, empty, no header,
missing columns) raises UnreadableFile before anything is imported. Problems with single
rows are the importer's business and are reported per line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from empikgo_mailer.adapters.import_columns import fold
from empikgo_mailer.domain.errors import BadInput

MAX_FILE_BYTES = 256 * 1024 * 1024
# Importers parse and write this many rows at a time, so memory stays flat on any file.
ROWS_PER_CHUNK = 2000
_TRUE = {"1", "t", "tak", "true", "y", "yes", "prawda"}
_FALSE = {"0", "n", "nie", "false", "no", "fałsz"}


class UnreadableFile(BadInput):
    """The file cannot be used at all; the message is for staff, in Polish."""


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


def read_text(path: Path) -> str:
    """The file's text, decoded as UTF-8 with or without a BOM."""
    try:
        if not path.is_file():
            raise UnreadableFile(f"Nie ma takiego pliku: {path}")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UnreadableFile(f"Plik jest za duży (ponad {MAX_FILE_BYTES // 2**20} MB): {path}")
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"Nie można odczytać pliku {path}: {exc.strerror}") from None
    if b"\x00" in data:
        raise UnreadableFile(f"To nie jest plik tekstowy (zawiera dane binarne): {path}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnreadableFile(
            f"Plik nie jest zapisany w UTF-8 (niepoprawny znak w linii {line}): {path}. "
            "Zapisz go w arkuszu jako „CSV UTF-8”."
        ) from None
    if not text.strip():
        raise UnreadableFile(f"Plik jest pusty: {path}")
    return text


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
    if aliases is None:
        columns = tuple(normalise_column(h) for h in headers)
    else:
        columns = tuple(aliases.get(fold(h), normalise_column(h)) for h in headers)
    duplicates = sorted({c for c in columns if columns.count(c) > 1 and c})
    if duplicates:
        raise UnreadableFile(f"Kolumny powtórzone w nagłówku {source}: {', '.join(duplicates)}")
    missing = [c for c in required if c not in columns]
    if missing:
        raise UnreadableFile(
            f"Brak kolumn w pliku {source}: {', '.join(missing)} "
            f"(są: {', '.join(h for h in headers if h) or 'żadne'})"
        )
    found = {c: h for c, h in zip(columns, headers, strict=True) if c in required}
    return CsvTable(columns, _rows(reader, columns, skipped, source), body.count("\n"), found)


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
