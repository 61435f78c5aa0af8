"""`empikgo-mailer status`: pools, mail queues and replies, links, services and jobs."""

from __future__ import annotations

from datetime import datetime

import click

from empikgo_mailer.adapters.database import LOW_SPACE_BYTES, free_bytes, place_of
from empikgo_mailer.adapters.tables import DroppedFile, LinkState
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.card_number import shown_card
from empikgo_mailer.domain.errors import DiskFull, ExitCode
from empikgo_mailer.domain.explanations import OUTCOME_LABELS
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.polish import moment_text, month_name
from empikgo_mailer.domain.queue_status import QueueStatus
from empikgo_mailer.entrypoints.cli_support import (
    MONTH,
    Local,
    app_command,
    echo_json,
    json_fields,
    json_option,
)
from empikgo_mailer.entrypoints.click_pl import PolishCommand, PolishGroup
from empikgo_mailer.entrypoints.overview import (
    heartbeat_text,
    link_label,
    link_text,
    overview,
    since_text,
)
from empikgo_mailer.entrypoints.scheduler import JOB_OUTCOME_LABELS, JobStatus
from empikgo_mailer.handlers.service import ServiceState
from empikgo_mailer.handlers.set_aside import RetryReplies


@click.command(cls=PolishCommand)
@click.option("--branch", "branch_id", metavar="PLACÓWKA", help="Tylko ta placówka.")
@click.option("--month", type=MONTH, help="Miesiąc RRRR-MM (domyślnie bieżący).")
@json_option
@app_command
def status(
    app: App, now: datetime, branch_id: str | None, month: Month | None, as_json: bool
) -> int:
    """Stan pul kodów i kolejek próśb e-mailowych, według placówki i platformy."""
    seen = overview(app, now, month, branch_id)
    month, pools, queues, links = seen.month, seen.pools, seen.queues, seen.links
    services, jobs, dropped = seen.services, seen.jobs, seen.dropped
    local = app.library.calendar.local
    disk = _database_disk(app)
    if as_json:
        document = {
            "month": str(month),
            "pools": [
                json_fields(p, "platform branch=branch_id loaded issued left") for p in pools
            ],
            "queues": [
                {
                    **json_fields(
                        q,
                        "branch=branch_id waiting oldest_waiting decided_today set_aside "
                        "set_aside_unfiled filing_errors outbox_pending oldest_pending "
                        "pending_error outbox_failed",
                        local,
                    ),
                    "failed_replies": [
                        json_fields(f, "recipient error written_at=created_at", local)
                        for f in q.failed_replies
                    ],
                    "undelivered_codes": [
                        json_fields(
                            u,
                            "issuance=issuance_id card=card_number month sent_to reason at",
                            local,
                        )
                        for u in q.undelivered_codes
                    ],
                }
                for q in queues
            ],
            "links": [
                json_fields(
                    link, "link ok failures last_error last_ok_at last_failure_at retry_at", local
                )
                for link in links
            ],
            "services": [
                json_fields(
                    s, "platform on configured reason=switched_off_reason changed_at", local
                )
                for s in services
            ],
            "jobs": [
                {
                    **json_fields(job, "id next_run every_seconds", local),
                    # All None before the job's first run.
                    **json_fields(
                        job.last,
                        "last_started_at=started_at last_finished_at=finished_at "
                        "last_outcome=outcome last_summary=summary",
                        local,
                    ),
                }
                for job in jobs
            ],
            "daemon": None
            if seen.heartbeat is None
            else json_fields(
                seen.heartbeat,
                "last_pass_at=beat_at last_good_pass_at pass_seconds last_problem pid host version",
                local,
            ),
            "dropped_files": [
                json_fields(f, "kind name taken_at outcome summary", local) for f in dropped
            ],
            "database_disk": disk,
        }
        echo_json(document)
        return ExitCode.OK

    def where(pool_branch: str | None) -> str:
        if pool_branch is None:
            return "cała biblioteka"
        branch = app.library.branches.get(pool_branch)
        return f"{pool_branch}: {branch.name}" if branch else pool_branch

    places = [where(pool.branch_id) for pool in pools]
    width = max([len("Placówka"), *map(len, places)])
    click.echo(f"Pule kodów — {month_name(month)}")
    click.echo(f"  {'Platforma':<9}  {'Placówka':<{width}}  Wczytane  Wydane  Zostało")
    for pool, place in zip(pools, places, strict=True):
        click.echo(
            f"  {pool.platform.display_name:<9}  {place:<{width}}  {pool.loaded:>8}  "
            f"{pool.issued:>6}  {pool.left:>7}"
        )
    _echo_mail(queues, links, now, local)
    max_age = app.settings.web.heartbeat_max_age_seconds
    click.echo(f"Demon poczty: {heartbeat_text(seen.heartbeat, now, local, max_age)}")
    if disk is not None and disk["full"]:
        full = DiskFull(str(disk["place"]))
        click.echo(f"{full.label.upper()}: {full.message(DiskFull.THEN_NEXT_RUN)}")
    _echo_services(services, local)
    _echo_jobs(jobs, dropped, local)
    return ExitCode.OK


