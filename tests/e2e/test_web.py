"""The catalogue's HTTP endpoint, against `empikgo-mailer web` as a real server process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.claim_answers import CODES_AVAILABLE, NO_FREE_CODES
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.browser import web_process
from tests.support.config import write_config
from tests.support.data import add_codes, add_patron
from tests.support.databases import migrated_sqlite

TOKEN = "catalogue-secret-7f3a9c"
CLAIMS = "/api/legimi/claims"
RATE_LIMIT = 5  # the default [web] claims_per_card_per_minute


@dataclass
class WebServer:
    url: str
    log_path: Path

    def post(self, body: object, authorization: str | None = f"Bearer {TOKEN}") -> httpx.Response:
        headers = {"Authorization": authorization} if authorization is not None else {}
        return httpx.post(f"{self.url}{CLAIMS}", json=body, headers=headers, timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebServer]:
    """Monday 4 January 2027 at 10:00: Legimi claims have just opened. One code is left."""
    url = migrated_sqlite(tmp_path)
    db = Database(url)
    add_patron(db, "1000001")
    add_patron(db, "1000002", "Anna", "Nowak", email="anna@example.com")
    add_patron(db, "1000003", "Ewa", "Zielińska", email="ewa@example.com", balance=120)
    add_codes(db, Platform.LEGIMI, Month(2027, 1), None, ["LGM-ONLY"])
    db.dispose()
    log_path = tmp_path / "web.log"
    with web_process(write_config(tmp_path, url), free_port(), "2027-01-04T10:00", log_path,
                     token=TOKEN) as web:  # fmt: skip
        yield WebServer(web.url, log_path)


def test_two_readers_press_the_button_at_once_for_the_last_code(server: WebServer) -> None:
    barrier = threading.Barrier(2)
    responses: list[httpx.Response] = []

    def press(card: str) -> None:
        barrier.wait()
        responses.append(server.post({"card_number": card}))

    threads = [threading.Thread(target=press, args=(card,)) for card in ("1000001", "1000002")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bodies = sorted((r.json() for r in responses), key=lambda b: not b["granted"])
    assert [r.status_code for r in responses] == [200, 200]
    winner, loser = bodies
    assert winner["granted"] and winner["code"] == "LGM-ONLY"
    assert winner["message"] == CODES_AVAILABLE
    assert winner["activation_url"] == "https://www.legimi.pl/mazowieckie/"
    assert winner["activate_by"] == "2027-01-31"
    assert not loser["granted"] and loser["code"] is None
    assert loser["message"] == NO_FREE_CODES and loser["reason"] == "no-codes-left"


def test_a_hammering_script_gets_the_same_code_then_429(server: WebServer) -> None:
    answers = [server.post({"card_number": "1000001"}) for _ in range(RATE_LIMIT)]
    assert {a.json()["code"] for a in answers} == {"LGM-ONLY"}
    assert [a.json()["repeated"] for a in answers] == [False] + [True] * (RATE_LIMIT - 1)
    blocked = server.post({"card_number": "1000001"})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    assert "Spróbuj ponownie" in blocked.json()["detail"]
    # Another reader is not slowed down by the first one's script.
    other = server.post({"card_number": "1000002"})
    assert other.status_code == 200 and other.json()["message"] == NO_FREE_CODES


def test_a_reader_with_a_debt_is_refused_with_what_to_do(server: WebServer) -> None:
    body = server.post({"card_number": "1000003"}).json()
    assert not body["granted"] and body["reason"] == "debt"
    assert "zadłużenie" in body["message"]


def test_a_wrong_token_gets_401_and_is_never_logged(server: WebServer) -> None:
    for authorization in (
        None,
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        "Bearer",
    ):
        response = server.post({"card_number": "1000001"}, authorization=authorization)
        assert response.status_code == 401, authorization
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "token" in response.json()["detail"]
    # Nothing was given, and neither token appears in the server's output.
    assert server.post({"card_number": "1000001"}).json()["repeated"] is False
    log = server.log()
    assert TOKEN not in log
    assert "wrong-token" not in log


MALFORMED: list[tuple[object, str]] = [
    ({}, "card_number"),
    ({"card_number": ""}, "card_number"),
    ({"card_number": 1000001}, "card_number"),
    ({"card_number": "1000001; DROP TABLE"}, "card_number"),
    ({"card_number": "1000001", "extra": 1}, "extra"),
]


def test_malformed_requests_get_422_naming_the_field(server: WebServer) -> None:
    for body, field in MALFORMED:
        response = server.post(body)
        assert response.status_code == 422, body
        assert any(field in error["loc"] for error in response.json()["detail"]), body
    assert server.post({"card_number": "1000001"}).json()["granted"]


def test_broken_json_gets_422(server: WebServer) -> None:
    response = httpx.post(
        f"{server.url}{CLAIMS}",
        content=b'{"card_number": "1000001"',
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_the_openapi_schema_documents_the_endpoint(server: WebServer) -> None:
    schema = httpx.get(f"{server.url}/openapi.json").json()
    operation = schema["paths"][CLAIMS]["post"]
    assert {"200", "401", "422", "429"} <= set(operation["responses"])
    assert operation["security"] == [{"HTTPBearer": []}]
    assert "card_number" in schema["components"]["schemas"]["ClaimRequest"]["properties"]


def test_web_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    config = write_config(tmp_path, migrated_sqlite(tmp_path))
    env = {k: v for k, v in os.environ.items() if k != "EMPIKGO_API_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "empikgo_mailer", "--config", str(config), "web"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 4
    assert "EMPIKGO_API_TOKEN" in done.stderr
