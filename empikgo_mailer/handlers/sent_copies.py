"""Copies of sent replies in the branch mailbox's Sent folder, so staff read in their own
mail client exactly what each reader was told.

The copy follows the send (the SMTP server's acceptance is what counts); it is appended
once: a copy already in the folder (found by its Message-ID, e.g. after a crash between
the APPEND and its record) is not appended again. Copies go a batch per MULTIAPPEND; a
copy the server refuses is recorded with its error and the others go on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from empikgo_mailer.adapters.imap_mailbox import LINK_ERRORS, FolderSeen
from empikgo_mailer.adapters.sent_copies import SentCopies, SentReply
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.handlers.command import Command

log = logging.getLogger(__name__)
COPY_BATCH = 200


class SentFolder(Protocol):
    def copies_since(
        self, folder: str, since: date, seen: FolderSeen | None = None
    ) -> set[str]: ...

    def append_copies(self, folder: str, copies: Sequence[tuple[bytes, datetime]]) -> None: ...


@dataclass
class CopyReport:
    copied: int = 0
    refused: int = 0


@dataclass(frozen=True)
class CopySent(Command[CopyReport]):
    """The branch's sent replies into its Sent folder (`mailbox=`, given by the runner)."""

    branch_id: str
    folder: str


def copy_sent(
    command: CopySent,
    *,
    mailbox: SentFolder,
    uow: UnitOfWork,
    clock: Clock,
    seen: FolderSeen | None = None,
) -> CopyReport:
    """Copy every sent reply not yet copied, a batch per APPEND. What is in the folder is
    read once, from the day before the oldest waiting reply was sent (copies are dated
    when their reply was sent): one search for the whole phase, not one per reply.
    `seen`: what earlier rounds of this pass read of the folder (only newer is read)."""
    branch_id, folder = command.branch_id, command.folder
    copies, report = SentCopies(uow.db), CopyReport()
    oldest = copies.oldest_waiting(branch_id)
    if oldest is None:
        return report
    since = oldest.date() - timedelta(days=1)
    present = mailbox.copies_since(folder, since, seen)
    while batch := copies.waiting(branch_id, COPY_BATCH):
        there = [reply.id for reply in batch if reply.message_id in present]
        if there:
            copies.copied(there, clock())
        missing = [reply for reply in batch if reply.message_id not in present]
        if missing:
            try:
                mailbox.append_copies(folder, [_copy(reply) for reply in missing])
            except LINK_ERRORS:
                raise
            except Exception as exc:  # a NO from the server (link errors raised above)
                log.warning("a batch of copies was refused (%s); appending them one by one", exc)
                present = mailbox.copies_since(folder, since, seen)
                _one_by_one(
                    mailbox,
                    folder,
                    copies=copies,
                    replies=missing,
                    present=present,
                    report=report,
                    clock=clock,
                )
            else:
                copies.copied([reply.id for reply in missing], clock())
                report.copied += len(missing)
        if len(batch) < COPY_BATCH:
            break
    return report


def _copy(reply: SentReply) -> tuple[bytes, datetime]:
    return reply.message.encode("utf-8"), reply.sent_at


def _one_by_one(
    mailbox: SentFolder,
    folder: str,
    *,
    copies: SentCopies,
    replies: Sequence[SentReply],
    present: set[str],
    report: CopyReport,
    clock: Clock,
) -> None:
    """After a refused batch: each copy alone, so that the one the server will not take
    is recorded with its error and the others go in (once: `present` is fresh)."""
    for reply in replies:
        if reply.message_id in present:
            copies.copied([reply.id], clock())
            continue
        try:
            mailbox.append_copies(folder, [_copy(reply)])
        except LINK_ERRORS:
            raise
        except Exception as exc:  # a NO from the server (link errors raised above)
            log.warning("the copy of reply %d was refused: %s", reply.id, exc)
            copies.refused(reply.id, str(exc))
            report.refused += 1
            continue
        copies.copied([reply.id], clock())
        report.copied += 1
