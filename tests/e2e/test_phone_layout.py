"""Every console page on a phone (390x844) and on a desk screen (1280x900), in Chromium
against the real `web` process, on SQLite and PostgreSQL: nothing scrolls sideways, axe
finds no violation at either width, and both screenshots are kept (build/screenshots) to
be looked at. The pages carry long content on purpose (long addresses, a failed reply,
set-aside messages), which is what pushed them wide."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, ViewportSize, expect
from sqlalchemy import create_engine, text

from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.statuses import RequestKind, RequestStatus
from empikgo_mailer.handlers.codes import GiveCode
from empikgo_mailer.handlers.set_aside import SetAsideAction, SettleSetAside
from tests.e2e.test_console import PASSWORD
from tests.e2e.test_console_actions import MOMENT, Library, _library
from tests.support.browser import SCREENSHOTS
from tests.support.config import MAIL_ENV

PHONE = ViewportSize(width=390, height=844)
DESK = ViewportSize(width=1280, height=900)
LONG_SENDER = (
    "Katarzyna Wiśniewska-Przybyszewska <katarzyna.wisniewska.przybyszewska@poczta.example.com>"
)


@dataclass
class Findings:
    """What every page measured, kept to the end so one run names every page at fault."""

    backend: str
    widths: dict[str, tuple[int, int]] = field(default_factory=dict)
    violations: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def look(self, page: Page, name: str, axe_context: dict[str, object] | None = None) -> None:
        """The page as it is now, at the desk width and then at the phone's (the same
        document resized: a posted page is not posted again)."""
        measured = []
        for size, label in ((DESK, "1280"), (PHONE, "390")):
            page.set_viewport_size(size)
            page.wait_for_timeout(50)  # the layout after the resize
            width = int(page.evaluate("document.scrollingElement.scrollWidth"))
            measured.append(width)
            found = [
                (v["id"], str([n["target"] for n in v["nodes"]][:3]))
                for v in Axe().run(page, context=axe_context).response["violations"]
            ]
            if found:
                self.violations[f"{name} @{label}"] = found
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=SCREENSHOTS / f"telefon-{name}-{label}-{self.backend}.png", full_page=True
            )
        page.set_viewport_size(DESK)
        self.widths[name] = (measured[0], measured[1])

    def assert_all_fit(self) -> None:
        print(f"\nWidths ({self.backend}), page: at 1280 / at 390")
        for name, (desk, phone) in self.widths.items():
            print(f"  {name}: {desk} / {phone}")
        for name, found in self.violations.items():
            print(f"  axe, {name}: {found}")
        too_wide = {
            name: widths
            for name, widths in self.widths.items()
            if widths[0] > DESK["width"] or widths[1] > PHONE["width"]
        }
        assert too_wide == {}
        assert self.violations == {}


@pytest.fixture
def library(database_url: str, tmp_path: Path) -> Iterator[Library]:
    yield from _library(database_url, tmp_path, None, None)


def _held(app: App, uid: int, sender: str | None, kind: RequestKind, outcome: str) -> int:
    at = MOMENT - timedelta(hours=3, minutes=uid)
    with app.db.transaction() as session:
        row = MailRequest(
            branch_id="w63", uidvalidity=1, uid=uid, fingerprint=f"sid:{uid}",
            message_id=f"<m{uid}@example.com>", received_at=at, sender=sender,
            subject="Prośba o kod Empik Go na listopad — bardzo proszę o szybką odpowiedź",
            kind=kind, status=RequestStatus.SET_ASIDE, outcome=outcome,
            words="Dzień dobry, proszę o kod Empik Go. Katarzyna Wiśniewska-Przybyszewska",
            decided_at=at, created_at=at,
        )  # fmt: skip
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def _queued(app: App, uid: int, sender: str) -> None:
    at = MOMENT - timedelta(minutes=uid)
    with app.db.transaction() as session:
        row = MailRequest(
            branch_id="w63", uidvalidity=1, uid=uid, fingerprint=f"sid:{uid}", received_at=at,
            sender=sender, subject="EMPIK GO", kind=RequestKind.REQUEST, card_number="1000002",
            status=RequestStatus.QUEUED, words="karta 1000002", created_at=at,
        )  # fmt: skip
        session.add(row)


@dataclass(frozen=True)
class Made:
    settled: int
    held: int
    slip: int


def _a_working_day(library: Library) -> Made:
    """Set-aside messages (one from an autoresponder), one settled with a code and its
    reply failed for good, one waiting in the queue, a code given at the desk."""
    app = bootstrap(load_settings(library.config, MAIL_ENV))
    try:
        settled = _held(app, 1, LONG_SENDER, RequestKind.REQUEST, "card-missing")
        held = _held(app, 2, LONG_SENDER, RequestKind.REQUEST, "card-missing")
        _held(app, 3, "Autoresponder <noreply-automatyczna-odpowiedz@firma.example.com>",
              RequestKind.AUTOMATIC, "automatic")  # fmt: skip
        _queued(app, 4, LONG_SENDER)
        app.handle(
            SettleSetAside(settled, "w63", SetAsideAction.GIVE, card_number="1000001",
                           login="anna"),
            now=MOMENT,
        )  # fmt: skip
        given = app.handle(
            GiveCode("1000002", Platform.EMPIK_GO, Channel.DESK, "w63", actor="staff:anna"),
            now=MOMENT,
        )
        assert given.issuance_id is not None
    finally:
        app.db.dispose()
    engine = create_engine(library.database_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE outbox SET status = 'failed', last_error = :error"),
            {"error": "550 5.1.1 <katarzyna.wisniewska.przybyszewska@poczta.example.com>: "
                      "Recipient address rejected: User unknown in virtual mailbox table"},
        )  # fmt: skip
    engine.dispose()
    return Made(settled, held, given.issuance_id)


def _log_in(page: Page, url: str, login: str) -> None:
    page.goto(f"{url}/logowanie")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Hasło").fill(PASSWORD)
    page.get_by_role("button", name="Zaloguj").click()
    expect(page.get_by_role("button", name="Wyloguj")).to_be_visible()


def test_every_page_fits_a_phone_and_a_desk_screen(
    library: Library, browser: Browser, tmp_path: Path
) -> None:
    made = _a_working_day(library)
    url, w63 = library.url, f"{library.url}/placowki/w63"
    seen = Findings(library.backend)
    page = browser.new_context(viewport=DESK).new_page()

    page.goto(f"{url}/logowanie")
    seen.look(page, "logowanie")
    _log_in(page, url, "anna")
    for name, path in (
        ("pulpit", w63),
        ("kolejka", f"{w63}/kolejka"),
        ("odlozone", f"{w63}/odlozone"),
        ("prosba-odlozona", f"{w63}/prosby/{made.held}"),
        ("prosba-z-odpowiedzia", f"{w63}/prosby/{made.settled}"),
        ("punkt", f"{w63}/punkt"),
        ("punkt-warunki", f"{w63}/punkt?karta=1000003"),
        ("potwierdzenie", f"{w63}/punkt/wydania/{made.slip}"),
        ("czytelnik", f"{url}/czytelnik"),
        ("czytelnik-konto", f"{url}/czytelnik?karta=1000003"),
        ("brak-strony", f"{url}/nie-ma-takiej-strony"),
        ("zly-numer", f"{w63}/prosby/nie-liczba"),
        ("cudza-placowka", f"{url}/placowki/multimedia"),
    ):
        page.goto(path)
        seen.look(page, name)

    # The slip's "Drukuj" opens the print dialog (stood in for: headless has none).
    page.goto(f"{w63}/punkt/wydania/{made.slip}")
    page.evaluate("window.print = () => { document.body.dataset.printed = 'tak'; }")
    page.get_by_role("button", name="Drukuj").click()
    expect(page.locator("body")).to_have_attribute("data-printed", "tak")

    _log_in(page, url, "kierownik")
    for name, path in (
        ("placowki", f"{url}/"),
        ("pulpit-multimedia", f"{url}/placowki/multimedia"),
        ("pule", f"{url}/pule"),
        ("miesiac", f"{url}/miesiac"),
        ("uslugi", f"{url}/uslugi"),
    ):
        page.goto(path)
        seen.look(page, name)
    upload = tmp_path / "w63-listopad.txt"
    upload.write_text("NOWY-1\nNOWY-2\nW63-3\nNOWY 4\nNOWY-1\n", encoding="utf-8")
    page.goto(f"{url}/pule")
    page.get_by_label("Placówka (pula Empik Go)").select_option("w63")
    page.get_by_label("Plik z kodami").set_input_files(upload)
    page.get_by_role("button", name="Pokaż podgląd").click()
    expect(page.locator("[data-figure=loaded]")).to_have_text("2")
    seen.look(page, "pula-podglad")
    page.get_by_role("button", name=re.compile("^Zatwierdź i wczytaj")).click()
    seen.look(page, "pule-wczytane")

    _log_in(page, url, "admin")
    page.goto(f"{url}/dziennik")
    seen.look(page, "dziennik")
    page.goto(f"{url}/docs")
    expect(page.get_by_text("Pobierz kod Legimi")).to_be_visible(timeout=15000)
    # Swagger UI's own markup (its nested buttons, its heading levels) is a vendored
    # widget's; axe checks the page around it.
    seen.look(page, "docs", {"exclude": [["#swagger-ui"]]})

    seen.assert_all_fit()
