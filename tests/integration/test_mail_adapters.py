"""The IMAP adapter against a real Dovecot, the SMTP sender against a real aiosmtpd."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest.mock import patch

from empikgo_mailer.adapters.imap_mailbox import FolderSeen, ImapMailbox
from empikgo_mailer.adapters.smtp_sender import Delivery, SendResult, SmtpSender
from empikgo_mailer.config import ImapSettings, Secret, SmtpSettings
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.config import MAILBOX_PASSWORDS
from tests.support.dovecot import DovecotServer
from tests.support.mail import fixture
from tests.support.smtp import SilentServer, SmtpServer

CET = timezone(timedelta(hours=1))
FIXTURES = Path(__file__).parents[2] / "fixtures" / "mail"


def imap_settings(server: DovecotServer, user: str = "multimedia") -> ImapSettings:
    return ImapSettings(
        "127.0.0.1", server.port, "none", user, Secret(MAILBOX_PASSWORDS[user]), "INBOX", 10
    )


def test_fetch_keeps_messages_unread_and_gives_internaldate(dovecot: DovecotServer) -> None:
    with dovecot.client("multimedia") as client:
        client.append(
            "INBOX", fixture("gmail.eml"), msg_time=datetime(2026, 10, 31, 23, 59, 59, tzinfo=CET)
        )
        client.append(
            "INBOX", fixture("phone.eml"), msg_time=datetime(2026, 11, 1, 0, 0, 1, tzinfo=CET)
        )
    mailbox = ImapMailbox(imap_settings(dovecot))
    uidvalidity = mailbox.connect()
    assert uidvalidity > 0
    uids = mailbox.uids_after(0)
    assert uids == [1, 2]
    assert mailbox.uids_after(2) == []  # "3:*" would otherwise return message 2
    fetched = mailbox.fetch(uids, 10_000_000)
    assert [m.received_at for m in fetched] == [
        datetime(2026, 10, 31, 23, 59, 59, tzinfo=CET),
        datetime(2026, 11, 1, 0, 0, 1, tzinfo=CET),
    ]
    assert fetched[0].raw == fixture("gmail.eml")
    mailbox.close()
    with dovecot.client("multimedia") as client:
        client.select_folder("INBOX")
        assert all(b"\\Seen" not in flags for flags in client.get_flags(uids).values())


def test_receipt_times_come_without_the_messages_for_every_new_uid(
    dovecot: DovecotServer,
) -> None:
    """The collector's horizon: every new message's INTERNALDATE, in FETCHes of at most
    UIDS_PER_FETCH UIDs, still unread."""
    sent = [datetime(2026, 11, 1, 0, minute, tzinfo=CET) for minute in (7, 3, 5)]
    with dovecot.client("multimedia") as client:
        for at in sent:
            client.append("INBOX", fixture("gmail.eml"), msg_time=at)
    mailbox = ImapMailbox(imap_settings(dovecot))
    mailbox.connect()
    uids = mailbox.uids_after(0)
    with patch("empikgo_mailer.adapters.imap_mailbox.UIDS_PER_FETCH", 2):
        assert mailbox.received_times(uids) == dict(zip(uids, sent, strict=True))
    mailbox.close()
    with dovecot.client("multimedia") as client:
        client.select_folder("INBOX")
        assert all(b"\\Seen" not in flags for flags in client.get_flags(uids).values())


def test_a_message_over_the_limit_is_not_downloaded_whole(dovecot: DovecotServer) -> None:
    big = fixture("gmail.eml") + b"\r\n" + b"x" * 50_000 + b"\r\n"
    with dovecot.client("multimedia") as client:
        client.append("INBOX", big)
    mailbox = ImapMailbox(imap_settings(dovecot))
    mailbox.connect()
    [message] = mailbox.fetch(mailbox.uids_after(0), 20_000)
    assert message.raw is None
    assert message.size == len(big)
    assert b"Subject: EMPIK GO" in message.header
    mailbox.close()


def test_move_files_messages_into_created_folders_and_finds_by_message_id(
    dovecot: DovecotServer,
) -> None:
    with dovecot.client("w63") as client:
        client.append("INBOX", fixture("gmail.eml"))
        client.append("INBOX", fixture("phone.eml"))
    mailbox = ImapMailbox(imap_settings(dovecot, "w63"))
    mailbox.connect()
    assert mailbox.uid_of("<CAMphone9999@mail.gmail.com>") == 2
    mailbox.move([1], "Empik Go - dla obsługi")
    mailbox.close()
    with dovecot.client("w63") as client:
        client.select_folder("INBOX")
        assert client.search() == [2]
        client.select_folder("Empik Go - dla obsługi")
        assert len(client.search()) == 1


def test_wrong_password_is_reported_not_raised_raw(dovecot: DovecotServer) -> None:
    settings = ImapSettings("127.0.0.1", dovecot.port, "none", "w63", Secret("wrong"), "INBOX", 5)
    mailbox = ImapMailbox(settings)
    try:
        mailbox.connect()
        raised = None
    except Exception as exc:
        raised = exc
    assert type(raised).__name__ == "MailboxUnavailable"
    assert "wrong" not in str(raised)


def test_idle_wakes_up_on_new_mail(dovecot: DovecotServer) -> None:
    mailbox = ImapMailbox(imap_settings(dovecot))
    mailbox.connect()
    assert mailbox.wait_for_mail(0.5) is False
    with dovecot.client("multimedia") as client:
        client.append("INBOX", fixture("phone.eml"))
    assert mailbox.wait_for_mail(5) is True
    mailbox.close()


def smtp_settings(server: SmtpServer) -> SmtpSettings:
    return SmtpSettings("127.0.0.1", server.port, "none", None, None, 5)


def test_smtp_sender_reuses_one_connection_and_classifies_failures(smtp: SmtpServer) -> None:
    smtp.sink.script = ["451 4.3.0 Try again later", "550 5.1.1 No such user"]

    async def scenario() -> list[SendResult]:
        async with SmtpSender(smtp_settings(smtp)) as sender:
            results = []
            for n in range(4):
                delivery = await sender.send(
                    "multimedia@biblioteka.test", f"r{n}@example.com", b"Subject: x\r\n\r\nok\r\n"
                )
                results.append(delivery.result)
            return results

    assert asyncio.run(scenario()) == [
        SendResult.TEMPORARY,
        SendResult.PERMANENT,
        SendResult.SENT,
        SendResult.SENT,
    ]
    assert smtp.sink.connections == 1
    assert [rcpt for _, rcpt, _ in smtp.sink.accepted] == [["r2@example.com"], ["r3@example.com"]]


def test_smtp_server_down_is_unreachable_not_a_fault_of_the_message() -> None:
    settings = SmtpSettings("127.0.0.1", free_port(), "none", None, None, 2)

    async def scenario() -> SendResult:
        async with SmtpSender(settings) as sender:
            return (await sender.send("a@b.pl", "c@d.pl", b"Subject: x\r\n\r\n")).result

    assert asyncio.run(scenario()) is SendResult.UNREACHABLE


class MailboxWithoutMove(ImapMailbox):
    """The real adapter on a server that does not announce MOVE."""

    @property
    def capabilities(self) -> set[bytes]:
        return super().capabilities - {b"MOVE"}


def test_without_move_messages_are_copied_then_expunged_by_uid(dovecot: DovecotServer) -> None:
    with dovecot.client("multimedia") as client:
        for name in ("gmail.eml", "phone.eml", "apple_mail.eml"):
            client.append("INBOX", fixture(name))
    mailbox = MailboxWithoutMove(imap_settings(dovecot))
    mailbox.connect()
    mailbox.move([2], "Empik Go - wydane")
    mailbox.close()
    with dovecot.client("multimedia") as client:
        client.select_folder("INBOX")
        assert client.search() == [1, 3]  # only message 2 left the inbox
        client.select_folder("Empik Go - wydane")
        [copied] = client.fetch(client.search(), ["BODY.PEEK[]"]).values()
        assert copied[b"BODY[]"] == fixture("phone.eml")


def send_one(settings: SmtpSettings, recipient: str) -> Delivery:
    async def scenario() -> Delivery:
        async with SmtpSender(settings) as sender:
            return await sender.send("w63@biblioteka.test", recipient, b"Subject: x\r\n\r\nok\r\n")

    return asyncio.run(scenario())


def test_an_internationalised_address_goes_out_with_smtputf8(smtp: SmtpServer) -> None:
    delivery = send_one(smtp_settings(smtp), "łukasz@przykład.pl")
    assert delivery.result is SendResult.SENT
    assert [rcpts for _, rcpts, _ in smtp.sink.accepted] == [["łukasz@przykład.pl"]]


def test_without_smtputf8_such_a_reply_fails_with_a_reason_and_nothing_breaks() -> None:
    server = SmtpServer(smtputf8=False).start()
    try:
        delivery = send_one(smtp_settings(server), "łukasz@przykład.pl")
        assert delivery.result is SendResult.PERMANENT
        assert "SMTPUTF8" in delivery.detail and "spoza ASCII" in delivery.detail
        # The connection is still good for the next reader.
        assert send_one(smtp_settings(server), "jan@example.com").result is SendResult.SENT
    finally:
        server.stop()


def test_a_silent_server_is_unreachable_after_the_timeout() -> None:
    silent = SilentServer().start()
    try:
        started = time.monotonic()
        delivery = send_one(SmtpSettings("127.0.0.1", silent.port, "none", None, None, 1), "a@b.pl")
        assert delivery.result is SendResult.UNREACHABLE
        assert time.monotonic() - started < 5
    finally:
        silent.stop()


def test_a_server_closing_the_service_is_a_link_problem(smtp: SmtpServer) -> None:
    smtp.sink.script = ["421 4.3.2 Shutting down"]
    assert send_one(smtp_settings(smtp), "jan@example.com").result is SendResult.UNREACHABLE


def test_a_sent_folder_read_again_in_one_pass_reads_only_what_came_after(
    dovecot: DovecotServer,
) -> None:
    def message(n: int) -> bytes:
        return f"Message-ID: <copy-{n}@biblioteka.test>\r\nSubject: x\r\n\r\nbody\r\n".encode()

    sent_at = datetime(2026, 11, 2, 12, 0, tzinfo=CET)
    since = sent_at.date() - timedelta(days=1)
    mailbox = ImapMailbox(imap_settings(dovecot))
    mailbox.connect()
    seen = FolderSeen()
    assert mailbox.copies_since("Sent", since, seen) == set()  # created, empty
    mailbox.append_copies("Sent", [(message(n), sent_at) for n in range(3)])
    first = mailbox.copies_since("Sent", since, seen)
    assert first == {f"<copy-{n}@biblioteka.test>" for n in range(3)}
    assert seen.last_uid == 3
    mailbox.append_copies("Sent", [(message(n), sent_at) for n in range(3, 5)])
    # The second read asks only for UIDs 4 and above, and still knows the first three.
    assert mailbox.copies_since("Sent", since, seen) == {
        f"<copy-{n}@biblioteka.test>" for n in range(5)
    }
    assert seen.last_uid == 5
    assert mailbox.copies_since("Sent", since, seen) == {
        f"<copy-{n}@biblioteka.test>" for n in range(5)
    }  # nothing new: "6:*" names UID 5, which is not read again
    mailbox.close()

    # The folder made anew (a new UIDVALIDITY): what was seen counts for nothing.
    with dovecot.client("multimedia") as client:
        client.delete_folder("Sent")
        client.create_folder("Sent")
        client.append("Sent", message(9), msg_time=sent_at)
    mailbox = ImapMailbox(imap_settings(dovecot))
    mailbox.connect()
    assert mailbox.copies_since("Sent", since, seen) == {"<copy-9@biblioteka.test>"}
    mailbox.close()


def test_fetch_reads_every_fixture_as_imapclient_reads_it(dovecot: DovecotServer) -> None:
    fixtures = sorted(FIXTURES.glob("*.eml"))
    with dovecot.client("multimedia") as client:
        for path in fixtures:
            client.append("INBOX", path.read_bytes(), msg_time=datetime(2026, 11, 1, tzinfo=CET))
        client.append("INBOX", b"x" * 30_000)  # over the limit below: only its header
        client.select_folder("INBOX", readonly=True)
        uids = client.search()
        client.normalise_times = False  # aware, as the adapter reads them
        theirs = client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE", "BODY.PEEK[]"])
        big_header = client.fetch(uids[-1:], ["BODY.PEEK[HEADER]"])[uids[-1]][b"BODY[HEADER]"]
    mailbox = ImapMailbox(imap_settings(dovecot))
    mailbox.connect()
    fetched = mailbox.fetch(uids, 20_000)
    mailbox.close()
    assert [m.uid for m in fetched] == uids
    for message in fetched:
        expected = theirs[message.uid]
        assert message.size == expected[b"RFC822.SIZE"]
        assert message.received_at == expected[b"INTERNALDATE"]
        if message.size <= 20_000:
            assert message.raw == expected[b"BODY[]"]
        else:
            assert message.raw is None and message.header == big_header
    assert [m.raw for m in fetched[: len(fixtures)]] == [p.read_bytes() for p in fixtures]
