"""Every door reads a card number by the one rule (tests/support/card_cases.py): the
patron import stores it, the desk and the catalogue's HTTP endpoint find the reader by it,
and what cannot be a card number is refused with a Polish reason, nothing stored."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.config import load_settings
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.entrypoints.web import create_web_app
from tests.support.card_cases import CARD_CASES, NOT_CARDS, STORED
from tests.support.cli import Cli
from tests.support.config import write_config

NOW = "--now=2027-01-04T10:00"  # Legimi claims opened at 10:00 (Monday, first working day)
HEADER = "card_number;first_name;last_name;email;active;contact_confirmed_on;balance\n"
TOKEN = "catalogue-token-for-cards"


def patrons_file(path: Path, cards: list[str]) -> Path:
    rows = "".join(
        f"{card};Jan;Kowalski;jan{n}@example.com;tak;2026-12-01;\n" for n, card in enumerate(cards)
    )
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def stored_cards(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT card_number FROM patron ORDER BY card_number")
        return [card for (card,) in rows]


@pytest.fixture
def desk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    run = Cli(write_config(tmp_path, f"sqlite:///{tmp_path / 'cards.sqlite3'}"), capsys)
    assert run("init")[0] == ExitCode.OK
    return run


def test_the_import_stores_every_way_of_writing_a_card_in_one_form(
    desk: Cli, tmp_path: Path
) -> None:
    for n, (typed, _) in enumerate(CARD_CASES):
        file = patrons_file(tmp_path / f"one-{n}.csv", [typed])
        code, out, _ = desk("patrons", "import", str(file), NOW)
        assert code == ExitCode.OK, (typed, out)
    # Every typed form landed on its stored form: nobody was created twice.
    assert stored_cards(tmp_path / "cards.sqlite3") == STORED


def test_the_import_refuses_what_is_not_a_card_and_keeps_the_rest(
    desk: Cli, tmp_path: Path
) -> None:
    file = patrons_file(tmp_path / "bad.csv", [*NOT_CARDS, "1000001"])
    code, out, _ = desk("patrons", "import", str(file), NOW)
    assert code == ExitCode.BAD_INPUT
    assert f"odrzuconych wierszy: {len(NOT_CARDS)}" in out
    assert out.count("niepoprawny numer karty") + out.count("brak numeru karty") == len(NOT_CARDS)
    assert stored_cards(tmp_path / "cards.sqlite3") == ["1000001"]


def test_the_desk_finds_the_reader_however_the_card_is_typed(desk: Cli, tmp_path: Path) -> None:
    assert desk("patrons", "import", str(patrons_file(tmp_path / "p.csv", STORED)), NOW)[0] == 0
    for typed, stored in CARD_CASES:
        code, out, _ = desk("check", "--card", typed, "--json", NOW)
        shown = json.loads(out)
        account = next(rule for rule in shown["rules"] if rule["rule"] == "account")
        assert (shown["card"], account["verdict"]) == (stored, "pass"), typed
    for typed in NOT_CARDS:
        code, _, err = desk("check", "--card", typed, NOW)
        assert code == ExitCode.USAGE and "karty" in err, typed


def test_the_catalogue_finds_the_reader_however_the_card_is_typed(
    desk: Cli, tmp_path: Path
) -> None:
    assert desk("patrons", "import", str(patrons_file(tmp_path / "p.csv", STORED)), NOW)[0] == 0
    settings = load_settings(desk.config, {"EMPIKGO_API_TOKEN": TOKEN})
    # Several typed forms are one card: the per-card limit counts them together.
    web_settings = dataclasses.replace(settings.web, claims_per_card_per_minute=len(CARD_CASES))
    app = bootstrap(dataclasses.replace(settings, web=web_settings))
    moment = datetime(2027, 1, 4, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
    web = create_web_app(app, lambda: moment)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def claims(cards: list[str]) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalogue") as client:
            return [
                await client.post("/api/legimi/claims", json={"card_number": c}, headers=auth)
                for c in cards
            ]

    try:
        found = asyncio.run(claims([typed for typed, _ in CARD_CASES]))
        # Found: refused only because no Legimi code was loaded for January.
        assert [(a.status_code, a.json()["reason"]) for a in found] == [
            (200, "no-codes-left")
        ] * len(CARD_CASES)
        refused = asyncio.run(claims(NOT_CARDS))
        assert [answer.status_code for answer in refused] == [422] * len(NOT_CARDS)
    finally:
        app.db.dispose()
