"""Imports from workbooks and from the CSV files Polish Excel writes, on both databases and
at the command line: the same rows as from a UTF-8 CSV, problems named by the file's own
headers, and every file we cannot read refused whole in Polish."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel import col, select

from empikgo_mailer.adapters.spreadsheets import CFB_MAGIC
from empikgo_mailer.adapters.tables import Code, Loan, Patron
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.domain.statuses import DropKind
from empikgo_mailer.handlers.drop_folder import TakeDroppedFiles
from empikgo_mailer.handlers.loans import ImportLoans, import_loans
from empikgo_mailer.handlers.patrons import ImportPatrons, import_patrons
from tests.support.cli import Cli

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CLI_NOW = "--now=2026-11-02T10:00"
# Excel's dates have no zone; openpyxl writes and reads them naive.
AUGUST_15 = datetime(2026, 8, 15)  # noqa: DTZ001
OCTOBER_1 = datetime(2026, 10, 1)  # noqa: DTZ001
NOVEMBER_1 = datetime(2026, 11, 1)  # noqa: DTZ001
PATRON_HEADERS = [
    "Nr karty", "Imię", "Nazwisko", "Adres e-mail", "Aktywny", "Data potwierdzenia danych",
    "Saldo",
]  # fmt: skip


def workbook(path: Path, *sheets: tuple[str, Sequence[Sequence[object]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    book.save(path)
    return path


def patrons_workbook(path: Path) -> Path:
    return workbook(
        path,
        ("Instrukcja", [["Arkusz „Czytelnicy” zawiera eksport z systemu."]]),
        ("Czytelnicy", [
            PATRON_HEADERS,
            [1000001, "Łucja", "Żak", "lucja@example.com", True, AUGUST_15, 1.2],
            [1000002, "Jan", "Kos", None, "nie", None, None],
            [1000003, "Ewa", "Bąk", "ewa@example.com", "tak", "wczoraj", None],
            [1000004, "Ola", None, None, "tak", None, None],
        ]),
    )  # fmt: skip


def test_patrons_from_a_workbook_with_problems_named_by_its_headers(
    app: App, tmp_path: Path
) -> None:
    path = patrons_workbook(tmp_path / "czytelnicy.xlsx")
    report = import_patrons(ImportPatrons(path), uow=app.uow(), now=NOW)
    assert (report.created, report.updated) == (2, 0)
    assert report.columns["email"] == "Adres e-mail"
    assert [(p.line, p.reason) for p in report.rejected] == [
        (4, "Data potwierdzenia danych: to nie jest data (RRRR-MM-DD albo DD.MM.RRRR): „wczoraj”"),
        (5, "Nazwisko: puste pole"),
    ]
    with app.db.transaction() as session:
        lucja = session.exec(select(Patron).where(Patron.card_number == "1000001")).one()
        assert (lucja.first_name, lucja.contact_confirmed_on, lucja.opening_balance_grosze) == (
            "Łucja", AUGUST_15.date(), 120,
        )  # fmt: skip


def test_loans_from_a_workbook_with_date_cells(app: App, tmp_path: Path) -> None:
    import_patrons(ImportPatrons(patrons_workbook(tmp_path / "p.xlsx")), uow=app.uow(), now=NOW)
    path = workbook(
        tmp_path / "wypozyczenia.xlsx",
        ("Arkusz1", [
            ["Numer karty", "Kod kreskowy", "Lokalizacja", "Data wypożyczenia", "Termin zwrotu",
             "Data zwrotu", "Prolongaty", "Limit prolongat", "Rezerwacja"],
            [1000001, "0000555501", "w63", OCTOBER_1, NOVEMBER_1, None, 0, 2, False],
            [1000002, "0000555502", "mars", OCTOBER_1, NOVEMBER_1, None, 0, 2, False],
        ]),
    )  # fmt: skip
    report = import_loans(ImportLoans(path), uow=app.uow(), library=app.library, now=NOW)
    assert report.created == 1
    [(line, reason)] = [(p.line, p.reason) for p in report.rejected]
    assert (line, reason.split(":")[0]) == (3, "Lokalizacja")
    with app.db.transaction() as session:
        loan = session.exec(select(Loan)).one()
        assert (loan.item_barcode, loan.borrowed_on, loan.on_hold) == (
            "0000555501", OCTOBER_1.date(), False,
        )  # fmt: skip


def test_the_command_line_reads_workbooks_and_polish_excel_csv(cli: Cli, tmp_path: Path) -> None:
    code, out, err = cli("patrons", "import", str(patrons_workbook(tmp_path / "c.xlsx")), CLI_NOW)
    assert code == ExitCode.BAD_INPUT, err  # two good rows in, two bad ones listed
    assert "Zaimportowano czytelników: 2" in out
    assert "  linia 5: Nazwisko: puste pole" in out
    # "CSV (rozdzielany przecinkami)" from Excel on a Polish Windows: Windows-1250.
    cp1250 = tmp_path / "excel.csv"
    cp1250.write_bytes(
        ";".join(PATRON_HEADERS).encode("cp1250") + b"\r\n"
        + "1000005;Źdźisław;Wąż;zw@example.com;tak;15.08.2026;0,30\r\n".encode("cp1250")
    )  # fmt: skip
    code, out, err = cli("patrons", "import", str(cp1250), CLI_NOW)
    assert (code, "Zaimportowano czytelników: 1 (nowych: 1" in out) == (ExitCode.OK, True), err
    codes = workbook(tmp_path / "kody.xlsx", ("Arkusz1", [["Kod"], ["XL-1"], ["XL-2"], ["XL 3"]]))
    code, out, _ = cli(
        "codes", "import", str(codes), "--platform", "empik-go", "--month", "2026-11",
        "--branch", "w63", CLI_NOW,
    )  # fmt: skip
    assert "Wczytano kodów Empik Go na listopad 2026, placówka w63: 2; odrzuconych: 1." in out
    assert "  linia 4: kod zawiera spacje" in out
    report = workbook(
        tmp_path / "aktywacje.xlsx",
        ("Aktywacje", [["Kod", "Data aktywacji"], ["NIE-NASZ", OCTOBER_1]]),
    )
    code, out, _ = cli("codes", "activations", str(report), "--platform", "empik-go", CLI_NOW)
    assert "Nieznane kody (pominięte): 1" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (CFB_MAGIC + bytes(504) + "Workbook".encode("utf-16-le"), "starym formacie Excela (.xls)"),
        (CFB_MAGIC + bytes(504) + "EncryptedPackage".encode("utf-16-le"), "zabezpieczony hasłem"),
        (b"PK\x03\x04 not really a zip", "ZIP jest uszkodzony"),
        (b"", "Plik jest pusty"),
        ("kod\nŚwiątek\n".encode("iso-8859-2"), "nie jest zapisany w UTF-8"),
    ],
)
def test_the_command_line_refuses_unreadable_files_in_polish(
    cli: Cli, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "plik.xlsx"
    path.write_bytes(content)
    code, _, err = cli("patrons", "import", str(path), CLI_NOW)
    assert code == ExitCode.BAD_INPUT
    [line] = err.strip().splitlines()  # one Polish line, no traceback
    assert line.startswith("Błąd: ")
    assert message in line


def test_a_workbook_dropped_in_the_folder_is_a_pool_and_excels_owner_file_is_not(
    app: App,
) -> None:
    pools = app.settings.jobs.drop_dir / "pools" / "empik-go" / "w63"
    pools.mkdir(parents=True)
    workbook(pools / "2026-11.xlsx", ("Arkusz1", [["Kod"], ["DROP-1"], ["DROP-2"]]))
    (pools / "~$2026-11.xlsx").write_bytes(b"\x05anna")  # Excel has the workbook open
    [result] = app.handle(TakeDroppedFiles(DropKind.POOLS, app.settings.jobs.drop_dir), now=NOW)
    assert (result.name, result.outcome) == ("pools/empik-go/w63/2026-11.xlsx", "imported")
    with app.db.transaction() as session:
        values = session.exec(select(Code.value).where(col(Code.value).like("DROP-%"))).all()
    assert sorted(values) == ["DROP-1", "DROP-2"]
    assert (pools / "~$2026-11.xlsx").exists()  # left alone for Excel
