"""Pages for heads and admins: pools (upload with a preview, activation reports), the
month's report with its chart and CSV, and the service switch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from empikgo_mailer.adapters.report_csv import csv_bytes
from empikgo_mailer.adapters.text_files import UnreadableFile
from empikgo_mailer.adapters.upload_staging import discard, stage, staged
from empikgo_mailer.domain.explanations import OUTCOME_LABELS
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.polish import count_text, month_name
from empikgo_mailer.domain.report import place_name
from empikgo_mailer.entrypoints.console.chart import pool_chart
from empikgo_mailer.entrypoints.console.common import HEADS, Console, field, off_loop
from empikgo_mailer.entrypoints.console.security import new_token
from empikgo_mailer.handlers.activations import ImportActivations
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.pools import ImportCodes, ShowPools
from empikgo_mailer.handlers.report import ShowMonthBans, ShowMonthReport
from empikgo_mailer.handlers.service import ShowServices, SwitchService
from empikgo_mailer.handlers.staff import OpenSession

MAX_UPLOAD = 5 * 2**20  # a month's pool is a few thousand codes: some hundred kilobytes
# A file the import cannot read, or a command it refuses: said on the page, in Polish.
UNUSABLE = (CommandRejected, UnreadableFile)
# What the file pickers offer (any file can still be chosen: its content decides).
UPLOAD_TYPES = (
    ".xlsx,.csv,.txt,text/csv,text/plain,"
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)


async def _staged(console: Console, form: FormData, name: str) -> Path:
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise CommandRejected("Wybierz plik.")
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise CommandRejected(f"Plik jest za duży (najwyżej {MAX_UPLOAD // 2**20} MB).")
    # Staged files are stamped by the real clock, even in a rehearsal.
    now = console.session_clock()
    return await off_loop(stage, data, upload.filename, new_token(), now)


def _said(problem: Exception, path: Path) -> str:
    """The import's Polish reason, naming the file as staff chose it, not where it waits."""
    return str(problem).replace(str(path), f"„{path.name}”")


def _month(text: str, fallback: Month) -> Month:
    try:
        return Month.parse(text) if text else fallback
    except ValueError:
        raise CommandRejected(f"Miesiąc ma postać RRRR-MM, np. {fallback}.") from None


def add_head_pages(api: FastAPI, console: Console) -> None:
    app, clock, library = console.app, console.clock, console.app.library
    branch_names = {b.id: b.name for b in console.app.settings.branches.values()}

    def pools_page(staff: OpenSession, month: Month, status: int = 200, **extra: Any) -> Response:
        pools = app.handle(ShowPools(month))
        return console.page(
            "pools.html.j2", staff, status, title="Pule kodów", month=str(month),
            month_text=month_name(month),
            pools=[(p, branch_names.get(p.branch_id or "", "cała biblioteka")) for p in pools],
            platforms=library.offered, branches=list(console.app.settings.branches.values()),
            upload_types=UPLOAD_TYPES, **extra,
        )  # fmt: skip

    @api.get("/pule", include_in_schema=False)
    def pools(request: Request, miesiac: str = "") -> Response:
        staff = console.session_of(request, *HEADS)
        return pools_page(staff, _month(miesiac, library.calendar.month_of(clock())))

    def pool_command(
        form: FormData, path: Path, staff: OpenSession, *, preview: bool
    ) -> ImportCodes:
        platform = library.platform(field(form, "platform", 32))
        month = _month(field(form, "month", 7), library.calendar.month_of(clock()))
        branch = field(form, "branch", 32) if platform.pooled_per_branch else ""
        return ImportCodes(path, platform, month, branch or None,
                           actor=f"staff:{staff.member.login}", preview=preview)  # fmt: skip

    def refused_page(staff: OpenSession, form: FormData, problem: str) -> Response:
        """The pools page again, saying why the file was not taken (never a 500)."""
        month = _month(field(form, "month", 7), library.calendar.month_of(clock()))
        return pools_page(staff, month, status=422, message=problem, message_class="bad")

    async def upload(
        request: Request, then: Callable[[OpenSession, FormData, Path], Response]
    ) -> Response:
        """The form's file staged, then `then` off the event loop; a file that cannot be
        taken at all is said on the pools page."""
        staff, form = await console.posted(request, *HEADS)
        try:
            path = await _staged(console, form, "file")
        except CommandRejected as problem:  # no file, or one too large
            return await off_loop(refused_page, staff, form, str(problem))
        return await off_loop(then, staff, form, path)

    @api.post("/pule/podglad", include_in_schema=False)
    async def preview(request: Request) -> Response:
        return await upload(request, preview_page)

    def preview_page(staff: OpenSession, form: FormData, path: Path) -> Response:
        try:
            command = pool_command(form, path, staff, preview=True)
            report = app.handle(command, now=clock())
        except UNUSABLE as problem:
            discard(path)
            return refused_page(staff, form, _said(problem, path))
        refused = report.refused
        repeated = sum(1 for p in refused if "powtórzony" in p.reason or "już jest" in p.reason)
        return console.page(
            "pool_preview.html.j2", staff, title="Podgląd puli",
            token=path.parent.name, file_name=path.name, platform=command.platform,
            month=str(command.month),
            month_text=month_name(command.month),
            branch=command.branch_id or "",
            place=branch_names.get(command.branch_id or "", "cała biblioteka"),
            report={
                "loaded": report.loaded, "refused_count": len(refused), "duplicates": repeated,
                "refused": refused[:500],
            },
        )  # fmt: skip

    @api.post("/pule/wczytaj", include_in_schema=False)
    async def confirm(request: Request) -> Response:
        return await off_loop(load_pool, *await console.posted(request, *HEADS))

    def load_pool(staff: OpenSession, form: FormData) -> Response:
        path = staged(field(form, "token", 64))
        if path is None:
            raise CommandRejected("Ten podgląd już wczytano albo wygasł; wybierz plik ponownie.")
        command = pool_command(form, path, staff, preview=False)
        try:
            report = app.handle(command, now=clock())
        except UnreadableFile as problem:  # read at the preview: only a changed file gets here
            return refused_page(staff, form, _said(problem, path))
        finally:
            discard(path)
        refused = f"; odrzucone linie: {len(report.refused)}" if report.refused else ""
        return pools_page(
            staff,
            command.month,
            message=f"Wczytano {count_text(report.loaded, 'kod', 'kody', 'kodów')}{refused}.",
        )

    @api.post("/pule/aktywacje", include_in_schema=False)
    async def activations(request: Request) -> Response:
        return await upload(request, load_activations)

    def load_activations(staff: OpenSession, form: FormData, path: Path) -> Response:
        try:
            report = app.handle(
                ImportActivations(path, library.platform(field(form, "platform", 32)),
                                  actor=f"staff:{staff.member.login}"),
                now=clock(),
            )  # fmt: skip
        except UNUSABLE as problem:
            return refused_page(staff, form, _said(problem, path))
        finally:
            discard(path)
        problems = [*report.unknown, *report.refused]
        return pools_page(
            staff, library.calendar.month_of(clock()),
            message=f"Aktywacje: nowe {report.recorded}, znane wcześniej {report.already_known}, "
            f"zdjęte blokady {report.bans_lifted}, do wyjaśnienia {len(problems)}.",
            message_class="warn" if problems else "ok",
            problems=problems[:200],
        )  # fmt: skip


