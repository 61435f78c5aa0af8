"""Collecting on PostgreSQL writes a batch of requests with COPY (pg_bulk.copy_rows). A
value the database or the encoder refuses is a problem of that row (stored alone, set
aside: `test_a_row_the_database_refuses_does_not_stop_the_others`, on both databases); a
connection lost during the COPY is the database being unavailable, as for any statement:
the collect stops, nothing is recorded or set aside, and the next collect stores all."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from empikgo_mailer.adapters.mail_queue import MailQueue
from empikgo_mailer.bootstrap import bootstrap
from empikgo_mailer.domain.errors import DatabaseUnavailable
from tests.conftest import fresh_database_url
from tests.support.config import settings_for
from tests.support.mail import FakeMailbox, collect, fixture

WARSAW = ZoneInfo("Europe/Warsaw")
FIRST_SECOND = datetime(2026, 11, 1, 0, 0, 1, tzinfo=WARSAW)


def test_a_connection_lost_during_the_copy_is_the_database_unavailable_not_a_bad_row(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fresh_database_url("postgresql", tmp_path, request)
    app = bootstrap(settings_for(tmp_path, url))
    box = FakeMailbox()
    for name in ("gmail.eml", "phone.eml", "thunderbird.eml"):
        box.deliver(fixture(name), FIRST_SECOND)
    real = MailQueue.insert_requests
    other = create_engine(url)

    def cut_then_insert(queue: MailQueue, rows: Any) -> None:
        pid = queue.session.execute(text("SELECT pg_backend_pid()")).scalar()
        with other.connect() as connection:  # the server ends this session's connection
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            connection.commit()
        real(queue, rows)

    try:
        monkeypatch.setattr(MailQueue, "insert_requests", cut_then_insert)
        with pytest.raises(DatabaseUnavailable) as raised:
            collect(
                "multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=lambda: FIRST_SECOND
            )
        assert isinstance(raised.value.__cause__, OperationalError)
        monkeypatch.undo()
        with other.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM mail_request")).scalar() == 0
        report = collect(
            "multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=lambda: FIRST_SECOND
        )
        assert (report.fetched, report.queued, report.unreadable) == (3, 3, 0)
    finally:
        other.dispose()
        app.db.dispose()
