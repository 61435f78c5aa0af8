"""The daemon: `run_once` runs the scheduled jobs (month close, drop folders), then collects
every mailbox, decides what is due, files decided messages and sends the outbox.
`run_forever` repeats the mail part, woken by IMAP IDLE, while APScheduler runs the jobs
at their times in a background thread (each also once at start-up, to catch up).

A mail pass holds the pass lock of its database, so a cron `run --once` overlapping the
daemon never sends a reply twice. Inside a pass every phase of every branch fails
alone: an error is logged and reported, and the other phases and branches go on."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from empikgo_mailer.adapters.imap_mailbox import (
    CONNECTION_ERRORS,
    ImapMailbox,
    MailboxNotConfigured,
    MailboxUnavailable,
)
from empikgo_mailer.adapters.outbox import Links, Outbox
from empikgo_mailer.adapters.pass_lock import PassBusy, PassLock
from empikgo_mailer.adapters.smtp_sender import SmtpSender
from empikgo_mailer.bootstrap import App
from empikgo_mailer.config import BranchSettings, ImapSettings, SmtpSettings
from empikgo_mailer.domain.addresses import address_key
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.retries import pause_after
from empikgo_mailer.entrypoints.scheduler import JobOutcome, Jobs
from empikgo_mailer.handlers.filing import FileReport, file_decided
from empikgo_mailer.handlers.mail import decide_queue
from empikgo_mailer.handlers.mail_send import SendReport, new_owner, send_outbox
from empikgo_mailer.handlers.mailbox import CollectReport, collect

log = logging.getLogger(__name__)
T = TypeVar("T")
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
    errors: list[str] = field(default_factory=list)  # phases that failed, in English (log)

    def add_time(self, phase: str, started: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - started


class Daemon:
    def __init__(
        self,
        app: App,
        clock: Clock,
        *,
        mailbox_factory: Callable[[ImapSettings], ImapMailbox] | None = None,
        transport_factory: Callable[[SmtpSettings], SmtpSender] | None = None,
        reconnect_pauses: tuple[float, ...] = RECONNECT_PAUSES,
    ) -> None:
        self.app, self.clock = app, clock
        # The app's servers unless a test hands in ones that misbehave.
        self.mailbox_factory = mailbox_factory or app.mailbox_factory
        self.transport_factory = transport_factory or app.transport_factory
        self.reconnect_pauses = reconnect_pauses
        self.pass_lock = PassLock(app.db)
        self.links = Links(app.db)
        # Mail "from" a branch mailbox is a loop or a bounce of our own: never answered.
        self.own_addresses = frozenset(
            address_key(branch.mailbox) for branch in app.settings.branches.values()
        )
        self.door = app.mail_door

    def _with_mailbox(self, branch: BranchSettings, work: Callable[[ImapMailbox], T]) -> T | None:
        """Run `work` on a fresh connection; reconnect with backoff after connection errors.
        Work is idempotent (positions and fingerprints are in the database). The link's
        health is recorded for `status`."""
        link = f"imap:{branch.id}"
        for attempt in range(len(self.reconnect_pauses) + 1):
            mailbox = self.mailbox_factory(branch.imap)
            try:
                mailbox.connect()
                result = work(mailbox)
                self.links.worked(link, self.clock())
                return result
            except MailboxNotConfigured as exc:
                log.error("mailbox %s: %s", branch.id, exc)
                self.links.failed(link, self.clock(), str(exc), pause_after)
                return None
            except RECOVERABLE as exc:
                log.warning("mailbox %s: %s (attempt %d)", branch.id, exc, attempt + 1)
                if attempt < len(self.reconnect_pauses):
                    time.sleep(self.reconnect_pauses[attempt])
                else:
                    self.links.failed(link, self.clock(), f"{exc}", pause_after)
            finally:
                mailbox.close()
        return None

    def run_once(self, wait_seconds: float | None = None) -> RunReport:
        """Jobs first: a month closed and a pool loaded before the first request is decided.
        Raises PassBusy when another pass holds the lock longer than `wait_seconds`."""
        started = time.perf_counter()
        jobs = Jobs(self.app, self.clock).run_all()
        report = self.run_mail(wait_seconds)
        report.jobs = jobs
        report.add_time("jobs", started)
        return report

    def run_mail(self, wait_seconds: float | None = None) -> RunReport:
        wait = self.app.settings.database_busy_timeout if wait_seconds is None else wait_seconds
        with self.pass_lock.held(wait):
            return self._pass()

    def _phase(self, report: RunReport, name: str, work: Callable[[], T]) -> T | None:
        """One phase of one branch: timed, and failing alone."""
        started = time.perf_counter()
        try:
            return work()
        except Exception as exc:
            log.exception("%s failed; the rest of the pass goes on", name)
            report.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            return None
        finally:
            report.add_time(name.split(":", maxsplit=1)[0], started)

    def _pass(self) -> RunReport:
        report = RunReport()
        for branch in self.app.settings.branches.values():
            self._branch_pass(report, branch)
        sent = self._phase(report, "send", lambda: asyncio.run(self._send()))
        if sent is not None:
            report.sent = sent
        return report

    def _branch_pass(self, report: RunReport, branch: BranchSettings) -> None:
        mail, db, clock = self.app.settings.mail, self.app.db, self.clock

        def collect_from(box: ImapMailbox) -> CollectReport:
            return collect(
                branch.id, box, db=db, mail=mail, clock=clock, own_addresses=self.own_addresses
            )

        def file_into(box: ImapMailbox) -> FileReport:
            return file_decided(branch.id, box, db=db, mail=mail, clock=clock)

        collected = self._phase(
            report, f"collect:{branch.id}", partial(self._with_mailbox, branch, collect_from)
        )
        if collected is None:
            report.unreachable.append(branch.id)
        else:
            report.collected[branch.id] = collected
        # The queue is in the database: it is decided even when the mailbox is down.
        decided = self._phase(
            report,
            f"decide:{branch.id}",
            partial(decide_queue, branch.id, door=self.door, clock=clock),
        )
        if decided is not None:
            report.decided.update(decided.outcomes)
        if collected is not None:  # filing waits for the mailbox to come back
            self._phase(report, f"file:{branch.id}", partial(self._with_mailbox, branch, file_into))

    async def _send(self) -> SendReport:
        with Outbox(self.app.db, new_owner()) as outbox:
            async with self.transport_factory(self.app.settings.smtp) as transport:
                return await send_outbox(
                    outbox=outbox, links=self.links, transport=transport, clock=self.clock
                )

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
                report = self.run_mail(wait_seconds=0)
                if report.decided or report.sent.sent:
                    log.info("decided %s; sent %d", dict(report.decided), report.sent.sent)
            except PassBusy:
                log.warning("another pass holds this database's mail lock; waiting for it")
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
