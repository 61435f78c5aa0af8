"""The one place that wires settings to the database, adapters and handlers.

Every door turns its input into a command and calls `app.handle(command, now=...)`: the
registry below finds the handler, and its dependencies are given by parameter name
(cosmicpython's bootstrap). A handler asks for `uow` (a unit of work of its own),
`library`, `debt_source`, `render`, `mail`, `web`, `passwords`, `now` ... and gets them;
a door never spells them out or picks an adapter.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast

from empikgo_mailer.adapters.claim_limits import DatabaseRateLimiter
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.holidays_pl import PolishHolidays
from empikgo_mailer.adapters.imap_mailbox import ImapMailbox
from empikgo_mailer.adapters.outbox import Links, Outbox
from empikgo_mailer.adapters.pass_lock import SEND, PassLock
from empikgo_mailer.adapters.passwords import Passwords
from empikgo_mailer.adapters.smtp_sender import SmtpSender
from empikgo_mailer.adapters.templates import Templates
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.config import ImapSettings, Settings, SmtpSettings
from empikgo_mailer.domain.addresses import address_key
from empikgo_mailer.handlers.activations import ImportActivations, import_activations
from empikgo_mailer.handlers.audit_log import (
    ShowAudit,
    ShowAuditActions,
    show_audit,
    show_audit_actions,
)
from empikgo_mailer.handlers.codes import CheckEligibility, GiveCode, check_eligibility, give_code
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.debt import DebtSource, LedgerDebt
from empikgo_mailer.handlers.drop_folder import (
    ShowDroppedFiles,
    TakeDroppedFiles,
    recent_dropped_files,
    take_dropped_files,
)
from empikgo_mailer.handlers.filing import FileDecided, file_decided
from empikgo_mailer.handlers.fines import (
    PayFine,
    PostTransfers,
    ShowFines,
    ShowReceipt,
    pay_fine,
    post_transfers,
    show_fines,
    show_receipt,
)
from empikgo_mailer.handlers.legimi import (
    ClaimLegimiCode,
    ClaimLegimiCodes,
    claim_legimi_code,
    claim_legimi_codes,
)
from empikgo_mailer.handlers.library import Library
from empikgo_mailer.handlers.loans import (
    HoldLoan,
    ImportLoans,
    RenewLoan,
    ReturnLoan,
    hold_loan,
    import_loans,
    renew_loan,
    return_loan,
)
from empikgo_mailer.handlers.mail import DecideQueue, decide_queue
from empikgo_mailer.handlers.mail_search import (
    FindReaders,
    ListMail,
    ShowNeighbours,
    find_readers,
    list_mail,
    show_neighbours,
)
from empikgo_mailer.handlers.mail_send import SendDue, new_owner, send_due
from empikgo_mailer.handlers.mail_status import ShowMailStatus, mail_status
from empikgo_mailer.handlers.mailbox import CollectMailbox, collect_batches
from empikgo_mailer.handlers.month_close import (
    CloseDueMonths,
    CloseMonth,
    close_due_months,
    close_month,
)
from empikgo_mailer.handlers.patrons import ImportPatrons, import_patrons
from empikgo_mailer.handlers.pools import ImportCodes, ShowPools, import_codes, show_pools
from empikgo_mailer.handlers.readers import ShowReader, ShowSlip, show_reader, show_slip
from empikgo_mailer.handlers.report import ShowMonthBans, ShowMonthReport, month_bans, month_report
from empikgo_mailer.handlers.requests import (
    ShowQueue,
    ShowRequest,
    ShowSetAside,
    show_queue,
    show_request,
    show_set_aside,
)
from empikgo_mailer.handlers.sent_copies import CopySent, copy_sent
from empikgo_mailer.handlers.service import (
    ShowServices,
    SwitchService,
    service_states,
    switch_service,
)
from empikgo_mailer.handlers.set_aside import (
    ResendReply,
    RetryReplies,
    SettleSetAside,
    ShowHeld,
    resend_reply,
    retry_replies,
    settle_set_aside,
    show_held,
)
from empikgo_mailer.handlers.staff import (
    AddStaff,
    ChangePassword,
    DisableStaff,
    LogIn,
    LogOut,
    ResumeSession,
    add_staff,
    change_password,
    disable_staff,
    log_in,
    log_out,
    resume_session,
)
from empikgo_mailer.handlers.undelivered import (
    ReturnCode,
    SendCodeAgain,
    return_code,
    send_code_again,
)

R = TypeVar("R")
Handler = Callable[..., Any]

HANDLERS: Mapping[type[Command[Any]], Handler] = {
    GiveCode: give_code,
    CheckEligibility: check_eligibility,
    ClaimLegimiCode: claim_legimi_code,
    ClaimLegimiCodes: claim_legimi_codes,
    ImportPatrons: import_patrons,
    ImportCodes: import_codes,
    ShowPools: show_pools,
    ImportActivations: import_activations,
    TakeDroppedFiles: take_dropped_files,
    ShowDroppedFiles: recent_dropped_files,
    CloseMonth: close_month,
    CloseDueMonths: close_due_months,
    ShowMonthReport: month_report,
    SwitchService: switch_service,
    ShowServices: service_states,
    ShowMailStatus: mail_status,
    ImportLoans: import_loans,
    ReturnLoan: return_loan,
    RenewLoan: renew_loan,
    HoldLoan: hold_loan,
    PayFine: pay_fine,
    ShowReceipt: show_receipt,
    PostTransfers: post_transfers,
    ShowFines: show_fines,
    AddStaff: add_staff,
    ChangePassword: change_password,
    DisableStaff: disable_staff,
    LogIn: log_in,
    ResumeSession: resume_session,
    LogOut: log_out,
    ShowQueue: show_queue,
    ShowSetAside: show_set_aside,
    ShowRequest: show_request,
    ListMail: list_mail,
    ShowNeighbours: show_neighbours,
    FindReaders: find_readers,
    SettleSetAside: settle_set_aside,
    ShowHeld: show_held,
    ResendReply: resend_reply,
    RetryReplies: retry_replies,
    SendCodeAgain: send_code_again,
    ReturnCode: return_code,
    ShowReader: show_reader,
    ShowSlip: show_slip,
    ShowMonthBans: month_bans,
    ShowAudit: show_audit,
    ShowAuditActions: show_audit_actions,
    DecideQueue: decide_queue,
    CollectMailbox: collect_batches,
    FileDecided: file_decided,
    CopySent: copy_sent,
    SendDue: send_due,
}


@cache
def _wants(handler: Handler) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The handler's keyword-only parameters: (required, optional)."""
    keyword = [
        p for p in inspect.signature(handler).parameters.values() if p.kind is p.KEYWORD_ONLY
    ]
    return (
        tuple(p.name for p in keyword if p.default is p.empty),
        tuple(p.name for p in keyword if p.default is not p.empty),
    )


