"""The systemd units as shipped: valid for systemd (`systemd-analyze verify`, with the
program where this machine has it) and hardened as the README promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNITS = Path(__file__).parents[2] / "deploy" / "systemd"
SERVICES = ("empikgo-mailer.service", "empikgo-mailer-web.service")


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