def add_month_pages(api: FastAPI, console: Console) -> None:
    """The month's report with its chart and CSV, and the service switch."""
    app, clock, library = console.app, console.clock, console.app.library
    branch_names = {b.id: b.name for b in console.app.settings.branches.values()}

    @api.get("/miesiac", include_in_schema=False)
    def month_page(request: Request, miesiac: str = "") -> Response:
        staff = console.session_of(request, *HEADS)
        month = _month(miesiac, library.calendar.month_of(clock()))
        report = app.handle(ShowMonthReport(month), now=clock())
        bans = app.handle(ShowMonthBans(month))
        pools = []
        for pool in report.pools:
            place = place_name(pool, branch_names)
            title = f"{pool.platform.display_name} — {place}: kody wydane w miesiącu"
            refused = sorted(
                (OUTCOME_LABELS.get(reason, reason), count)
                for reason, count in pool.refused.items()
                if count
            )
            chart, total = pool_chart(pool, title, month), sum(c for _, c in refused)
            pools.append(
                {"pool": pool, "place": place, "refused": refused, "total": total, "chart": chart}
            )
        return console.page(
            "month.html.j2", staff, title=f"Miesiąc {month_name(month)}",
            month=str(month), month_text=month_name(month),
            previous=str(month.plus(-1)), following=str(month.plus(1)),
            closed=console.local_text(report.closed_at) if report.closed_at else "",
            pools=pools,
            bans=bans,
        )  # fmt: skip

    @api.get("/miesiac/{month_text}/raport.csv", include_in_schema=False)
    def month_csv(request: Request, month_text: str) -> Response:
        console.session_of(request, *HEADS)
        month = _month(month_text, library.calendar.month_of(clock()))
        report = app.handle(ShowMonthReport(month), now=clock())
        return Response(
            csv_bytes(report, branch_names),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="raport-{month}.csv"'},
        )

    def services_page(staff: OpenSession, **extra: Any) -> Response:
        services = app.handle(ShowServices())
        return console.page("services.html.j2", staff, title="Usługi", services=services, **extra)

    @api.get("/uslugi", include_in_schema=False)
    def services(request: Request) -> Response:
        return services_page(console.session_of(request, *HEADS))

    @api.post("/uslugi", include_in_schema=False)
    async def switch(request: Request) -> Response:
        return await off_loop(switch_service, *await console.posted(request, *HEADS))

    def switch_service(staff: OpenSession, form: FormData) -> Response:
        platform = library.platform(field(form, "platform", 32))
        enabled = field(form, "state", 8) == "on"
        reason = field(form, "reason", 500)
        if not enabled and not reason:
            return services_page(
                staff, message="Podaj powód wyłączenia usługi.", message_class="bad"
            )
        changed = app.handle(
            SwitchService(platform, enabled, reason or None, actor=f"staff:{staff.member.login}"),
            now=clock(),
        )
        state = "włączona" if enabled else "wyłączona"
        if not changed:
            return services_page(
                staff,
                message=f"{platform.display_name}: usługa już była {state}; nic nie zmieniono.",
            )
        return services_page(staff, message=f"{platform.display_name}: usługa {state}.")
