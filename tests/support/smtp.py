"""A real SMTP server (aiosmtpd) on loopback that records what it accepts."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from empikgo_mailer.rehearsal.ports import free_port


@dataclass
class SmtpSink:
    """Accepts mail; `script` holds replies to give to the next DATA commands instead."""

    script: list[str] = field(default_factory=list)
    accepted: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with the number of messages accepted so far, before the server answers 250:
    # a test can kill the sender right there, with the message in flight.
    on_accept: Callable[[int], None] | None = None
    greetings: list[str] = field(default_factory=list)  # the names clients gave in EHLO
    # Answers to RCPT TO for one recipient, one per try (the last one kept for good).
    rcpt_answers: dict[str, list[str]] = field(default_factory=dict)
    # A relay's sending limit: every RCPT after this many accepted messages gets `limited`.
    limit_after: int | None = None
    limited: str = "550 5.7.1 Message rate limit exceeded, try again later"

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.connections += 1
            self.greetings.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self.lock:
            answers = self.rcpt_answers.get(address)
            if answers:
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                self.refused.append(answer)
                return answer
            if self.limit_after is not None and len(self.accepted) >= self.limit_after:
                self.refused.append(self.limited)
                return self.limited
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.script:
                reply = self.script.pop(0)
                self.refused.append(reply)
                return reply
            self.accepted.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            count = len(self.accepted)
        if self.on_accept is not None:
            self.on_accept(count)
        return "250 2.0.0 OK"

    def messages(self) -> list[EmailMessage]:
        parsed = []
        for _, _, content in self.accepted:
            message = message_from_bytes(content, policy=default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed


class SmtpServer:
    def __init__(self, *, smtputf8: bool = True, port: int | None = None) -> None:
        self.sink = SmtpSink()
        self.port = port or free_port()
        self.controller = Controller(
            self.sink, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=smtputf8
        )

    def start(self) -> Self:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class SilentServer:
    """Accepts TCP connections and never says a word: a hung mail server."""

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> SilentServer:
        self.thread.start()
        return self

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(connection)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for connection in self.held:
            connection.close()
        self.listener.close()


class OAuthSink(SmtpSink):
    """A sink that takes only SASL XOAUTH2 with a token `valid(token, user)` accepts."""

    def __init__(self, valid: Callable[[str, str], bool]) -> None:
        super().__init__()
        self.valid = valid
        self.logins: list[str] = []

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        try:
            user_part, auth_part, *_ = base64.b64decode(args[1]).decode().split("\x01")
            user, token = user_part.removeprefix("user="), auth_part.removeprefix("auth=Bearer ")
        except (IndexError, ValueError):
            return AuthResult(success=False)
        if not self.valid(token, user):
            return AuthResult(success=False)
        self.logins.append(user)
        return AuthResult(success=True, auth_data=user)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"


class OAuthSmtpServer(SmtpServer):
    """SMTP that refuses mail until the client has logged in with XOAUTH2."""

    sink: OAuthSink

    def __init__(self, valid: Callable[[str, str], bool]) -> None:
        self.sink = OAuthSink(valid)
        self.port = free_port()
        self.controller = Controller(
            self.sink,
            hostname="127.0.0.1",
            port=self.port,
            auth_require_tls=False,  # loopback; MAIL is refused until AUTH all the same
        )
