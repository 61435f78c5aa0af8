"""Pages for heads and admins: pools (upload with a preview, activation reports), the
month's report with its chart and CSV, and the service switch."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from empikgo_mailer.adapters.report_csv import csv_bytes
from empikgo_mailer.domain.explanations import OUTCOME_LABELS
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.polish import month_name
from empikgo_mailer.domain.report import place_name
from empikgo_mailer.entrypoints.console.chart import pool_chart
from empikgo_mailer.entrypoints.console.common import HEADS, Console, field, off_loop
from empikgo_mailer.entrypoints.console.security import new_token
from empikgo_mailer.entrypoints.console.upload_names import own_name, upload_name
from empikgo_mailer.handlers.activations import ImportActivations
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.pools import ImportCodes, ShowPools
from empikgo_mailer.handlers.report import ShowMonthBans, ShowMonthReport
from empikgo_mailer.handlers.service import ShowServices, SwitchService
from empikgo_mailer.handlers.staff import OpenSession

MAX_UPLOAD = 5 * 2**20  # a month's pool is a few thousand codes: some hundred kilobytes
# Uploaded pool files wait here between the preview and the confirmation.
STAGING = Path(tempfile.gettempdir()) / "empikgo-mailer-uploads"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


async def _staged(form: FormData, name: str) -> Path:
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise CommandRejected("Wybierz plik.")
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise CommandRejected(f"Plik jest za duży (najwyżej {MAX_UPLOAD // 2**20} MB).")
    return await off_loop(_stage, data)


def _stage(data: bytes) -> Path:
    STAGING.mkdir(mode=0o700, exist_ok=True)
    path = STAGING / f"{new_token()}.txt"
    path.write_bytes(data)
    return path


def _month(text: str, fallback: Month) -> Month:
    try:
        return Month.parse(text) if text else fallback
    except ValueError:
        raise CommandRejected(f"Miesiąc ma postać RRRR-MM, np. {fallback}.") from None


def add_head_pages(api: FastAPI, console: Console) -> None:
    app, clock, library = console.app, console.clock, console.app.library
    branch_names = {b.id: b.name for b in console.app.settings.branches.values()}

    def pools_page(staff: OpenSession, month: Month, **extra: Any) -> Response:
        pools = app.handle(ShowPools(month))
        return console.page(
            "pools.html.j2", staff, title="Pule kodów", month=str(month),
            month_text=month_name(month),
            pools=[(p, branch_names.get(p.branch_id or "", "cała biblioteka")) for p in pools],
            platforms=library.offered, branches=list(console.app.settings.branches.values()),
            **extra,
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

    @api.post("/pule/podglad", include_in_schema=False)
    async def preview(request: Request) -> Response:
        staff, form = await console.posted(request, *HEADS)
        path = await _staged(form, "file")
        return await off_loop(preview_page, staff, form, path)

    def preview_page(staff: OpenSession, form: FormData, path: Path) -> Response:
        file_name = upload_name(form, "file")  # carried to the confirmation, for the audit
        command = pool_command(form, path, staff, preview=True)
        try:
            report = app.handle(command, now=clock())
        except CommandRejected:
            path.unlink(missing_ok=True)
            raise
        refused = report.refused
        repeated = sum(1 for p in refused if "powtórzony" in p.reason or "już jest" in p.reason)
        return console.page(
            "pool_preview.html.j2", staff, title="Podgląd puli",
            token=path.stem, file_name=file_name, platform=command.platform,
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
        token = field(form, "token", 64)
        path = STAGING / f"{token}.txt"
        if not _TOKEN.match(token) or not path.exists():
            raise CommandRejected("Ten podgląd już wczytano albo wygasł; wybierz plik ponownie.")
        with own_name(path, field(form, "file_name")) as named:
            command = pool_command(form, named, staff, preview=False)
            report = app.handle(command, now=clock())
        path.unlink(missing_ok=True)
        refused = f"; odrzucone linie: {len(report.refused)}" if report.refused else ""
        return pools_page(staff, command.month, message=f"Wczytano {report.loaded} kodów{refused}.")

    @api.post("/pule/aktywacje", include_in_schema=False)
    async def activations(request: Request) -> Response:
        staff, form = await console.posted(request, *HEADS)
        path = await _staged(form, "file")
        return await off_loop(load_activations, staff, form, path)

    def load_activations(staff: OpenSession, form: FormData, path: Path) -> Response:
        try:
            with own_name(path, upload_name(form, "file")) as named:
                report = app.handle(
                    ImportActivations(named, library.platform(field(form, "platform", 32)),
                                      actor=f"staff:{staff.member.login}"),
                    now=clock(),
                )  # fmt: skip
        finally:
            path.unlink(missing_ok=True)
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
