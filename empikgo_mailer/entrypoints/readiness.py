"""Is this installation ready to work? The one answer behind `/readyz`, the container's
HEALTHCHECK and `empikgo-mailer healthcheck` (kept apart from the web app, so the command
line does not import FastAPI)."""

from __future__ import annotations

from empikgo_mailer.adapters import schema
from empikgo_mailer.adapters.operations_queries import heartbeat, ping
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.clock import Clock


def readiness(app: App, clock: Clock) -> tuple[bool, dict[str, str]]:
    """Each check's verdict in a few English words (for IT and load balancers)."""
    checks: dict[str, str] = {}
    try:
        ping(app.db)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
        return False, checks
    current, head = schema.current_revision(app.db), schema.head_revision()
    checks["schema"] = "ok" if current == head else f"at {current}, this version needs {head}"
    beat = heartbeat(app.db) if current == head else None
    if beat is None:
        checks["daemon"] = "no heartbeat yet (is `empikgo-mailer run` started?)"
    else:
        age = (clock() - beat.beat_at).total_seconds()
        fresh = age <= app.settings.web.heartbeat_max_age_seconds
        checks["daemon"] = f"{'ok,' if fresh else 'stale:'} last pass {age:.0f} s ago"
    ready = all(v.startswith("ok") for v in checks.values())
    return ready, checks
