"""The set-aside list as librarians use it, in Chromium against the real `web` process and
the real daemon (Dovecot, the aiosmtpd sink), on SQLite and PostgreSQL: each message shows
the reader's words and what the reader was already told, a refusal already sent is not
offered, automatic mail is only closed, the reason's action comes first, every send or close
asks first, the focus moves to the next entry, a refused card stays typed, the dashboard
counts the list, and two librarians clicking the same entry answer the reader once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Locator, Page, expect

from tests.e2e.test_console import log_in, new_page, no_serious_violations, screenshot
from tests.e2e.test_console_actions import MOMENT, W63, Library, _library
from tests.support.dovecot import DovecotServer
from tests.support.mail import reply_text
from tests.support.smtp import SmtpServer

LONG = (
    "Dzień dobry, piszę w sprawie kodu Empik Go na ten miesiąc.\r\n" * 8
    + "Numer karty mam w domu, podam <b>jutro</b>. KONIEC-LISTU Anna Nowak"
)


@pytest.fixture
def mail_library(
    database_url: str, tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> Iterator[Library]:
    yield from _library(database_url, tmp_path, dovecot, smtp)


def deliver_automatic(library: Library) -> None:
    """An out-of-office answer to a reader's own request: automatic mail."""
    raw = (
        "From: Urlop <urlop@example.com>\r\nTo: w63@biblioteka.test\r\n"
        "Subject: Automatyczna odpowiedź: EMPIK GO\r\nMessage-ID: <urlop-1@example.com>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Jestem na urlopie do poniedziałku.\r\n"
    ).encode()
    assert library.dovecot is not None
    with library.dovecot.client("w63") as client:
        client.append("INBOX", raw, msg_time=MOMENT.replace(hour=9, minute=5))


def entry(page: Page, sender: str) -> Locator:
    return page.locator("section.held").filter(has_text=sender)


def entry_id(held: Locator) -> str:
    labelled = held.get_attribute("aria-labelledby")
    assert labelled is not None
    return labelled


def answer_next_dialog(page: Page, questions: list[str], *, accept: bool = True) -> None:
    """The next confirm() is answered (OK or Cancel) and its question kept."""

    def answer(dialog: Dialog) -> None:
        questions.append(dialog.message)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.once("dialog", answer)


