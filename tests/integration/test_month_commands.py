"""The month's commands at the command line: Legimi claims, activations, closing a month,
the service switch, status of the jobs and the monthly report (CSV and chart)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from empikgo_mailer.domain.claim_answers import NO_FREE_CODES
from empikgo_mailer.domain.errors import ExitCode
from tests.support.cli import FIXTURES, Cli

MARCH = "--now=2027-03-31T15:00"


@pytest.fixture
def loaded(cli: Cli, tmp_path: Path) -> Cli:
    """Readers, a Legimi pool and an Empik Go pool at w63 for March 2027."""
    assert cli("patrons", "import", str(FIXTURES / "patrons.csv"), MARCH)[0] == ExitCode.OK
    legimi = tmp_path / "legimi.txt"
    legimi.write_text("LGM-1\nLGM-2\n", encoding="utf-8")
    empik = tmp_path / "empik.txt"
    empik.write_text("EGM-1\nEGM-2\nEGM-3\n", encoding="utf-8")
    assert (
        cli(
            "codes",
            "import",
            str(legimi),
            "--platform",
            "legimi",
            "--month",
            "2027-03",
            "--now=2027-02-20T10:00",
        )[0]
        == ExitCode.OK
    )
    assert (
        cli(
            "codes",
            "import",
            str(empik),
            "--platform",
            "empik-go",
            "--month",
            "2027-03",
            "--branch",
            "w63",
            "--now=2027-02-20T10:00",
        )[0]
        == ExitCode.OK
    )
    return cli


def test_legimi_claim_by_staff(loaded: Cli) -> None:
    code, out, _ = loaded("legimi", "claim", "--card", "1000001", "--now=2027-03-01T09:59:59")
    assert code == ExitCode.REFUSED and out.strip() == NO_FREE_CODES
    code, out, _ = loaded("legimi", "claim", "--card", "1000001", "--now=2027-03-01T10:00")
    assert code == ExitCode.OK
    assert out.startswith("Biblioteka posiada wolne kody dostępowe.\nKod: LGM-1\n")
    assert "31 marca 2027" in out
    code, out, _ = loaded("legimi", "claim", "--card", "1000001", "--now=2027-03-02T10:00")
    assert code == ExitCode.OK and "Kod: LGM-1" in out and "Ten sam kod" in out


def test_a_month_from_claims_to_report(loaded: Cli, tmp_path: Path) -> None:
    assert loaded("legimi", "claim", "--card", "1000001", "--now=2027-03-01T10:00")[0] == 0
    assert (
        loaded("issue", "--branch", "w63", "--card", "1000007", "--platform", "empik-go", MARCH)[0]
        == ExitCode.OK
    )
    assert loaded("legimi", "claim", "--card", "1000003", MARCH)[0] == ExitCode.REFUSED  # debt

    code, _, err = loaded("month", "close", "--month", "2027-03", "--now=2027-03-31T23:00")
    assert code == ExitCode.BAD_INPUT and "jeszcze trwa" in err
    code, out, _ = loaded("month", "close", "--month", "2027-03", "--now=2027-04-01T00:05")
    assert code == ExitCode.OK
    assert "niewykorzystane kody: 3; nieaktywowane kody: 2; czytelnicy z blokadą" in out
    code, out, _ = loaded("month", "close", "--month", "2027-03", "--now=2027-04-02T09:00")
    assert code == ExitCode.OK and "był już zamknięty" in out and "nic nie zmieniono" in out

    report = tmp_path / "activations.csv"
    report.write_text(
        "code,activated_at\n"
        "LGM-1,2027-03-01T10:05:00+01:00\n"  # in time: lifts 1000001's ban
        "FOREIGN-CODE,2027-03-02 10:00\n"  # not ours
        "EGM-1,03/31/2027 12:00\n",  # a US date: refused, not guessed
        encoding="utf-8",
    )
    code, out, _ = loaded(
        "codes", "activations", str(report), "--platform", "legimi", "--now=2027-04-03T09:00"
    )
    assert code == ExitCode.BAD_INPUT
    assert "nowe 1, już znane 0, zdjęte blokady 1" in out
    assert "linia 3: nieznany kod" in out and "linia 4: „03/31/2027 12:00” to nie jest data" in out
    assert "FOREIGN-CODE" not in out  # codes are vouchers: listed by line only
    again = loaded(
        "codes", "activations", str(report), "--platform", "legimi", "--now=2027-04-03T09:05"
    )[1]
    assert "nowe 0, już znane 1, zdjęte blokady 0" in again

    csv_path, chart = tmp_path / "marzec.csv", tmp_path / "marzec.png"
    code, out, _ = loaded(
        "report", "--month", "2027-03", "--csv", str(csv_path), "--chart", str(chart)
    )
    assert code == ExitCode.OK
    assert "Legimi — cała biblioteka" in out and "zadłużenie: 1" in out
    with csv_path.open(encoding="utf-8-sig", newline="") as stream:
        rows = {(r["Platforma"], r["Placówka"]): r for r in csv.DictReader(stream)}
    legimi = rows[("Legimi", "cała biblioteka")]
    legimi_codes = (legimi["Kody: wczytane"], legimi["Kody wydane: z konta czytelnika"])
    assert legimi_codes == ("2", "1") and legimi["Kody: aktywowane"] == "1"
    assert (legimi["Kody: nieaktywowane"], legimi["Kody: niewykorzystane"]) == ("0", "1")
    assert legimi["Odmowy: zadłużenie"] == "1"
    w63 = rows[("Empik Go", "Wypożyczalnia dla Dorosłych i Młodzieży nr 63")]
    assert (
        w63["Kody wydane: w placówce"],
        w63["Kody: nieaktywowane"],
        w63["Czytelnicy z blokadą"],
    ) == (
        "1",
        "1",
        "1",
    )
    assert w63["Kody: niewykorzystane"] == "2"
    assert chart.read_bytes().startswith(b"\x89PNG")
    svg = tmp_path / "marzec.svg"
    assert loaded("report", "--month", "2027-03", "--chart", str(svg))[0] == ExitCode.OK
    assert b"<svg" in svg.read_bytes()[:500]
    code, _, err = loaded("report", "--month", "2027-03", "--chart", str(tmp_path / "x.jpg"))
    assert code == ExitCode.USAGE and ".png" in err


def test_service_switch_and_status(loaded: Cli) -> None:
    code, out, _ = loaded(
        "service",
        "off",
        "--platform",
        "legimi",
        "--reason",
        "Wyczerpany budżet",
        "--now=2027-03-01T08:00",
    )
    assert code == ExitCode.OK and "wyłączona" in out
    code, out, _ = loaded("legimi", "claim", "--card", "1000001", "--now=2027-03-01T10:00")
    assert code == ExitCode.REFUSED and "wstrzymane" in out
    status = json.loads(loaded("status", "--json", "--now=2027-03-01T10:00")[1])
    legimi = next(s for s in status["services"] if s["platform"] == "legimi")
    assert legimi == {
        "platform": "legimi",
        "on": False,
        "configured": True,
        "reason": "Wyczerpany budżet",
        "changed_at": "2027-03-01T08:00:00+01:00",
    }
    jobs = {job["id"]: job for job in status["jobs"]}
    assert jobs["month-close"]["next_run"] == "2027-04-01T00:05:00+02:00"
    assert jobs["pool-drop"]["every_seconds"] == 60
    text = loaded("status", "--now=2027-03-01T10:00")[1]
    assert "Legimi: WYŁĄCZONA od 1 marca 2027, godz. 08:00 (cli) — Wyczerpany budżet" in text
    assert "Zamknięcie miesiąca: następne 1 kwietnia 2027, godz. 00:05" in text
    assert loaded("service", "on", "--platform", "legimi", "--now=2027-03-01T10:30")[0] == 0
    assert loaded("legimi", "claim", "--card", "1000001", "--now=2027-03-01T10:31")[0] == 0


def test_bad_arguments_are_one_polish_line(loaded: Cli) -> None:
    code, _, err = loaded("month", "close", "--month", "marzec")
    assert code == ExitCode.USAGE and "RRRR-MM" in err
    code, _, err = loaded("service", "off", "--platform", "storytel")
    assert code == ExitCode.USAGE and "empik-go, legimi" in err
    code, _, err = loaded("codes", "activations", "/nonexistent.csv", "--platform", "legimi")
    assert code == ExitCode.BAD_INPUT and "Nie ma takiego pliku" in err
