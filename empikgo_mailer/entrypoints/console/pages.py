"""The console: its shared checks, logging in and out, the branches and each branch's dashboard;
the other pages register themselves from their own modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import FormData

from empikgo_mailer.bootstrap import App
from empikgo_mailer.config import BranchSettings
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.explanations import OUTCOME_LABELS
from empikgo_mailer.domain.polish import moment_text, month_name
from empikgo_mailer.domain.statuses import DroppedOutcome
from empikgo_mailer.entrypoints.console.admin_pages import add_admin_pages
from empikgo_mailer.entrypoints.console.common import (
    HERE,
    Console,
    checked_form,
    field,
    off_loop,
)
from empikgo_mailer.entrypoints.console.desk_pages import add_desk_pages, add_reader_pages
from empikgo_mailer.entrypoints.console.docs_pages import add_docs_pages
from empikgo_mailer.entrypoints.console.head_pages import add_head_pages, add_month_pages
from empikgo_mailer.entrypoints.console.mail_pages import add_mail_pages
from empikgo_mailer.entrypoints.console.search_pages import add_search_pages
from empikgo_mailer.entrypoints.console.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Forbidden,
    LoginRequired,
    NotFound,
    SecurityHeaders,
    new_token,
    set_cookie,
)
from empikgo_mailer.entrypoints.overview import (
    heartbeat_text,
    link_label,
    link_text,
    overview,
    since_text,
)
from empikgo_mailer.entrypoints.scheduler import JOB_OUTCOME_LABELS
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.errors import CommandRejected
from empikgo_mailer.handlers.mail_status import ShowMailStatus
from empikgo_mailer.handlers.set_aside import ResendReply, RetryReplies, Settlement
from empikgo_mailer.handlers.staff import LogIn, LogOut, OpenSession
from empikgo_mailer.handlers.undelivered import ReturnCode, SendCodeAgain

REFRESH_SECONDS = 60


def add_console(api: FastAPI, app: App, clock: Clock) -> Console:
    settings = app.settings
    console = Console(app, clock)
    api.add_middleware(SecurityHeaders)
    api.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _error_pages(api, console)

    def login_form(status: int = 200, login: str = "", error: str = "") -> Response:
        token = new_token()
        response = console.page(
            "login.html.j2", None, status, title="Logowanie", csrf_token=token, login=login,
            error=error,
        )  # fmt: skip
        set_cookie(response, LOGIN_CSRF_COOKIE, token, https=settings.web.https)
        return response

    @api.get("/logowanie", include_in_schema=False)
    def login_page() -> Response:
        return login_form()

    @api.post("/logowanie", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await checked_form(request, request.cookies.get(LOGIN_CSRF_COOKIE))
        return await off_loop(log_in, request, form)

    def log_in(request: Request, form: FormData) -> Response:
        password = form.get("password")
        result = app.handle(
            LogIn(
                field(form, "login", 200),
                password if isinstance(password, str) else "",
                request.client.host if request.client is not None else "?",
                previous_token=request.cookies.get(SESSION_COOKIE),
            ),
            now=console.session_clock(),
        )
        if result.member is None or result.token is None:
            return login_form(401, field(form, "login", 64), result.message)
        request.state.login = result.member.login
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, SESSION_COOKIE, result.token, https=settings.web.https)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    @api.post("/wyloguj", include_in_schema=False)
    async def logout(request: Request) -> Response:
        await console.posted(request)
        await off_loop(app.handle, LogOut(request.cookies.get(SESSION_COOKIE, "")))
        response = RedirectResponse("/logowanie", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    _branch_pages(api, console)
    add_mail_pages(api, console)
    add_desk_pages(api, console)
    add_reader_pages(api, console)
    add_head_pages(api, console)
    add_month_pages(api, console)
    add_admin_pages(api, console)
    add_docs_pages(api, console)
    add_search_pages(api, console)
    return console


def _error_pages(api: FastAPI, console: Console) -> None:
    """No session, a form without its CSRF token, a page that is not there or not theirs,
    and a command refused with a reason."""
    answers: dict[type[Exception], tuple[int, str, str]] = {
        LoginRequired: (403, "Sesja wygasła", "Zaloguj się ponownie; nic nie zostało zmienione."),
        Forbidden: (
            403,
            "Odrzucono formularz",
            "Formularz był nieważny (brak tokenu CSRF); nic nie zostało zmienione.",
        ),
        NotFound: (
            404,
            "Nie ma takiej strony",
            "Tej strony nie ma albo nie należy do Twojej placówki.",
        ),
    }

    def answer(request: Request, exc: Exception) -> Response:
        if isinstance(exc, LoginRequired) and request.method == "GET":
            return RedirectResponse("/logowanie", status_code=303)
        if isinstance(exc, CommandRejected):
            return console.page("message.html.j2", None, 422, title="Nie wykonano", text=str(exc))
        status, title, text = answers[type(exc)]
        return console.page("message.html.j2", None, status, title=title, text=text)

    for kind in [*answers, CommandRejected]:
        api.add_exception_handler(kind, answer)


def _branch_pages(api: FastAPI, console: Console) -> None:
    """The list of branches (heads and admins) and each branch's dashboard."""
    app, clock = console.app, console.clock

    @api.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        staff = console.session_of(request)
        if staff.member.branch_id is not None:
            return RedirectResponse(f"/placowki/{staff.member.branch_id}", status_code=303)
        now = clock()
        queues = {q.branch_id: q for q in app.handle(ShowMailStatus(), now=now).queues}
        rows = [(branch, queues[branch.id]) for branch in console.app.settings.branches.values()]
        return console.page(
            "branches.html.j2", staff, title="Placówki", rows=rows,
            now_text=console.local_text(now), refresh=REFRESH_SECONDS,
        )  # fmt: skip

    @api.get("/placowki/{branch_id}", include_in_schema=False)
    def dashboard(request: Request, branch_id: str) -> Response:
        staff, branch = console.at_branch(request, branch_id)
        return dashboard_page(console, staff, branch, clock(), refresh=REFRESH_SECONDS)

    @api.post("/placowki/{branch_id}/odpowiedzi/teraz", include_in_schema=False)
    async def retry_now(request: Request, branch_id: str) -> Response:
        """Every waiting or failed reply of the branch tried at the next pass, now."""
        return await _dashboard_button(console, request, branch_id, RetryReplies)

    # A failed reply sent again, an undelivered code sent again or returned to the pool:
    # each on the row named in the path.
    for path, command in (
        ("odpowiedzi/{item_id}/ponow", ResendReply),
        ("kody/{item_id}/wyslij", SendCodeAgain),
        ("kody/{item_id}/zwroc", ReturnCode),
    ):
        api.post(f"/placowki/{{branch_id}}/{path}", include_in_schema=False)(
            _row_action(console, command)
        )