@dataclass(frozen=True)
class App:
    settings: Settings
    db: Database
    library: Library
    debt_source: DebtSource
    templates: Templates
    # How the mail runner reaches the servers; tests hand in servers that misbehave.
    mailbox_factory: Callable[[ImapSettings], ImapMailbox] = ImapMailbox
    transport_factory: Callable[[SmtpSettings], SmtpSender] = SmtpSender
    passwords: Passwords = field(default_factory=Passwords)
    _dependencies: dict[str, object] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._dependencies.update(
            library=self.library,
            debt_source=self.debt_source,
            render=self.templates.render,
            mail=self.settings.mail,
            web=self.settings.web,
            passwords=self.passwords,
            header_names=self.settings.import_columns,
            # Where each pool's batches of codes got to in this process (code_supply).
            code_marks={},
            # Mail "from" a branch mailbox is a loop or a bounce of our own: never answered.
            own_addresses=frozenset(
                address_key(branch.mailbox) for branch in self.settings.branches.values()
            ),
            claim_limits=DatabaseRateLimiter(self.db, self.settings.web.claims_per_card_per_minute),
            # The send runner's adapters: the outbox under a lease owner of its own, the
            # sender lock (waited for as long as the database is), the SMTP server.
            open_outbox=lambda: Outbox(self.db, new_owner()),
            links=Links(self.db),
            sender_lock=lambda: PassLock(self.db, SEND).held(self.settings.database_busy_timeout),
            smtp=self.settings.smtp,
            transport_factory=self.transport_factory,
        )

    def reopened(self) -> App:
        """The same app on database connections of its own, for a forked process: a
        pooled connection shared across a fork would carry two conversations at once."""
        return dataclasses.replace(self, db=Database(self.db.url, self.db.busy_timeout))

    def uow(self) -> UnitOfWork:
        """A unit of work of its own: one per handler call (one per thread)."""
        return UnitOfWork(self.db, self.library.offered)

    def handle(self, command: Command[R], *, now: datetime | None = None, **extra: Any) -> R:
        """Run `command`'s handler with what it asks for. `now` is the moment the door
        received the command; `extra` is per-call (a progress bar, a hook)."""
        handler = HANDLERS[type(command)]
        required, optional = _wants(handler)
        given: dict[str, object] = {"now": now, **extra}
        kwargs: dict[str, object] = {}
        for name in required:
            if name == "uow":
                kwargs[name] = self.uow()
            elif name in given and given[name] is not None:
                kwargs[name] = given[name]
            elif name in self._dependencies:
                kwargs[name] = self._dependencies[name]
            else:
                raise TypeError(f"{type(command).__name__} needs {name}=")
        for name in optional:  # per call first, then the app's (the configuration's)
            if name in extra:
                kwargs[name] = extra[name]
            elif name in self._dependencies:
                kwargs[name] = self._dependencies[name]
        return cast(R, handler(command, **kwargs))


def bootstrap(
    settings: Settings,
    *,
    mailbox_factory: Callable[[ImapSettings], ImapMailbox] = ImapMailbox,
    transport_factory: Callable[[SmtpSettings], SmtpSender] = SmtpSender,
) -> App:
    return App(
        settings=settings,
        db=Database(settings.database_url, settings.database_busy_timeout),
        library=Library.from_settings(settings, PolishHolidays()),
        debt_source=LedgerDebt(settings.locations),
        templates=Templates(settings.templates_dir),
        mailbox_factory=mailbox_factory,
        transport_factory=transport_factory,
    )
