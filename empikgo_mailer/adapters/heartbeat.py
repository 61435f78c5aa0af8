"""The daemon's heartbeat in the database: the web process (`/readyz`, `/metrics`, the
console) and `status` run elsewhere, so the pulse lives where all of them can read it."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from empikgo_mailer import __version__
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.tables import Heartbeat

DAEMON = "daemon"


class Pulse:
    def __init__(self, db: Database, name: str = DAEMON) -> None:
        self.db, self.name = db, name
        self.passes = 0

    def beat(self, now: datetime, seconds: float, problem: str | None) -> None:
        """A pass ended after `seconds`; `problem` is None when every part of it worked."""
        self.passes += 1
        try:
            self._write(now, seconds, problem)
        except IntegrityError:
            # Runners running alone (`run --only`) share the pulse: another one wrote the
            # very first beat meanwhile, so the row is there now.
            self._write(now, seconds, problem)

    def _write(self, now: datetime, seconds: float, problem: str | None) -> None:
        # Once, never waiting out a busy database: a late pulse is a stale pulse anyway,
        # and the daemon must stay able to stop at once.
        with self.db.transaction() as session:
            row = session.get(Heartbeat, self.name) or Heartbeat(
                name=self.name, pid=0, host="", version="", beat_at=now
            )
            row.pid, row.host, row.version = os.getpid(), socket.gethostname(), __version__
            row.beat_at, row.passes, row.pass_seconds = now, self.passes, seconds
            row.last_problem = problem[:2000] if problem else None
            if problem is None:
                row.last_good_pass_at = now
            session.add(row)

    def read(self) -> Heartbeat | None:
        with self.db.transaction() as session:
            return session.get(Heartbeat, self.name)