def _row_action(
    console: Console, command: type[ResendReply] | type[SendCodeAgain] | type[ReturnCode]
) -> Callable[[Request, str, int], Awaitable[Response]]:
    async def act(request: Request, branch_id: str, item_id: int) -> Response:
        return await _dashboard_button(
            console, request, branch_id, lambda branch, login: command(item_id, branch, login)
        )

    return act


async def _dashboard_button(
    console: Console,
    request: Request,
    branch_id: str,
    build: Callable[[str, str], Command[Settlement]],
) -> Response:
    """A dashboard button: the command `build(branch, login)` makes, then the dashboard
    with what it did."""
    staff, _ = await console.posted(request, branch_id=branch_id)
    branch = console.branch(staff, branch_id)

    def work() -> Response:
        now = console.clock()
        result = console.app.handle(build(branch.id, staff.member.login), now=now)
        return dashboard_page(
            console, staff, branch, now,
            message=result.message, message_class="ok" if result.done else "warn",
        )  # fmt: skip

    return await off_loop(work)


def dashboard_page(
    console: Console, staff: OpenSession, branch: BranchSettings, now: datetime, **extra: Any
) -> Response:
    """What the dashboard shows, as plain Polish values: the same figures as `status`."""
    app = console.app
    calendar, local = app.library.calendar, app.library.calendar.local
    seen = overview(app, now, branch_id=branch.id)
    queue = seen.queues[0]
    open_now = calendar.is_open(branch.hours, now)
    opening = None if open_now else calendar.next_opening(branch.hours, now)
    low = app.settings.web.pool_low_warning
    pools = []
    for pool in seen.pools:
        warning, css = "", ""
        if pool.left == 0:
            warning, css = "pula pusta" if pool.loaded else "nie wczytano kodów", "bad"
        elif pool.left <= low:
            warning, css = f"zostało mało kodów (≤ {low})", "warn"
        pools.append((pool, warning, css))
    services = [
        {
            "platform": state.platform.display_name,
            "text": "włączona"
            if state.on
            else "wyłączona w konfiguracji"
            if not state.configured
            else f"wyłączona: {state.switched_off_reason or 'bez podanego powodu'}",
            "css": "ok" if state.on else "bad",
        }
        for state in seen.services
    ]
    jobs = [
        {
            "label": job.label,
            "last": "jeszcze nie uruchomione"
            if job.last is None
            else f"{JOB_OUTCOME_LABELS.get(job.last.outcome, job.last.outcome)}: "
            f"{job.last.summary or '—'} ({moment_text(local(job.last.started_at))})",
            "next": console.local_text(job.next_run),
        }
        for job in seen.jobs
    ]
    return console.page(
        "dashboard.html.j2",
        staff,
        title=branch.name,
        **extra,
        branch=branch,
        now_text=moment_text(local(now)),
        month_text=month_name(seen.month),
        open_now=open_now,
        next_opening="Otwarta do końca godzin pracy"
        if open_now
        else f"Następne otwarcie: {moment_text(local(opening))}"
        if opening
        else "Brak godzin otwarcia w konfiguracji",
        queue=queue,
        oldest_waiting=f"Najstarsza {since_text(queue.oldest_waiting, now, local)}"
        if queue.oldest_waiting
        else "Kolejka pusta.",
        oldest_pending=since_text(queue.oldest_pending, now, local),
        decided=sorted(
            (OUTCOME_LABELS.get(outcome, outcome), count)
            for outcome, count in queue.decided_today.items()
        ),
        pools=pools,
        services=services,
        links=[(link, link_label(link.link), link_text(link, now, local)) for link in seen.links],
        daemon=heartbeat_text(
            seen.heartbeat, now, local, app.settings.web.heartbeat_max_age_seconds
        ),
        jobs=jobs,
        files=[
            (f, "bad" if f.outcome in (DroppedOutcome.REJECTED, DroppedOutcome.PROBLEMS) else "ok")
            for f in seen.dropped
        ],
    )
