"""Scheduled jobs: pool and activation files from the drop folder, and the month close,
both while the daemon runs (APScheduler) and after it was down (catch-up at start)."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, func, select

from empikgo_mailer.adapters.tables import Ban, Code, DroppedFile, JobRun, MonthClose
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.clock import Pace, ReplayedClock
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.statuses import JobState
from empikgo_mailer.entrypoints.daemon import Daemon
from empikgo_mailer.entrypoints.scheduler import (
    JOBS,
    FirstOfMonth,
    Jobs,
    ReplayedTrigger,
    job_statuses,
)
from empikgo_mailer.handlers.codes import GiveCode, give_code
from tests.support.data import add_codes, add_patron
from tests.support.mail import FakeMailbox, FakeTransport

WARSAW = ZoneInfo("Europe/Warsaw")
NOW = datetime(2027, 1, 4, 10, 0, tzinfo=WARSAW)


def drop(app: App, relative: str, text: str) -> Path:
    path = app.settings.jobs.drop_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def codes_in(app: App, month: str, branch: str | None = None) -> int:
    with app.db.transaction() as session:
        query = select(func.count()).select_from(Code).where(col(Code.month) == month)
        if branch is not None:
            query = query.where(col(Code.branch_id) == branch)
        return int(session.exec(query).one())


def files(app: App, folder: str) -> list[str]:
    root = app.settings.jobs.drop_dir / folder
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def give_on_march_31(app: App) -> None:
    """Reader 1000001 gets the first Empik Go code of w63 at the desk on 31 March 2027."""
    decision = give_code(
        GiveCode("1000001", Platform.EMPIK_GO, Channel.DESK, "w63"),
        uow=app.uow(),
        library=app.library,
        debt_source=app.debt_source,
        now=datetime(2027, 3, 31, 15, 0, tzinfo=WARSAW),
    )
    assert decision.granted


def test_pool_files_are_imported_once_then_archived(app: App) -> None:
    jobs = Jobs(app, lambda: NOW)
    drop(app, "pools/empik-go/w63/2027-02.csv", "code\nEGM-A\nEGM-B\nEGM-A\n")
    drop(app, "pools/legimi/2027-02.csv", "LGM-A\nLGM-B\nLGM-C\n")
    drop(app, "pools/empik-go/w63/2026-12.csv", "EGM-OLD\n")  # a month already past
    drop(app, "pools/empik-go/nowhere/2027-02.csv", "EGM-Z\n")  # no such branch
    drop(app, "pools/empik-go/w63/luty.csv", "EGM-Y\n")  # not a month
    drop(app, "pools/legimi/2027-03.csv.part", "LGM-STILL-COPYING\n")

    outcome = jobs.run_all()["pool-drop"]
    assert outcome.outcome == "problems"
    assert codes_in(app, "2027-02", "w63") == 2
    assert codes_in(app, "2027-02") == 5
    assert codes_in(app, "2026-12") == 0
    assert "kod powtórzony" not in outcome.summary  # lines are reported by number, in the log
    assert "już minął" in outcome.summary and "Nieznana placówka" in outcome.summary
    assert [f.split(".")[0] for f in files(app, "archive")] == [
        "pools/empik-go/w63/2027-02",
        "pools/legimi/2027-02",
    ]
    assert len(files(app, "rejected")) == 3
    assert files(app, "pools") == ["legimi/2027-03.csv.part"]

    # The same file dropped again is archived without a second import.
    drop(app, "pools/legimi/2027-02.csv", "LGM-A\nLGM-B\nLGM-C\n")
    again = jobs.run_all()["pool-drop"]
    assert "nie wczytano go drugi raz" in again.summary
    assert codes_in(app, "2027-02") == 5
    with app.db.transaction() as session:
        assert len(list(session.exec(select(DroppedFile)))) == 2
    assert jobs.run_all()["pool-drop"].outcome == "nothing"


def test_a_pool_file_dropped_while_the_scheduler_runs(app: App) -> None:
    scheduler = Jobs(app, lambda: NOW).start()
    try:
        drop(app, "pools/legimi/2027-02.csv", "LGM-A\nLGM-B\n")
        deadline = time.monotonic() + 20
        while codes_in(app, "2027-02") < 2 and time.monotonic() < deadline:
            scheduler.modify_job("pool-drop", next_run_time=datetime.now(WARSAW))
            time.sleep(0.2)
    finally:
        scheduler.shutdown(wait=True)
    assert codes_in(app, "2027-02") == 2
    assert files(app, "pools") == []
    statuses = {status.id: status for status in job_statuses(app, NOW)}
    last = statuses["pool-drop"].last
    assert last is not None and last.outcome in ("ok", "nothing")
    assert statuses["month-close"].next_run == datetime(2027, 2, 1, 0, 5, tzinfo=WARSAW)


def test_activation_reports_from_the_drop_folder_lift_a_ban(app: App) -> None:
    add_patron(app.db, "1000001")
    add_codes(app.db, Platform.EMPIK_GO, Month(2027, 3), "w63", ["EGM-31"])
    give_on_march_31(app)
    jobs = Jobs(app, lambda: datetime(2027, 4, 1, 8, 0, tzinfo=WARSAW))
    assert "nowe blokady 1" in jobs.run_all()["month-close"].summary
    drop(app, "activations/empik-go/raport-marzec.csv", "kod;aktywacja\nEGM-31;31.03.2027 23:59\n")
    outcome = jobs.run_all()["activation-drop"]
    assert outcome.outcome == "ok" and "zdjęte blokady: 1" in outcome.summary
    with app.db.transaction() as session:
        [ban] = session.exec(select(Ban))
        assert ban.lifted_at is not None


def test_the_daemon_started_at_eight_on_the_first_closes_the_month_once(app: App) -> None:
    """Down at 00:05 on 1 April 2027; started at 08:00. A pool dropped while it was down
    is loaded before the first request of April is decided."""
    add_patron(app.db, "1000001")
    add_codes(app.db, Platform.EMPIK_GO, Month(2027, 3), "w63", ["EGM-31", "EGM-X"])
    give_on_march_31(app)
    drop(app, "pools/empik-go/w63/2027-04.csv", "EGM-APR-1\nEGM-APR-2\n")
    box, transport = _Mailbox(), FakeTransport()

    def daemon(now: datetime) -> Daemon:
        served = dataclasses.replace(
            app,
            mailbox_factory=lambda _settings: box,  # type: ignore[arg-type,return-value]
            transport_factory=lambda _settings: _Transport(transport),  # type: ignore[arg-type,return-value]
        )
        return Daemon(served, lambda: now)

    first = daemon(datetime(2027, 4, 1, 8, 0, tzinfo=WARSAW)).run_once()
    assert first.jobs["month-close"].outcome == "ok"
    assert first.jobs["pool-drop"].outcome == "ok"
    second = daemon(datetime(2027, 4, 1, 8, 1, tzinfo=WARSAW)).run_once()
    assert second.jobs["month-close"].outcome == "nothing"
    with app.db.transaction() as session:
        assert len(list(session.exec(select(MonthClose)))) == 1
        assert len(list(session.exec(select(Ban)))) == 1
        [run] = session.exec(select(JobRun).where(JobRun.job_id == "month-close"))
        assert run.outcome == "nothing" and run.finished_at is not None
    assert codes_in(app, "2027-04", "w63") == 2


class _Mailbox(FakeMailbox):
    """The in-memory mailbox with the connection calls the daemon makes."""

    capabilities = (b"IDLE",)

    def connect(self) -> None:
        return None

    def close(self) -> None:
        return None


class _Transport:
    """The fake transport as the async context manager the daemon opens."""

    def __init__(self, inner: FakeTransport) -> None:
        self.inner = inner

    async def __aenter__(self) -> FakeTransport:
        return self.inner

    async def __aexit__(self, *exc: object) -> None:
        return None


def test_the_month_close_fires_on_every_first_across_dst_changes() -> None:
    trigger = FirstOfMonth(wall_time(0, 5), WARSAW)
    fired, at = [], None
    now = datetime(2027, 1, 4, 10, 0, tzinfo=WARSAW)
    for _ in range(12):
        at = trigger.get_next_fire_time(at, now)
        assert at is not None
        fired.append(at)
    assert [(f.month, f.day, f.hour, f.minute) for f in fired] == [
        (m % 12 + 1, 1, 0, 5) for m in range(1, 13)
    ]
    assert fired[0].year == 2027 and fired[-1].year == 2028
    start = datetime(2027, 3, 1, 0, 5, tzinfo=WARSAW)
    assert trigger.get_next_fire_time(None, start) == start


def test_on_a_replayed_clock_the_month_close_fires_when_that_clock_shows_the_first() -> None:
    """`run --from ... --speed N`: APScheduler waits on the real clock for the real instant
    at which the replayed clock shows 00:05 on the 1st."""
    anchor = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    start = datetime(2027, 2, 28, 23, 0, tzinfo=WARSAW)
    clock = ReplayedClock(start, [Pace(start, 60)], anchor=anchor, real=lambda: anchor)
    trigger = ReplayedTrigger(FirstOfMonth(wall_time(0, 5), WARSAW), clock)
    first = trigger.get_next_fire_time(None, anchor)
    assert first == anchor + timedelta(minutes=65) / 60  # 65 minutes of the replay
    assert clock.shown_at(first) == datetime(2027, 3, 1, 0, 5, tzinfo=WARSAW)
    following = trigger.get_next_fire_time(first, first)
    assert following is not None
    assert clock.shown_at(following) == datetime(2027, 4, 1, 0, 5, tzinfo=WARSAW)


def test_a_job_whose_first_run_another_process_records_at_the_same_moment(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two passes started together on a new database (`run --once` beside the daemon):
    # both find no record of the job, and the other one inserts it first.
    at = datetime(2026, 11, 2, 10, 0, tzinfo=WARSAW)
    jobs = Jobs(app, lambda: at)
    real_get = Session.get
    raced: list[bool] = []

    def get_after_the_other(session: Session, entity: Any, ident: Any, **kw: Any) -> Any:
        if entity is JobRun and not raced:
            raced.append(True)
            Jobs(app, lambda: at)._record(ident, at, at, JobState.NOTHING, "the other one")
            return None  # what this process saw a moment before
        return real_get(session, entity, ident, **kw)

    monkeypatch.setattr(Session, "get", get_after_the_other)
    outcome = jobs.run(JOBS[1])  # no exception: the other's row is updated
    monkeypatch.undo()
    assert raced
    with app.db.transaction() as session:
        run = session.get(JobRun, JOBS[1].id)
        assert run is not None and run.outcome == outcome.outcome
