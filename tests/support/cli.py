"""The staff command line as a test drives it: in-process `main`, Polish output captured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from empikgo_mailer.entrypoints.cli import main

FIXTURES = Path(__file__).parents[2] / "fixtures"
NOW = "--now=2026-11-02T10:00"


class Cli:
    def __init__(self, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.config, self.capsys = config, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["--config", str(self.config), *args])
        out, err = self.capsys.readouterr()
        return code, out, err


def run_cli(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command line in a process of its own, with exactly these EMPIKGO_ variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EMPIKGO_")}
    return subprocess.run(
        [sys.executable, "-m", "empikgo_mailer", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
        check=False,
    )
