"""The per-card limit of the claim endpoint, kept in the database: every `web` worker
(and every process behind a load balancer) counts one reader's claims together.

A fixed window per card that starts at its first claim: at most `limit` claims in
`window` seconds, counted by one INSERT ... ON CONFLICT DO UPDATE ... RETURNING, which
is atomic on SQLite and PostgreSQL alike. Wall-clock seconds, not the replayable
`--now`: a window is real time the reader waits."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Table, case, delete
from sqlalchemy.dialects import postgresql, sqlite

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.tables import ClaimLimit

_LIMIT: Table = ClaimLimit.__table__  # type: ignore[attr-defined]


class DatabaseRateLimiter:
    """At most `limit` claims per card in `window` seconds, counted in the database."""

    def __init__(
        self,
        db: Database,
        limit: int,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.limit, self.window, self.clock = db, limit, window, clock
        self._insert = (postgresql if db.dialect == "postgresql" else sqlite).insert
        self._next_prune = clock() + window
        self._prune_lock = threading.Lock()

    def retry_after(self, key: str) -> float | None:
        """Count a claim; None when it may go ahead, else the seconds to wait."""
        with self.db.connection() as connection:
            return self.retry_after_many(connection, [key])[0]

    def retry_after_many(self, connection: Connection, keys: Sequence[str]) -> list[float | None]:
        """`retry_after` for each of `keys` in turn (a key may come again: a double
        click), counted with one statement inside the caller's transaction."""
        if not keys:
            return []
        now = self.clock()
        c = _LIMIT.c
        times = Counter(keys)
        expired = c.window_start <= now - self.window
        inserted = self._insert(_LIMIT)
        statement = inserted.on_conflict_do_update(
            index_elements=[c.key],
            set_={
                "window_start": case((expired, now), else_=c.window_start),
                "hits": case(
                    (expired, inserted.excluded.hits), else_=c.hits + inserted.excluded.hits
                ),
            },
        ).returning(c.key, c.window_start, c.hits)
        # Sorted: two workers' batches then take the rows' locks in the same order.
        rows = [{"key": key, "window_start": now, "hits": times[key]} for key in sorted(times)]
        counted = {
            key: (float(started), hits)
            for key, started, hits in connection.execute(statement, rows)
        }
        self._prune(connection, now)
        seen: Counter[str] = Counter()
        waits: list[float | None] = []
        for key in keys:
            started, hits = counted[key]
            seen[key] += 1
            # This batch's claims of the card count one after another, in arrival order.
            if hits - times[key] + seen[key] > self.limit:
                waits.append(max(0.001, started + self.window - now))
            else:
                waits.append(None)
        return waits

    def _prune(self, connection: Connection, now: float) -> None:
        """Forget cards idle for a whole window, once a window, so the table stays as
        small as one window's readers."""
        if now < self._next_prune or not self._prune_lock.acquire(blocking=False):
            return
        try:
            self._next_prune = now + self.window
            connection.execute(delete(_LIMIT).where(_LIMIT.c.window_start < now - self.window))
        finally:
            self._prune_lock.release()
