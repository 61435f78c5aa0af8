"""Copies of sent replies in the branch mailbox's Sent folder, so staff read in their own
mail client exactly what each reader was told.

The copy follows the send (the SMTP server's acceptance is what counts); it is appended
once: a copy already in the folder (found by its Message-ID, e.g. after a crash between
the APPEND and its record) is not appended again. A copy the server refuses is recorded
with its error and the others go on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from imapclient.exceptions import IMAPClientError

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.adapters.imap_mailbox import LINK_ERRORS
from empikgo_mailer.adapters.sent_copies import SentCopies
from empikgo_mailer.domain.clock import Clock

log = logging.getLogger(__name__)
COPY_BATCH = 200


class SentFolder(Protocol):
    def copies_present(self, folder: str, message_ids: Sequence[str]) -> set[str]: ...

    def append_copy(self, folder: str, message: bytes) -> None: ...


@dataclass
class CopyReport:
    copied: int = 0
    already_there: int = 0
    refused: int = 0


def copy_sent(
    branch_id: str, mailbox: SentFolder, *, db: Database, folder: str, clock: Clock
) -> CopyReport:
    copies, report = SentCopies(db), CopyReport()
    while batch := copies.waiting(branch_id, COPY_BATCH):
        present = mailbox.copies_present(folder, [reply.message_id for reply in batch])
        for reply in batch:
            if reply.message_id in present:
                copies.copied(reply.id, clock())
                report.already_there += 1
                continue
            try:
                mailbox.append_copy(folder, reply.message.encode("utf-8"))
            except LINK_ERRORS:
                raise
            except IMAPClientError as exc:
                log.warning("the copy of reply %d was refused: %s", reply.id, exc)
                copies.refused(reply.id, str(exc))
                report.refused += 1
                continue
            copies.copied(reply.id, clock())
            report.copied += 1
        if len(batch) < COPY_BATCH:
            break
    return report
