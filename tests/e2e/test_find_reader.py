"""Finding a reader and a message in Chromium against the real `web` process, on SQLite
and PostgreSQL, at 1280x900 and 390x844: the header's search by name (any order, no
diacritics), e-mail and card; the queue with readers' names, searched, filtered by
outcome and paged with its filters kept; a request's reader and its next/previous in the
list it was opened from; another branch's mail never listed."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.domain.statuses import RequestKind, RequestStatus
from tests.e2e.test_console import log_in, no_serious_violations, screenshot
from tests.e2e.test_console_actions import MOMENT, Library, library  # noqa: F401 (fixture)
from tests.support.data import add_patron

WIDTHS = {"szeroki": (1280, 900), "telefon": (390, 844)}
DECIDED_TODAY = 55  # more than one page of 50


def add_mail(database_url: str) -> None:
    """A morning of w63 mail: 55 decided today (Piotr's among them), two waiting, one set
    aside without a card from Ewa's address; and one message of the other branch."""
    db = Database(database_url)
    start = MOMENT - timedelta(hours=3)
    rows = []

    def request(n: int, branch: str, sender: str, **more: Any) -> None:
        at = start + timedelta(minutes=n)
        values: dict[str, Any] = {
            "branch_id": branch, "uidvalidity": 1, "uid": n, "fingerprint": f"sid:{n}",
            "message_id": f"<m{n}@example.com>", "received_at": at, "sender": sender,
            "subject": "EMPIK GO", "kind": RequestKind.REQUEST, "words": "proszę o kod",
            "status": RequestStatus.DECIDED, "outcome": "issued", "decided_at": at,
            "created_at": at,
        }  # fmt: skip
        rows.append(MailRequest(**(values | more)))

    for n in range(1, DECIDED_TODAY + 1):
        card = "1000002" if n == 20 else f"99{n:05d}"
        sender = "czytelnik2@example.com" if n == 20 else f"ktos{n}@example.net"
        outcome = "issued" if n == 20 else "card-not-found"
        request(n, "w63", sender, card_number=card, outcome=outcome)
    request(60, "w63", "czytelnik3@example.com", status=RequestStatus.SET_ASIDE,
            outcome="card-missing", subject="Prośba o e-book")  # fmt: skip
    for n in (61, 62):
        request(n, "w63", f"kolejka{n}@example.net", status=RequestStatus.QUEUED,
                outcome=None, decided_at=None)  # fmt: skip
    request(70, "multimedia", "czytelnik2@example.com", card_number="1000002")
    with db.transaction() as session:
        session.add_all(rows)
    add_patron(db, "1000010", "Anna", "Nowakowska", email="anna.n@example.com")
    db.dispose()


def phone_or_desk(browser: Browser, width: str) -> Page:
    w, h = WIDTHS[width]
    return browser.new_context(viewport={"width": w, "height": h}).new_page()


def header_search(page: Page, text: str) -> None:
    page.get_by_role("searchbox", name="Znajdź czytelnika").fill(text)
    page.get_by_role("search", name="Znajdź czytelnika").get_by_role("button").click()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_reader_is_found_from_the_header_by_name_email_or_card(
    library: Library,  # noqa: F811
    browser: Browser,
    width: str,
) -> None:
    add_mail(library.database_url)
    page = phone_or_desk(browser, width)
    log_in(page, library, "anna")

    # One match opens the reader: a name in any order, without its diacritics.
    header_search(page, "wojcik ewa")
    expect(page.get_by_role("heading", name="Ewa Wójcik — karta 1000003")).to_be_visible()
    header_search(page, "CZYTELNIK2@Example.com")
    expect(page.get_by_role("heading", name="Piotr Zieliński — karta 1000002")).to_be_visible()
    header_search(page, "1000 001")
    expect(page.get_by_role("heading", name="Anna Nowak — karta 1000001")).to_be_visible()

    # Several: a list, each a link to the reader.
    header_search(page, "anna now")
    found = page.get_by_role("table")
    expect(found.get_by_role("row")).to_have_count(3)  # the header and two readers
    expect(page.get_by_role("heading", name="Znalezieni czytelnicy (2)")).to_be_visible()
    no_serious_violations(page)
    screenshot(page, f"czytelnicy-{width}", library)
    found.get_by_role("link", name="Anna Nowakowska").click()
    expect(page.get_by_role("heading", name="Anna Nowakowska — karta 1000010")).to_be_visible()

    header_search(page, "Krzysztof")
    expect(page.get_by_text("Nie znaleziono czytelnika dla „Krzysztof”.")).to_be_visible()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_queue_names_readers_searches_filters_pages_and_steps_through_requests(
    library: Library,  # noqa: F811
    browser: Browser,
    width: str,
) -> None:
    add_mail(library.database_url)
    page = phone_or_desk(browser, width)
    log_in(page, library, "anna")
    page.goto(f"{library.url}/placowki/w63/kolejka")
    expect(
        page.get_by_role("heading", name=f"Rozstrzygnięte dziś ({DECIDED_TODAY})")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Czekają (2)")).to_be_visible()
    decided = page.get_by_role("table").nth(1)
    expect(decided.get_by_role("row")).to_have_count(51)  # the first 50 of 55
    expect(decided.get_by_role("row").filter(has_text="czytelnik2@example.com")).to_contain_text(
        "Piotr Zieliński"
    )
    no_serious_violations(page)
    screenshot(page, f"kolejka-dzis-{width}", library)

    # A search by the reader's name, without diacritics: w63's message only.
    page.get_by_label("Czytelnik, karta, e-mail lub temat").fill("zielinski")
    page.get_by_role("button", name="Pokaż").click()
    expect(
        page.get_by_role("heading", name="Wszystkie wiadomości — „zielinski” (1)")
    ).to_be_visible()

    # A filter by outcome, paged: 54 unknown cards, 50 a page, the filter kept in the link.
    page.get_by_label("Czytelnik, karta, e-mail lub temat").fill("")
    page.get_by_label("Wynik").select_option("card-not-found")
    page.get_by_role("button", name="Pokaż").click()
    expect(page.get_by_role("heading", name="Nieznana karta (54)")).to_be_visible()
    expect(page.get_by_text("Strona 1 z 2: wiadomości 1–50.")).to_be_visible()
    no_serious_violations(page)
    screenshot(page, f"kolejka-filtr-{width}", library)
    page.get_by_role("link", name="Następna strona").click()
    assert parse_qs(urlparse(page.url).query) == {"wynik": ["card-not-found"], "strona": ["2"]}
    expect(page.get_by_text("Strona 2 z 2: wiadomości 51–54.")).to_be_visible()
    expect(page.get_by_label("Wynik")).to_have_value("card-not-found")

    # The last of the list; "previous" goes up the same list, skipping Piotr's issued one.
    rows = page.get_by_role("table").get_by_role("row")
    rows.last.get_by_role("link").click()
    expect(page.get_by_role("link", name="Następna →")).to_have_count(0)
    page.get_by_role("link", name="← Poprzednia").click()
    expect(page.locator("dl.facts")).to_contain_text("ktos2@example.net")
    page.get_by_role("link", name="← Poprzednia").click()
    expect(page.locator("dl.facts")).to_contain_text("ktos3@example.net")
    page.get_by_role("link", name="Lista: nieznana karta").click()
    expect(page.get_by_role("heading", name="Nieznana karta (54)")).to_be_visible()

    # A message without a card names the reader at its address, with a link to her.
    page.get_by_label("Wynik").select_option("odlozone")
    page.get_by_role("button", name="Pokaż").click()
    page.get_by_role("table").get_by_role("row").filter(has_text="Ewa Wójcik").get_by_role(
        "link"
    ).click()
    no_serious_violations(page)
    screenshot(page, f"prosba-czytelnik-{width}", library)
    page.get_by_role("link", name="Ewa Wójcik (karta 1000003)").click()
    expect(page.get_by_role("heading", name="Ewa Wójcik — karta 1000003")).to_be_visible()

    # Another branch's request is not found, nor listed.
    page.goto(f"{library.url}/placowki/w63/kolejka?szukaj=1000002&wynik=")
    expect(page.get_by_role("heading", name=re.compile(r"„1000002” \(1\)"))).to_be_visible()
    response = page.goto(f"{library.url}/placowki/multimedia/kolejka")
    assert response is not None and response.status == 404
