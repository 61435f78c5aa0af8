"""Is this installation ready to work? The one answer behind `/readyz`, the container's
HEALTHCHECK and `empikgo-mailer healthcheck` (kept apart from the web app, so the command
line does not import FastAPI).

Three answers: ready (everything answers), ready but degraded (the database and the
daemon work, but a link is down: a branch mailbox unreachable, the SMTP server paused by
its breaker; the daemon goes on with the rest and catches up once it is back), and not
ready (the database down, its schema not this version's, the daemon's heartbeat stale).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from empikgo_mailer.adapters import schema
from empikgo_mailer.adapters.operations_queries import heartbeat, ping
from empikgo_mailer.adapters.outbox import Links
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.clock import Clock


class Readiness(StrEnum):
    READY = "ok"
    DEGRADED = "degraded"
    NOT_READY = "not ready"


@dataclass(frozen=True)
class Verdict:
    status: Readiness
    checks: dict[str, str]  # each check's verdict in a few English words
    links_down: list[str] = field(default_factory=list)  # "imap:w63", "smtp" ...

    @property
    def ready(self) -> bool:
        """Ready to work, degraded or not: a load balancer keeps sending to it."""
        return self.status is not Readiness.NOT_READY


def readiness(app: App, clock: Clock) -> tuple[bool, dict[str, str]]:
    """Ready (degraded or not), and each check's verdict: `healthcheck`'s answer."""
    found = verdict(app, clock)
    return found.ready, found.checks


def verdict(app: App, clock: Clock) -> Verdict:
    """For IT and load balancers; every check's verdict, and the links that are down."""
    checks: dict[str, str] = {}
    try:
        ping(app.db)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
        return Verdict(Readiness.NOT_READY, checks)
    current, head = schema.current_revision(app.db), schema.head_revision()
    checks["schema"] = "ok" if current == head else f"at {current}, this version needs {head}"
    beat = heartbeat(app.db) if current == head else None
    now = clock()
    if beat is None:
        checks["daemon"] = "no heartbeat yet (is `empikgo-mailer run` started?)"
    else:
        age = (now - beat.beat_at).total_seconds()
        fresh = age <= app.settings.web.heartbeat_max_age_seconds
        checks["daemon"] = f"{'ok,' if fresh else 'stale:'} last pass {age:.0f} s ago"
    if not all(v.startswith("ok") for v in checks.values()):
        return Verdict(Readiness.NOT_READY, checks)
    down = []
    for link in Links(app.db).all():
        paused = link.retry_at is not None and link.retry_at > now
        if not link.ok or paused:
            down.append(link.link)
            checks[link.link] = "paused until the next try" if paused else "down"
            if link.last_error:
                checks[link.link] += f": {link.last_error.splitlines()[0][:200]}"
    return Verdict(Readiness.DEGRADED if down else Readiness.READY, checks, down)
