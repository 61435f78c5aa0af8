"""--wait-for-schema: a service started beside the one that runs `init` (compose) waits for
the schema instead of failing at once, and gives up with the usual error when it does not
come in time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command

from empikgo_mailer.adapters import schema
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.errors import ExitCode
from tests.support.cli import NOW, run_cli
from tests.support.config import write_config
from tests.support.table_rows import empty_database


def started(config: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """The command line in a process of its own that runs on while the test goes on."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EMPIKGO_")}
    return subprocess.Popen(
        [sys.executable, "-m", "empikgo_mailer", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**clean, **env},
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_command_waits_for_init_run_by_another_process(
    backend: str, how: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    config = write_config(tmp_path, empty_database(backend, tmp_path, request))
    if how == "option":
        env, args = {}, ["--wait-for-schema", "60"]
    else:
        env, args = {"EMPIKGO_WAIT_FOR_SCHEMA": "60"}, []
    began = time.monotonic()
    waiting = started(config, env, *args, "-v", "status", NOW)
    time.sleep(3)
    assert waiting.poll() is None  # still waiting: nothing to read yet
    assert run_cli(config, {}, "init").returncode == ExitCode.OK
    out, err = waiting.communicate(timeout=60)
    took = time.monotonic() - began
    assert waiting.returncode == ExitCode.OK, err
    assert "Multimedialna" in out  # the status of the branches, read from the new schema
    lines = err.splitlines()
    assert sum("database schema is not ready" in line for line in lines) == 1
    assert sum("database schema is ready" in line for line in lines) == 1
    assert "Traceback" not in err
    assert took < 3 + 2 * 2 + 15  # init's own seconds aside, found within a poll or two


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_when_the_time_runs_out_the_usual_error_and_code(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    config = write_config(tmp_path, empty_database(backend, tmp_path, request))
    began = time.monotonic()
    done = run_cli(config, {}, "--wait-for-schema", "3", "status", NOW)
    took = time.monotonic() - began
    assert done.returncode == ExitCode.DATABASE
    assert done.stderr.strip() == (
        "Błąd: Baza danych nie jest utworzona: uruchom najpierw „empikgo-mailer init”."
    )
    assert took >= 3
    assert not (tmp_path / "data").exists()  # waiting creates nothing


def test_without_the_option_a_command_fails_at_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'none.sqlite3'}")
    began = time.monotonic()
    done = run_cli(config, {}, "status", NOW)
    assert done.returncode == ExitCode.DATABASE
    assert time.monotonic() - began < 10  # a process start, no poll


def test_an_older_schema_is_waited_for_too(tmp_path: Path) -> None:
    """A service restarted on a new version before `init` upgraded the schema."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    db = Database(url)
    command.upgrade(schema._alembic_config(db), "0012")
    db.dispose()
    config = write_config(tmp_path, url)
    began = time.monotonic()
    done = run_cli(config, {}, "--wait-for-schema", "2", "status", NOW)
    assert done.returncode == ExitCode.DATABASE
    assert "starszy schemat" in done.stderr
    assert time.monotonic() - began >= 2


def test_a_wrong_number_in_the_environment_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'none.sqlite3'}")
    done = run_cli(config, {"EMPIKGO_WAIT_FOR_SCHEMA": "minuta"}, "status", NOW)
    assert done.returncode == ExitCode.USAGE
    assert "EMPIKGO_WAIT_FOR_SCHEMA" in done.stderr
