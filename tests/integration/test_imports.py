"""Patron and code imports: good rows in, bad rows listed, unreadable files change nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from empikgo_mailer.adapters.tables import Code, Patron
from empikgo_mailer.adapters.text_files import UnreadableFile
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.patrons import ImportPatrons, import_patrons
from empikgo_mailer.handlers.pools import ImportCodes, import_codes

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parents[2] / "fixtures"
HEADER = "card_number;first_name;last_name;email;active;contact_confirmed_on;balance\n"


def patrons(app: App) -> dict[str, Patron]:
    with app.db.transaction() as session:
        return {p.card_number: p for p in session.exec(select(Patron))}


def codes(app: App) -> list[tuple[str, str, str | None, str]]:
    with app.db.transaction() as session:
        return [
            (c.value, c.month, c.branch_id, c.status)
            for c in session.exec(select(Code).order_by(col(Code.id)))
        ]


def write(tmp_path: Path, text: str, name: str = "in.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def test_sample_patrons_import_with_bom_and_semicolons(app: App) -> None:
    report = import_patrons(ImportPatrons(FIXTURES / "patrons.csv"), uow=app.uow(), now=NOW)
    assert (report.created, report.updated, report.rejected) == (12, 0, [])
    zak = patrons(app)["1000001"]
    assert (zak.first_name, zak.last_name, zak.active) == ("Łukasz", "Żak", True)
    assert patrons(app)["1000003"].opening_balance_grosze == 120
    assert patrons(app)["1000006"].contact_confirmed_on == date(2026, 8, 15)


def test_upsert_by_card_and_bad_rows_listed_with_line_numbers(app: App, tmp_path: Path) -> None:
    import_patrons(
        ImportPatrons(write(tmp_path, HEADER + "1;Jan;Kowalski;jan@x.pl;tak;2026-01-01;\n")),
        uow=app.uow(),
        now=NOW,
    )
    text = HEADER + (
        "1;Jan;Kowalski;nowy@x.pl;nie;2026-02-01;0,30\n"  # update
        "2;Ewa;Nowak;ewa@x.pl;1;;\n"  # new, contact never confirmed
        "3;Ola;;ola@x.pl;tak;2026-01-01;\n"  # no last name
        "4;Adam;Mały;adam@;tak;2026-01-01;\n"  # bad e-mail
        "5;Ida;Wolna;ida@x.pl;może;2026-01-01;\n"  # bad flag
        "6;Iza;Lis;iza@x.pl;tak;2026-13-01;\n"  # bad date
        "7;Jon;Kos;jon@x.pl;tak;2026-01-01;-5\n"  # negative balance
        "8;Ala;Kot;ala@x.pl;tak;2026-01-01;abc\n"  # not an amount
        "2;Ewa;Nowak;ewa@x.pl;1;;\n"  # repeated card
        "9;Ala;Kot\n"  # short row
        "\n"
        "10;Ala;Kot;ala@x.pl;tak;01.02.2026;1 234,56\n"
    )
    report = import_patrons(ImportPatrons(write(tmp_path, text, bom=True)), uow=app.uow(), now=NOW)
    assert (report.created, report.updated) == (2, 1)
    assert [(p.line, p.reason.split(":")[0]) for p in report.rejected] == [
        (4, "last_name"),
        (5, "email"),
        (6, "active"),
        (7, "contact_confirmed_on"),
        (8, "balance"),
        (9, "balance"),
        (10, "numer karty 2 powtórzony (pierwszy raz w linii 3)"),
        (11, "brakuje 4 pól względem nagłówka"),
    ]
    stored = patrons(app)
    assert (stored["1"].email, stored["1"].active, stored["1"].opening_balance_grosze) == (
        "nowy@x.pl",
        False,
        30,
    )
    assert stored["2"].contact_confirmed_on is None
    assert stored["10"].opening_balance_grosze == 123456


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("card_number,first_name\n1,Jan\n", "Brak kolumn"),
        ("", "pusty"),
        ("\x00\x01binary", "binarne"),
    ],
)
def test_an_unreadable_patron_file_changes_nothing(
    app: App, tmp_path: Path, content: str, message: str
) -> None:
    import_patrons(
        ImportPatrons(write(tmp_path, HEADER + "1;Jan;Kowalski;;tak;;\n", "ok.csv")),
        uow=app.uow(),
        now=NOW,
    )
    with pytest.raises(UnreadableFile, match=message):
        import_patrons(ImportPatrons(write(tmp_path, content)), uow=app.uow(), now=NOW)
    assert list(patrons(app)) == ["1"]


def test_codes_from_a_plain_list_and_from_csv(app: App, tmp_path: Path) -> None:
    plain = write(tmp_path, "AAA-1\n\n  BBB-2  \nAAA-1\nbad code\n", "codes.txt")
    report = import_codes(
        ImportCodes(plain, Platform.EMPIK_GO, Month(2026, 11), "w63"),
        uow=app.uow(),
        library=app.library,
        now=NOW,
    )
    assert report.loaded == 2
    assert [(p.line, p.reason) for p in report.refused] == [
        (4, "kod powtórzony w pliku (pierwszy raz w linii 1)"),
        (5, "kod zawiera spacje lub znaki niedrukowalne"),
    ]
    csv = write(tmp_path, "Kod;Uwagi\nAAA-1;znany\nCCC-3;nowy\n", "codes.csv")
    report = import_codes(
        ImportCodes(csv, Platform.EMPIK_GO, Month(2026, 12), "w63"),
        uow=app.uow(),
        library=app.library,
        now=NOW,
    )
    assert report.loaded == 1
    assert [(p.line, p.reason) for p in report.refused] == [(2, "kod już jest w bazie")]
    assert codes(app) == [
        ("AAA-1", "2026-11", "w63", "free"),
        ("BBB-2", "2026-11", "w63", "free"),
        ("CCC-3", "2026-12", "w63", "free"),
    ]
    # Reports name lines, never the codes themselves.
    assert all("AAA" not in p.reason for p in report.refused)


@pytest.mark.parametrize(
    ("platform", "branch", "month", "message"),
    [
        (Platform.EMPIK_GO, None, Month(2026, 11), "podaj --branch"),
        (Platform.LEGIMI, "w63", Month(2026, 11), "nie podawaj --branch"),
        (Platform.EMPIK_GO, "bemowo", Month(2026, 11), "Nieznana placówka"),
        (Platform.LEGIMI, None, Month(2026, 10), "już minął"),
    ],
)
def test_code_import_refuses_wrong_pools(
    app: App, tmp_path: Path, platform: Platform, branch: str | None, month: Month, message: str
) -> None:
    with pytest.raises(CommandRejected, match=message):
        import_codes(
            ImportCodes(write(tmp_path, "X1\n"), platform, month, branch),
            uow=app.uow(),
            library=app.library,
            now=NOW,
        )
    assert codes(app) == []
