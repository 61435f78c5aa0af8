"""`doctor`, as the IT person runs it after an install: it says which configuration, secrets
file, data directory and database it reads, creates nothing, and checks every server."""

from __future__ import annotations

from pathlib import Path

from empikgo_mailer.domain.errors import ExitCode
from tests.support.cli import run_cli
from tests.support.config import MAIL_ENV, write_config
from tests.support.dovecot import DovecotServer
from tests.support.smtp import SmtpServer


def test_a_missing_sqlite_database_is_named_and_not_created(tmp_path: Path) -> None:
    config = write_config(tmp_path, "sqlite:///" + str(tmp_path / "data" / "empikgo.sqlite3"))
    checked = run_cli(config, MAIL_ENV, "doctor")
    assert checked.returncode == ExitCode.DATABASE, checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[0].startswith(f"konfiguracja: OK — {config}")
    assert lines[1].startswith("sekrety: ze zmiennych środowiska")
    assert lines[2] == f"katalog danych: {tmp_path / 'data'} (data_dir w pliku)"
    assert "nie ma takiego pliku; utwórz bazę („empikgo-mailer init”)" in lines[3]
    assert not (tmp_path / "data").exists()  # a check writes nothing


def test_an_installation_that_works_passes_every_check(
    tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    data = tmp_path / "elsewhere"
    config = write_config(
        tmp_path,
        f"sqlite:///{data / 'empikgo.sqlite3'}",
        imap_port=dovecot.port,
        smtp_port=smtp.port,
    )
    env = {**MAIL_ENV, "EMPIKGO_DATA_DIR": str(data)}
    assert run_cli(config, env, "init").returncode == ExitCode.OK
    checked = run_cli(config, env, "doctor")
    assert checked.returncode == ExitCode.OK, checked.stdout + checked.stderr
    assert f"katalog danych: {data} (EMPIKGO_DATA_DIR)" in checked.stdout
    assert "baza danych: OK" in checked.stdout
    for branch in ("multimedia", "w63"):
        assert f"skrzynka {branch} (" in checked.stdout
    assert checked.stdout.count(": OK — ") == 6  # config, database, 2 mailboxes, SMTP, drop
