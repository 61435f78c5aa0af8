"""Legimi claims at HTTP speed: `empikgo-mailer web --workers 2` on one database, as the
catalogue's 10:00 rush meets it. Whichever worker answers, a reader gets one code (the
same one again on a second click), no code goes to two readers, the per-card limit counts
every worker's claims together, and codes go out in the order the claims came in."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.claim_answers import NO_FREE_CODES
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.rehearsal.ports import free_port
from tests.conftest import fresh_database_url
from tests.support.browser import web_process
from tests.support.config import write_config
from tests.support.data import add_codes, add_patron

TOKEN = "catalogue-secret-desk"
CLAIMS = "/api/legimi/claims"
READERS, CODES = 60, 40
RATE_LIMIT = 5  # the default [web] claims_per_card_per_minute


@pytest.fixture(params=["sqlite", "postgresql"])
def workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Two web workers at 10:00 on Monday 4 January 2027, READERS readers, CODES codes."""
    url = fresh_database_url(str(request.param), tmp_path, request)
    db = Database(url)
    for n in range(READERS):
        add_patron(db, f"{2000000 + n}")
    add_codes(db, Platform.LEGIMI, Month(2027, 1), None, [f"LGM-{n:03d}" for n in range(CODES)])
    db.dispose()
    config = write_config(tmp_path, url)
    log_path = tmp_path / "web.log"
    with web_process(
        config, free_port(), "2027-01-04T10:00", log_path, token=TOKEN, workers=2
    ) as web:
        yield web.url


def _post(base: str, card: str) -> httpx.Response:
    # A new connection each time: the kernel spreads them over the two workers.
    headers = {"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
    return httpx.post(f"{base}{CLAIMS}", json={"card_number": card}, headers=headers, timeout=30)


def test_two_workers_give_each_code_once_and_each_reader_one(workers: str) -> None:
    cards = [f"{2000000 + n}" for n in range(READERS)]
    with ThreadPoolExecutor(16) as pool:
        first = list(pool.map(lambda card: _post(workers, card), cards))
        again = list(pool.map(lambda card: _post(workers, card), cards))
    assert {r.status_code for r in first + again} == {200}
    given = [r.json()["code"] for r in first if r.json()["granted"]]
    assert len(given) == CODES and len(set(given)) == CODES  # every code once, none twice
    refused = [r.json() for r in first if not r.json()["granted"]]
    assert len(refused) == READERS - CODES
    assert {body["message"] for body in refused} == {NO_FREE_CODES}
    # A second click, on whichever worker, shows the reader's own code again.
    for before, after in zip(first, again, strict=True):
        assert after.json()["code"] == before.json()["code"]
        assert after.json()["repeated"] == before.json()["granted"]


def test_the_per_card_limit_counts_both_workers_together(workers: str) -> None:
    answers = [_post(workers, "2000000") for _ in range(RATE_LIMIT + 3)]
    assert [a.status_code for a in answers] == [200] * RATE_LIMIT + [429] * 3
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert _post(workers, "2000001").status_code == 200  # another reader is not slowed


def test_claims_one_after_another_get_the_codes_in_order(workers: str) -> None:
    codes = [_post(workers, f"{2000000 + n}").json()["code"] for n in range(10)]
    assert codes == [f"LGM-{n:03d}" for n in range(10)]
