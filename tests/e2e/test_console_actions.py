"""What librarians and heads do in the console, in Chromium against the real `web`
process, with the real daemon between Dovecot and an aiosmtpd sink, on SQLite and
PostgreSQL: a set-aside message given a code (and the same click twice at once), a desk
issue and its slip, a payment, a pool upload with a bad line, the month report with its
chart and CSV, the service switch and the audit trail, session expiry, and /docs offline."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import create_engine, text

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.staff import Role
from empikgo_mailer.handlers.loans import ImportLoans
from empikgo_mailer.handlers.staff import AddStaff
from empikgo_mailer.rehearsal.ports import free_port
from tests.e2e.test_console import (
    PASSWORD,
    log_in,
    new_page,
    no_serious_violations,
    screenshot,
)
from tests.support.browser import web_process
from tests.support.config import MAIL_ENV, write_config
from tests.support.data import add_codes, add_patron
from tests.support.dovecot import DovecotServer
from tests.support.mail import reply_text
from tests.support.smtp import SmtpServer, SmtpSink

WARSAW = ZoneInfo("Europe/Warsaw")
NOW = "2026-11-02T12:30"  # a Monday, both branches open
MOMENT = datetime(2026, 11, 2, 12, 30, tzinfo=WARSAW)
W63 = "Wypożyczalnia dla Dorosłych i Młodzieży nr 63"


@dataclass
class Library:
    url: str
    config: Path
    database_url: str
    backend: str
    dovecot: DovecotServer | None
    smtp: SmtpServer | None

    @property
    def sink(self) -> SmtpSink:
        assert self.smtp is not None, "this test needs the mail_library fixture"
        return self.smtp.sink

    def run_once(self, expect: ExitCode = ExitCode.OK) -> None:
        """One pass of the real daemon: collect, decide, send; it exits `expect`."""
        done = subprocess.run(
            [sys.executable, "-m", "empikgo_mailer", "--config", str(self.config), "run",
             "--once", "--now", NOW],
            env={**os.environ, **MAIL_ENV}, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert done.returncode == expect, done.stderr

    def deliver(self, branch: str, sender: str, message_id: str, body: str) -> None:
        raw = (
            f"From: {sender}\r\nTo: {branch}@biblioteka.test\r\nSubject: EMPIK GO\r\n"
            f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{body}\r\n"
        ).encode()
        assert self.dovecot is not None, "this test needs the mail_library fixture"
        with self.dovecot.client(branch) as client:
            client.append("INBOX", raw, msg_time=datetime(2026, 11, 2, 9, 0, tzinfo=WARSAW))

    def count(self, sql: str) -> int:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return int(connection.execute(text(sql)).scalar_one())
        finally:
            engine.dispose()

    def replies_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sink.messages() if address in str(m["To"])]


LOANS = """card_number;item_barcode;location;borrowed_on;due_on;returned_on;renewals_used;renewal_limit;on_hold
1000003;0000555501;multimedia;2026-09-01;2026-10-01;2026-10-05;0;2;nie
"""


@pytest.fixture
def library(database_url: str, tmp_path: Path) -> Iterator[Library]:
    """The console alone: mail servers are never reached (nothing is sent)."""
    yield from _library(database_url, tmp_path, None, None)


@pytest.fixture
def mail_library(
    database_url: str, tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> Iterator[Library]:
    """The console with the daemon's real servers: Dovecot and the aiosmtpd sink."""
    yield from _library(database_url, tmp_path, dovecot, smtp)


