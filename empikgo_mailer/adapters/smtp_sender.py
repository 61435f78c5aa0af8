"""Sending composed replies over one reused SMTP connection (aiosmtplib)."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from enum import StrEnum

import aiosmtplib

from empikgo_mailer.config import SmtpSettings

log = logging.getLogger(__name__)


class SendResult(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"  # 4xx or a lost connection: try again later
    PERMANENT = "permanent"  # 5xx: trying again will not help


@dataclass(frozen=True)
class Delivery:
    result: SendResult
    detail: str = ""


class SmtpSender:
    """Async context manager; `send` never raises for SMTP-level problems."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.smtp: aiosmtplib.SMTP | None = None

    async def __aenter__(self) -> SmtpSender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "ssl",
            start_tls=s.security == "starttls",
            tls_context=ssl.create_default_context() if s.security != "none" else None,
            timeout=s.timeout_seconds,
        )
        await smtp.connect()
        if s.username and s.password is not None:
            await smtp.login(s.username, s.password.value)
        return smtp

    async def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except aiosmtplib.SMTPException:
                smtp.close()

    async def send(self, sender: str, recipient: str, message: bytes) -> Delivery:
        try:
            if self.smtp is None or not self.smtp.is_connected:
                self.smtp = await self._connect()
            errors, response = await self.smtp.sendmail(sender, [recipient], message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0] if exc.recipients else None
            code = refusal.code if refusal is not None else 550
            return _by_code(code, str(refusal.message if refusal else exc))
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code == 421 and self.smtp is not None:
                self.smtp.close()
                self.smtp = None
            return _by_code(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Connection refused, dropped or timed out: reconnect on the next message.
            if self.smtp is not None:
                self.smtp.close()
            self.smtp = None
            return Delivery(SendResult.TEMPORARY, f"{type(exc).__name__}: {exc}")
        if errors:
            code, text = next(iter(errors.values()))
            return _by_code(code, text)
        return Delivery(SendResult.SENT, response)


def _by_code(code: int, text: str) -> Delivery:
    result = SendResult.PERMANENT if 500 <= code < 600 else SendResult.TEMPORARY
    return Delivery(result, f"{code} {text}".strip())