def _database_disk(app: App) -> dict[str, object] | None:
    """The room left beside a SQLite database (None on PostgreSQL, whose server keeps
    its own): `full` when a pass would stop there for want of space."""
    if app.db.file is None:
        return None
    room = free_bytes(app.db.file)
    return {
        "place": place_of(app.db.file),
        "free_bytes": room,
        "full": room is not None and room < LOW_SPACE_BYTES,
    }


def _echo_services(services: list[ServiceState], local: Local) -> None:
    click.echo("Usługi")
    for state in services:
        if state.on:
            text = "włączona"
        elif not state.configured:
            text = "wyłączona w konfiguracji"
        else:
            when = moment_text(local(state.changed_at)) if state.changed_at else "?"
            reason = f" — {state.switched_off_reason}" if state.switched_off_reason else ""
            text = f"WYŁĄCZONA od {when} ({state.actor}){reason}"
        click.echo(f"  {state.platform.display_name}: {text}")


def _echo_jobs(jobs: list[JobStatus], dropped: list[DroppedFile], local: Local) -> None:
    click.echo("Zadania demona")
    for job in jobs:
        if job.every_seconds is not None:
            due = f"co {job.every_seconds} s"
            if job.next_run is not None:
                due += f", następne ok. {moment_text(local(job.next_run))}"
        else:
            due = f"następne {moment_text(local(job.next_run))}" if job.next_run else "—"
        click.echo(f"  {job.label}: {due}")
        if job.last is None:
            click.echo("    jeszcze nie uruchomione")
        else:
            outcome = JOB_OUTCOME_LABELS.get(job.last.outcome, job.last.outcome)
            summary = f": {job.last.summary}" if job.last.summary else ""
            click.echo(
                f"    ostatnio {moment_text(local(job.last.started_at))} — {outcome}{summary}"
            )
    if dropped:
        click.echo("Ostatnie pliki z folderu")
        for f in dropped:
            click.echo(f"  {moment_text(local(f.taken_at))} {f.name}: {f.summary}")


def _echo_mail(
    queues: list[QueueStatus], links: list[LinkState], now: datetime, local: Local
) -> None:
    click.echo("Prośby e-mailowe")
    for queue in queues:
        decided = ", ".join(
            f"{OUTCOME_LABELS.get(k, k)}: {v}" for k, v in sorted(queue.decided_today.items())
        )
        waiting = f"czeka {queue.waiting}"
        if queue.oldest_waiting is not None:
            waiting += f" (najstarsza {since_text(queue.oldest_waiting, now, local)})"
        click.echo(f"  {queue.branch_id}: {waiting}; dziś rozpatrzone: {decided or 'brak'}")
        pending = f"    odpowiedzi do wysłania: {queue.outbox_pending}"
        if queue.oldest_pending is not None:
            pending += f", najstarsza {since_text(queue.oldest_pending, now, local)}"
        click.echo(pending)
        if queue.pending_error:
            click.echo(f"    ostatni błąd wysyłki: {queue.pending_error}")
        click.echo(f"    niewysłane (błąd): {queue.outbox_failed}")
        for failure in queue.failed_replies:
            click.echo(
                f"    niewysłana odpowiedź do {failure.recipient} "
                f"(z {moment_text(local(failure.created_at))}) — {failure.error}"
            )
        for code in queue.undelivered_codes:
            # The card, never the code or the address: staff find the reader by the card.
            click.echo(
                f"    kod nie dotarł: karta {shown_card(code.card_number)} "
                f"(od {moment_text(local(code.at))}) — {code.reason}"
            )
        if queue.set_aside:
            # The console's count: the list, whether or not filing moved them yet.
            unfiled = queue.set_aside_unfiled
            click.echo(
                f"    odłożone dla obsługi: {queue.set_aside}"
                + (f" (jeszcze w skrzynce: {unfiled})" if unfiled else "")
            )
        for error in queue.filing_errors:
            click.echo(f"    nie przeniesiono wiadomości: {error}")
    if links:
        click.echo("Połączenia")
    for link in links:
        click.echo(f"  {link_label(link.link)}: {link_text(link, now, local)}")


@click.group(cls=PolishGroup)
def replies() -> None:
    """Odpowiedzi czekające na wysłanie."""


@replies.command("retry")
@click.option("--branch", "branch_id", metavar="PLACÓWKA", help="Tylko ta placówka.")
@app_command
def replies_retry(app: App, now: datetime, branch_id: str | None) -> int:
    """Wyślij teraz odpowiedzi czekające na kolejną próbę i te, których serwer wcześniej nie
    przyjął (bez kodów, które nie dotarły: te załatwia się w konsoli). Po awarii serwera
    poczty demon nie czeka wtedy na swój harmonogram."""
    if branch_id is not None:
        app.library.branch(branch_id)  # an unknown branch: a Polish error, exit 4
    result = app.handle(RetryReplies(branch_id, login="cli"), now=now)
    click.echo(result.message)
    return ExitCode.OK