def _library(
    database_url: str, tmp_path: Path, dovecot: DovecotServer | None, smtp: SmtpServer | None
) -> Iterator[Library]:
    db = Database(database_url)
    add_patron(db, "1000001", "Anna", "Nowak", email="czytelnik1@example.com")
    add_patron(db, "1000002", "Piotr", "Zieliński", email="czytelnik2@example.com")
    add_patron(db, "1000003", "Ewa", "Wójcik", email="czytelnik3@example.com")
    add_codes(db, Platform.EMPIK_GO, Month(2026, 11), "w63", [f"W63-{n}" for n in range(20)])
    add_codes(db, Platform.EMPIK_GO, Month(2026, 11), "multimedia", ["MM-1", "MM-2"])
    add_codes(db, Platform.LEGIMI, Month(2026, 11), None, ["LGM-1", "LGM-2"])
    db.dispose()
    if dovecot is not None and smtp is not None:
        config = write_config(tmp_path, database_url, imap_port=dovecot.port, smtp_port=smtp.port)
    else:
        config = write_config(tmp_path, database_url)
    app = bootstrap(load_settings(config, MAIL_ENV))
    for login, role, branch in (
        ("anna", Role.LIBRARIAN, "w63"),
        ("ola", Role.LIBRARIAN, "w63"),
        ("kierownik", Role.HEAD, None),
        ("admin", Role.ADMIN, None),
    ):
        app.handle(AddStaff(login, PASSWORD, role, branch), now=MOMENT)
    loans = tmp_path / "loans.csv"
    loans.write_text(LOANS, encoding="utf-8")
    app.handle(ImportLoans(loans), now=MOMENT - timedelta(days=20))
    app.db.dispose()
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    with web_process(config, free_port(), NOW, tmp_path / "web.log") as web:
        yield Library(web.url, config, database_url, backend, dovecot, smtp)


def test_a_set_aside_message_gets_its_code_once_and_the_reply_is_threaded(
    mail_library: Library, browser: Browser
) -> None:
    library = mail_library
    library.deliver("w63", "Anna Nowak <czytelnik1@example.com>", "<bez-karty-1@example.com>",
                    "Dzień dobry, proszę o kod. Anna Nowak, karta w załączniku")  # fmt: skip
    library.deliver("w63", "Piotr <czytelnik2@example.com>", "<bez-karty-2@example.com>",
                    "Poproszę kod Empik Go, Piotr Zieliński")  # fmt: skip
    library.run_once()  # both set aside (no card number), each told to write again
    assert len(library.sink.messages()) == 2

    page = new_page(browser)
    page.on("dialog", lambda dialog: dialog.accept())  # each action asks first (console.js)
    log_in(page, library, "anna")
    page.get_by_role("link", name="Odłożone dla obsługi").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{W63}: odłożone dla obsługi")
    held = page.locator("section.card").filter(has_text="czytelnik1@example.com")
    expect(held).to_contain_text("brak numeru karty")
    no_serious_violations(page)
    screenshot(page, "odlozone", library)
    held.get_by_label("Numer karty z wiadomości").fill("1000001")
    held.get_by_role("button", name="Wydaj kod").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Wydano kod czytelnikowi z kartą 1000001; odpowiedź idzie na czytelnik1@example.com"
    )

    # Two librarians settle reader 2's message at the same instant: one decision.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    held = page.locator("section.card").filter(has_text="czytelnik2@example.com")
    action = held.locator("form").first.get_attribute("action")
    csrf = held.locator("input[name=csrf_token]").first.get_attribute("value")
    assert action is not None and csrf is not None

    def give() -> str:
        form = {"csrf_token": csrf, "action": "give", "card": "1000002"}
        answer = httpx.post(library.url + action, data=form, cookies=cookies, timeout=30)
        assert answer.status_code == 200
        return answer.text

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: give(), range(2)))
    assert sum("Wydano kod czytelnikowi z kartą 1000002" in a for a in answers) == 1
    assert sum("Tę wiadomość już załatwiono (anna)" in a for a in answers) == 1
    patron_codes = "SELECT count(*) FROM issuance i JOIN patron p ON p.id = i.patron_id "
    assert library.count(patron_codes + "WHERE p.card_number = '1000002'") == 1
    page.reload()
    expect(page.get_by_text("Nic nie czeka na obsługę.")).to_be_visible()

    library.run_once()  # the sender sends both replies
    (reply,) = [m for m in library.replies_to("czytelnik1@example.com") if "kod" in reply_text(m)
                and re.search(r"W63-\d+", reply_text(m))]  # fmt: skip
    assert reply["In-Reply-To"] == "<bez-karty-1@example.com>"
    assert "<bez-karty-1@example.com>" in reply["References"]
    assert reply["From"].addresses[0].addr_spec == "w63@biblioteka.test"
    coded = [m for m in library.replies_to("czytelnik2@example.com")
             if re.search(r"W63-\d+", reply_text(m))]  # fmt: skip
    assert len(coded) == 1

    # The request page: the reader's words as text, every rule, and the reply as sent.
    page.goto(f"{library.url}/placowki/w63/kolejka")
    expect(page.get_by_role("heading", name="Rozstrzygnięte dziś (2)")).to_be_visible()
    no_serious_violations(page)
    screenshot(page, "kolejka", library)
    page.get_by_role("row").filter(has_text="czytelnik1@example.com").get_by_role("link").click()
    expect(page.locator("pre.original").first).to_contain_text("proszę o kod")
    rules = page.get_by_role("table").filter(has_text="Brak zadłużenia")
    expect(rules.get_by_role("row").filter(has_text="Brak zadłużenia")).to_contain_text("TAK")
    expect(rules.get_by_role("row").filter(has_text="Wolny kod w puli")).to_contain_text(
        "kod pobrany z puli"
    )
    expect(page.locator("pre.original").nth(1)).to_contain_text("nie znaleźliśmy numeru karty")
    expect(page.locator("pre.original").last).to_contain_text(re.compile(r"W63-\d+"))
    no_serious_violations(page)
    screenshot(page, "prosba", library)


