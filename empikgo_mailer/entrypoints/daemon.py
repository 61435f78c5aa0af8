"""The daemon: `run_once` runs the scheduled jobs (month close, drop folders), then collects
every mailbox (the collect runner), deciding what is collected so far after each batch
it stores (the decide runner), files decided messages and sends the outbox (the send
runner).
`run_forever` repeats the mail part, woken by IMAP IDLE, while APScheduler runs the jobs
at their times in a background thread (each also once at start-up, to catch up).

A mail pass holds the pass lock of its database, so a cron `run --once` overlapping the
daemon never sends a reply twice. Inside a pass every phase of every branch fails
alone: an error is logged and reported, and the other phases and branches go on. Every
pass ends with a heartbeat in the database (`/readyz`, `status`, `/metrics`).

A full disk is the exception: nothing more can be written, so the pass stops where it
meets one (DiskFull), releases its locks and reports it (`RunReport.disk_full`); what was
written stays, and the next pass after space is freed carries on.

An outage (the database gone, a mailbox unreachable) is said once when it begins and once
when it ends, with reminders after 1, 5, 15 and every 60 minutes (`outage_log`), not a
traceback a pass; so is an unexpected error that repeats pass after pass.

Stopping (SIGTERM, Ctrl-C) takes well under 2 s: every loop asks `stop` before its next
item (a decision, a reply, a batch of fetched mail), so the item in hand is committed or
rolled back whole and nothing is sent twice; and a wait (IDLE, the pause between passes,
a reconnect's backoff, a connection being opened) is cut short at once. Only waits are
ever interrupted, never the work between a send and its record."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

from empikgo_mailer.adapters.database import disk_full_in
from empikgo_mailer.adapters.heartbeat import Pulse
from empikgo_mailer.adapters.imap_mailbox import (
    CONNECTION_ERRORS,
    FolderSeen,
    ImapMailbox,
    MailboxNotConfigured,
    MailboxUnavailable,
)
from empikgo_mailer.adapters.link_errors import DATABASE, database_down
from empikgo_mailer.adapters.outbox import Links
from empikgo_mailer.adapters.pass_lock import DECIDE, PASS, PassBusy, PassLock
from empikgo_mailer.adapters.sent_copies import SentCopies
from empikgo_mailer.bootstrap import App
from empikgo_mailer.config import BranchSettings
from empikgo_mailer.domain.clock import Clock, real_seconds_until
from empikgo_mailer.domain.errors import DiskFull, PassOutcome
from empikgo_mailer.domain.retries import pause_after
from empikgo_mailer.domain.statuses import JobState
from empikgo_mailer.entrypoints.outage_log import OutageLog
from empikgo_mailer.entrypoints.scheduler import JobOutcome, Jobs
from empikgo_mailer.entrypoints.sending import SenderFailed, SenderProcess, can_fork_for
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.filing import FileDecided
from empikgo_mailer.handlers.mail import DecideQueue
from empikgo_mailer.handlers.mail_send import SendDue, SendReport
from empikgo_mailer.handlers.mailbox import CollectMailbox, CollectReport
from empikgo_mailer.handlers.sent_copies import CopySent

log = logging.getLogger(__name__)
T = TypeVar("T")
RECONNECT_PAUSES = (0.5, 2.0)  # within one run; run_forever tries again next round
RECOVERABLE: tuple[type[BaseException], ...] = (MailboxUnavailable, *CONNECTION_ERRORS)
WATCHERS_GRACE_SECONDS = 0.5  # IDLE threads are daemon threads: not waited for longer
COPY_ROUND_WHILE_SENDING = 1000  # replies waiting for their copy in Sent
OPENING_MARGIN = timedelta(seconds=1)  # a pass just after an opening finds the branch open
MAIL_RUN = "mail run"  # an unexpected error of the whole pass, told as an outage of it
MAIL_LOCK = "mail lock"  # another pass holds the lock


class Runner(StrEnum):
    """One of the three runners, for a library that runs each as a unit of its own
    (`run --only ...`); without it a pass runs all three."""

    COLLECT = "collect"  # the mailboxes into the queue; filing and the Sent copies
    DECIDE = "decide"  # the queue decided; the scheduled jobs
    SEND = "send"  # the outbox sent


# The locks each way of running holds: two of the same kind never run at once.
LOCKS: dict[Runner | None, tuple[str, ...]] = {
    None: (PASS, DECIDE),
    Runner.COLLECT: (PASS,),
    Runner.DECIDE: (DECIDE,),
    Runner.SEND: (),  # sending holds the sender lock itself (`mail_send.send_due`)
}
# How often a runner alone with no IMAP IDLE to wake it looks at its queue.
RUNNER_POLL_SECONDS = 1.0


class StopRequested(BaseException):
    """Raised by the stop signal inside a wait only (never in the middle of work); a
    BaseException so that no `except Exception` of a phase swallows it."""


@dataclass
class RunReport:
    collected: dict[str, CollectReport] = field(default_factory=dict)
    decided: Counter[str] = field(default_factory=Counter)
    unreachable: list[str] = field(default_factory=list)
    sent: SendReport = field(default_factory=SendReport)
    seconds: dict[str, float] = field(default_factory=dict)  # per phase: collect, decide, ...
    jobs: dict[str, JobOutcome] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # phases that failed, in English (log)
    # Of those, failures the pass made good itself (a sender beside it died and the pass
    # sent the rest): said, in the log and on stderr, but no work waits for them.
    made_good: list[str] = field(default_factory=list)
    disk_full: DiskFull | None = None  # the pass stopped: no space left to write
    stopped_in: str | None = None  # the phase it stopped in ("send", "collect:w63", ...)

    @property
    def smtp_unreachable(self) -> bool:
        """The SMTP server could not be reached now, or its breaker kept it untried."""
        return self.sent.unreachable is not None or self.sent.paused_until is not None

    @property
    def failed_jobs(self) -> list[str]:
        return [job for job, outcome in self.jobs.items() if outcome.outcome == JobState.FAILED]

    def problem(self) -> str | None:
        """What went wrong in this pass, for the heartbeat; None when nothing did."""
        problems = [f"mailbox {branch} unreachable" for branch in self.unreachable]
        if self.disk_full is not None:
            problems.insert(0, f"disk full: no space left to write in {self.disk_full.place}")
        if self.sent.unreachable is not None:
            problems.append(f"SMTP unreachable: {self.sent.unreachable}")
        elif self.sent.paused_until is not None:
            problems.append(f"SMTP paused until {self.sent.paused_until.isoformat()}")
        return "; ".join(problems + self.errors) or None

    def outcome(self) -> PassOutcome:
        """What the pass came to, for its exit code (`errors.pass_exit_code`)."""
        return PassOutcome(
            disk_full=self.disk_full is not None,
            phase_failed=bool(
                self.unreachable
                or self.smtp_unreachable
                or set(self.errors) - set(self.made_good)
                or self.failed_jobs
            ),
            replies_failed=self.sent.failed + sum(c.bounced for c in self.collected.values()),
            # Refused for good by the SMTP server, or bounced back by a delivery report.
            undelivered_codes=self.sent.undelivered
            + sum(c.undelivered for c in self.collected.values()),
        )

    _inner: list[float] = field(default_factory=lambda: [0.0], repr=False)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the time spent in `phase`, less the phases timed within it (the decide
        runner's turns within the collect)."""
        started = time.perf_counter()
        self._inner.append(0.0)
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            inner = self._inner.pop()
            self._inner[-1] += spent
            self.seconds[phase] = self.seconds.get(phase, 0.0) + spent - inner


