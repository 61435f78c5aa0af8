"""Outages on real servers: a PostgreSQL cluster stopped and started again on the same
port under a running daemon or web process, and the processes themselves."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.support.postgres import PostgresServer, _binary


class StoppablePostgres(PostgresServer):
    """A cluster of its own that a test can stop (its data kept) and start again."""

    def _options(self) -> str:
        return (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )

    def halt(self) -> None:
        """Stop the server now (every connection cut), keeping its data."""
        self._run([_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])

    def resume(self) -> None:
        """Start it again on the same port; back once it answers."""
        self._run(
            [_binary("pg_ctl"), "-D", str(self.data), "-o", self._options(), "-l",
             str(self.log), "-w", "-t", "60", "start"]
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def program(config: Path, *args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`empikgo-mailer ARGS` as a process of its own; stdout and stderr into `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "empikgo_mailer", "--config", str(config), *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until(condition: Callable[[], bool], seconds: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
