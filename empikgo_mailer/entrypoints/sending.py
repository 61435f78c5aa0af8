"""The send runner beside a pass: a forked process that sends while the pass decides.

A month's first morning queues thousands of requests at once. Deciding them takes
seconds of CPU, and so does talking SMTP; in one process they take turns. So each pass
forks a sender at its start, standing by; when at least `[smtp]
send_while_deciding_from` requests are queued or replies wait, the pass tells it to go:
each batch of decisions commits its replies and the sender, on the other core, sends
them while the next batch is decided. The sender does what the pass would do
(`app.handle(SendDue())`, on database connections of its own): it claims committed
replies with a lease and records each result before the next reply leaves.

Whoever sends holds the sender lock (`pass_lock.SEND`). A sender whose pass dies (kill
-9) sees it (its parent is gone) and stops after the reply in hand; the next pass takes
back leases only once it holds that lock, so it never resends a reply the old sender
still has in hand.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.synchronize
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import FrameType

from empikgo_mailer.adapters.database import Database, WriteTurn, is_sqlite
from empikgo_mailer.adapters.link_errors import database_down, summary
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.errors import ProgramError
from empikgo_mailer.handlers.mail_send import SendDue, SendReport

log = logging.getLogger(__name__)
# How often a sender standing by looks whether its pass is gone or it was stopped.
STANDBY_LOOK_SECONDS = 0.5


class SenderFailed(ProgramError):
    """The sender process ended without its report (killed, or a crash)."""


def can_fork_for(db: Database) -> bool:
    """A second process can share the database: not an in-memory SQLite one."""
    return db.file is not None or not is_sqlite(db.url)


class SenderProcess:
    """The outbox sent from a forked process while this one decides.

    Forked, not spawned: the child is ready in milliseconds with the pass's settings,
    clock and SMTP factory (a spawned `run --only send` took 1.1 s to start, 0.83 s of
    it imports, and a burst's first reply left only after 1,600 of 2,000 requests were
    decided). It is forked at the start of the pass, before the collect runner's thread
    exists, and waits until the pass tells it to `go`: a child forked while another
    thread holds a lock (an import's, SQLite's) would wait on its copy forever. It opens
    a database connection of its own and never touches the parent's (a pooled
    connection shared across a fork would carry two conversations at once)."""

    def __init__(self, app: App, clock: Clock) -> None:
        self.app = app
        self._turn = WriteTurn() if is_sqlite(app.db.url) else None
        context = multiprocessing.get_context("fork")
        self._decided = context.Event()  # the pass has decided all it will this time
        # To it: whether to send at all (sent once); from it: its report, at its end.
        self._line, child_end = context.Pipe()
        self._process = context.Process(
            target=_child,
            args=(app, clock, self._turn, _PassLine(os.getpid(), self._decided, child_end)),
            name="sender",
        )
        with app.db.between_transactions():  # a scheduled job may be writing
            self._process.start()
        child_end.close()  # so that the child's death reads as EOF here
        self._reaped = False

    def go(self) -> None:
        """Start sending, beside the pass that goes on deciding."""
        if self._turn is not None:
            self.app.db.take_turns(self._turn.after_sender)
        self._line.send(True)
        log.info("sending from a second process (pid %d) while deciding", self._process.pid)

    def dismiss(self) -> None:
        """Not needed this pass: it ends without sending."""
        with contextlib.suppress(OSError):  # it has died: nothing to tell
            self._line.send(False)
        self._process.join()
        self._reaped = True
        self._line.close()

    def decisions_done(self) -> None:
        self._decided.set()

    def running(self) -> bool:
        alive = self._process.is_alive()  # reaps it when it has ended
        self._reaped = self._reaped or not alive
        return alive

    def wait(self, seconds: float) -> None:
        """Until the sender ends, or `seconds`."""
        self._process.join(seconds)
        self._reaped = self._reaped or self._process.exitcode is not None

    def stop(self) -> None:
        """Finish the reply in hand and stop; safe in a signal handler (it only sends a
        signal, and never to a process already reaped, whose number may be reused)."""
        if self._process.pid is not None and not self._reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, signal.SIGTERM)

    def finish(self) -> tuple[SendReport, float]:
        """Wait for the sender to send what is due (or to stop, when told to). Returns its
        report and how long it sent; SenderFailed when it died without one."""
        self.decisions_done()
        try:
            outcome: tuple[SendReport, float] | str | None = self._line.recv()
        except EOFError:
            outcome = None
        self._process.join()
        self._reaped = True
        self._line.close()
        self.app.db.take_turns(None)
        if isinstance(outcome, tuple):
            return outcome
        raise SenderFailed(
            outcome or f"the sender process ended with exit code {self._process.exitcode}"
        )


@dataclass(frozen=True)
class _PassLine:
    """What a sender and its pass say to each other."""

    parent: int  # the pass's process
    decided: multiprocessing.synchronize.Event  # the pass has decided all it will
    pipe: Connection  # to it: whether to send at all; from it: its report, at its end


def _child(app: App, clock: Clock, turn: WriteTurn | None, line: _PassLine) -> None:
    """The sender process: once told to go, send until the pass has decided and nothing
    is due, or until told to stop (SIGTERM), or until the pass is gone."""
    terminated = False

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        nonlocal terminated
        terminated = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pass passes a Ctrl-C on as SIGTERM
    parent, decided, results = line.parent, line.decided, line.pipe

    def should_stop() -> bool:
        return terminated or os.getppid() != parent

    while not results.poll(STANDBY_LOOK_SECONDS):
        if should_stop():
            return
    try:
        wanted = bool(results.recv())
    except (EOFError, OSError):
        return  # the pass is gone
    if not wanted:
        return  # not needed this pass
    started = time.perf_counter()
    own = app.reopened()
    if turn is not None:
        own.db.take_turns(turn.first)
    outcome: tuple[SendReport, float] | str
    try:
        report = own.handle(
            SendDue(),
            clock=clock,
            should_stop=should_stop,
            more_coming=lambda: not decided.is_set(),
        )
        outcome = (report, time.perf_counter() - started)
    except Exception as exc:
        if database_down(exc):  # an outage: one line; the daemon says the rest once
            log.warning("the sender process stopped: %s", summary(exc))
        else:
            log.exception("the sender process failed")
        outcome = f"{type(exc).__name__}: {exc}"
    finally:
        own.db.dispose()
    with contextlib.suppress(OSError):  # the pass is gone; the outbox holds the results
        results.send(outcome)
    results.close()
