"""The systemd units as shipped: valid for systemd (`systemd-analyze verify`, with the
program where this machine has it), hardened as the README promises, each failure said in
the journal (OnFailure=), and the backup unit's own command leaving a directory of whole
copies only."""

from __future__ import annotations

import shlex
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.config import write_config

UNITS = Path(__file__).parents[2] / "deploy" / "systemd"
SERVICES = ("empikgo-mailer.service", "empikgo-mailer-web.service")
ALERT = "OnFailure=empikgo-mailer-alert@%n.service"


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    program = shutil.which("empikgo-mailer")
    assert program is not None, "the package is installed (scripts/setup.sh)"
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/empikgo/bin/empikgo-mailer", program)
        (tmp_path / unit.name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_the_services_run_as_their_own_user_and_write_only_their_data(name: str) -> None:
    settings = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in (UNITS / name).read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert settings["User"] == "empikgo"
    assert settings["ProtectSystem"] == "strict"
    assert settings["ReadWritePaths"] == "/var/lib/empikgo"
    assert settings["NoNewPrivileges"] == "true"
    assert settings["CapabilityBoundingSet"] == ""
    assert settings["EnvironmentFile"] == "/etc/empikgo/empikgo.env"
    assert settings["KillSignal"] == "SIGTERM"


@pytest.mark.parametrize("name", [*SERVICES, "empikgo-mailer-backup.service"])
def test_a_failed_unit_is_said_in_the_journal(name: str) -> None:
    assert ALERT in (UNITS / name).read_text().splitlines()
    alert = (UNITS / "empikgo-mailer-alert@.service").read_text()
    assert "<3>" in alert  # priority err: `journalctl -p err` shows it


def test_the_backup_units_command_leaves_whole_copies_only(tmp_path: Path) -> None:
    """The unit's ExecStart as it stands (only the program and the directory moved): a
    new dated copy, copies past 30 days gone, an interrupted copy's leftovers gone, and
    nothing of SQLite's beside the copy."""
    [exec_start] = [
        line.removeprefix("ExecStart=")
        for line in (UNITS / "empikgo-mailer-backup.service").read_text().splitlines()
        if line.startswith("ExecStart=")
    ]
    program, *args = shlex.split(exec_start)
    assert program == "/opt/empikgo/bin/empikgo-mailer"
    backups = tmp_path / "backups"
    args = [str(backups) if arg == "/var/lib/empikgo/backups" else arg for arg in args]
    assert str(backups) in args
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'empikgo.sqlite3'}")
    assert run_cli(config, {}, "init").returncode == 0
    backups.mkdir()
    kept, expired = "empikgo-20261010-023000.backup", "empikgo-20261001-023000.backup"
    leftovers = [
        "empikgo-20261101-023000.backup.part",
        "empikgo-20261101-023000.backup.part-wal",
        "empikgo-20261101-023000.backup.part-shm",
        "empikgo-20261031-023000.backup-wal",
        "empikgo-20261031-023000.backup-shm",
    ]
    for name in (kept, expired, *leftovers, "notes.txt"):
        (backups / name).write_text("x")

    done = run_cli(config, {}, *args, "--now=2026-11-02T02:30")

    assert done.returncode == 0, done.stderr
    assert "Usunięte stare kopie: 1." in done.stdout
    assert "Usunięte pozostałości przerwanych kopii: " in done.stdout
    new = "empikgo-20261102-023000.backup"
    found = sorted(p.name for p in backups.iterdir() if not p.name.startswith("."))
    assert found == sorted([kept, new, "notes.txt"])
    with sqlite3.connect(f"file:{backups / new}?mode=ro", uri=True) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    copy.close()
    assert sorted(p.name for p in backups.iterdir() if not p.name.startswith(".")) == found
