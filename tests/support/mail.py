"""Mail fakes for service-level tests (beside, never instead of, the Dovecot/aiosmtpd tests)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from empikgo_mailer.adapters.imap_mailbox import FetchedMessage
from empikgo_mailer.adapters.smtp_sender import (
    BeforeData,
    Delivery,
    SendResult,
    nothing_to_wait_for,
)
from empikgo_mailer.adapters.unit_of_work import UnitOfWork
from empikgo_mailer.config import MailSettings
from empikgo_mailer.domain.clock import Clock
from empikgo_mailer.handlers.mailbox import CollectMailbox, CollectReport, Mailbox, collect_batches

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mail"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class FakeMailbox:
    """An inbox in memory: UIDs in arrival order, folders as lists."""

    uidvalidity: int = 1
    inbox: dict[int, tuple[datetime, bytes]] = field(default_factory=dict)
    folders: dict[str, list[bytes]] = field(default_factory=dict)
    next_uid: int = 1

    def deliver(self, raw: bytes, received_at: datetime) -> int:
        uid, self.next_uid = self.next_uid, self.next_uid + 1
        self.inbox[uid] = (received_at, raw)
        return uid

    def uids_after(self, last_uid: int) -> list[int]:
        return sorted(uid for uid in self.inbox if uid > last_uid)

    def received_times(self, uids: Sequence[int]) -> dict[int, datetime]:
        return {uid: self.inbox[uid][0] for uid in uids if uid in self.inbox}

    def fetch(self, uids: Sequence[int], max_bytes: int) -> list[FetchedMessage]:
        fetched = []
        for uid in uids:
            received_at, raw = self.inbox[uid]
            header = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            fetched.append(
                FetchedMessage(
                    uid, received_at, len(raw), raw if len(raw) <= max_bytes else None, header
                )
            )
        return fetched

    def uid_of(self, message_id: str) -> int | None:
        for uid, (_, raw) in self.inbox.items():
            if str(message_from_bytes(raw, policy=default)["Message-ID"]) == message_id:
                return uid
        return None

    def move(self, uids: Sequence[int], folder: str) -> None:
        for uid in uids:
            if uid in self.inbox:
                self.folders.setdefault(folder, []).append(self.inbox.pop(uid)[1])


@dataclass
class FakeTransport:
    """Records what would be sent; answers with the scripted results first."""

    script: list[SendResult] = field(default_factory=list)
    sent: list[EmailMessage] = field(default_factory=list)
    tries: int = 0
    down: bool = False  # the server cannot be reached: every try and probe says so
    probes: int = 0

    async def probe(self) -> str | None:
        self.probes += 1
        return "unreachable scripted" if self.down else None

    async def send(
        self,
        sender: str,
        recipient: str,
        message: bytes,
        before_data: BeforeData = nothing_to_wait_for,
    ) -> Delivery:
        self.tries += 1
        result = self.script.pop(0) if self.script else SendResult.SENT
        if self.down:
            result = SendResult.UNREACHABLE
        if result is SendResult.SENT:
            await before_data()  # as a server would: the envelope was taken
            parsed = message_from_bytes(message, policy=default)
            assert isinstance(parsed, EmailMessage)
            self.sent.append(parsed)
        return Delivery(result, "" if result is SendResult.SENT else f"{result} scripted")


def reply_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def collect(
    branch_id: str,
    mailbox: Mailbox,
    *,
    uow: UnitOfWork,
    mail: MailSettings,
    clock: Clock,
    own_addresses: frozenset[str] = frozenset(),
) -> CollectReport:
    """The collect runner's work on one mailbox, to the end (`collect_batches`), called
    directly as a test sets it up."""
    report = CollectReport()
    for part in collect_batches(
        CollectMailbox(branch_id),
        mailbox=mailbox,
        uow=uow,
        mail=mail,
        clock=clock,
        own_addresses=own_addresses,
    ):
        report.add(part)
    return report