def test_a_desk_issue_prints_its_slip_and_a_payment_clears_a_fine(
    library: Library, browser: Browser
) -> None:
    page = new_page(browser)
    log_in(page, library, "anna")
    page.get_by_role("link", name="Wydanie w placówce").click()
    page.get_by_label("Numer karty").fill("1000003")
    page.get_by_role("button", name="Sprawdź warunki").click()
    rules = page.get_by_role("table")
    expect(rules.get_by_role("row").filter(has_text="Brak zadłużenia")).to_contain_text("NIE")
    expect(page.get_by_role("button", name="Wydaj kod i drukuj potwierdzenie")).to_have_count(0)
    no_serious_violations(page)
    screenshot(page, "punkt-odmowa", library)

    # Four days late at 0.30 zł a day: 1,20 zł, owed to the main library, whose payments
    # a w63 librarian does not take: the head takes it in cash (the form comes filled in).
    page.get_by_role("link", name="Konto czytelnika: kody, blokady, opłaty").click()
    expect(page.get_by_role("heading", name="Ewa Wójcik — karta 1000003")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("1,20 zł")
    expect(page.get_by_label("Biblioteka").locator("option")).to_have_text(["Filia nr 1"])
    log_in(page, library, "kierownik")
    page.goto(f"{library.url}/czytelnik?karta=1000003")
    expect(page.get_by_label("Biblioteka")).to_have_value("multimedia")
    expect(page.get_by_label("Kwota (zł)")).to_have_value("1,20")
    expect(page.get_by_label("Sposób")).to_have_value("cash")
    no_serious_violations(page)
    screenshot(page, "czytelnik", library)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Zapisz wpłatę").click()
    expect(page.locator("[data-figure=amount]")).to_have_text("1,20 zł")
    page.get_by_role("link", name="Wróć do czytelnika").click()
    expect(page.locator("dl.facts")).to_contain_text("0,00 zł")

    log_in(page, library, "anna")
    page.goto(f"{library.url}/placowki/w63/punkt?karta=1000003")
    page.get_by_role("button", name="Wydaj kod i drukuj potwierdzenie").click()
    expect(page).to_have_url(re.compile(r"/placowki/w63/punkt/wydania/\d+$"))
    expect(page.locator("[data-code]")).to_have_text(re.compile(r"^W63-\d+$"))
    expect(page.locator(".slip")).to_contain_text("blokuje otrzymanie kolejnych kodów")
    no_serious_violations(page)
    page.emulate_media(media="print")
    expect(page.locator("header.bar")).to_be_hidden()
    screenshot(page, "potwierdzenie-druk", library)
    # The slip belongs to the branch that gave the code.
    other = page.url.replace("/w63/", "/multimedia/")
    page.emulate_media(media="screen")
    log_in(page, library, "kierownik")
    answer = page.goto(other)
    assert answer is not None and answer.status == 422


def test_a_pool_upload_is_previewed_with_its_bad_lines_then_confirmed(
    library: Library, browser: Browser, tmp_path: Path
) -> None:
    upload = tmp_path / "w63-listopad.txt"
    upload.write_text("NOWY-1\nNOWY-2\nW63-3\nNOWY 4\nNOWY-1\n", encoding="utf-8")
    page = new_page(browser)
    log_in(page, library, "kierownik")
    page.get_by_role("link", name="Pule").click()
    page.get_by_label("Platforma").first.select_option("empik-go")
    page.get_by_label("Placówka (pula Empik Go)").select_option("w63")
    page.get_by_label("Plik z kodami").set_input_files(upload)
    no_serious_violations(page)
    screenshot(page, "pule", library)
    page.get_by_role("button", name="Pokaż podgląd").click()
    expect(page.locator("[data-figure=loaded]")).to_have_text("2")
    expect(page.locator("[data-figure=refused]")).to_have_text("3")
    refused = page.get_by_role("table")
    expect(refused).to_contain_text("kod już jest w bazie")
    expect(refused).to_contain_text("kod powtórzony w pliku (pierwszy raz w linii 1)")
    expect(refused).to_contain_text("kod zawiera spacje")
    assert library.count("SELECT count(*) FROM code WHERE value LIKE 'NOWY%'") == 0
    no_serious_violations(page)
    screenshot(page, "pula-podglad", library)
    confirm = page.locator("form[action='/pule/wczytaj']")
    sent: dict[str, str | float | bool] = {
        name: confirm.locator(f"input[name={name}]").get_attribute("value") or ""
        for name in ("csrf_token", "token", "platform", "month", "branch")
    }
    page.get_by_role("button", name="Zatwierdź i wczytaj 2 kody").click()
    expect(page.get_by_role("status")).to_have_text("Wczytano 2 kody; odrzucone linie: 3.")
    row = page.get_by_role("row").filter(has_text=W63).filter(has_text="Empik Go")
    expect(row.locator("td.num").first).to_have_text("22")
    assert library.count("SELECT count(*) FROM code WHERE value LIKE 'NOWY%'") == 2
    # Confirming the same preview again loads nothing twice. (The browser keeps no copy
    # of the preview to go back to: every console page is Cache-Control: no-store.)
    again = page.request.post(f"{library.url}/pule/wczytaj", form=sent)
    assert again.status == 422 and "Nie wykonano" in again.text()
    assert library.count("SELECT count(*) FROM code WHERE value LIKE 'NOWY%'") == 2


def test_the_month_page_draws_its_chart_and_gives_a_csv_for_excel(
    library: Library, browser: Browser
) -> None:
    page = new_page(browser)
    log_in(page, library, "anna")
    page.goto(f"{library.url}/placowki/w63/punkt?karta=1000001")
    page.get_by_role("button", name="Wydaj kod i drukuj potwierdzenie").click()
    for who in ("anna",):  # a librarian has no month page
        answer = page.goto(f"{library.url}/miesiac")
        assert answer is not None and answer.status == 404, who
    log_in(page, library, "kierownik")
    page.get_by_role("link", name="Miesiąc").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Miesiąc listopad 2026")
    expect(page.locator("svg.chart")).to_have_count(3)  # Empik Go per branch, Legimi
    chart = page.locator("svg.chart").filter(has=page.locator("title", has_text=W63))
    expect(chart.locator("rect.bar")).to_have_count(1)
    # The console's clock stands on 2 November: the total is drawn for the 1st and the 2nd,
    # not as a flat line over the days still to come (the axis still shows the month).
    points = chart.locator("polyline.total").get_attribute("points")
    assert points is not None and len(points.split()) == 2
    expect(chart.locator("text", has_text="30")).to_have_count(1)
    no_serious_violations(page)
    screenshot(page, "miesiac", library)
    with page.expect_download() as download:
        page.get_by_role("link", name="Pobierz raport CSV (Excel)").click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == [
        "Miesiąc",
        "Platforma",
        "Placówka",
        "Kody: wczytane",
        "Kody wydane: razem",
    ]
    w63 = next(r for r in rows if r[2] == W63)
    assert w63[3:5] == ["20", "1"]


def test_the_service_switch_and_the_audit_trail(library: Library, browser: Browser) -> None:
    page = new_page(browser)
    log_in(page, library, "kierownik")
    page.get_by_role("link", name="Usługi").click()
    legimi = page.locator("section.card").filter(has_text="Legimi")
    legimi.get_by_label("Powód wyłączenia").fill("awaria po stronie Legimi")
    no_serious_violations(page)
    screenshot(page, "uslugi", library)
    legimi.get_by_role("button", name="Wyłącz").click()
    expect(page.get_by_role("status")).to_have_text("Legimi: usługa wyłączona.")
    expect(legimi).to_contain_text("Powód: awaria po stronie Legimi")
    answer = page.goto(f"{library.url}/dziennik")
    assert answer is not None and answer.status == 404  # the audit is for admins

    log_in(page, library, "admin")
    page.get_by_role("link", name="Dziennik").click()
    page.get_by_label("Kto (część, np. staff:)").fill("staff:kierownik")
    page.get_by_label("Działanie").select_option(label="wyłączenie usługi")
    page.get_by_role("button", name="Filtruj").click()
    row = page.get_by_role("row").filter(has_text="Wyłączono usługę Legimi")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("127.0.0.1")
    expect(row).to_contain_text("awaria po stronie Legimi")
    no_serious_violations(page)
    screenshot(page, "dziennik", library)


def test_an_idle_session_expires(library: Library, browser: Browser) -> None:
    page = new_page(browser)
    log_in(page, library, "anna")
    expect(page).to_have_url(f"{library.url}/placowki/w63")
    # The web process's clock stands at NOW: age the session in the database instead.
    idle = (MOMENT - timedelta(minutes=61)).astimezone(UTC).replace(tzinfo=None)
    engine = create_engine(library.database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE staff_session SET last_seen_at = :at"), {"at": idle})
    engine.dispose()
    page.reload()
    expect(page).to_have_url(f"{library.url}/logowanie")


def test_the_api_documentation_works_offline_for_staff(library: Library, browser: Browser) -> None:
    assert httpx.get(f"{library.url}/docs", timeout=10, follow_redirects=False).status_code in (
        303,
        403,
    )
    page = new_page(browser)
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else None)
    page.context.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: route.abort())
    log_in(page, library, "anna")
    page.goto(f"{library.url}/docs")
    expect(page.get_by_text("Pobierz kod Legimi")).to_be_visible(timeout=15000)
    assert blocked == []
    screenshot(page, "docs", library)


