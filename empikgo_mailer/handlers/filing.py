"""Filing decided messages out of the inbox, into a folder per outcome, so staff can
follow them in a mail client. A message the server will not move is noted for staff and
tried again next pass; the others are filed."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from empikgo_mailer.adapters.imap_mailbox import LINK_ERRORS
from empikgo_mailer.adapters.mail_queue import MailQueue, Unfiled
from empikgo_mailer.adapters.tables import MailRequest
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.config import MailSettings
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.domain.mail_headers import storable
from empikgo_mailer.domain.mail_outcomes import SET_ASIDE_OUTCOMES, MailOutcome
from empikgo_mailer.domain.statuses import RequestKind, RequestStatus
from empikgo_mailer.handlers.command import Command
from empikgo_mailer.handlers.mailbox import Mailbox

log = logging.getLogger(__name__)


def folder_for(outcome: str | None, mail: MailSettings) -> str:
    if outcome == MailOutcome.ISSUED:
        return mail.folders.answered
    if outcome in (MailOutcome.STRANGER, MailOutcome.UNANSWERED):
        return mail.folders.strangers
    if outcome == MailOutcome.BOUNCE:
        return mail.folders.bounces
    if outcome in SET_ASIDE_OUTCOMES or outcome is None:
        return mail.folders.staff
    return mail.folders.rejected


@dataclass
class FileReport:
    filed: int = 0
    failed: int = 0
    waiting: int = 0  # copies whose original is not decided yet


def _folders(
    queue: MailQueue, branch_id: str, pending: list[Unfiled], mail: MailSettings
) -> dict[int, str]:
    """The folder of each pending row; a duplicate goes where its original went, once the
    original is decided."""
    copies = [r.fingerprint for r in pending if r.kind == RequestKind.DUPLICATE]
    originals: dict[str, MailRequest] = {}
    for original in queue.originals(branch_id, copies):
        originals.setdefault(original.fingerprint, original)
    folders: dict[int, str] = {}
    for row in pending:
        if row.kind != RequestKind.DUPLICATE:
            folders[row.id] = folder_for(row.outcome, mail)
            continue
        first = originals.get(row.fingerprint)
        if first is None:
            folders[row.id] = mail.folders.staff
        elif first.status != RequestStatus.QUEUED:
            folders[row.id] = folder_for(first.outcome, mail)
    return folders


@dataclass(frozen=True)
class FileDecided(Command[FileReport]):
    """The branch's decided messages out of its inbox (`mailbox=`, given by the runner)."""

    branch_id: str


def file_decided(
    command: FileDecided, *, mailbox: Mailbox, uow: UnitOfWork, mail: MailSettings, clock: Clock
) -> FileReport:
    """Move decided and set-aside messages out of the inbox, to a folder per outcome. A
    message the server will not move is noted for staff; the others are moved."""
    branch_id, report = command.branch_id, FileReport()
    with uow:
        queue = uow.queue
        pending = queue.unfiled(branch_id)
        folders = _folders(queue, branch_id, pending, mail)
    report.waiting = len(pending) - len(folders)
    gone: list[int] = []  # no longer in the inbox: nothing to move
    by_folder: dict[str, list[tuple[int, int]]] = {}
    for row in pending:
        if row.id not in folders:
            continue
        uid: int | None = row.uid
        if row.uidvalidity != mailbox.uidvalidity:
            # collect found every message still in the inbox and renumbered its row; a
            # row left behind was moved by someone. Its Message-ID is a last chance.
            uid = mailbox.uid_of(row.message_id) if row.message_id else None
        if uid is None:
            gone.append(row.id)
        else:
            by_folder.setdefault(folders[row.id], []).append((row.id, uid))
    filed: list[int] = list(gone)
    errors: dict[int, str] = {}
    for folder, items in by_folder.items():
        filed_now, failed_now = _move(mailbox, items, folder)
        filed += filed_now
        errors.update(failed_now)
    now = clock()
    with uow:
        queue = uow.queue
        queue.mark_not_filed({row_id: storable(error, 2000) for row_id, error in errors.items()})
        queue.mark_filed(set(filed) - errors.keys(), now)
    report.filed, report.failed = len(filed), len(errors)
    return report


def _move(
    mailbox: Mailbox, items: list[tuple[int, int]], folder: str
) -> tuple[list[int], dict[int, str]]:
    """Move all at once; when the server refuses, one at a time, so one message it will
    not move does not keep the others in the inbox. Link errors propagate (reconnect)."""
    try:
        mailbox.move([uid for _, uid in items], folder)
        return [row_id for row_id, _ in items], {}
    except LINK_ERRORS:
        raise
    except Exception as exc:
        log.warning("moving %d messages to %r failed (%s); one by one", len(items), folder, exc)
    filed: list[int] = []
    errors: dict[int, str] = {}
    for row_id, uid in items:
        try:
            mailbox.move([uid], folder)
            filed.append(row_id)
        except LINK_ERRORS:
            raise
        except Exception as exc:
            log.warning("message uid=%s cannot be moved to %r: %s", uid, folder, exc)
            errors[row_id] = f"nie udało się przenieść do folderu „{folder}”: {exc}"
    return filed, errors
