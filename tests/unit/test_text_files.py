"""Reading staff files: encodings, delimiters, broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from empikgo_mailer.adapters.text_files import UnreadableFile, parse_csv, read_text


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
        ("a;b\nŁódź;1\n".encode("cp1250"), r"UTF-8 \(niepoprawny znak w linii 2\)"),
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
