"""Outages in the log, once (issue 30): a link that fails pass after pass is said when
the outage begins (one line, no traceback for a known link error), reminded after 1, 5,
15 and every 60 minutes, and said once more when it works again, with how long it was
down. An unexpected error (a bug) keeps its traceback, but the same one is not repeated
more often than the reminders. The rules are `domain/outages`; this is the logging."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from empikgo_mailer.adapters.link_errors import summary
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.outages import REMINDERS, Notice, Outages


class OutageLog:
    """One per process; thread-safe (the daemon's watchers and jobs, the web's workers)."""

    def __init__(
        self, logger: logging.Logger, clock: Clock, reminders: tuple[timedelta, ...] = REMINDERS
    ) -> None:
        self.log, self.clock = logger, clock
        self._outages = Outages(reminders)
        self._lock = threading.Lock()

    def down(self, link: str) -> bool:
        with self._lock:
            return self._outages.down(link)

    def failed(self, link: str, error: BaseException, *, known: bool, what: str = "") -> None:
        """`link` failed with `error` (`known`: a link error, said without a traceback);
        `what`: what could not be done, for the line ("the mail pass", "/metrics")."""
        line = summary(error)
        # A known error's wrappers vary (the driver's, ours): only a full disk is news.
        kind = line.split(":", 1)[0] if not known or line.startswith("DiskFull") else "link"
        with self._lock:
            said = self._outages.failed(link, self.clock(), kind, line)
        if said is None:
            return
        doing = f" ({what})" if what else ""
        trace = None if known else error  # a bug's traceback: as often as the line
        if said.notice is Notice.BEGAN:
            self.log.warning("%s down%s: %s", link, doing, line, exc_info=trace)
        elif said.first_of_kind:
            self.log.warning(
                "%s still down after %.0f s%s: now %s", link, said.lasted.total_seconds(),
                doing, line, exc_info=trace,
            )  # fmt: skip
        else:
            self.log.warning(
                "%s still down after %.0f s (%d failures)%s: %s", link,
                said.lasted.total_seconds(), said.failures, doing, line,
                exc_info=trace,
            )  # fmt: skip

    def worked(self, link: str) -> None:
        with self._lock:
            said = self._outages.worked(link, self.clock())
        if said is not None:
            self.log.info(
                "%s back after %.0f s (%d failures)",
                link,
                said.lasted.total_seconds(),
                said.failures,
            )
