"""The daemon's scheduled jobs (APScheduler): closing months and taking dropped files.

Every job is idempotent and catches up by itself: the month close closes every ended
month that is not closed yet, and the drop folder jobs take whatever is waiting. So a
daemon that was down when a job was due runs it once when it starts (each job's first
run is at start-up), and a job that runs twice, or overlaps with staff doing the same by
hand, changes nothing the second time. The last run of each job is kept for `status`.
A job that fails run after run (the database down, a bug) is said once per outage
(`outage_log`), not with a traceback every scan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import IntegrityError

from empikgo_mailer.adapters.link_errors import DATABASE, database_down
from empikgo_mailer.adapters.tables import JobRun
from empikgo_mailer.adapters.upload_staging import remove_abandoned
from empikgo_mailer.bootstrap import App
from empikgo_mailer.config import Settings
from empikgo_mailer.domain.clock import Clock, ReplayedClock
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.polish import month_name
from empikgo_mailer.domain.statuses import DropKind, DroppedOutcome, JobState
from empikgo_mailer.entrypoints.outage_log import OutageLog
from empikgo_mailer.handlers.drop_folder import (
    ACTIVATIONS,
    POOLS,
    TakeDroppedFiles,
)
from empikgo_mailer.handlers.month_close import CloseDueMonths

log = logging.getLogger(__name__)


JOB_OUTCOME_LABELS = {
    JobState.RUNNING: "w toku",
    JobState.OK: "wykonane",
    JobState.NOTHING: "nic do zrobienia",
    JobState.PROBLEMS: "wykonane z uwagami",
    JobState.FAILED: "BŁĄD",
}


@dataclass(frozen=True)
class JobOutcome:
    outcome: JobState
    summary: str  # Polish, for `status`


@dataclass(frozen=True)
class JobSpec:
    id: str
    label: str  # Polish
    run: Callable[[App, datetime], JobOutcome]
    trigger: Callable[[Settings], BaseTrigger]


@dataclass(frozen=True)
class JobStatus:
    id: str
    label: str
    next_run: datetime | None  # None: at the daemon's next start-up or scan
    every_seconds: int | None
    last: JobRun | None


def _close_months(app: App, now: datetime) -> JobOutcome:
    reports = app.handle(CloseDueMonths(app.settings.jobs.month_close_at), now=now)
    done = [report for report in reports if not report.already_closed]
    if not done:
        return JobOutcome(JobState.NOTHING, "brak miesięcy do zamknięcia")
    return JobOutcome(
        JobState.OK,
        "; ".join(
            f"zamknięto {month_name(r.month)}: niewykorzystane {r.lapsed}, "
            f"nieaktywowane {r.expired}, nowe blokady {r.banned}"
            for r in done
        ),
    )


def _take(kind: DropKind) -> Callable[[App, datetime], JobOutcome]:
    def run(app: App, now: datetime) -> JobOutcome:
        results = app.handle(TakeDroppedFiles(kind, app.settings.jobs.drop_dir), now=now)
        if not results:
            return JobOutcome(JobState.NOTHING, "brak nowych plików")
        bad = any(r.outcome in (DroppedOutcome.REJECTED, DroppedOutcome.PROBLEMS) for r in results)
        summary = "; ".join(f"{r.name}: {r.summary}" for r in results)
        return JobOutcome(JobState.PROBLEMS if bad else JobState.OK, summary)

    return run


def _remove_abandoned_uploads(app: App, now: datetime) -> JobOutcome:
    # Real time, not `now`: the console stamps its uploads by the real clock (a rehearsal's
    # replayed day says nothing about how long a file has waited).
    removed = remove_abandoned(datetime.now(app.settings.timezone))
    if not removed:
        return JobOutcome(JobState.NOTHING, "brak porzuconych podglądów")
    return JobOutcome(JobState.OK, f"usunięto porzucone podglądy plików: {removed}")


def _daily(settings: Settings) -> BaseTrigger:
    return IntervalTrigger(days=1, timezone=settings.timezone)


def _every_scan(settings: Settings) -> BaseTrigger:
    return IntervalTrigger(seconds=settings.jobs.scan_seconds, timezone=settings.timezone)


class FirstOfMonth(BaseTrigger):  # type: ignore[misc]
    """The configured time on the 1st of every month, in the library's zone.

    Not APScheduler's CronTrigger: in 3.11 it skips a month across a DST change (from
    1 March 2027 its next `day=1` fire time is 1 May), and a month close must not wait
    a month.
    """

    def __init__(self, at: time, zone: ZoneInfo) -> None:
        self.at, self.zone = at, zone

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        reference = previous_fire_time or now
        month = Month.of(reference.astimezone(self.zone).date())
        for ahead in range(2):
            candidate = datetime.combine(month.plus(ahead).first_day, self.at, tzinfo=self.zone)
            if candidate > reference or (previous_fire_time is None and candidate == reference):
                return candidate
        return None  # unreachable: next month's 1st is always later


class ReplayedTrigger(BaseTrigger):  # type: ignore[misc]
    """A trigger whose times are the library's, for a daemon on a replayed clock that runs
    fast (`run --from ... --speed N`): APScheduler waits on the real clock, so each fire
    time is found on the replayed one and turned into the real instant it shows it."""

    def __init__(self, inner: BaseTrigger, clock: ReplayedClock) -> None:
        self.inner, self.clock = inner, clock

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        previous = None if previous_fire_time is None else self.clock.shown_at(previous_fire_time)
        shown: datetime | None = self.inner.get_next_fire_time(previous, self.clock.shown_at(now))
        return None if shown is None else self.clock.real_at(shown)


def _monthly(settings: Settings) -> BaseTrigger:
    return FirstOfMonth(settings.jobs.month_close_at, settings.timezone)


JOBS = (
    JobSpec("month-close", "Zamknięcie miesiąca", _close_months, _monthly),
    JobSpec("pool-drop", "Nowe pule kodów z folderu", _take(POOLS), _every_scan),
    JobSpec("activation-drop", "Raporty aktywacji z folderu", _take(ACTIVATIONS), _every_scan),
    JobSpec("upload-cleanup", "Porzucone podglądy plików", _remove_abandoned_uploads, _daily),
)


class Jobs:
    def __init__(self, app: App, clock: Clock, outages: OutageLog | None = None) -> None:
        self.app, self.clock = app, clock
        self.outages = outages or OutageLog(log, clock)

    def run(self, spec: JobSpec) -> JobOutcome:
        """One run, recorded; a failure is logged and shown in `status`, never raised
        (with the database down it cannot be recorded: it is logged, once an outage)."""
        started = self.clock()
        try:
            self._record(spec.id, started, None, JobState.RUNNING, "")
            outcome = self._outcome(spec, started)
            self._record(spec.id, started, self.clock(), outcome.outcome, outcome.summary)
        except Exception as exc:
            if not database_down(exc):
                raise
            self.outages.failed(DATABASE, exc, known=True, what=f"job {spec.id}")
            return JobOutcome(JobState.FAILED, f"błąd: {type(exc).__name__}")
        return outcome

    def _outcome(self, spec: JobSpec, started: datetime) -> JobOutcome:
        job = f"job {spec.id}"
        try:
            outcome = spec.run(self.app, started)
        except Exception as exc:
            if database_down(exc):
                raise  # not recorded either: said once, as the database's outage
            self.outages.failed(job, exc, known=False)
            return JobOutcome(JobState.FAILED, f"błąd: {type(exc).__name__}: {exc}")
        self.outages.worked(job)
        if outcome.outcome != JobState.NOTHING:
            log.info("job %s: %s: %s", spec.id, outcome.outcome, outcome.summary)
        return outcome

    def run_all(self) -> dict[str, JobOutcome]:
        return {spec.id: self.run(spec) for spec in JOBS}

    def _record(
        self,
        job_id: str,
        started: datetime,
        finished: datetime | None,
        outcome: JobState,
        summary: str,
    ) -> None:

        def write() -> None:
            with self.app.db.transaction() as session:
                run = session.get(JobRun, job_id) or JobRun(
                    job_id=job_id, started_at=started, outcome=outcome
                )
                run.started_at, run.finished_at = started, finished
                run.outcome, run.summary = outcome, summary
                session.add(run)

        try:
            write()
        except IntegrityError:
            # Another process (a `run --once` started with the daemon) recorded this job's
            # first run at the same moment, on PostgreSQL: that row is there now to update.
            write()

    def start(self) -> BackgroundScheduler:
        """Start the jobs in a background thread; each runs once right away (catch-up)."""
        settings = self.app.settings
        scheduler = BackgroundScheduler(timezone=settings.timezone)
        # APScheduler fires on the real clock; the jobs themselves read the injected one.
        started = datetime.now(settings.timezone)
        for spec in JOBS:
            trigger = spec.trigger(settings)
            if isinstance(self.clock, ReplayedClock) and isinstance(trigger, FirstOfMonth):
                trigger = ReplayedTrigger(trigger, self.clock)  # the 1st as the clock shows it
            scheduler.add_job(
                self.run,
                trigger=trigger,
                args=[spec],
                id=spec.id,
                name=spec.label,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
                next_run_time=started,
            )
        scheduler.start()
        return scheduler


def job_statuses(app: App, now: datetime) -> list[JobStatus]:
    with app.db.transaction() as session:
        runs = {spec.id: session.get(JobRun, spec.id) for spec in JOBS}
        for run in runs.values():
            if run is not None:
                session.expunge(run)
    statuses = []
    for spec in JOBS:
        trigger, last = spec.trigger(app.settings), runs[spec.id]
        every = None
        if isinstance(trigger, IntervalTrigger):
            every = int(trigger.interval.total_seconds())
            next_run = None if last is None else last.started_at + timedelta(seconds=every)
        else:
            next_run = trigger.get_next_fire_time(None, now)
        statuses.append(JobStatus(spec.id, spec.label, next_run, every, last))
    return statuses
