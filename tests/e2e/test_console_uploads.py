"""Spreadsheets as librarians have them, in Chromium against the real `web` process on
SQLite and PostgreSQL: an .xlsx pool previewed and loaded under its own name, an .xlsx
activation report, and every file the import cannot read said in Polish on the pools page
(never a 500), at 1280x900 and at 390x844."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import Workbook
from playwright.sync_api import Browser, Page, ViewportSize, expect

from empikgo_mailer.adapters.spreadsheets import CFB_MAGIC
from empikgo_mailer.entrypoints.console.head_pages import MAX_UPLOAD
from tests.e2e.test_console import log_in, new_page, no_serious_violations, screenshot
from tests.e2e.test_console_actions import W63, Library, _library

PHONE: ViewportSize = {"width": 390, "height": 844}
SCREEN: ViewportSize = {"width": 1280, "height": 900}


@pytest.fixture
def library(database_url: str, tmp_path: Path) -> Iterator[Library]:
    """The console alone, with the data of test_console_actions."""
    yield from _library(database_url, tmp_path, None, None)


def codes_workbook(path: Path) -> Path:
    """What a head gets from the platform's panel and saves in Excel: a summary sheet
    first, the codes on the second, one already known and one with a space."""
    book = Workbook()
    summary = book.active
    summary.title = "Podsumowanie"
    summary.append(["Zamówienie", "Empik Go, listopad 2026"])
    codes = book.create_sheet("Kody")
    for row in (["Lp.", "Kod"], [1, "XL-1"], [2, "XL-2"], [3, "W63-3"], [4, "XL 4"]):
        codes.append(row)
    book.save(path)
    return path


def choose_pool(page: Page, library: Library, file: Path) -> None:
    page.goto(f"{library.url}/pule")
    page.get_by_label("Platforma").first.select_option("empik-go")
    page.get_by_label("Placówka (pula Empik Go)").select_option("w63")
    page.get_by_label("Plik z kodami").set_input_files(file)


def test_an_xlsx_pool_is_previewed_and_loaded_under_its_own_name(
    library: Library, browser: Browser, tmp_path: Path
) -> None:
    upload = codes_workbook(tmp_path / "kody-listopad.xlsx")
    page = new_page(browser)
    log_in(page, library, "kierownik")
    choose_pool(page, library, upload)
    page.get_by_role("button", name="Pokaż podgląd").click()
    expect(page.get_by_text("kody-listopad.xlsx")).to_be_visible()
    expect(page.locator("[data-figure=loaded]")).to_have_text("2")
    expect(page.locator("[data-figure=refused]")).to_have_text("2")
    refused = page.get_by_role("table")
    expect(refused).to_contain_text("kod już jest w bazie")
    expect(refused).to_contain_text("kod zawiera spacje")
    no_serious_violations(page)
    screenshot(page, "pula-podglad-xlsx", library)
    page.get_by_role("button", name="Zatwierdź").click()
    expect(page.get_by_role("status")).to_contain_text("Wczytano 2")
    row = page.get_by_role("row").filter(has_text=W63).filter(has_text="Empik Go")
    expect(row.locator("td.num").first).to_have_text("22")
    assert library.count("SELECT count(*) FROM code WHERE value LIKE 'XL-%'") == 2
    # The audit trail names the file as the head chose it, not the upload's token.
    named = "SELECT count(*) FROM audit_event WHERE details LIKE '%kody-listopad.xlsx%'"
    assert library.count(named) == 1


def test_an_xlsx_activation_report_is_read(
    library: Library, browser: Browser, tmp_path: Path
) -> None:
    book = Workbook()
    book.active.append(["Kod", "Data aktywacji"])
    book.active.append(["OBCY-1", "2026-11-01 10:00"])
    book.save(tmp_path / "aktywacje.xlsx")
    page = new_page(browser)
    log_in(page, library, "kierownik")
    page.goto(f"{library.url}/pule")
    page.get_by_label("Raport aktywacji").set_input_files(tmp_path / "aktywacje.xlsx")
    page.get_by_role("button", name="Wczytaj aktywacje").click()
    expect(page.get_by_role("status")).to_contain_text("do wyjaśnienia 1")
    expect(page.get_by_role("table").last).to_contain_text("nieznany kod")


def unreadable(tmp_path: Path) -> list[tuple[Path, str]]:
    """The files heads have been seen to pick, each with what the page must say."""
    files = {
        "pusty.csv": (b"", "Plik jest pusty"),
        "latin2.csv": ("kod\nŚWIĄTEK-1\n".encode("iso-8859-2"), "nie jest zapisany w UTF-8"),
        "stary.xls": (
            CFB_MAGIC + bytes(504) + "Workbook".encode("utf-16-le"),
            "starym formacie Excela (.xls)",
        ),
        "z-haslem.xlsx": (
            CFB_MAGIC + bytes(504) + "EncryptedPackage".encode("utf-16-le"),
            "zabezpieczony hasłem",
        ),
        "pismo.docx": (_zip({"word/document.xml": b"<w/>"}), "nie arkusz Excela"),
        "obraz.png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "dane binarne"),
        "duzy.csv": (b"kod\n" + b"K-00000001\n" * (MAX_UPLOAD // 11 + 1), "za duży"),
    }
    paths = []
    for name, (content, message) in files.items():
        (tmp_path / name).write_bytes(content)
        paths.append((tmp_path / name, message))
    return paths


def _zip(files: dict[str, bytes]) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return data.getvalue()


@pytest.mark.parametrize("viewport", [SCREEN, PHONE])
def test_every_unreadable_file_is_said_in_polish_never_a_500(
    library: Library, browser: Browser, tmp_path: Path, viewport: ViewportSize
) -> None:
    page = browser.new_context(viewport=viewport).new_page()
    log_in(page, library, "kierownik")
    for path, message in unreadable(tmp_path):
        choose_pool(page, library, path)
        with page.expect_response(f"{library.url}/pule/podglad") as answer:
            page.get_by_role("button", name="Pokaż podgląd").click()
        assert answer.value.status == 422, path.name
        expect(page.get_by_role("heading", level=1)).to_contain_text("Pule kodów")
        said = page.get_by_role("status")
        expect(said).to_contain_text(message)
        if path.name != "duzy.csv":  # refused before it is read
            expect(said).to_contain_text(f"„{path.name}”")  # its own name, not where it waited
        expect(said).not_to_contain_text(str(tmp_path))  # nor a server path
        expect(said).not_to_contain_text("empikgo-mailer-uploads")
        # The activation form says the same of the same file.
        page.get_by_label("Raport aktywacji").set_input_files(path)
        with page.expect_response(f"{library.url}/pule/aktywacje") as answer:
            page.get_by_role("button", name="Wczytaj aktywacje").click()
        assert answer.value.status == 422, path.name
        expect(page.get_by_role("status")).to_contain_text(message)
    no_serious_violations(page)
    wide = "telefon" if viewport == PHONE else "ekran"
    screenshot(page, f"pula-zly-plik-{wide}", library)
    log = (Path(library.config).parent / "web.log").read_text(encoding="utf-8")
    assert "Traceback" not in log
    assert "Internal Server Error" not in log
