"""A throwaway PostgreSQL cluster on a loopback port, from the installed server binaries.

initdb and postgres refuse to run as root, so when the tests run as root (as CI does)
the cluster belongs to the `postgres` system user (or `nobody`) and is run through runuser.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

from empikgo_mailer.rehearsal.ports import free_port


class PostgresUnavailable(RuntimeError):
    pass


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if candidates:
        return candidates[-1]
    raise PostgresUnavailable(
        f"PostgreSQL server binary '{name}' not found: install postgresql (scripts/setup.sh does)"
    )


def _service_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and no unprivileged user to run PostgreSQL as")


class PostgresServer:
    def __init__(self) -> None:
        self.user = _service_user()
        self.base = Path(tempfile.mkdtemp(prefix="empikgo-pg-"))
        self.data = self.base / "data"
        self.socket_dir = self.base / "socket"
        self.log = self.base / "postgres.log"
        self.port = free_port()
        self.superuser = "empikgo_test"

    def _run(self, argv: Sequence[str], timeout: float = 120) -> None:
        command = list(argv)
        if self.user is not None:
            command = ["runuser", "-u", self.user.pw_name, "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(argv[:2])} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
            )

    def start(self) -> PostgresServer:
        self.socket_dir.mkdir()
        if self.user is not None:
            os.chmod(self.base, 0o755)  # noqa: S103 (a private test cluster in a temp dir)
            for path in (self.base, self.socket_dir):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self._run(
            [
                _binary("initdb"),
                "-D",
                str(self.data),
                "-U",
                self.superuser,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            [
                _binary("pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                options,
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return self
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        try:
            self._run([_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.superuser} dbname={database}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            suffix = f" TEMPLATE {template}" if template else ""
            connection.execute(f"CREATE DATABASE {name}{suffix}")
        return self.url(name)