class Daemon:
    def __init__(
        self,
        app: App,
        clock: Clock,
        *,
        reconnect_pauses: tuple[float, ...] = RECONNECT_PAUSES,
        only: Runner | None = None,
    ) -> None:
        self.app, self.clock, self.only = app, clock, only
        self.reconnect_pauses = reconnect_pauses
        self.links = Links(app.db)
        self.pulse = Pulse(app.db)
        self.stop = threading.Event()
        self.wake = threading.Event()
        self._in_wait = False
        self._idling: dict[str, ImapMailbox] = {}  # the watchers' connections, to cut short
        self._standby: SenderProcess | None = None  # forked, ready to send beside
        self._beside: SenderProcess | None = None  # sending while this pass decides
        self._folders_seen: dict[str, FolderSeen] = {}  # each Sent folder, read this pass
        self._disk_was_full = False  # the last pass met a full disk (said once)
        self.outages = OutageLog(log, clock)

    def request_stop(self) -> None:
        """For a signal handler: finish the item in hand, cut any wait short."""
        self.stop.set()
        self.wake.set()
        for sender in (self._standby, self._beside):
            if sender is not None:
                sender.stop()
        if self._in_wait:
            raise StopRequested

    @contextmanager
    def _wait(self) -> Iterator[None]:
        """A stretch of pure waiting (opening a connection, a backoff), safe to cut. Only
        the main thread's: a signal handler runs there, and cuts nothing of another."""
        if self.stop.is_set():
            raise StopRequested
        main = threading.current_thread() is threading.main_thread()
        self._in_wait = main
        try:
            yield
        finally:
            if main:
                self._in_wait = False

    def _with_mailbox(self, branch: BranchSettings, work: Callable[[ImapMailbox], T]) -> T:
        """Run `work` on a fresh connection; reconnect with backoff after connection errors.
        Work is idempotent (positions and fingerprints are in the database). The link's
        health is recorded for `status`; MailboxUnavailable when it could not be done."""
        link = f"imap:{branch.id}"
        for attempt in range(len(self.reconnect_pauses) + 1):
            mailbox = self.app.mailbox_factory(branch.imap)
            try:
                with self._wait():
                    mailbox.connect()
                result = work(mailbox)
                self.links.worked(link, self.clock())
                self.outages.worked(link)
                return result
            except MailboxNotConfigured as exc:
                self.outages.failed(link, exc, known=True)
                self.links.failed(link, self.clock(), str(exc), pause_after)
                raise
            except RECOVERABLE as exc:
                # The last attempt's failure is said once per outage (`_phase`).
                log.debug(
                    "mailbox %s: %s (attempt %d)",
                    branch.id, getattr(exc, "log_text", exc), attempt + 1,
                )  # fmt: skip
                if attempt < len(self.reconnect_pauses):
                    with self._wait():
                        self.stop.wait(self.reconnect_pauses[attempt])
                else:
                    self.links.failed(link, self.clock(), f"{exc}", pause_after)
                    raise MailboxUnavailable(str(exc)) from exc
            finally:
                mailbox.close()
        raise AssertionError("unreachable: the last attempt returns or raises")

    def run_once(self, wait_seconds: float | None = None) -> RunReport:
        """Jobs first: a month closed and a pool loaded before the first request is decided.
        Raises PassBusy when another pass holds the lock longer than `wait_seconds`."""
        started = time.perf_counter()
        jobs = Jobs(self.app, self.clock, self.outages).run_all() if self._runs_jobs else {}
        jobs_seconds = time.perf_counter() - started
        report = self.run_mail(wait_seconds)
        report.jobs, report.seconds["jobs"] = jobs, jobs_seconds
        return report

    def run_mail(self, wait_seconds: float | None = None) -> RunReport:
        """Raises PassBusy, or DiskFull when there is no room even to take the lock; a
        full disk met during the pass ends it early, in `report.disk_full`."""
        wait = self.app.settings.database_busy_timeout if wait_seconds is None else wait_seconds
        started = time.perf_counter()
        report = RunReport()
        with ExitStack() as held:
            for purpose in LOCKS[self.only]:  # in this order everywhere: no deadlock
                held.enter_context(PassLock(self.app.db, purpose).held(wait))
            try:
                if self.only:
                    self._runner_pass(report)
                else:
                    self._pass(report)
            except DiskFull as stopped_by:
                # Waiting frees no space: the pass gives its locks back now (leaving this
                # block); the next one, once space is freed, carries on from here.
                report.disk_full = stopped_by
        full, what = report.disk_full, f"the pass stops ({report.stopped_in or 'at its start'})"
        try:
            self.pulse.beat(self.clock(), time.perf_counter() - started, report.problem())
            self.outages.worked(DATABASE)
        except DiskFull as no_room:
            if full is None:
                full, what = no_room, "the heartbeat could not be written"
        except Exception as exc:
            self.outages.failed(
                DATABASE, exc, known=database_down(exc), what="the heartbeat not written"
            )
        if full is not None:  # said after the locks are given back, once an episode
            self._disk_is_full(full, what)
        elif self._disk_was_full:
            log.info("there is space again: the pass went through")
            self._disk_was_full = False
        return report

    def _disk_is_full(self, full: DiskFull, what: str) -> None:
        """Log a full disk: an error the first time, then (while the daemon tries pass
        after pass, each ending in milliseconds) quietly until a pass goes through."""
        level = logging.DEBUG if self._disk_was_full else logging.ERROR
        log.log(
            level,
            "no space left to write in %s: %s; the next pass carries on once space is freed",
            full.place,
            what,
        )
        self._disk_was_full = True

    def _phase(self, report: RunReport, name: str, work: Callable[[], T]) -> T | None:
        """One phase of one branch: timed, and failing alone; but a full disk ends the
        pass (raises DiskFull): every other phase would only meet it again."""
        try:
            with report.timed(name.split(":", maxsplit=1)[0]):
                done = work()
            self.outages.worked(name)
            return done
        except DiskFull:
            report.stopped_in = name
            raise
        except MailboxUnavailable as exc:
            branch_id = name.split(":", maxsplit=1)[-1]
            self.outages.failed(f"imap:{branch_id}", exc, known=True, what=name)
            if branch_id not in report.unreachable:
                report.unreachable.append(branch_id)
            return None
        except Exception as exc:
            full = disk_full_in(exc)  # in a task group's, or under another error
            if full is not None:
                report.stopped_in = name
                raise full from None
            if database_down(exc):
                self.outages.failed(DATABASE, exc, known=True, what=name)
            else:  # a bug: its traceback, once per outage step of this phase
                self.outages.failed(name, exc, known=False, what="the rest of the pass goes on")
            report.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            return None

    @property
    def _runs_jobs(self) -> bool:
        return self.only in {None, Runner.DECIDE}

    def _runner_pass(self, report: RunReport) -> None:
        """One runner's round, alone."""
        if self.only is Runner.COLLECT:
            self._collect_all(report)
            for branch in self.app.settings.branches.values():
                if branch.id in report.collected and not self.stop.is_set():
                    self._file_phase(report, branch)
            self._copy_phase(report)
        elif self.only is Runner.DECIDE:
            self._decide_all(report)
        elif not self.stop.is_set():
            sent = self._phase(report, "send", self._send)
            if sent is not None:
                report.sent = sent

    def _pass(self, report: RunReport) -> None:
        """The runners take turns in one thread: after each batch the collect runner
        stores, the decide runner decides the queue up to the first message still to read
        (`MailQueue.uncollected`); then the decided messages are filed, the outbox sent
        (beside, from a burst's first replies on) and the copies made.

        Turns, not threads: on two cores the collect's parsing and the decide's queries
        only slowed each other down when they overlapped (docs/month-start.md), and a
        fork beside a running thread can copy a lock it holds."""
        self._folders_seen.clear()
        self._standby = self._fork_standby()
        try:
            self._collect_all(report, between_batches=partial(self._decide_all, report))
            self._decide_all(report)  # what the last batch brought; a mailbox that is down
            self._dismiss_standby()
            for branch in self.app.settings.branches.values():
                if branch.id in report.collected and not self.stop.is_set():
                    self._file_phase(report, branch)  # filing waits for the mailbox
            if self._beside is not None:
                self._beside.decisions_done()
                # Copies of what has left, while the rest goes out; each round reads the
                # Sent folder once, so a round waits for a good batch.
                while self._beside.running() and not self.stop.is_set():
                    if not self._copy_phase(report, at_least=COPY_ROUND_WHILE_SENDING):
                        self._beside.wait(0.2)
                self._phase(report, "send", partial(self._finish_beside, report))
            elif not self.stop.is_set():  # if stopped, the replies wait for the next start
                sent = self._phase(report, "send", self._send)
                if sent is not None:
                    report.sent = sent
            self._copy_phase(report)
        finally:
            self._dismiss_standby()
            if self._beside is not None:  # stopped or failed half-way: it must not outlive us
                self._beside.stop()
                self._finish_beside(report, fall_back=False)

    def _copy_phase(self, report: RunReport, at_least: int = 1) -> bool:
        """Copy sent replies into each branch's Sent folder, where `at_least` wait; whether
        any branch had that many."""
        folder = self.app.settings.mail.sent_folder
        worked = False
        for branch in self.app.settings.branches.values():
            if folder is None or self.stop.is_set() or branch.id in report.unreachable:
                continue
            if SentCopies(self.app.db).count_waiting(branch.id, at_least) < at_least:
                continue  # no connection opened for nothing
            worked = True

            seen = self._folders_seen.setdefault(branch.id, FolderSeen())

            copy_into = partial(self._handle_on, CopySent(branch.id, folder), seen=seen)
            self._phase(report, f"copy:{branch.id}", partial(self._with_mailbox, branch, copy_into))
        return worked

    def _send(self) -> SendReport:
        return self.app.handle(SendDue(), clock=self.clock, should_stop=self.stop.is_set)

    def _fork_standby(self) -> SenderProcess | None:
        """A sender forked at the start of the pass, to send beside it if a burst comes
        (`_maybe_send_beside`); None when sending beside is off or cannot be."""
        if self.app.settings.smtp.send_while_deciding_from <= 0:
            return None
        if not can_fork_for(self.app.db):
            return None
        try:
            return SenderProcess(self.app, self.clock)
        except Exception:  # the pass sends in its own process after deciding
            log.exception("the sender process could not be started")
            return None

    def _dismiss_standby(self) -> None:
        standby, self._standby = self._standby, None
        if standby is not None:
            standby.dismiss()

    def _maybe_send_beside(self, report: RunReport, coming: int = 0) -> None:
        """Before deciding: with enough requests queued, replies to send and messages
        still to read (`coming`), send from the sender standing by while this process
        decides (see `sending`). A burst shows as any of them: counting what is still to
        read starts the sender after the first fetch batch rather than the fifth."""
        threshold = self.app.settings.smtp.send_while_deciding_from
        if self._standby is None or self.stop.is_set():
            return
        try:
            with report.timed("send_start"), self.app.uow() as uow:
                waiting = uow.queue.count_queued() + uow.queue.count_to_send() + coming
            if waiting >= threshold:
                self._beside, self._standby = self._standby, None
                self._beside.go()
        except Exception as exc:  # the pass sends in its own process after deciding
            if database_down(exc):  # said once per outage, as every phase says it
                self.outages.failed(DATABASE, exc, known=True, what="send_start")
            else:
                log.exception("the sender process could not be started")
            report.errors.append(f"send: {type(exc).__name__}: {exc}")

    def _finish_beside(self, report: RunReport, *, fall_back: bool = True) -> None:
        """Wait for the sender process. If it died (killed, out of memory), its journal
        and leases are taken over and, with `fall_back`, this pass sends the rest."""
        beside = self._beside
        if beside is None:
            return
        try:  # `_beside` stays set meanwhile: a stop request must still reach the sender
            report.sent, report.seconds["sending"] = beside.finish()
        except SenderFailed as exc:
            log.error("the sender process failed (%s); the pass sends the rest itself", exc)
            report.errors.append(f"send: SenderFailed: {exc}")
            if fall_back and not self.stop.is_set():
                report.sent = self._send()
                report.made_good.append(report.errors[-1])  # nothing of it waits
        finally:
            self._beside = None

    def _collect_all(
        self, report: RunReport, between_batches: Callable[[int], None] = lambda _left: None
    ) -> None:
        """The collect runner: every branch mailbox into the queue; `between_batches` is
        the other runners' turn after each batch stored, told how many messages are
        still to read."""
        for branch in self.app.settings.branches.values():
            if self.stop.is_set():
                return

            def collect_from(box: ImapMailbox, branch_id: str = branch.id) -> CollectReport:
                total, command = CollectReport(), CollectMailbox(branch_id)
                for stored in self._handle_on(command, box, should_stop=self.stop.is_set):
                    total.add(stored)
                    between_batches(stored.left)
                return total

            collected = self._phase(
                report, f"collect:{branch.id}", partial(self._with_mailbox, branch, collect_from)
            )
            if collected is not None:
                report.collected[branch.id] = collected

    def _decide_all(self, report: RunReport, coming: int = 0) -> None:
        """The decide runner's round: each branch's queue, as far as it may go now. The
        queue is in the database: it is decided even when the mailbox is down.
        `coming`: messages the collect runner has still to read."""
        for branch in self.app.settings.branches.values():
            if self.stop.is_set():
                return
            self._maybe_send_beside(report, coming)
            decided = self._phase(
                report,
                f"decide:{branch.id}",
                partial(
                    self.app.handle,
                    DecideQueue(branch.id),
                    clock=self.clock,
                    should_stop=self.stop.is_set,
                ),
            )
            if decided is not None:
                report.decided.update(decided.outcomes)

    def _file_phase(self, report: RunReport, branch: BranchSettings) -> None:
        file_into = partial(self._handle_on, FileDecided(branch.id))
        self._phase(report, f"file:{branch.id}", partial(self._with_mailbox, branch, file_into))

    def _handle_on(self, command: Command[T], box: ImapMailbox, **extra: Any) -> T:
        """`command` handled on the runner's connection to a mailbox, on its clock."""
        return self.app.handle(command, mailbox=box, clock=self.clock, **extra)

    def _seconds_to_next_opening(self) -> float:
        """Real seconds until just after the next opening of a branch (on a replayed clock
        that runs fast, fewer than the clock will show)."""
        calendar, now = self.app.library.calendar, self.clock()
        openings = [
            calendar.next_opening(branch.hours, now)
            for branch in self.app.settings.branches.values()
        ]
        upcoming = [
            real_seconds_until(self.clock, at + OPENING_MARGIN)
            for at in openings
            if at is not None and at > now
        ]
        return min(upcoming, default=float("inf"))

    def run_forever(self) -> None:
        """Until `request_stop`; the item in hand is finished, the rest waits its turn."""
        watchers = [
            threading.Thread(
                target=self._watch, args=(branch,), daemon=True, name=f"idle-{branch.id}"
            )
            for branch in self.app.settings.branches.values()
            if self.only in {None, Runner.COLLECT}
        ]
        for watcher in watchers:
            watcher.start()
        jobs = Jobs(self.app, self.clock, self.outages)
        scheduler = jobs.start() if self._runs_jobs else None
        poll: float = self.app.settings.mail.poll_seconds
        if self.only in {Runner.DECIDE, Runner.SEND}:
            poll = min(poll, RUNNER_POLL_SECONDS)
        try:
            while not self.stop.is_set():
                try:
                    report = self.run_mail(wait_seconds=0)
                    self.outages.worked(MAIL_LOCK)
                    self.outages.worked(MAIL_RUN)
                    if report.decided or report.sent.sent:
                        log.info("decided %s; sent %d", dict(report.decided), report.sent.sent)
                except PassBusy as busy:
                    self.outages.failed(MAIL_LOCK, busy, known=True, what="another pass holds it")
                except DiskFull as full:  # before the pass: the lock's file, say
                    self._disk_is_full(full, "no pass")
                except Exception as exc:
                    if database_down(exc):
                        self.outages.failed(DATABASE, exc, known=True, what="no mail pass")
                    else:
                        self.outages.failed(MAIL_RUN, exc, known=False, what="tried again")
                timeout = max(0.0, min(poll, self._seconds_to_next_opening()))
                with self._wait():
                    self.wake.wait(timeout)
                self.wake.clear()
        except StopRequested:
            log.info("stop requested during a wait")
        finally:
            for mailbox in list(self._idling.values()):
                mailbox.interrupt()  # the IDLE ends now, not at the end of its slice
            if scheduler is not None:
                scheduler.shutdown(wait=True)
            deadline = time.monotonic() + WATCHERS_GRACE_SECONDS
            for watcher in watchers:
                watcher.join(timeout=max(0.0, deadline - time.monotonic()))

    def _watch(self, branch: BranchSettings) -> None:
        """Keep an IDLE open on the branch mailbox and wake the main loop on new mail."""
        pause, stop, wake = 1.0, self.stop, self.wake
        while not stop.is_set():
            mailbox = self.app.mailbox_factory(branch.imap)
            try:
                mailbox.connect()
                self.outages.worked(f"imap:{branch.id}")
                self._idling[branch.id] = mailbox
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
                if stop.is_set():
                    return  # the connection was cut to stop
                self.outages.failed(f"imap:{branch.id}", exc, known=True, what="IDLE")
                log.debug("IDLE on %s lost: %s; reconnecting in %.0f s", branch.id, exc, pause)
                stop.wait(pause)
                pause = min(pause * 2, 60.0)
            finally:
                self._idling.pop(branch.id, None)
                mailbox.close()
