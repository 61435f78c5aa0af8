"""The staff command line, end to end: exit codes, Polish output, one-line errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.entrypoints.cli import main
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.cli import FIXTURES, NOW, Cli
from tests.support.config import write_config


def load_samples(cli: Cli) -> None:
    assert cli("patrons", "import", str(FIXTURES / "patrons.csv"), NOW)[0] == ExitCode.OK
    for branch in ("multimedia", "w63"):
        assert (
            cli(
                "codes",
                "import",
                str(FIXTURES / "codes" / f"empik-go-{branch}.txt"),
                "--platform",
                "empik-go",
                "--month",
                "2026-11",
                "--branch",
                branch,
                NOW,
            )[0]
            == ExitCode.OK
        )
    assert (
        cli(
            "codes",
            "import",
            str(FIXTURES / "codes" / "legimi.csv"),
            "--platform",
            "legimi",
            "--month",
            "2026-11",
            NOW,
        )[0]
        == ExitCode.OK
    )


def test_init_twice_then_the_desk_issues_and_refuses(cli: Cli) -> None:
    code, out, _ = cli("init")
    assert code == ExitCode.OK and "aktualna" in out
    load_samples(cli)
    code, out, _ = cli(
        "issue", "--branch", "w63", "--card", "1000001", "--platform", "empik-go", NOW
    )
    assert code == ExitCode.OK
    assert "Twój kod Empik Go: EGW-" in out
    assert "najpóźniej 30 listopada 2026" in out and "na 3 miesiące" in out
    assert "Wypożyczalnia dla Dorosłych i Młodzieży nr 63\nul. Pułku Baszta 5" in out
    code, out, _ = cli("issue", "--branch", "w63", "--card", "1000001", "--platform", "legimi", NOW)
    assert code == ExitCode.REFUSED
    assert out.startswith("Odmowa: Czytelnik otrzymał już w tym miesiącu kod Empik Go (w placówce")
    code, out, _ = cli(
        "issue", "--branch", "w63", "--card", "1000003", "--platform", "empik-go", NOW
    )
    assert (code, out.strip()) == (
        ExitCode.REFUSED,
        "Odmowa: Na koncie jest zadłużenie: 1,20 zł — saldo przeniesione z poprzedniego systemu "
        "biblioteki.",
    )
    code, out, _ = cli("issue", "--branch", "w63", "--card", "77", "--platform", "empik-go", NOW)
    assert (code, out.strip()) == (
        ExitCode.REFUSED,
        "Odmowa: Nie ma czytelnika z takim numerem karty.",
    )


def test_status_counts_loaded_issued_left(cli: Cli) -> None:
    load_samples(cli)
    cli("issue", "--branch", "multimedia", "--card", "1000002", "--platform", "empik-go", NOW)
    code, out, _ = cli("status", "--json", NOW)
    assert code == ExitCode.OK
    pools = {
        (p["platform"], p["branch"]): (p["loaded"], p["issued"], p["left"])
        for p in json.loads(out)["pools"]
    }
    assert pools == {
        ("empik-go", "multimedia"): (5, 1, 4),
        ("empik-go", "w63"): (4, 0, 4),
        ("legimi", None): (6, 0, 6),
    }
    code, out, _ = cli("status", "--branch", "w63", "--month", "2026-11")
    assert (
        code == ExitCode.OK and "w63" in out and "multimedia" not in out and "listopad 2026" in out
    )


def test_check_explains_every_rule(cli: Cli) -> None:
    load_samples(cli)
    code, out, _ = cli("check", "--card", "1000005", NOW)
    assert code == ExitCode.REFUSED
    assert "NIE  Aktualne dane kontaktowe" in out and "10 stycznia 2024" in out
    # The verdict names the reason for the refusal, never the rule that was not met.
    assert out.endswith(
        "Wynik: odmowa — Dane kontaktowe potwierdzono dawniej niż 12 mies. temu "
        "(ostatnio: 10 stycznia 2024).\n"
    )
    code, out, _ = cli("check", "--card", "1000003", NOW)
    assert code == ExitCode.REFUSED
    assert "Wynik: odmowa — Na koncie jest zadłużenie: 1,20 zł" in out
    code, out, _ = cli("check", "--card", "9999999", NOW)
    assert code == ExitCode.REFUSED
    assert out.endswith("Wynik: odmowa — Nie ma czytelnika z takim numerem karty.\n")
    code, out, _ = cli("check", "--card", "1000001", "--json", NOW)
    assert code == ExitCode.OK and json.loads(out)["eligible"] is True


def test_check_without_a_branch_shows_each_branch_pool_apart(cli: Cli) -> None:
    load_samples(cli)
    free = {
        branch: len((FIXTURES / "codes" / f"empik-go-{branch}.txt").read_text().split())
        for branch in ("multimedia", "w63")
    }
    code, out, _ = cli("check", "--card", "1000001", NOW)
    assert code == ExitCode.OK
    assert (
        "—    Wolny kod w puli: każda placówka ma własną pulę (podaj --branch); "
        f"wolnych kodów — multimedia: {free['multimedia']}, w63: {free['w63']}"
    ) in out
    assert str(free["multimedia"] + free["w63"]) not in out
    assert out.endswith(
        "Wynik: czytelnik spełnia warunki; kod zależy od puli placówki (--branch).\n"
    )
    code, out, _ = cli("check", "--card", "1000001", "--branch", "w63", NOW)
    assert f"TAK  Wolny kod w puli: wolnych kodów: {free['w63']}" in out


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (
            ["codes", "import", "x.txt", "--platform", "kindle", "--month", "2026-11"],
            ExitCode.USAGE,
            "Błąd: Niepoprawna wartość '--platform': „kindle” — dozwolone: empik-go, legimi",
        ),
        (
            ["codes", "import", "x.txt", "--platform", "legimi", "--month", "2026-13"],
            ExitCode.USAGE,
            "Błąd: Niepoprawna wartość '--month': „2026-13” to nie jest miesiąc w postaci RRRR-MM",
        ),
        (
            ["issue", "--branch", "w63", "--platform", "legimi"],
            ExitCode.USAGE,
            "Błąd: Brak wymaganej opcji '--card'.",
        ),
        (
            ["issue", "--branch", "w63", "--card", "1", "--platform", "legimi", "--now", "wczoraj"],
            ExitCode.USAGE,
            "Błąd: Niepoprawna wartość '--now': „wczoraj” to nie jest czas ISO 8601",
        ),
        (
            ["codes", "import", "missing.txt", "--platform", "legimi", "--month", "2026-11", NOW],
            ExitCode.BAD_INPUT,
            "Błąd: Nie ma takiego pliku: missing.txt",
        ),
        (["patrons", "import", "missing.csv"], ExitCode.BAD_INPUT, "Błąd: Nie ma takiego pliku"),
        (
            ["issue", "--branch", "ursus", "--card", "1", "--platform", "empik-go", NOW],
            ExitCode.BAD_INPUT,
            "Błąd: Nieznana placówka „ursus” (są: multimedia, w63).",
        ),
        (["frobnicate"], ExitCode.USAGE, "Błąd: Nieznane polecenie 'frobnicate'."),
        (
            ["run", NOW],
            ExitCode.USAGE,
            "Błąd: Niepoprawna wartość '--now': --now działa tylko razem z --once (zegar, "
            "który biegnie: --from)",
        ),
        (
            ["run", "--speed", "720"],
            ExitCode.USAGE,
            "Błąd: Niepoprawna wartość '--speed': --speed i --anchor działają tylko razem z --from",
        ),
        (
            ["run", "--from", "2027-02-28T23:55", "--speed", "0"],
            ExitCode.USAGE,
            "Błąd: Niepoprawna wartość '--speed': „0” — podaj liczbę większą od zera",
        ),
        (
            ["web", "--from", "2027-02-28T23:55", "--speed", "wczoraj=720"],
            ExitCode.USAGE,
            "Błąd: Niepoprawna wartość '--speed': „wczoraj” to nie jest czas ISO 8601",
        ),
        (
            ["run", "--from", "2027-02-28T23:55", NOW],
            ExitCode.USAGE,
            "Błąd: Niepoprawna wartość '--from': podaj --now albo --from, nie oba",
        ),
    ],
)
def test_bad_input_is_one_polish_line(
    cli: Cli, args: list[str], exit_code: int, message: str
) -> None:
    code, out, err = cli(*args)
    assert code == exit_code
    assert err.splitlines()[0].startswith(message)
    assert "Traceback" not in err + out


def test_binary_patron_file_imports_nothing(cli: Cli, tmp_path: Path) -> None:
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    code, _, err = cli("patrons", "import", str(binary))
    assert code == ExitCode.BAD_INPUT and "dane binarne" in err
    assert cli("check", "--card", "1000001", NOW)[1].startswith("Karta 1000001")
    assert "Nie ma czytelnika z takim numerem karty" in cli("check", "--card", "1000001", NOW)[1]


def test_partly_bad_patron_file_imports_good_rows_and_exits_4(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "card_number,first_name,last_name,email,active,contact_confirmed_on,balance\n"
        "1,Jan,Kowalski,jan@x.pl,tak,2026-10-01,\n2,Ewa,,ewa@x.pl,tak,2026-10-01,\n",
        encoding="utf-8",
    )
    code, out, _ = cli("patrons", "import", str(path))
    assert code == ExitCode.BAD_INPUT
    assert (
        "Zaimportowano czytelników: 1 (nowych: 1, zaktualizowanych: 0); odrzuconych wierszy: 1."
        in out
    )
    assert "linia 3: last_name: puste pole" in out


def test_missing_config_and_wrong_option_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "none.toml"), "status"]) == ExitCode.USAGE
    assert "nie ma takiego pliku konfiguracji" in capsys.readouterr().err
    bad = write_config(tmp_path, "sqlite:///x.sqlite3")
    bad.write_text(
        bad.read_text(encoding="utf-8").replace("port = 2525", 'port = "x"'), encoding="utf-8"
    )
    assert main(["--config", str(bad), "status"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}: smtp.port:" in err


def test_uninitialised_database_says_run_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'new.sqlite3'}")
    assert main(["--config", str(config), "status"]) == ExitCode.DATABASE
    assert "uruchom najpierw „empikgo-mailer init”" in capsys.readouterr().err


def test_unreachable_postgres_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path, f"postgresql+psycopg://nobody:topsecret@127.0.0.1:{free_port()}/x"
    )
    text = config.read_text(encoding="utf-8").replace(
        "busy_timeout_seconds = 15", "busy_timeout_seconds = 2"
    )
    config.write_text(text, encoding="utf-8")
    assert main(["--config", str(config), "status"]) == ExitCode.DATABASE
    err = capsys.readouterr().err
    assert err.startswith("Błąd: Nie można użyć bazy danych:") and err.count("\n") == 1
    assert "topsecret" not in err


def test_locked_sqlite_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "locked.sqlite3"
    config = write_config(tmp_path, f"sqlite:///{database}")
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "busy_timeout_seconds = 15", "busy_timeout_seconds = 0.5"
        ),
        encoding="utf-8",
    )
    assert main(["--config", str(config), "init"]) == ExitCode.OK
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code = main(["--config", str(config), "status", NOW])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == ExitCode.DATABASE
    assert "Baza danych jest zablokowana przez inny proces" in capsys.readouterr().err


def test_console_script_and_module_both_run(tmp_path: Path) -> None:
    for argv in (
        ["empikgo-mailer", "--help"],
        [sys.executable, "-m", "empikgo_mailer", "issue", "--help"],
    ):
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("Użycie: ")


def test_replies_retry_says_what_it_did_and_refuses_an_unknown_branch(cli: Cli) -> None:
    code, out, _ = cli("replies", "retry", NOW)
    assert (code, out.strip()) == (ExitCode.OK, "Żadna odpowiedź nie czeka na ponowną próbę.")
    code, _, err = cli("replies", "retry", "--branch", "nowa", NOW)
    assert code == ExitCode.BAD_INPUT
    assert "Nieznana placówka „nowa”" in err
