"""The daemon: `run_once` runs the scheduled jobs (month close, drop folders), then collects
every mailbox, decides what is due, files decided messages and sends the outbox.
`run_forever` repeats the mail part, woken by IMAP IDLE, while APScheduler runs the jobs
at their times in a background thread (each also once at start-up, to catch up)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from empikgo_mailer.adapters.imap_mailbox import (
    CONNECTION_ERRORS,
    ImapMailbox,
    MailboxNotConfigured,
    MailboxUnavailable,
)
from empikgo_mailer.adapters.smtp_sender import SmtpSender
from empikgo_mailer.bootstrap import App
from empikgo_mailer.config import BranchSettings, ImapSettings, SmtpSettings
from empikgo_mailer.entrypoints.scheduler import JobOutcome, Jobs
from empikgo_mailer.handlers.mail import (
    CollectReport,
    MailDoor,
    SendReport,
    collect,
    decide_queue,
    file_decided,
    send_outbox,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
Clock = Callable[[], datetime]
RECONNECT_PAUSES = (0.5, 2.0)  # within one run; run_forever tries again next round
RECOVERABLE: tuple[type[BaseException], ...] = (MailboxUnavailable, *CONNECTION_ERRORS)


@dataclass
class RunReport:
    collected: dict[str, CollectReport] = field(default_factory=dict)
    decided: Counter[str] = field(default_factory=Counter)
    unreachable: list[str] = field(default_factory=list)
    sent: SendReport = field(default_factory=SendReport)
    seconds: dict[str, float] = field(default_factory=dict)  # per phase: collect, decide, ...
    jobs: dict[str, JobOutcome] = field(default_factory=dict)

    def add_time(self, phase: str, started: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - started


class Daemon:
    def __init__(
        self,
        app: App,
        clock: Clock,
        *,
        mailbox_factory: Callable[[ImapSettings], ImapMailbox] = ImapMailbox,
        transport_factory: Callable[[SmtpSettings], SmtpSender] = SmtpSender,
        reconnect_pauses: tuple[float, ...] = RECONNECT_PAUSES,
    ) -> None:
        self.app, self.clock = app, clock
        self.mailbox_factory, self.transport_factory = mailbox_factory, transport_factory
        self.reconnect_pauses = reconnect_pauses
        self.door = MailDoor(
            db=app.db,
            library=app.library,
            debt_source=app.debt_source,
            render=app.templates.render,
            mail=app.settings.mail,
        )

    def _with_mailbox(self, branch: BranchSettings, work: Callable[[ImapMailbox], T]) -> T | None:
        """Run `work` on a fresh connection; reconnect with backoff after connection errors.
        Work is idempotent (positions and fingerprints are in the database)."""
        for attempt in range(len(self.reconnect_pauses) + 1):
            mailbox = self.mailbox_factory(branch.imap)
            try:
                mailbox.connect()
                return work(mailbox)
            except MailboxNotConfigured as exc:
                log.error("mailbox %s: %s", branch.id, exc)
                return None
            except RECOVERABLE as exc:
                log.warning("mailbox %s: %s (attempt %d)", branch.id, exc, attempt + 1)
                if attempt < len(self.reconnect_pauses):
                    time.sleep(self.reconnect_pauses[attempt])
            finally:
                mailbox.close()
        return None

    def run_once(self) -> RunReport:
        """Jobs first: a month closed and a pool loaded before the first request is decided."""
        started = time.perf_counter()
        jobs = Jobs(self.app, self.clock).run_all()
        report = self.run_mail()
        report.jobs = jobs
        report.add_time("jobs", started)
        return report

    def run_mail(self) -> RunReport:
        report = RunReport()
        settings = self.app.settings
        for branch in settings.branches.values():
            branch_id = branch.id

            def collect_from(box: ImapMailbox, branch_id: str = branch_id) -> CollectReport:
                return collect(branch_id, box, db=self.app.db, mail=settings.mail, clock=self.clock)

            def file_into(box: ImapMailbox, branch_id: str = branch_id) -> int:
                return file_decided(
                    branch_id, box, db=self.app.db, mail=settings.mail, clock=self.clock
                )

            started = time.perf_counter()
            collected = self._with_mailbox(branch, collect_from)
            if collected is None:
                report.unreachable.append(branch_id)
            else:
                report.collected[branch_id] = collected
            report.add_time("collect", started)
            # The queue is in the database: it is decided even when the mailbox is down.
            started = time.perf_counter()
            report.decided.update(
                decide_queue(branch_id, door=self.door, clock=self.clock).outcomes
            )
            report.add_time("decide", started)
            started = time.perf_counter()
            if collected is not None:  # filing waits for the mailbox to come back
                self._with_mailbox(branch, file_into)
            report.add_time("file", started)
        started = time.perf_counter()
        report.sent = asyncio.run(self._send())
        report.add_time("send", started)
        return report

    async def _send(self) -> SendReport:
        async with self.transport_factory(self.app.settings.smtp) as transport:
            return await send_outbox(db=self.app.db, transport=transport, clock=self.clock)

    def _seconds_to_next_opening(self) -> float:
        calendar, now = self.app.library.calendar, self.clock()
        openings = [
            calendar.next_opening(branch.hours, now)
            for branch in self.app.settings.branches.values()
        ]
        upcoming = [(at - now).total_seconds() for at in openings if at is not None and at > now]
        return min(upcoming, default=float("inf"))

    def run_forever(self, stop: threading.Event) -> None:
        """Until `stop` is set; then the current step finishes and the loop ends."""
        wake = threading.Event()
        watchers = [
            threading.Thread(
                target=self._watch, args=(branch, wake, stop), daemon=True, name=f"idle-{branch.id}"
            )
            for branch in self.app.settings.branches.values()
        ]
        for watcher in watchers:
            watcher.start()
        scheduler = Jobs(self.app, self.clock).start()
        while not stop.is_set():
            try:
                report = self.run_mail()
                if report.decided or report.sent.sent:
                    log.info("decided %s; sent %d", dict(report.decided), report.sent.sent)
            except Exception:
                log.exception("run failed; trying again after a pause")
            timeout = min(self.app.settings.mail.poll_seconds, self._seconds_to_next_opening() + 1)
            wake.wait(timeout)
            wake.clear()
        scheduler.shutdown(wait=True)
        for watcher in watchers:
            watcher.join(timeout=5)

    def _watch(self, branch: BranchSettings, wake: threading.Event, stop: threading.Event) -> None:
        """Keep an IDLE open on the branch mailbox and wake the main loop on new mail."""
        pause = 1.0
        while not stop.is_set():
            mailbox = self.mailbox_factory(branch.imap)
            try:
                mailbox.connect()
                if b"IDLE" not in mailbox.capabilities:
                    log.info("mailbox %s has no IDLE; polling", branch.id)
                    return
                pause = 1.0
                while not stop.is_set():
                    # Short IDLE slices so a stop request is noticed; renewed well under 29 min.
                    if mailbox.wait_for_mail(min(5.0, self.app.settings.mail.idle_renew_seconds)):
                        wake.set()
            except MailboxNotConfigured:
                return  # run_once reports it every round; polling is all that is left
            except RECOVERABLE as exc:
                log.warning("IDLE on %s lost: %s; reconnecting in %.0f s", branch.id, exc, pause)
                stop.wait(pause)
                pause = min(pause * 2, 60.0)
            finally:
                mailbox.close()
