"""Payments at the desk and the web process's own defences, in Chromium (and httpx)
against the real `web` process on SQLite and PostgreSQL: a cash payment asked for first,
confirmed, and printed as a receipt; a librarian kept to her branch's locations; a forged
X-Forwarded-For that does not escape the login lock, and one from a trusted proxy that
counts; the headers every answer carries."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, ViewportSize, expect
from sqlalchemy import create_engine, text

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.staff import Role
from empikgo_mailer.handlers.staff import AddStaff
from empikgo_mailer.rehearsal.ports import free_port
from tests.e2e.test_console import PASSWORD, log_in, new_page, no_serious_violations, screenshot
from tests.e2e.test_console_actions import MOMENT, NOW, Library
from tests.e2e.test_console_actions import library as library  # noqa: PLC0414 (a fixture)
from tests.support.browser import web_process
from tests.support.config import MAIL_ENV, write_config
from tests.support.data import add_patron

PHONE: ViewportSize = {"width": 390, "height": 844}
MAIN_LIBRARY = "Biblioteka Główna"  # the test configuration's [locations.multimedia]
MULTIMEDIA = "Dzielnicowa Wypożyczalnia Multimedialna"


def count(database_url: str, sql: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def payments(library: Library) -> int:
    return library.count("SELECT count(*) FROM payment")


@pytest.fixture
def kasia(library: Library) -> Library:
    """The library with a librarian of the multimedia branch, whose location the fine of
    reader 1000003 (1,20 zł) is owed to."""
    app = bootstrap(load_settings(library.config, MAIL_ENV))
    app.handle(AddStaff("kasia", PASSWORD, Role.LIBRARIAN, "multimedia"), now=MOMENT)
    app.db.dispose()
    return library


def test_a_cash_payment_is_confirmed_then_printed_as_a_receipt(
    kasia: Library, browser: Browser
) -> None:
    library = kasia
    page = new_page(browser)
    log_in(page, library, "kasia")
    page.goto(f"{library.url}/czytelnik?karta=1000003")
    # Something to pay: the form comes before the tables, filled in for the desk.
    headings = page.locator("h2").all_inner_texts()
    assert headings.index("Zapisz wpłatę") < headings.index("Kody"), headings
    expect(page.get_by_label("Biblioteka")).to_have_value("multimedia")
    expect(page.get_by_label("Kwota (zł)")).to_have_value("1,20")
    expect(page.get_by_label("Sposób")).to_have_value("cash")
    expect(page.get_by_label("Sposób").locator("option").first).to_have_text("gotówka")
    no_serious_violations(page)
    screenshot(page, "wplata", library)

    # The confirmation says no: nothing is recorded.
    questions: list[str] = []

    def answer(accept: bool) -> None:
        def on_dialog(dialog: Dialog) -> None:
            questions.append(dialog.message)
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()

        page.once("dialog", on_dialog)

    answer(False)
    page.get_by_role("button", name="Zapisz wpłatę").click()
    expect(page).to_have_url(re.compile(r"/czytelnik\?karta=1000003$"))
    assert questions == [
        "Zapisać wpłatę od: Ewa Wójcik? Sprawdź bibliotekę, kwotę i sposób zapłaty."
    ]
    assert payments(library) == 0

    answer(True)
    page.get_by_role("button", name="Zapisz wpłatę").click()
    expect(page).to_have_url(re.compile(r"/czytelnik/wplaty/\d+$"))
    assert payments(library) == 1
    receipt = page.locator("section.receipt")
    expect(receipt.get_by_role("heading")).to_have_text(re.compile(r"^Pokwitowanie wpłaty nr \d+$"))
    expect(receipt).to_contain_text("Ewa Wójcik, karta 1000003")
    expect(receipt).to_contain_text(MAIN_LIBRARY)
    expect(receipt).to_contain_text(f"{MULTIMEDIA}, al. Niepodległości 19/lok.C")
    expect(receipt.locator("[data-figure=amount]")).to_have_text("1,20 zł")
    expect(receipt).to_contain_text("gotówka — wpłata przyjęta")
    expect(receipt).to_contain_text("2 listopada 2026")
    expect(receipt).to_contain_text("kasia")
    expect(receipt.locator("[data-figure=balance]")).to_have_text(f"0,00 zł ({MAIN_LIBRARY})")
    expect(receipt.locator("[data-figure=outstanding]")).to_have_text("0,00 zł")
    no_serious_violations(page)
    screenshot(page, "pokwitowanie", library)
    # Reloading shows the receipt again and records nothing more.
    response = page.reload()
    assert response is not None and response.headers["cache-control"] == "no-store"
    assert payments(library) == 1
    # "Drukuj" prints; the printout is the receipt alone.
    page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    page.get_by_role("button", name="Drukuj").click()
    expect(page.locator("body")).to_have_attribute("data-printed", "yes")
    page.emulate_media(media="print")
    expect(page.locator("header.bar")).to_be_hidden()
    expect(page.get_by_role("button", name="Drukuj")).to_be_hidden()
    expect(receipt).to_be_visible()
    screenshot(page, "pokwitowanie-druk", library)
    page.emulate_media(media="screen")
    phone = browser.new_context(viewport=PHONE).new_page()
    log_in(phone, library, "kasia")
    phone.goto(page.url)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    no_serious_violations(phone)
    screenshot(phone, "pokwitowanie-390", library)

    # Paid: the reader's page has the form after the tables, with nothing filled in.
    page.goto(f"{library.url}/czytelnik?karta=1000003")
    expect(page.locator("dl.facts")).to_contain_text("0,00 zł")
    headings = page.locator("h2").all_inner_texts()
    assert headings.index("Zapisz wpłatę") > headings.index("Opłaty za przetrzymanie")
    expect(page.get_by_label("Kwota (zł)")).to_have_value("")


def csrf_of(page: Page) -> str:
    return page.locator("main input[name=csrf_token]").first.get_attribute("value") or ""


def test_a_librarian_records_payments_only_for_her_branchs_locations(
    kasia: Library, browser: Browser
) -> None:
    library = kasia
    page = new_page(browser)
    log_in(page, library, "anna")  # w63; the fine is owed to the main library (multimedia)
    page.goto(f"{library.url}/czytelnik?karta=1000003")
    expect(page.get_by_label("Biblioteka").locator("option")).to_have_text(["Filia nr 1"])
    expect(page.locator("section.payment")).to_contain_text(
        f"Wpłaty dla: {MAIN_LIBRARY} ta placówka nie przyjmuje"
    )
    no_serious_violations(page)
    # A form made by hand for the main library is refused, said in Polish and audited.
    answer = page.request.post(
        f"{library.url}/czytelnik/wplata",
        form={"csrf_token": csrf_of(page), "card": "1000003", "location": "multimedia",
              "amount": "1,20", "method": "cash"},
    )  # fmt: skip
    assert answer.status == 200
    assert f"Odmowa: wpłaty dla: {MAIN_LIBRARY} przyjmuje inna placówka" in answer.text()
    assert payments(library) == 0
    assert (
        library.count(
            "SELECT count(*) FROM audit_event WHERE action = 'pay-fine' "
            "AND outcome = 'refused' AND actor = 'staff:anna'"
        )
        == 1
    )
    # Her own location takes her payments; the head's, anyone's.
    log_in(page, library, "kierownik")
    page.goto(f"{library.url}/czytelnik?karta=1000003")
    expect(page.get_by_label("Biblioteka").locator("option")).to_have_count(3)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Zapisz wpłatę").click()
    expect(page).to_have_url(re.compile(r"/czytelnik/wplaty/\d+$"))
    receipt_url = page.url
    expect(page.locator("section.receipt")).to_contain_text("kierownik")
    # The receipt of another branch's location is not hers to see: the same answer as none.
    log_in(page, library, "anna")
    assert (shown := page.goto(receipt_url)) is not None and shown.status == 422
    expect(page.locator("main")).to_contain_text("Nie ma takiej wpłaty.")
    log_in(page, library, "kasia")
    assert (shown := page.goto(receipt_url)) is not None and shown.status == 200


def login_form(client: httpx.Client, url: str) -> str:
    page = client.get(f"{url}/logowanie")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def attempt(client: httpx.Client, url: str, login: str, password: str, forwarded: str) -> str:
    token = login_form(client, url)
    answer = client.post(
        f"{url}/logowanie",
        data={"csrf_token": token, "login": login, "password": password},
        headers={"X-Forwarded-For": forwarded},
    )
    return answer.text if answer.status_code != 303 else "zalogowano"


def test_a_forged_x_forwarded_for_does_not_escape_the_login_lock(library: Library) -> None:
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        for n in range(5):
            text = attempt(client, library.url, f"nikt{n}", "zle-haslo", f"203.0.113.{n}")
            assert "Nieprawidłowy login lub hasło." in text, text
        # The address is locked: a sixth address written in the header changes nothing.
        text = attempt(client, library.url, "anna", PASSWORD, "198.51.100.9")
        assert "Zbyt wiele nieudanych prób logowania" in text
    # The audit's "Skąd" is the connection's address, never the forged one.
    assert library.count("SELECT count(*) FROM audit_event WHERE address LIKE '203.0.113.%'") == 0
    assert library.count("SELECT count(*) FROM login_attempt WHERE address = '127.0.0.1'") == 5


def test_a_trusted_proxys_x_forwarded_for_names_the_client(
    database_url: str, tmp_path: Path
) -> None:
    db = Database(database_url)
    add_patron(db, "1000001", "Anna", "Nowak", email="czytelnik1@example.com")
    db.dispose()
    config = write_config(tmp_path, database_url, extra='[web]\ntrusted_proxies = ["127.0.0.1"]\n')
    app = bootstrap(load_settings(config, MAIL_ENV))
    app.handle(AddStaff("anna", PASSWORD, Role.LIBRARIAN, "w63"), now=MOMENT)
    app.db.dispose()
    with (
        web_process(config, free_port(), NOW, tmp_path / "web.log") as web,
        httpx.Client(follow_redirects=False, timeout=30) as client,
    ):
        for n in range(5):
            attempt(client, web.url, f"nikt{n}", "zle-haslo", "203.0.113.7")
        # Behind the proxy every reader's address is its own: another one logs in.
        assert attempt(client, web.url, "anna", PASSWORD, "198.51.100.9") == "zalogowano"
    assert (
        count(database_url, "SELECT count(*) FROM login_attempt WHERE address = '203.0.113.7'") == 5
    )
    assert (
        count(
            database_url,
            "SELECT count(*) FROM audit_event WHERE action = 'login' AND outcome = 'done' "
            "AND address = '198.51.100.9'",
        )
        == 1
    )


def test_every_answer_carries_the_headers_and_no_server_name(library: Library) -> None:
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        token = login_form(client, library.url)
        client.post(
            f"{library.url}/logowanie",
            data={"csrf_token": token, "login": "anna", "password": PASSWORD},
        )
        for path in ("/logowanie", "/", "/placowki/w63", "/czytelnik?karta=1000003",
                     "/nie-ma-takiej-strony", "/healthz"):  # fmt: skip
            answer = client.get(f"{library.url}{path}")
            assert "server" not in answer.headers, path
            assert answer.headers["cache-control"] == "no-store", path
            assert "camera=()" in answer.headers["permissions-policy"], path
        style = client.get(f"{library.url}/static/console.css")
        assert style.status_code == 200
        assert "no-store" not in style.headers.get("cache-control", "")
        assert "server" not in style.headers