def test_each_message_shows_what_the_reader_was_told_and_is_settled_once(
    mail_library: Library, browser: Browser
) -> None:
    library = mail_library
    library.deliver("w63", "Anna Nowak <czytelnik1@example.com>", "<a-1@example.com>", LONG)
    library.deliver("w63", "Piotr <czytelnik2@example.com>", "<p-1@example.com>",
                    "Proszę o kod, karta 1000002 albo 1000003, Piotr Zieliński")  # fmt: skip
    library.deliver("w63", "Ewa <czytelnik3@example.com>", "<e-1@example.com>",
                    "Poproszę kod Empik Go. Ewa Wójcik")  # fmt: skip
    deliver_automatic(library)
    library.run_once()  # four set aside; the three readers asked for their card, once each
    assert len(library.sink.messages()) == 3

    page = new_page(browser)
    log_in(page, library, "anna")
    expect(page.locator("[data-figure=set-aside]")).to_have_text("4")  # the list's count
    page.get_by_role("link", name="Odłożone dla obsługi").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{W63}: odłożone dla obsługi")

    # The reader's words, escaped, in an excerpt with the whole behind "pokaż całość"; what
    # the reader was already told; the refusal they got is not offered again.
    anna = entry(page, "czytelnik1@example.com")
    expect(anna).to_contain_text("brak numeru karty")
    expect(anna.locator("blockquote.words").first).to_contain_text("Dzień dobry, piszę")
    expect(anna.get_by_text("KONIEC-LISTU")).to_be_hidden()
    anna.get_by_text("pokaż całość").click()
    expect(anna.get_by_text("KONIEC-LISTU")).to_be_visible()
    expect(anna).to_contain_text("podam <b>jutro</b>")
    told = anna.get_by_role("definition").filter(has_text="czytelnik1@example.com")
    expect(told).to_contain_text("odmowa „brak numeru karty” na czytelnik1@example.com: wysłana")
    expect(anna.get_by_label("Odmowa").locator("option", has_text="nieznana karta")).to_have_count(
        1
    )
    expect(anna.get_by_label("Odmowa").locator("option", has_text="brak numeru")).to_have_count(0)
    expect(anna.get_by_label("Odmowa")).to_have_value("card-not-found")
    expect(anna.get_by_role("link", name="Znajdź czytelnika")).to_be_visible()

    # Automatic mail: nothing was sent, and closing is all it is offered.
    automatic = entry(page, "urlop@example.com")
    expect(automatic).to_contain_text("na pocztę automatyczną się nie odpowiada")
    expect(automatic.get_by_role("button")).to_have_text(["Zamknij bez odpowiedzi"])

    # Several cards: one button each, the first action, the reason's own.
    piotr = entry(page, "czytelnik2@example.com")
    first = piotr.get_by_role("button").first
    expect(first).to_have_text("Wydaj kod na kartę 1000002")
    expect(first).to_have_class("primary")
    no_serious_violations(page)
    screenshot(page, "odlozone-h1", library)
    page.set_viewport_size({"width": 390, "height": 844})
    no_serious_violations(page)
    screenshot(page, "odlozone-h1-390", library)
    page.set_viewport_size({"width": 1280, "height": 900})

    # A confirmation before anything is sent; cancelled, nothing happens.
    questions: list[str] = []
    answer_next_dialog(page, questions, accept=False)
    first.click()
    expect(first).to_be_visible()
    assert questions == [
        "Wydać kod na kartę 1000002 i wysłać go na adres e-mail z konta czytelnika?"
    ]
    ewa_heading = entry_id(entry(page, "czytelnik3@example.com"))
    answer_next_dialog(page, questions)
    first.click()
    expect(page.get_by_role("status")).to_contain_text(
        "Wydano kod czytelnikowi z kartą 1000002; odpowiedź idzie na czytelnik2@example.com"
    )
    expect(page.locator(f"#{ewa_heading}")).to_be_focused()  # the next entry
    expect(entry(page, "czytelnik2@example.com")).to_have_count(0)

    # A card the rules refuse stays typed, with the reason; no double full stop.
    anna = entry(page, "czytelnik1@example.com")
    anna.get_by_label("Numer karty z wiadomości").fill("1000009")
    answer_next_dialog(page, questions)
    anna.get_by_role("button", name="Wydaj kod").click()
    expect(page.get_by_role("status")).to_have_text(
        "Kodu nie wydano: Nie ma czytelnika z takim numerem karty. Wiadomość nadal czeka; "
        "możesz wysłać wybraną odmowę."
    )
    card = entry(page, "czytelnik1@example.com").get_by_label("Numer karty z wiadomości")
    expect(card).to_have_value("1000009")
    expect(card).to_be_focused()
    expect(card).to_have_attribute("aria-invalid", "true")

    # Two librarians send a refusal to the same message at the same moment: one refusal.
    other = new_page(browser)
    log_in(other, library, "ola")
    other.goto(f"{library.url}/placowki/w63/odlozone")
    for librarian in (page, other):
        answer_next_dialog(librarian, questions)
    for librarian in (page, other):
        entry(librarian, "czytelnik3@example.com").get_by_role(
            "button", name="Wyślij odmowę"
        ).click(no_wait_after=True)
    statuses = []
    for librarian in (page, other):
        status = librarian.get_by_role("status")
        expect(status).to_contain_text(re.compile("Wysłano odmowę|już załatwiono"))
        statuses.append(status.inner_text())
    assert (
        sum(s == "Wysłano odmowę „nieznana karta” na czytelnik3@example.com." for s in statuses)
        == 1
    )
    assert (
        sum(
            bool(re.fullmatch(r"Tę wiadomość już załatwiono \((anna|ola)\): nieznana karta\.", s))
            for s in statuses
        )
        == 1
    ), statuses

    # Closing asks too; the list empties and the dashboard agrees.
    page.goto(f"{library.url}/placowki/w63/odlozone")
    answer_next_dialog(page, questions)
    entry(page, "urlop@example.com").get_by_role("button").click()
    expect(page.get_by_role("status")).to_have_text("Zamknięto bez odpowiedzi.")
    assert questions[-1] == (
        "Zamknąć tę wiadomość bez odpowiedzi? Nadawca nie dostanie już nic więcej."
    )
    page.goto(f"{library.url}/placowki/w63")
    expect(page.locator("[data-figure=set-aside]")).to_have_text("1")  # Anna's, still there

    library.run_once()
    to_ewa = [reply_text(m) for m in library.replies_to("czytelnik3@example.com")]
    assert len(to_ewa) == 2, to_ewa  # asked for the card, then one refusal: never two
    assert not library.replies_to("urlop@example.com")
    assert (
        library.count(
            "SELECT count(*) FROM outbox o JOIN mail_request r ON r.id = o.request_id "
            "WHERE r.sender = 'czytelnik3@example.com'"
        )
        == 2
    )
