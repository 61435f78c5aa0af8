"""A platform defined only in the configuration (here IBUK Libra, one pool for the whole
library, claims from noon on the first working day) works at the desk, in `status` and in
the monthly report, with no code of its own."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from empikgo_mailer.domain.errors import ExitCode
from tests.support.cli import FIXTURES, Cli
from tests.support.config import write_config

IBUK = """
[platforms.ibuk]
name = "IBUK Libra"
pool = "library"
claims_open = "first-working-day 12:00"
activation_url = "https://libra.ibuk.pl/kod"
"""
# 1 November 2026 is a Sunday (and All Saints' Day): the first working day is Monday the 2nd.
BEFORE_NOON = "--now=2026-11-02T11:59"
AFTER_NOON = "--now=2026-11-02T12:30"


@pytest.fixture
def ibuk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'ibuk.sqlite3'}", extra=IBUK)
    run = Cli(config, capsys)
    assert run("init")[0] == ExitCode.OK
    assert run("patrons", "import", str(FIXTURES / "patrons.csv"), BEFORE_NOON)[0] == 0
    codes = tmp_path / "ibuk.txt"
    codes.write_text("IBUK-0001\nIBUK-0002\nIBUK-0003\n", encoding="utf-8")
    code, out, _ = run(
        "codes", "import", str(codes), "--platform", "ibuk", "--month", "2026-11", BEFORE_NOON
    )
    assert code == ExitCode.OK and "Wczytano kodów IBUK Libra na listopad 2026: 3" in out
    return run


def test_the_desk_gives_it_from_noon_on_the_first_working_day(ibuk: Cli) -> None:
    desk = ("issue", "--branch", "w63", "--card", "1000001", "--platform", "ibuk")
    code, out, _ = ibuk(*desk, BEFORE_NOON)
    assert code == ExitCode.REFUSED and "można wydawać od" in out
    code, out, _ = ibuk(*desk, AFTER_NOON)
    assert code == ExitCode.OK
    assert "Twój kod IBUK Libra: IBUK-000" in out and "https://libra.ibuk.pl/kod" in out
    # One code a month across every platform: Empik Go is refused now.
    code, out, _ = ibuk(
        "issue", "--branch", "w63", "--card", "1000001", "--platform", "empik-go", AFTER_NOON
    )
    assert code == ExitCode.REFUSED and "kod IBUK Libra" in out


def test_its_pool_belongs_to_the_whole_library(ibuk: Cli, tmp_path: Path) -> None:
    codes = tmp_path / "more.txt"
    codes.write_text("IBUK-0009\n", encoding="utf-8")
    code, _, err = ibuk(
        "codes", "import", str(codes), "--platform", "ibuk", "--month", "2026-11",
        "--branch", "w63", AFTER_NOON,
    )  # fmt: skip
    assert code == ExitCode.BAD_INPUT and "--branch" in err


def test_status_and_the_report_count_it(ibuk: Cli, tmp_path: Path) -> None:
    ibuk("issue", "--branch", "w63", "--card", "1000001", "--platform", "ibuk", AFTER_NOON)
    code, out, _ = ibuk("status", "--json", AFTER_NOON)
    assert code == ExitCode.OK
    pools = {
        (p["platform"], p["branch"]): (p["loaded"], p["issued"]) for p in json.loads(out)["pools"]
    }
    assert pools[("ibuk", None)] == (3, 1)
    assert pools[("legimi", None)] == (0, 0)  # the built-in platforms are still offered
    code, out, _ = ibuk("status", AFTER_NOON)
    assert "IBUK Libra" in out

    sheet = tmp_path / "listopad.csv"
    code, out, _ = ibuk("report", "--month", "2026-11", "--csv", str(sheet))
    assert code == ExitCode.OK and "IBUK Libra — cała biblioteka" in out
    with sheet.open(encoding="utf-8-sig", newline="") as stream:
        rows = {(r["Platforma"], r["Placówka"]): r for r in csv.DictReader(stream)}
    row = rows[("IBUK Libra", "cała biblioteka")]
    assert (row["Kody: wczytane"], row["Kody wydane: w placówce"]) == ("3", "1")


def test_a_platform_without_a_section_is_not_offered(ibuk: Cli) -> None:
    code, _, err = ibuk(
        "issue", "--branch", "w63", "--card", "1000001", "--platform", "storytel", AFTER_NOON
    )
    assert code == ExitCode.USAGE
    assert "storytel" in err and "dozwolone: empik-go, legimi, ibuk" in err
