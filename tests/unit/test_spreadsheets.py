"""Workbooks as staff save them: cells as a CSV would hold them, the sheet with the headers,
and every workbook we cannot read refused whole with a Polish reason."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

import pytest
from openpyxl import Workbook

from empikgo_mailer.adapters import spreadsheets
from empikgo_mailer.adapters.import_columns import PATRON_COLUMNS, PATRON_FIELDS
from empikgo_mailer.adapters.spreadsheets import CFB_MAGIC, cell_text
from empikgo_mailer.adapters.text_files import UnreadableFile, read_column, read_table

# What openpyxl gives for a date cell: Excel's dates and times have no zone.
NAIVE_DAY = datetime(2026, 8, 15)  # noqa: DTZ001


def workbook(path: Path, *sheets: tuple[str, Sequence[Sequence[object]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (1000012, "1000012"),
        (1000012.0, "1000012"),  # a card number typed as a number
        (0.1 + 0.2, "0.3"),
        (1.2, "1.2"),
        (True, "tak"),
        (NAIVE_DAY, "2026-08-15"),
        (NAIVE_DAY.replace(hour=10, minute=3, second=7), "2026-08-15 10:03:07"),
        (date(2026, 8, 15), "2026-08-15"),
        (time(10, 3), "10:03:00"),
        ("Łucja", "Łucja"),
    ],
)
def test_cells_read_as_a_csv_export_writes_them(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_patrons_from_the_sheet_with_their_headers(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "czytelnicy.xlsx",
        ("Notatki", [["Eksport z systemu bibliotecznego"], ["wygenerowano 2026-11-01"]]),
        (
            "Czytelnicy",
            [
                [],  # a blank first row: the header is the first non-empty one
                ["Numer karty", "Imię", "Nazwisko", "E-mail", "Aktywny",
                 "Data potwierdzenia danych", "Saldo"],
                [1000001, "Łucja", "Żak", "lucja@example.com", True, NAIVE_DAY, 1.2],
                [],
                [1000002, "Jan", "Kos", None, "nie", None, None],
            ],
        ),
    )  # fmt: skip
    table = read_table(path, PATRON_FIELDS, PATRON_COLUMNS)
    rows = list(table.rows)
    assert table.found["contact_confirmed_on"] == "Data potwierdzenia danych"
    assert [row.line for row in rows] == [3, 5]  # the sheet's own row numbers
    assert rows[0].values == {
        "card_number": "1000001", "first_name": "Łucja", "last_name": "Żak",
        "email": "lucja@example.com", "active": "tak", "contact_confirmed_on": "2026-08-15",
        "balance": "1.2",
    }  # fmt: skip
    # Empty cells at a row's end are empty fields, not missing ones.
    assert (rows[1].values["email"], rows[1].missing_fields, rows[1].extra_fields) == ("", 0, 0)


def test_codes_from_a_plain_column_and_from_a_kod_column(tmp_path: Path) -> None:
    plain = workbook(tmp_path / "plain.xlsx", ("Arkusz1", [["AAA-1"], [None], ["BBB-2"]]))
    assert list(read_column(plain, ("kod",))) == [(1, "AAA-1"), (3, "BBB-2")]
    named = workbook(
        tmp_path / "named.xlsx",
        ("Podsumowanie", [["razem", 2]]),
        ("Kody", [["Lp.", "Kod"], [1, "CCC-3"], [2, "DDD-4"]]),
    )
    assert list(read_column(named, ("kod",))) == [(2, "CCC-3"), (3, "DDD-4")]


def zipped(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def unreadable_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = workbook(tmp_path / "dobry.xlsx", ("Arkusz1", [["kod"], ["A-1"]])).read_bytes()
    truncated = tmp_path / "ucięty.xlsx"
    truncated.write_bytes(good[: len(good) // 2])
    xls = tmp_path / "stary.xls"
    xls.write_bytes(CFB_MAGIC + bytes(504) + "Workbook".encode("utf-16-le"))
    locked = tmp_path / "z-hasłem.xlsx"
    locked.write_bytes(CFB_MAGIC + bytes(504) + "EncryptedPackage".encode("utf-16-le"))
    # A workbook whose sheet's XML is broken: found only when its rows are read.
    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"<row><c")
            target.writestr(info, data)
    damaged = tmp_path / "uszkodzony.xlsx"
    damaged.write_bytes(broken.getvalue())
    empty = workbook(tmp_path / "pusty.xlsx", ("Arkusz1", []))
    return {
        "truncated": (truncated, "uszkodzony albo niepełny"),
        "xls": (xls, r"starym formacie Excela \(\.xls\)"),
        "password": (locked, "zabezpieczony hasłem"),
        "ods": (
            zipped(
                tmp_path / "calc.ods",
                {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet"},
            ),
            r"OpenDocument \(\.ods\)",
        ),
        "docx": (
            zipped(tmp_path / "pismo.xlsx", {"word/document.xml": b"<w/>"}),
            "nie arkusz Excela",
        ),
        "damaged": (damaged, "uszkodzony i nie da się go odczytać"),
        "empty": (empty, "Arkusz jest pusty"),
    }


@pytest.mark.parametrize(
    "kind", ["truncated", "xls", "password", "ods", "docx", "damaged", "empty"]
)
def test_workbooks_we_cannot_read_are_refused_whole_in_polish(tmp_path: Path, kind: str) -> None:
    path, message = unreadable_files(tmp_path)[kind]
    with pytest.raises(UnreadableFile, match=message) as refused:
        list(read_table(path, ("kod",)).rows)
    assert "apisz go jako" in str(refused.value) or kind == "empty"  # and says how to save it


def test_a_workbook_that_unpacks_to_too_much_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = workbook(
        tmp_path / "duży.xlsx", ("Arkusz1", [["kod"], *[[f"K-{n}"] for n in range(50)]])
    )
    monkeypatch.setattr(spreadsheets, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(UnreadableFile, match="za duży"):
        read_table(path, ("kod",))
