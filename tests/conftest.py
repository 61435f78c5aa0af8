"""Fixtures: real databases (SQLite in a temp dir, PostgreSQL started from its binaries)."""

from __future__ import annotations

import itertools
import os
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from empikgo_mailer.bootstrap import App, bootstrap
from empikgo_mailer.domain.errors import ExitCode
from tests.support.cli import Cli
from tests.support.config import MAILBOX_PASSWORDS, settings_for, write_config
from tests.support.databases import migrated, migrated_sqlite
from tests.support.dovecot import DovecotServer
from tests.support.postfix import mail_relay  # noqa: F401 (a fixture: pytest finds it here)
from tests.support.postgres import PostgresServer
from tests.support.smtp import SmtpServer

TEMPLATE = "empikgo_template"

# The programs installed with the package (`empikgo-mailer`, `podman-compose`) come first on
# PATH, as in an activated venv: the README runs `.venv/bin/python -m pytest` unactivated.
os.environ["PATH"] = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One cluster per test run, with a migrated template that each test copies."""
    server = PostgresServer().start()
    try:
        migrated(server.create_database(TEMPLATE))
        yield server
    finally:
        server.stop()


def fresh_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return migrated_sqlite(tmp_path)
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"empikgo_{next(_database_numbers)}", template=TEMPLATE)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    return fresh_database_url(str(request.param), tmp_path, request)


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh_database_url("sqlite", tmp_path, request)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    application = bootstrap(settings_for(tmp_path, database_url))
    yield application
    application.db.dispose()


@pytest.fixture
def sqlite_app(sqlite_url: str, tmp_path: Path) -> Iterator[App]:
    application = bootstrap(settings_for(tmp_path, sqlite_url))
    yield application
    application.db.dispose()


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A real IMAP server with the two branch mailboxes, empty."""
    server = DovecotServer(MAILBOX_PASSWORDS).start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """The command line on a fresh SQLite database, `init` already run."""
    run = Cli(write_config(tmp_path, f"sqlite:///{tmp_path / 'cli.sqlite3'}"), capsys)
    assert run("init")[0] == ExitCode.OK
    return run
