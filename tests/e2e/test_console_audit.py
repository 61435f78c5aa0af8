"""The audit trail as an admin reads it, in Chromium against the real `web` process on
SQLite and PostgreSQL: Polish sentences (an upload under its own file name, a desk issue, a
switch recorded once however often it is pressed), one-line dates, pages of 50 events with
the filters kept, at 1280 and at 390 pixels."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from tests.e2e.test_console import log_in, new_page, no_serious_violations, screenshot
from tests.e2e.test_console_actions import MOMENT, W63, Library, library  # noqa: F401
from tests.support.config import MAIL_ENV

ONE_LINE_DATE = re.compile(
    r"^\d{1,2} (sty|lut|mar|kwi|maj|cze|lip|sie|wrz|paź|lis|gru) \d{4}, \d\d:\d\d$"
)


def scanner_events(site: Library, count: int) -> None:
    """A scanner's rows, older than the day's work, for the trail to page through."""
    app = bootstrap(load_settings(site.config, MAIL_ENV))
    try:
        with app.uow() as uow:
            for n in range(count):
                uow.store.audit(
                    at=MOMENT - timedelta(days=1, minutes=n), actor="staff:skaner",
                    action="login", outcome="refused", address="192.0.2.7",
                )  # fmt: skip
            uow.commit()
    finally:
        app.db.dispose()


def switch_off_twice(page: Page, site: Library) -> None:
    """The same form sent from two tabs opened before either was sent."""
    tabs = [page, page.context.new_page()]
    for tab in tabs:
        tab.goto(f"{site.url}/uslugi")
    for tab, message in zip(
        tabs,
        ("Legimi: usługa wyłączona.", "Legimi: usługa już była wyłączona; nic nie zmieniono."),
        strict=True,
    ):
        legimi = tab.locator("section.card").filter(has_text="Legimi")
        legimi.get_by_label("Powód wyłączenia").fill("awaria po stronie Legimi")
        legimi.get_by_role("button", name="Wyłącz").click()
        expect(tab.get_by_role("status")).to_have_text(message)
    tabs[1].close()


def upload_pool(page: Page, site: Library, upload: Path) -> None:
    page.goto(f"{site.url}/pule")
    page.get_by_label("Platforma").first.select_option("empik-go")
    page.get_by_label("Placówka (pula Empik Go)").select_option("w63")
    page.get_by_label("Plik z kodami").set_input_files(upload)
    page.get_by_role("button", name="Pokaż podgląd").click()
    page.get_by_role("button", name=re.compile(r"^Zatwierdź i wczytaj")).click()
    expect(page.get_by_role("status")).to_contain_text("Wczytano 2")


def upload_activations(page: Page, site: Library, report: Path) -> None:
    page.goto(f"{site.url}/pule")
    page.locator("#act-platform").select_option("legimi")
    page.locator("#act-file").set_input_files(report)
    page.get_by_role("button", name="Wczytaj aktywacje").click()
    expect(page.get_by_role("status")).to_contain_text("Aktywacje: nowe 0")


def test_the_audit_trail_reads_in_polish_and_pages_with_its_filters(
    library: Library,  # noqa: F811
    browser: Browser,
    tmp_path: Path,
) -> None:
    scanner_events(library, 60)
    page = new_page(browser)
    log_in(page, library, "anna")
    page.goto(f"{library.url}/placowki/w63/punkt?karta=1000001")
    page.get_by_role("button", name="Wydaj kod i drukuj potwierdzenie").click()
    expect(page.locator("[data-code]")).to_be_visible()
    log_in(page, library, "kierownik")
    switch_off_twice(page, library)
    upload = tmp_path / "Pula W63 listopad.txt"
    upload.write_text("NOWY-1\nNOWY-2\n", encoding="utf-8")
    upload_pool(page, library, upload)
    activations = tmp_path / "Aktywacje Legimi (listopad).csv"
    activations.write_text("code,activated_at\nOBCY-KOD,2026-11-02 10:00\n", encoding="utf-8")
    upload_activations(page, library, activations)

    log_in(page, library, "admin")
    page.get_by_role("link", name="Dziennik").click()
    table = page.locator("table.audit")
    expect(table.get_by_role("row").filter(has_text="Wyłączono usługę Legimi")).to_have_count(1)
    expect(table).to_contain_text("Wyłączono usługę Legimi; powód: „awaria po stronie Legimi”.")
    expect(table).to_contain_text(
        f"Wczytano pulę Empik Go na listopad 2026 ({W63}) z pliku „Pula W63 listopad.txt”: "
        "wczytane kody 2, odrzucone linie 0."
    )
    expect(table).to_contain_text(
        f"Wydano kod Empik Go czytelnikowi z kartą 1000001 w placówce ({W63})."
    )
    expect(table).to_contain_text(
        "Wczytano raport aktywacji Legimi z pliku „Aktywacje Legimi (listopad).csv”: nowe 0, "
        "znane wcześniej 0, zdjęte blokady 0, nieznane kody 1, odrzucone linie 0."
    )
    issued = table.get_by_role("row").filter(has_text="Wydano kod Empik Go")
    expect(issued.locator("td").nth(1)).to_have_text("anna")
    expect(issued.locator("td").nth(2)).to_have_text("127.0.0.1")
    text = table.inner_text()
    for machine in ("service-off", "give-code", "import-codes", "code_id", "staff:"):
        assert machine not in text
    # A date is one line: its cell no taller than one line of the sentence beside it.
    when = issued.locator("td.when")
    expect(when).to_have_text(ONE_LINE_DATE)
    box, line = when.bounding_box(), issued.locator("td").nth(1).bounding_box()
    assert box is not None and line is not None and box["height"] <= line["height"] + 1
    # The action filter speaks Polish.
    options = page.get_by_label("Działanie").locator("option").all_inner_texts()
    assert "wyłączenie usługi" in options and "service-off" not in options
    no_serious_violations(page)
    screenshot(page, "dziennik-zdania", library)

    # 60 rows of a scanner: 50 on the first page, the filters kept on the next.
    page.get_by_label("Kto (część, np. staff:)").fill("staff:skaner")
    page.get_by_label("Działanie").select_option(label="logowanie")
    page.get_by_role("button", name="Filtruj").click()
    expect(table.locator("tbody tr")).to_have_count(50)
    expect(table.locator("caption")).to_have_text("Zdarzenia 1–50, od najnowszych (strona 1)")
    expect(table).to_contain_text("Nieudana próba logowania (zły login lub hasło).")
    expect(page.get_by_role("link", name="← Nowsze zdarzenia")).to_have_count(0)
    page.get_by_role("link", name="Starsze zdarzenia →").click()
    expect(page).to_have_url(re.compile(r"kto=staff%3Askaner&co=login&.*strona=2"))
    expect(table.locator("tbody tr")).to_have_count(10)
    expect(table.locator("caption")).to_have_text("Zdarzenia 51–60, od najnowszych (strona 2)")
    expect(page.get_by_label("Kto (część, np. staff:)")).to_have_value("staff:skaner")
    expect(page.get_by_label("Działanie")).to_have_value("login")
    expect(page.get_by_role("link", name="Starsze zdarzenia →")).to_have_count(0)
    page.get_by_role("link", name="← Nowsze zdarzenia").click()
    expect(table.locator("tbody tr")).to_have_count(50)

    # On a phone: no sideways scrolling, still no serious axe finding.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_label("Kto (część, np. staff:)").fill("staff:")
    page.get_by_label("Działanie").select_option("")
    page.get_by_role("button", name="Filtruj").click()
    # (The stacked rows of table.rows and the header bar that fit 390 px come with the
    # site's CSS; the width of every page is measured in test_console's phone test.)
    no_serious_violations(page)
    screenshot(page, "dziennik-390", library)
