"""A reply sent through a real Postfix: delivered to a known reader, and to an unknown one
accepted at RCPT, bounced later, and returned to the branch's mailbox as a delivery
report that `read_bounce` reads (RULES §8)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from empikgo_mailer.adapters.smtp_sender import SendResult, SmtpSender
from empikgo_mailer.config import SmtpSettings
from empikgo_mailer.domain.bounces import ReturnPathPattern, read_bounce
from empikgo_mailer.domain.mail_headers import Headers, message_id
from empikgo_mailer.domain.mail_requests import parse_message
from empikgo_mailer.domain.replies import compose_reply
from tests.support.postfix import BRANCH, READER, MailRelay

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def send_reply(relay: MailRelay, *, envelope_sender: str, to: str) -> str:
    """A reply as the outbox composes it, sent as the outbox sends it (SmtpSender); its
    Message-ID."""
    reply = compose_reply(
        text="Dzień dobry,\noto Twój kod do platformy Empik Go: EGO-TEST-0001\n",
        from_name="Dzielnicowa Wypożyczalnia Multimedialna",
        from_address=relay.address(BRANCH),
        to_address=to,
        original_subject="EMPIK GO",
        original_message_id="<CAJx8gmail0001@mail.gmail.com>",
        original_references=None,
        now=NOW,
    )
    settings = SmtpSettings("127.0.0.1", relay.postfix.port, "none", None, None, 10)

    async def send() -> SendResult:
        async with SmtpSender(settings) as sender:
            delivery = await sender.send(envelope_sender, to, reply.text.encode("utf-8"))
            return delivery.result

    # Postfix takes an unknown user of its domain too: it finds out at delivery.
    assert asyncio.run(send()) is SendResult.SENT
    return reply.message_id


def with_id(wanted: str) -> Callable[[bytes], bool]:
    def found(raw: bytes) -> bool:
        return message_id(Headers(parse_message(raw))) == wanted

    return found


def test_a_reply_to_a_known_reader_arrives(mail_relay: MailRelay) -> None:
    sent = send_reply(
        mail_relay, envelope_sender=mail_relay.address(BRANCH), to=mail_relay.address(READER)
    )
    raw = mail_relay.wait_for(READER, with_id(sent), what=f"reply {sent}")
    assert b"EGO-TEST-0001" in raw
    assert read_bounce(raw) is None


def test_a_reply_to_an_unknown_reader_comes_back_as_a_permanent_bounce(
    mail_relay: MailRelay,
) -> None:
    unknown = mail_relay.address("nobody")
    sent = send_reply(mail_relay, envelope_sender=mail_relay.address(BRANCH), to=unknown)
    raw = mail_relay.wait_for(
        BRANCH, lambda raw: read_bounce(raw) is not None, what="delivery report"
    )
    reading = read_bounce(raw)
    assert reading is not None
    assert reading.permanent
    assert reading.status == "5.1.1"
    assert reading.recipients == (unknown,)
    assert reading.original_message_ids[0] == sent
    assert reading.diagnostic.startswith("550 5.1.1 ")
    assert reading.reply_id is None  # sent without a per-reply return path


def test_a_per_reply_return_path_brings_the_reply_id_back(mail_relay: MailRelay) -> None:
    """Envelope sender dwm+r42@: Postfix returns the report there, Dovecot delivers it to
    dwm (the detail dropped), and the report names reply 42."""
    return_path = ReturnPathPattern().address(mail_relay.address(BRANCH), 42)
    sent = send_reply(mail_relay, envelope_sender=return_path, to=mail_relay.address("nobody"))
    raw = mail_relay.wait_for(
        BRANCH, lambda raw: read_bounce(raw) is not None, what="delivery report"
    )
    reading = read_bounce(raw)
    assert reading is not None
    assert (reading.permanent, reading.status, reading.reply_id) == (True, "5.1.1", 42)
    assert reading.original_message_ids[0] == sent