def test_a_refused_reply_is_shown_and_sent_again(mail_library: Library, browser: Browser) -> None:
    library = mail_library
    library.deliver("w63", "Anna Nowak <czytelnik1@example.com>", "<zla-karta@example.com>",
                    "Anna Nowak, karta 1000009")  # fmt: skip
    library.sink.script.append("550 5.1.1 Mailbox unavailable")
    library.run_once(expect=ExitCode.REPLIES_FAILED)
    assert library.count("SELECT count(*) FROM outbox WHERE status = 'failed'") == 1
    page = new_page(browser)
    log_in(page, library, "anna")
    failed = page.get_by_role("table").filter(has_text="Odpowiedzi, których serwer nie przyjął")
    expect(failed).to_contain_text("550 5.1.1 Mailbox unavailable")
    expect(page.locator("[data-figure=failed]")).to_have_text("1")
    # After an outage the whole branch's replies go at once ("Wyślij teraz"); here, one.
    page.get_by_role("button", name="Wyślij teraz").click()
    expect(page.get_by_role("status")).to_have_text(
        "Odpowiedzi wysyłane teraz: czekające 0, niewysłane wcześniej 1. "
        "Demon wyśle je w najbliższym przebiegu."
    )
    expect(page.locator("[data-figure=pending]")).to_have_text("1")
    library.sink.script.append("550 5.1.1 Mailbox unavailable")
    library.run_once(expect=ExitCode.REPLIES_FAILED)
    page.goto(f"{library.url}/placowki/w63")
    failed = page.get_by_role("table").filter(has_text="Odpowiedzi, których serwer nie przyjął")
    failed.get_by_role("button", name="Wyślij ponownie").click()
    expect(page.get_by_role("status")).to_have_text(
        "Odpowiedź do czytelnik1@example.com wróciła do kolejki wysyłki."
    )
    expect(page.locator("[data-figure=pending]")).to_have_text("1")
    library.run_once()
    (reply,) = library.replies_to("czytelnik1@example.com")
    assert "1000009" in reply_text(reply)
    assert library.count("SELECT count(*) FROM outbox WHERE status = 'sent'") == 1


