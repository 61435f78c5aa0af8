"""An SMTP server on loopback (aiosmtpd) that keeps every message it accepts as a file:
the demo's outgoing mail, where a newcomer reads the replies readers would get."""

from __future__ import annotations

import itertools
import threading
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import click
from aiosmtpd.controller import Controller

from empikgo_mailer.rehearsal.ports import free_port


class _Keeper:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            number = next(self.numbers)
        content = bytes(envelope.content)
        (self.folder / f"{number:04d}.eml").write_bytes(content)
        message = message_from_bytes(content, policy=default)
        click.echo(f"  → odpowiedź do {message['To']}: {message['Subject']}")
        return "250 2.0.0 OK"


class SmtpSink:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = free_port()
        self.controller = Controller(_Keeper(folder), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
