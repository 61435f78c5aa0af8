"""Several processes claim codes from one pool at once: no code and no patron used twice."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.tables import Code, Issuance
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from tests.support.config import write_config
from tests.support.data import add_codes, add_patron
from tests.support.race import race

PATRONS = 200
CODES = 150
PROCESSES = 4


def test_concurrent_claims_never_share_a_code_or_a_patron(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database(database_url)
    cards = [f"C{n:05d}" for n in range(PATRONS)]
    for card in cards:
        add_patron(db, card)
    add_codes(
        db,
        Platform.EMPIK_GO,
        Month(2026, 11),
        "multimedia",
        [f"CODE-{n:04d}" for n in range(CODES)],
    )

    result = race(
        write_config(tmp_path, database_url),
        database_url,
        cards,
        PROCESSES,
        datetime(2026, 11, 2, 10, 0, tzinfo=ZoneInfo("Europe/Warsaw")),
    )

    granted = [(card, code) for card, code, _ in result.outcomes if code is not None]
    assert result.attempts == 2 * PATRONS
    assert len(granted) == CODES  # every code went out, no more
    assert len({code for _, code in granted}) == CODES  # no code twice
    assert len({card for card, _ in granted}) == CODES  # no patron twice
    refusals = Counter(reason for _, code, reason in result.outcomes if code is None)
    assert set(refusals) <= {"already-has-code", "no-codes-left"}
    with db.transaction() as session:
        assert session.exec(select(func.count()).select_from(Issuance)).one() == CODES
        issued = session.exec(
            select(func.count()).select_from(Code).where(col(Code.status) == "issued")
        )
        assert issued.one() == CODES
    db.dispose()
    with capsys.disabled():
        print(
            f"\n[concurrency] {db.dialect}: {PROCESSES} processes, {result.attempts} claims in "
            f"{result.seconds:.2f} s = {result.claims_per_second:.0f} claims/s"
        )
