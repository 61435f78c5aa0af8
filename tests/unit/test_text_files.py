"""Reading staff files: encodings, delimiters, broken files, the file's own headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from empikgo_mailer.adapters.import_columns import PATRON_COLUMNS
from empikgo_mailer.adapters.text_files import (
    UnreadableFile,
    parse_csv,
    read_column,
    read_table,
    read_text,
)


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "file.csv"
    path.write_bytes(data)
    return path


def test_bom_and_semicolons_from_polish_excel(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffCard_Number;Imię\r\n123;Łucja\r\n".encode())
    table = parse_csv(read_text(path), ["card_number"], path)
    rows = list(table.rows)
    assert table.columns == ("card_number", "imię")
    assert rows[0].values == {"card_number": "123", "imię": "Łucja"}
    assert rows[0].line == 2


def test_line_numbers_count_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    path = write(tmp_path, b'a,b\n1,"two\nlines"\n\n3,4\n')
    table = parse_csv(read_text(path), ["a"], path)
    assert [(r.line, r.values["a"]) for r in table.rows] == [(2, "1"), (5, "3")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "pusty"),
        (b"  \n\n", "pusty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binarne"),
        # ISO-8859-2: its ą and ś read as Windows-1250 are ± and ¶, so it is not guessed.
        ("a;b\nŚwiątek;1\n".encode("iso-8859-2"), r"UTF-8 \(niepoprawny znak w linii 2\)"),
    ],
)
def test_unreadable_files_are_refused_whole(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(UnreadableFile, match=message):
        read_text(write(tmp_path, data))


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, b"card_number,email\n1,a@b.pl\n")
    with pytest.raises(UnreadableFile, match=r"Brak kolumn .*: first_name, last_name"):
        parse_csv(read_text(path), ["card_number", "first_name", "last_name"], path)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="Nie ma takiego pliku"):
        read_text(tmp_path / "missing.csv")


def test_windows_1250_from_polish_excel_is_read(tmp_path: Path) -> None:
    """Excel's "CSV (rozdzielany przecinkami)" on a Polish Windows: cp1250, semicolons."""
    path = write(tmp_path, "Numer karty;Nazwisko\r\n1;Źdźbło-Świątek „Ala”\r\n".encode("cp1250"))
    table = parse_csv(read_text(path), ["numer_karty"], path)
    assert [row.values for row in table.rows] == [
        {"numer_karty": "1", "nazwisko": "Źdźbło-Świątek „Ala”"}
    ]


def test_utf16_from_excel_unicode_text_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffkod\tuwagi\r\nŻ-1\tść\r\n".encode("utf-16-le"))
    assert list(read_column(path, ("kod",))) == [(2, "Ż-1")]


def test_missing_import_columns_are_named_as_a_librarian_would(tmp_path: Path) -> None:
    path = write(tmp_path, b"Nr karty;E-mail\n1;a@b.pl\n")
    with pytest.raises(UnreadableFile, match=r"Brak kolumn .*: imię \(first_name\), nazwisko"):
        read_table(path, ("card_number", "first_name", "last_name"), PATRON_COLUMNS)
    table = read_table(path, ("card_number", "email"), PATRON_COLUMNS)
    assert table.found == {"card_number": "Nr karty", "email": "E-mail"}
