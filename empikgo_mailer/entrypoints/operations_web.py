"""The IT person's endpoints on the `web` process: `/healthz` (the process answers),
`/readyz` (the database answers, its schema is this version's, the daemon's heartbeat is
fresh; "degraded" when a link is down: `readiness`) and `/metrics` (Prometheus text
format, read from the database at each scrape, so it shows what the daemon did in its
own process).

With the database down `/metrics` still answers 200, with `empikgo_database_up 0` and
what needs no database (the version, the process): Prometheus keeps scraping, an alert
on the database fires, and the outage is said once in the log, not a traceback a scrape.
With the daemon's heartbeat stale, `empikgo_link_up` is left out (a dead daemon's last
word on its links is no news); `empikgo_heartbeat_age_seconds` says how stale it is."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from empikgo_mailer import __version__
from empikgo_mailer.adapters.link_errors import DATABASE, database_down
from empikgo_mailer.adapters.operations_queries import Figures, figures
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.month import Month
from empikgo_mailer.entrypoints.outage_log import OutageLog
from empikgo_mailer.entrypoints.readiness import Readiness, verdict


class DatabaseCollector(Collector):
    def __init__(self, app: App, clock: Clock, outages: OutageLog) -> None:
        self.app, self.clock, self.outages = app, clock, outages

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        try:
            found = figures(self.app.db, str(Month.of(self.app.library.calendar.today(now))))
        except Exception as exc:
            if not database_down(exc):
                raise
            self.outages.failed(DATABASE, exc, known=True, what="/metrics without its figures")
            found = None
        else:
            self.outages.worked(DATABASE)
        yield GaugeMetricFamily(
            "empikgo_database_up",
            "1 when the database answered this scrape",
            value=0 if found is None else 1,
        )
        if found is not None:
            yield from self._figures(found, now)
        info = GaugeMetricFamily("empikgo_info", "The running version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info

    def _figures(self, found: Figures, now: datetime) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "empikgo_requests_waiting", "E-mail requests queued, per branch", labels=["branch"]
        )
        set_aside = GaugeMetricFamily(
            "empikgo_messages_set_aside", "Messages waiting for staff", labels=["branch"]
        )
        for branch in self.app.settings.branches:
            waiting.add_metric([branch], found.waiting.get(branch, 0))
            set_aside.add_metric([branch], found.set_aside.get(branch, 0))
        decisions = CounterMetricFamily(
            "empikgo_decisions", "E-mail requests decided, by outcome", labels=["branch", "outcome"]
        )
        for (branch, outcome), count in sorted(found.decisions.items()):
            decisions.add_metric([branch, outcome], count)
        codes = GaugeMetricFamily(
            "empikgo_codes_left",
            "Codes not yet given in this month's pools",
            labels=["platform", "pool", "month"],
        )
        for (platform, pool, month), count in sorted(found.codes_left.items()):
            codes.add_metric([platform, pool, month], count)
        replies = CounterMetricFamily("empikgo_replies", "Replies by result", labels=["result"])
        for result in ("sent", "failed", "bounced"):
            replies.add_metric([result], found.replies.get(result, 0))
        undelivered = GaugeMetricFamily(
            "empikgo_codes_undelivered",
            "Codes whose reply was refused or bounced, not yet sent again or returned",
            labels=["branch"],
        )
        for branch in self.app.settings.branches:
            undelivered.add_metric([branch], found.undelivered.get(branch, 0))
        pending = GaugeMetricFamily("empikgo_replies_pending", "Replies waiting to be sent")
        pending.add_metric([], found.replies.get("pending", 0))
        errors = CounterMetricFamily(
            "empikgo_link_errors", "IMAP and SMTP errors", labels=["protocol", "link"]
        )
        up = GaugeMetricFamily(
            "empikgo_link_up", "1 when the last contact worked", labels=["protocol", "link"]
        )
        beat = found.heartbeat
        age = None if beat is None else (now - beat.beat_at).total_seconds()
        alive = age is not None and age <= self.app.settings.web.heartbeat_max_age_seconds
        for link in found.links:
            protocol = link.link.split(":", maxsplit=1)[0]
            errors.add_metric([protocol, link.link], link.errors_total)
            if alive:  # a dead daemon's last word on its links is no news
                up.add_metric([protocol, link.link], 1 if link.ok else 0)
        yield from (waiting, set_aside, decisions, codes, replies, pending, undelivered, errors, up)
        paused = GaugeMetricFamily(
            "empikgo_link_paused",
            "1 while the link's breaker holds it untried (SMTP after a failure)",
            labels=["protocol", "link"],
        )
        for link in found.links:
            if link.retry_at is not None:
                protocol = link.link.split(":", maxsplit=1)[0]
                paused.add_metric([protocol, link.link], 1 if link.retry_at > now else 0)
        yield paused
        oldest = GaugeMetricFamily(
            "empikgo_reply_waiting_seconds",
            "How long the reply waiting longest to be sent has waited (0: none waits)",
        )
        since = found.oldest_pending
        oldest.add_metric([], 0.0 if since is None else max(0.0, (now - since).total_seconds()))
        yield oldest
        if beat is not None and age is not None:
            yield GaugeMetricFamily(
                "empikgo_heartbeat_age_seconds",
                "Seconds since the daemon's last pass ended, at this scrape",
                value=max(0.0, age),
            )
            yield GaugeMetricFamily(
                "empikgo_pass_duration_seconds",
                "How long the last mail pass took",
                value=beat.pass_seconds,
            )
            yield GaugeMetricFamily(
                "empikgo_heartbeat_timestamp_seconds",
                "When the daemon's last pass ended",
                value=beat.beat_at.timestamp(),
            )
            if beat.last_good_pass_at is not None:
                yield GaugeMetricFamily(
                    "empikgo_last_good_pass_timestamp_seconds",
                    "When a pass last ended with every server reached",
                    value=beat.last_good_pass_at.timestamp(),
                )


def add_operations(api: FastAPI, app: App, clock: Clock, outages: OutageLog) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(app, clock, outages))
    ProcessCollector(registry=registry)  # process_start_time_seconds ...: needs no database
    token = app.settings.web.metrics_token

    @api.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz", include_in_schema=False)
    def ready() -> JSONResponse:
        found = verdict(app, clock)
        if found.checks.get("database") == "ok":
            outages.worked(DATABASE)
        answer: dict[str, object] = {"status": found.status.value, "checks": found.checks}
        if found.status is Readiness.DEGRADED:
            answer["links_down"] = found.links_down
        return JSONResponse(answer, status_code=200 if found.ready else 503)

    @api.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "").removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), token.value.encode()):
                return Response("401\n", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
