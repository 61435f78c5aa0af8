"""Sending composed replies over one reused SMTP connection (aiosmtplib).

`send` never raises: every outcome is a `Delivery` the outbox can record. It tells a
problem with one message (4xx, 5xx, an address the server cannot take) from a server
that cannot be reached (refused, silent, gone, 421), because only the second one should
stop the rest of the replies from being tried now. (What the caller's `before_data`
raises is the caller's own, and comes back to it.)

A message goes as `sendmail` sends it, one step at a time: MAIL FROM, RCPT TO, DATA. The
caller's `before_data` (recording the previous reply's result) runs while RCPT TO
travels, so that its work and the server's overlap; DATA waits for it.

`probe` asks whether the server answers at all (connect, EHLO, NOOP, QUIT; no login,
nothing sent): cheap enough for every pass while the circuit breaker holds the replies
back, so that they go out in the pass after the server is back, not after the pause.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import aiosmtplib
from aiosmtplib.email import parse_address

from empikgo_mailer.adapters.oauth2 import access_token
from empikgo_mailer.config import SmtpSettings
from empikgo_mailer.domain.smtp_answers import smtp_answer_is_permanent

log = logging.getLogger(__name__)
SERVICE_CLOSING = 421  # the server is going away: a link problem, not this message's
NO_SMTPUTF8 = (
    "Adres odbiorcy zawiera znaki spoza ASCII, a serwer poczty wychodzącej nie obsługuje "
    "takich adresów (SMTPUTF8)."
)
# A probe waits at most this long: a silent server must not hold up every pass.
PROBE_TIMEOUT_SECONDS = 5.0


BeforeData = Callable[[], Awaitable[None]]


async def nothing_to_wait_for() -> None:
    return None


class SendResult(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"  # 4xx, a full mailbox, a sending limit: try it again later
    PERMANENT = "permanent"  # refused for good (domain/smtp_answers), or never takeable
    UNREACHABLE = "unreachable"  # the server cannot be reached or went away mid-way


@dataclass(frozen=True)
class Delivery:
    result: SendResult
    detail: str = ""


def _described(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _by_code(code: int, text: str) -> Delivery:
    if code == SERVICE_CLOSING:
        return Delivery(SendResult.UNREACHABLE, f"{code} {text}".strip())
    result = SendResult.PERMANENT if smtp_answer_is_permanent(code, text) else SendResult.TEMPORARY
    return Delivery(result, f"{code} {text}".strip())


class SmtpSender:
    """Async context manager; `send` never raises."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.smtp: aiosmtplib.SMTP | None = None

    async def __aenter__(self) -> SmtpSender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _client(self, timeout: float) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "ssl",
            start_tls=s.security == "starttls",
            tls_context=ssl.create_default_context() if s.security != "none" else None,
            timeout=timeout,
            local_hostname=s.helo_name or None,
        )

    async def probe(self) -> str | None:
        """Whether the server answers now: None when it does, else why not (one line).
        Connect, EHLO, NOOP, QUIT on a connection of its own; never raises."""
        smtp = self._client(min(self.settings.timeout_seconds, PROBE_TIMEOUT_SECONDS))
        try:
            await smtp.connect()
            if smtp.is_ehlo_or_helo_needed:
                await smtp.ehlo()
            await smtp.noop()
            await smtp.quit()
        except aiosmtplib.SMTPResponseException as exc:  # a 421 or 554 greeting, say
            smtp.close()
            return f"{exc.code} {exc.message}".strip()
        except Exception as exc:  # refused, unresolvable, silent, TLS failure ...
            smtp.close()
            return _described(exc)
        return None

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        smtp = self._client(s.timeout_seconds)
        await smtp.connect()
        if smtp.is_ehlo_or_helo_needed:
            # What the server offers (SMTPUTF8) must be known before the first message.
            try:
                await smtp.ehlo()
            except aiosmtplib.SMTPHeloError:
                await smtp.helo()
        if s.oauth is not None and s.username:
            # The token request is a blocking HTTP call: off the event loop.
            token = await asyncio.to_thread(access_token, s.oauth)
            await smtp.auth_xoauth2(s.username, token)
        elif s.username and s.password is not None:
            await smtp.login(s.username, s.password.value)
        return smtp

    async def check(self) -> str:
        """Connect and authenticate, send nothing; what the server offers (for `doctor`).
        Raises what the connection raised."""
        smtp = await self._connect()
        try:
            offered = sorted(smtp.esmtp_extensions)
            return ", ".join(e.upper() for e in offered if e in {"starttls", "smtputf8", "auth"})
        finally:
            await smtp.quit()

    def _drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = None

    async def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()

    async def send(
        self,
        sender: str,
        recipient: str,
        message: bytes,
        before_data: BeforeData = nothing_to_wait_for,
    ) -> Delivery:
        try:
            if self.smtp is None or not self.smtp.is_connected:
                self.smtp = await self._connect()
        except aiosmtplib.SMTPResponseException as exc:  # a refused login, a 554 greeting
            self._drop()
            return Delivery(SendResult.UNREACHABLE, f"{exc.code} {exc.message}".strip())
        except Exception as exc:  # refused, unresolvable, silent, TLS failure ...
            self._drop()
            return Delivery(SendResult.UNREACHABLE, _described(exc))
        options: list[str] = []
        if not (sender.isascii() and recipient.isascii()):
            # RFC 6531: internationalised addresses travel only where the server says so.
            if not self.smtp.supports_extension("smtputf8"):
                return Delivery(SendResult.PERMANENT, NO_SMTPUTF8)
            options.append("SMTPUTF8")
        smtp = self.smtp
        try:
            await _mail_from(smtp, sender, recipient, message, options)
        except Exception as exc:
            return await self._failure(smtp, exc)
        # The caller's work runs once RCPT TO is written, while the server answers it.
        rcpt = asyncio.ensure_future(smtp.rcpt(recipient, encoding=_encoding(options)))
        await asyncio.sleep(0)
        try:
            await before_data()
        except BaseException:
            # The caller's: the open envelope goes with the connection (the next message
            # gets a new one), and this message never leaves.
            rcpt.cancel()
            self._drop()
            raise
        try:
            await rcpt
        except Exception as exc:
            return await self._failure(smtp, exc)
        try:
            response = await smtp.data(message)
        except Exception as exc:
            return await self._failure(smtp, exc)
        return Delivery(SendResult.SENT, response.message)

    async def _failure(self, smtp: aiosmtplib.SMTP, exc: Exception) -> Delivery:
        """What a failed step means; the envelope is reset (RSET) after a refusal, as
        `sendmail` does, so that the session can carry the next message."""
        if isinstance(exc, aiosmtplib.SMTPSenderRefused):
            # Our own address refused: every reply would be; a problem of the link.
            self._drop()
            return Delivery(SendResult.UNREACHABLE, f"{exc.code} {exc.message}".strip())
        if isinstance(exc, aiosmtplib.SMTPResponseException):  # RCPT or DATA refused
            if exc.code == SERVICE_CLOSING:
                self._drop()
                return _by_code(exc.code, exc.message)
            try:
                await smtp.rset()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                self._drop()  # the next message starts on a new connection
            return _by_code(exc.code, exc.message)
        if isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError):
            # Dropped or timed out mid-way: reconnect for the next try.
            self._drop()
            return Delivery(SendResult.UNREACHABLE, _described(exc))
        # Not the network's doing (an address that cannot be sent, a bug): this message only.
        log.error("sending a reply failed unexpectedly", exc_info=exc)
        self._drop()
        return Delivery(SendResult.TEMPORARY, _described(exc))


def _encoding(options: list[str]) -> str:
    return "utf-8" if "SMTPUTF8" in options else "ascii"


# The sender is one of the branches' own mailboxes: checked once, not for every reply.
_checked_sender = functools.lru_cache(maxsize=64)(parse_address)


async def _mail_from(
    smtp: aiosmtplib.SMTP, sender: str, recipient: str, message: bytes, options: list[str]
) -> None:
    """MAIL FROM, as `sendmail` sends it for one recipient: both addresses checked before
    anything is sent, the size announced where the server takes it."""
    _checked_sender(sender)
    parse_address(recipient)
    if smtp.supports_extension("size"):
        options = [f"size={transmitted_size(message)}", *options]
    await smtp.mail(sender, options=options, encoding=_encoding(options))


def transmitted_size(message: bytes) -> int:
    """RFC 1870: the octets DATA transmits, every line ending a CRLF and the last line
    ended (what `normalize_message_line_endings` makes of it, without building it)."""
    pairs = message.count(b"\r\n")
    lone = message.count(b"\n") + message.count(b"\r") - 2 * pairs
    ended = message.endswith((b"\n", b"\r"))
    return len(message) + lone + (0 if ended else 2)
