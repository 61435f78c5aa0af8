"""What every console page shares: the templates, and the checks each route makes."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData

from empikgo_mailer.bootstrap import App
from empikgo_mailer.config import BranchSettings
from empikgo_mailer.domain.clock import Clock, is_rehearsal, real_clock_of
from empikgo_mailer.domain.polish import count_text, moment_text, month_name
from empikgo_mailer.domain.staff import Role
from empikgo_mailer.entrypoints.console.security import (
    SESSION_COOKIE,
    Forbidden,
    LoginRequired,
    NotFound,
    same_token,
)
from empikgo_mailer.handlers.staff import OpenSession, ResumeSession

HERE = Path(__file__).parent
P = ParamSpec("P")
T = TypeVar("T")
_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html", "j2"]),  # a reader's words are never markup here
    undefined=StrictUndefined,
)
_templates.globals["month_name"] = month_name
_templates.globals["count_text"] = count_text


@dataclass(frozen=True)
class Console:
    """What every console page needs: the app, the clock, and the checks every route makes
    (a session, the CSRF token of a form, the branch and the role it may see)."""

    app: App
    clock: Clock

    @property
    def session_clock(self) -> Clock:
        """Sessions and login attempts are timed in real time, even in a rehearsal."""
        return real_clock_of(self.clock)

    def page(
        self, name: str, staff: OpenSession | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        member = staff.member if staff is not None else None
        branches = [
            b for b in self.app.settings.branches.values() if member and member.sees_branch(b.id)
        ]
        html = _templates.get_template(name).render(
            staff=staff,
            nav_branches=branches,
            nav_head=member is not None and member.role in HEADS,
            nav_admin=member is not None and member.role is Role.ADMIN,
            refresh=context.pop("refresh", 0),
            rehearsal=self.local_text(self.clock()) if is_rehearsal(self.clock) else "",
            message=context.pop("message", ""),
            message_class=context.pop("message_class", "ok"),
            local_text=self.local_text,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def session_of(self, request: Request, *roles: Role) -> OpenSession:
        """The staff member behind the request's cookie; with `roles`, one of them (anyone
        else gets the same 404 as for a page that is not there)."""
        token = request.cookies.get(SESSION_COOKIE)
        staff = self.app.handle(ResumeSession(token), now=self.session_clock()) if token else None
        if staff is None:
            raise LoginRequired
        request.state.login = staff.member.login
        if roles and staff.member.role not in roles:
            raise NotFound
        return staff

    async def posted(
        self, request: Request, *roles: Role, branch_id: str | None = None
    ) -> tuple[OpenSession, FormData]:
        """A form's sender and fields, checked in this order: the session (looked up off
        the event loop) with one of `roles`, the branch of the path, the CSRF token."""
        staff = await off_loop(self.session_of, request, *roles)
        if branch_id is not None:
            self.branch(staff, branch_id)
        return staff, await checked_form(request, staff.csrf_token)

    def at_branch(self, request: Request, branch_id: str) -> tuple[OpenSession, BranchSettings]:
        """A branch page's session, and the branch if the member may see it."""
        staff = self.session_of(request)
        return staff, self.branch(staff, branch_id)

    def branch(self, staff: OpenSession, branch_id: str) -> BranchSettings:
        branch = self.app.settings.branches.get(branch_id)
        if branch is None or not staff.member.sees_branch(branch_id):
            raise NotFound  # the same answer for "no such branch" and "not yours"
        return branch

    def local_text(self, moment: datetime | None) -> str:
        return moment_text(self.app.library.calendar.local(moment)) if moment else "—"


HEADS = (Role.HEAD, Role.ADMIN)


STAFF_THREADS = 4  # forms settled at once; more wait their turn
STAFF_NICENESS = 10  # below the event loop: the readers' claims come first


def _lower_priority() -> None:
    """Linux schedules each thread with its own nice value, and the threads a thread
    starts (Argon2's lanes, four of them) inherit it."""
    with contextlib.suppress(OSError):  # not allowed, or not Linux: the default priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), STAFF_NICENESS)


_STAFF_WORK = ThreadPoolExecutor(
    STAFF_THREADS, thread_name_prefix="console", initializer=_lower_priority
)


async def off_loop(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """A form's work (a database transaction, Argon2, a pool file read) off the event loop
    and below its priority: the loop meanwhile answers the catalogue's Legimi claims,
    which at 10:00 on the first working day must not wait for a librarian. A log-in's
    Argon2 keeps four cores busy for a tenth of a second; on a two-core server at normal
    priority it delayed the claims by as much (bench.legimi_http --staff)."""
    # In the request's context: who and from where (the audit trail reads it there).
    call = functools.partial(contextvars.copy_context().run, work, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_STAFF_WORK, call)


async def checked_form(request: Request, expected: str | None) -> FormData:
    """The form's fields (text and files), or 403 when its CSRF token is not the one
    expected: nothing is changed."""
    form = await request.form()
    if not same_token(form.get("csrf_token"), expected):
        raise Forbidden
    return form


def field(form: FormData, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""
