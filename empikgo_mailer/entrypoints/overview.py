"""Everything `status` and the console's dashboard show, gathered once for both doors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from empikgo_mailer.adapters.heartbeat import Pulse
from empikgo_mailer.adapters.outbox import Links
from empikgo_mailer.adapters.store import PoolCount
from empikgo_mailer.adapters.tables import DroppedFile, Heartbeat, LinkState
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.polish import age_text, moment_text
from empikgo_mailer.domain.queue_status import QueueStatus
from empikgo_mailer.entrypoints.scheduler import JobStatus, job_statuses
from empikgo_mailer.handlers.drop_folder import ShowDroppedFiles
from empikgo_mailer.handlers.mail_status import ShowMailStatus
from empikgo_mailer.handlers.pools import ShowPools
from empikgo_mailer.handlers.service import ServiceState, ShowServices

Local = Callable[[datetime], datetime]


@dataclass(frozen=True)
class Overview:
    month: Month
    pools: list[PoolCount]
    queues: list[QueueStatus]
    links: list[LinkState]
    services: list[ServiceState]
    jobs: list[JobStatus]
    dropped: list[DroppedFile]
    heartbeat: Heartbeat | None = None  # the daemon's last pass


def overview(
    app: App, now: datetime, month: Month | None = None, branch_id: str | None = None
) -> Overview:
    """The state at `now`; with `branch_id`, that branch's pools, queue and mailbox only
    (and the library-wide pools, which every branch hands out)."""
    month = month or app.library.calendar.month_of(now)
    pools = [
        pool
        for pool in app.handle(ShowPools(month))
        if branch_id is None or pool.branch_id in (None, branch_id)
    ]
    queues = app.handle(ShowMailStatus(), now=now).queues
    links = [
        link
        for link in Links(app.db).all()
        if branch_id is None
        or not link.link.startswith("imap:")
        or link.link == f"imap:{branch_id}"
    ]
    return Overview(
        month=month,
        pools=pools,
        queues=[queue for queue in queues if branch_id in (None, queue.branch_id)],
        links=links,
        services=app.handle(ShowServices()),
        jobs=job_statuses(app, now),
        dropped=app.handle(ShowDroppedFiles()),
        heartbeat=Pulse(app.db).read(),
    )


def since_text(at: datetime | None, now: datetime, local: Local) -> str:
    """'od 2 listopada 2026, godz. 9:12 (48 min)', or '' for nothing waiting."""
    if at is None:
        return ""
    return f"od {moment_text(local(at))} ({age_text((now - at).total_seconds())})"


def link_label(link: str) -> str:
    if link.startswith("imap:"):
        return f"skrzynka placówki {link.removeprefix('imap:')} (IMAP)"
    return "serwer poczty wychodzącej (SMTP)" if link == "smtp" else link


def link_text(link: LinkState, now: datetime, local: Local) -> str:
    """Working since when, or down: how many tries, the last error, the next try."""
    if link.ok:
        text = "działa"
        if link.last_ok_at is not None:
            text += f" (ostatnio {moment_text(local(link.last_ok_at))})"
        return text
    when = moment_text(local(link.last_failure_at)) if link.last_failure_at else "?"
    text = f"NIEDOSTĘPNY (prób z rzędu: {link.failures}, ostatnia {when}): {link.last_error}"
    if link.retry_at is not None and link.link == "smtp":
        if link.retry_at > now:
            text += f"; następna próba {moment_text(local(link.retry_at))}"
        else:
            text += "; następna próba przy najbliższej wysyłce"
    return text


def heartbeat_text(beat: Heartbeat | None, now: datetime, local: Local, max_age: int) -> str:
    """The daemon's pulse for staff: when its last mail pass ended, and whether that is
    recent enough (the same limit as /readyz)."""
    if beat is None:
        return "NIE DZIAŁA — jeszcze żaden przebieg (uruchom „empikgo-mailer run”)"
    age = (now - beat.beat_at).total_seconds()
    when = f"{moment_text(local(beat.beat_at))} ({age_text(age)} temu)"
    if age > max_age:
        return f"NIE ODPOWIADA — ostatni przebieg {when}"
    took = f"{beat.pass_seconds:.1f}".replace(".", ",")
    text = f"działa — ostatni przebieg {when}, trwał {took} s"
    if beat.last_problem:
        text += "; były problemy (szczegóły w „Połączenia”)"
    return text
