"""The staff console in a real browser (Debian's Chromium through Playwright) against the
real `web` process, on SQLite and PostgreSQL: logging in and out, throttling, branches
kept apart, CSRF, the dashboard against `status --json`, accessibility and screenshots."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.staff import Role
from empikgo_mailer.handlers.codes import GiveCode
from empikgo_mailer.handlers.staff import AddStaff
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.browser import SCREENSHOTS, web_process
from tests.support.config import write_config
from tests.support.data import add_codes, add_patron

NOW = "2026-11-02T12:30"  # a Monday, both branches open
MOMENT = datetime(2026, 11, 2, 12, 30, tzinfo=ZoneInfo("Europe/Warsaw"))
PASSWORD = "konsola-haslo-2026"


@dataclass
class Console:
    url: str
    config: Path
    backend: str


@pytest.fixture
def console(database_url: str, tmp_path: Path) -> Iterator[Console]:
    db = Database(database_url)
    for n in range(1, 4):
        add_patron(db, f"100000{n}", email=f"czytelnik{n}@example.com")
    add_codes(db, Platform.EMPIK_GO, Month(2026, 11), "multimedia", ["MM-1", "MM-2", "MM-3"])
    add_codes(db, Platform.EMPIK_GO, Month(2026, 11), "w63", [f"W63-{n}" for n in range(20)])
    add_codes(db, Platform.LEGIMI, Month(2026, 11), None, ["LGM-1"])
    db.dispose()
    config = write_config(tmp_path, database_url)
    app = bootstrap(load_settings(config, {}))
    app.handle(AddStaff("anna", PASSWORD, Role.LIBRARIAN, "w63"), now=MOMENT)
    app.handle(AddStaff("kierownik", PASSWORD, Role.HEAD), now=MOMENT)
    app.handle(GiveCode("1000001", Platform.EMPIK_GO, Channel.DESK, "multimedia"), now=MOMENT)
    app.db.dispose()
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    with web_process(config, free_port(), NOW, tmp_path / "web.log") as web:
        yield Console(web.url, config, backend)


def new_page(browser: Browser) -> Page:
    return browser.new_context(viewport={"width": 1280, "height": 900}).new_page()


class Site(Protocol):
    url: str
    backend: str


def log_in(page: Page, console: Site, login: str, password: str = PASSWORD) -> None:
    page.goto(f"{console.url}/logowanie")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Hasło").fill(password)
    page.get_by_role("button", name="Zaloguj").click()


def no_serious_violations(page: Page) -> None:
    results = Axe().run(page)
    serious = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []


def screenshot(page: Page, name: str, console: Site) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-{console.backend}.png", full_page=True)


def test_no_page_without_a_login_a_wrong_password_then_in_and_out(
    console: Console, browser: Browser
) -> None:
    page = new_page(browser)
    page.goto(f"{console.url}/placowki/w63")
    expect(page).to_have_url(f"{console.url}/logowanie")
    no_serious_violations(page)
    screenshot(page, "logowanie", console)
    log_in(page, console, "anna", "to-nie-jest-haslo")
    expect(page.get_by_role("alert")).to_have_text("Nieprawidłowy login lub hasło.")
    log_in(page, console, "anna")
    expect(page).to_have_url(f"{console.url}/placowki/w63")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Wypożyczalnia dla Dorosłych i Młodzieży nr 63"
    )
    page.get_by_role("button", name="Wyloguj").click()
    expect(page).to_have_url(f"{console.url}/logowanie")
    page.goto(f"{console.url}/placowki/w63")
    expect(page).to_have_url(f"{console.url}/logowanie")


def test_five_wrong_passwords_lock_the_login(console: Console, browser: Browser) -> None:
    page = new_page(browser)
    for _ in range(5):
        log_in(page, console, "anna", "zle-haslo-123")
    log_in(page, console, "anna")
    expect(page.get_by_role("alert")).to_contain_text("Zbyt wiele nieudanych prób")
    expect(page).to_have_url(f"{console.url}/logowanie")


def test_a_librarian_sees_only_her_branch_and_forms_need_their_token(
    console: Console, browser: Browser
) -> None:
    page = new_page(browser)
    log_in(page, console, "anna")
    expect(page.get_by_role("navigation", name="Główna")).not_to_contain_text("Multimedia")
    answer = page.goto(f"{console.url}/placowki/multimedia")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Nie ma takiej strony")
    # A forged form (no CSRF token) is refused and the session goes on.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    forged = httpx.post(f"{console.url}/wyloguj", cookies=cookies, data={}, timeout=10)
    assert forged.status_code == 403
    answer = page.goto(f"{console.url}/placowki/w63")
    assert answer is not None and answer.status == 200
    headers = answer.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    session = next(c for c in page.context.cookies() if c["name"] == "empikgo_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"


def test_the_dashboard_shows_what_status_shows(console: Console, browser: Browser) -> None:
    page = new_page(browser)
    log_in(page, console, "kierownik")
    expect(page.get_by_role("heading", level=1)).to_have_text("Placówki")
    no_serious_violations(page)
    screenshot(page, "placowki", console)
    page.get_by_role("link", name="Multimedia").first.click()
    expect(page).to_have_url(f"{console.url}/placowki/multimedia")
    status = subprocess.run(
        [sys.executable, "-m", "empikgo_mailer", "--config", str(console.config), "status",
         "--branch", "multimedia", "--json", f"--now={NOW}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    shown = json.loads(status.stdout)
    for pool in shown["pools"]:
        row = page.locator(f"tr[data-pool='{pool['platform']}:{pool['branch'] or '*'}']")
        cells = row.locator("td.num").all_inner_texts()
        assert cells == [str(pool["loaded"]), str(pool["issued"]), str(pool["left"])]
    queue = shown["queues"][0]
    for figure, key in (("waiting", "waiting"), ("pending", "outbox_pending")):
        expect(page.locator(f"[data-figure='{figure}']")).to_have_text(str(queue[key]))
    # Three codes loaded, one given at the desk: the pool is low (the threshold is 10).
    expect(page.locator("tr[data-pool='empik-go:multimedia']")).to_contain_text(
        "zostało mało kodów"
    )
    no_serious_violations(page)
    screenshot(page, "pulpit-multimedia", console)


def test_everything_is_reachable_from_the_keyboard(console: Console, browser: Browser) -> None:
    page = new_page(browser)
    page.goto(f"{console.url}/logowanie")
    page.keyboard.press("Tab")  # the skip link first
    expect(page.locator(":focus")).to_have_text("Przejdź do treści")
    page.keyboard.press("Tab")
    page.keyboard.type("anna")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/placowki/w63$"))