def test_a_code_that_never_arrived_goes_back_to_the_pool(
    mail_library: Library, browser: Browser
) -> None:
    """RULES section 8: a code refused for good is not a code given. The librarian sees
    it at once, cannot send it again to the same refused address, and returns it to the
    pool; the reader's next request gets a code."""
    library = mail_library
    library.deliver("w63", "Anna Nowak <czytelnik1@example.com>", "<z-karta@example.com>",
                    "Anna Nowak, karta 1000001")  # fmt: skip
    library.sink.script.append("550 5.1.1 <czytelnik1@example.com>: User unknown")
    library.run_once(expect=ExitCode.UNDELIVERED_CODES)
    assert library.count("SELECT count(*) FROM issuance WHERE undelivered_at IS NOT NULL") == 1
    page = new_page(browser)
    log_in(page, library, "anna")
    expect(page.locator("[data-figure=undelivered]")).to_have_text("1")
    codes = page.locator("[data-table=undelivered]")
    expect(codes).to_contain_text("1000001")
    expect(codes).to_contain_text("User unknown")
    screenshot(page, "kod-nie-dotarl", library)
    codes.get_by_role("button", name="Wyślij ponownie").click()
    expect(page.get_by_role("status")).to_contain_text("który serwer odrzucił")
    page.locator("[data-table=undelivered]").get_by_role("button", name="Zwróć kod do puli").click()
    expect(page.get_by_role("status")).to_contain_text("Kod wrócił do puli")
    expect(page.locator("[data-table=undelivered]")).to_have_count(0)
    assert library.count("SELECT count(*) FROM issuance") == 0
    assert library.count("SELECT count(*) FROM audit_event WHERE action = 'code-return'") == 1

    library.deliver("w63", "Anna Nowak <czytelnik1@example.com>", "<jeszcze-raz@example.com>",
                    "Anna Nowak, karta 1000001")  # fmt: skip
    library.run_once()
    (reply,) = library.replies_to("czytelnik1@example.com")
    assert re.search(r"W63-\d+", reply_text(reply))
