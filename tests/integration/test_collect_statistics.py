"""Collecting a burst into a new database. On PostgreSQL the planner picks indexes from
statistics, which a new mail_request lacks until autovacuum's first run: a collect longer
than one fetch batch therefore analyses the table after its first batch
(`MailQueue.gather_statistics`), and each later batch's look-ups (UIDs already recorded,
earlier requests with the same fingerprint) go on finding the same rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from empikgo_mailer.bootstrap import bootstrap
from tests.conftest import fresh_database_url
from tests.support.config import settings_for
from tests.support.mail import FakeMailbox, collect
from tests.support.mail_lab import request_message

WARSAW = ZoneInfo("Europe/Warsaw")
FIRST_SECOND = datetime(2026, 11, 1, 0, 0, 1, tzinfo=WARSAW)


def _never_analysed(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return bool(
                connection.execute(
                    text("SELECT reltuples < 0 FROM pg_class WHERE relname = 'mail_request'")
                ).scalar()
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_burst_over_several_batches_keeps_recognising_repeated_requests(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = fresh_database_url(backend, tmp_path, request)
    app = bootstrap(settings_for(tmp_path, url))
    mail = replace(app.settings.mail, fetch_batch=10)
    box = FakeMailbox()
    for n in range(35):
        box.deliver(request_message(n), FIRST_SECOND)
    for n in (3, 17):  # the same readers' same messages again, batches later
        box.deliver(request_message(n), FIRST_SECOND)
    try:
        report = collect("multimedia", box, uow=app.uow(), mail=mail, clock=lambda: FIRST_SECOND)
        assert (report.fetched, report.queued, report.duplicates) == (37, 35, 2)
        if backend == "postgresql":
            assert not _never_analysed(url)
        # Collecting again finds every UID recorded: nothing new, nothing twice.
        again = collect("multimedia", box, uow=app.uow(), mail=mail, clock=lambda: FIRST_SECOND)
        assert (again.fetched, again.queued, again.duplicates) == (0, 0, 0)
    finally:
        app.db.dispose()


def test_a_collect_of_one_batch_does_not_analyse(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A pass finding a few new messages stays a few statements; autovacuum takes care of
    the statistics of a table that grows slowly."""
    url = fresh_database_url("postgresql", tmp_path, request)
    app = bootstrap(settings_for(tmp_path, url))
    box = FakeMailbox()
    for n in range(3):
        box.deliver(request_message(n), FIRST_SECOND)
    try:
        report = collect(
            "multimedia", box, uow=app.uow(), mail=app.settings.mail, clock=lambda: FIRST_SECOND
        )
        assert report.queued == 3
        assert _never_analysed(url)
    finally:
        app.db.dispose()
