"""Loans and fines from the staff command line: imports, desk events, payments, bank
postings, the ledger and `check`; bad input gets one clear line and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from empikgo_mailer.domain.errors import ExitCode
from tests.support.cli import FIXTURES, Cli

NOW = "--now=2026-11-16T10:00"
HEADER = (
    "card_number;item_barcode;location;borrowed_on;due_on;returned_on;renewals_used;"
    "renewal_limit;on_hold\n"
)


@pytest.fixture
def desk(cli: Cli) -> Cli:
    assert cli("patrons", "import", str(FIXTURES / "patrons.csv"), NOW)[0] == ExitCode.OK
    code, out, _ = cli("loans", "import", str(FIXTURES / "loans.csv"), NOW)
    assert (code, out.strip()) == (
        ExitCode.OK,
        "Wypożyczenia: nowych 5, zmienionych 0, bez zmian 0; odrzuconych wierszy: 0.",
    )
    return cli


def ledger(cli: Cli, card: str, now: str = NOW) -> dict[str, Any]:
    code, out, err = cli("fines", "show", "--card", card, "--json", now)
    assert code == ExitCode.OK, err
    document: dict[str, Any] = json.loads(out)
    return document


def test_the_ledger_in_text_and_json(desk: Cli) -> None:
    code, out, _ = desk("fines", "show", "--card", "1000007", NOW)
    assert code == ExitCode.OK
    assert out.splitlines() == [
        "Karta 1000007 — Piotr Lewandowski, stan na 16 listopada 2026:",
        "Biblioteka Główna — saldo 2,10 zł, konto zablokowane: 2,10 zł, 1 pozycja po terminie",
        "  egz. 0000123401: wypożyczony 1 października 2026, termin 10 listopada 2026, "
        "niezwrócony; 6 dni po terminie: 1,80 zł — blokuje konto",
        "  egz. 0000123402: wypożyczony 1 października 2026, termin 10 listopada 2026, "
        "zwrócony 11 listopada 2026; 1 dzień po terminie: 0,30 zł",
        "Biblioteka Wydziału Fizyki — saldo 0,00 zł, rozliczona",
        "  egz. FIZ-00077: wypożyczony 20 października 2026, termin 19 listopada 2026, niezwrócony",
        "Razem do zapłaty: 2,10 zł; konto zablokowane — Biblioteka Główna: 2,10 zł, "
        "1 pozycja po terminie.",
    ]
    document = ledger(desk, "1000007", "--now=2026-11-21T10:00")
    assert (document["outstanding_grosze"], document["blocked"]) == (360 + 60, True)
    glowna, fizyka = document["locations"]
    assert (glowna["id"], glowna["balance_grosze"], glowna["accepts_transfers"]) == (
        "multimedia",
        360,
        True,
    )
    assert [
        (loan["days_overdue"], loan["fine_grosze"], loan["blocks"]) for loan in glowna["loans"]
    ] == [
        (11, 330, True),
        (1, 30, False),
    ]
    assert (fizyka["accepts_transfers"], fizyka["balance_grosze"], fizyka["why"]) == (
        False,
        60,
        "0,60 zł, 1 pozycja po terminie",
    )


def test_check_explains_the_debt_rule_from_the_ledger(desk: Cli) -> None:
    code, out, _ = desk("check", "--card", "1000007", NOW)
    assert code == ExitCode.REFUSED
    assert (
        "  NIE  Brak zadłużenia: Na koncie jest zadłużenie: 2,10 zł; konto zablokowane — "
        "Biblioteka Główna: 2,10 zł, 1 pozycja po terminie." in out.splitlines()
    )
    # Returned on its due date: no fine, no block.
    code, out, _ = desk("check", "--card", "1000008", NOW)
    assert "TAK  Brak zadłużenia: w porządku" in out


@pytest.mark.parametrize(
    ("amount", "taken"),
    [("1.2", "1,20 zł"), ("1,20", "1,20 zł"), ("1 200,00", None), ("0,9", "0,90 zł")],
)
def test_amounts_written_either_way_mean_the_same(
    desk: Cli, amount: str, taken: str | None
) -> None:
    code, out, _ = desk(
        "fines",
        "pay",
        "--card",
        "1000009",
        "--location",
        "multimedia",
        "--amount",
        amount,
        "--method",
        "cash",
        NOW,
    )
    if taken is None:
        assert code == ExitCode.REFUSED
        assert out.strip() == (
            "Odmowa: 1200,00 zł to więcej niż należność (Biblioteka Główna): 4,80 zł; "
            "jedna wpłata dotyczy jednej biblioteki."
        )
        assert ledger(desk, "1000009")["locations"][0]["payments"] == []
    else:
        assert code == ExitCode.OK
        assert out.startswith(f"Przyjęto wpłatę (gotówka) {taken} — Biblioteka Główna.")
        payments = ledger(desk, "1000009")["locations"][0]["payments"]
        assert [p["amount_grosze"] for p in payments] == [int(taken[:-3].replace(",", ""))]


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["--amount", "-5"], ExitCode.USAGE, "kwota musi być większa od zera: „-5”"),
        (["--amount", "0"], ExitCode.USAGE, "kwota musi być większa od zera: „0”"),
        (["--amount", "abc"], ExitCode.USAGE, "to nie jest kwota w złotych (np. 1,20): „abc”"),
        (["--amount", "1,234"], ExitCode.USAGE, "to nie jest kwota w złotych"),
        (["--amount", "1", "--card", "99"], ExitCode.BAD_INPUT, "Nie ma czytelnika z kartą 99."),
        (
            ["--amount", "1", "--location", "mars"],
            ExitCode.BAD_INPUT,
            "Nieznana lokalizacja „mars” (są: multimedia, w63, czytelnia-naukowa).",
        ),
        (
            ["--amount", "1", "--proof"],
            ExitCode.BAD_INPUT,
            "Dowód wpłaty (--proof) dotyczy tylko przelewu.",
        ),
    ],
)
def test_a_bad_payment_is_one_clear_line_and_records_nothing(
    desk: Cli, args: list[str], exit_code: ExitCode, message: str
) -> None:
    base = {"--card": "1000009", "--location": "multimedia", "--method": "cash"}
    for flag, value in zip(args[::2], args[1::2], strict=False):
        base[flag] = value
    argv = [item for pair in base.items() for item in pair]
    argv += [a for a in args if a == "--proof"]
    code, out, err = desk("fines", "pay", *argv, NOW)
    assert code == exit_code
    assert message in err and out == ""
    assert "Traceback" not in err
    assert ledger(desk, "1000009")["locations"][0]["payments"] == []


def test_desk_events_and_their_refusals(desk: Cli) -> None:
    code, _, err = desk("loans", "return", "--barcode", "NOPE-1", NOW)
    assert (code, err.strip()) == (
        ExitCode.BAD_INPUT,
        "Błąd: Egzemplarz NOPE-1 nie jest wypożyczony.",
    )
    code, _, err = desk("loans", "return", "--barcode", "0000123401", "--card", "1000008", NOW)
    assert (code, err.strip()) == (
        ExitCode.BAD_INPUT,
        "Błąd: Egzemplarz 0000123401 nie jest wypożyczony przez kartę 1000008.",
    )
    # Held by someone else and renewed twice already.
    code, out, _ = desk("loans", "renew", "--barcode", "0000777701", NOW)
    assert (code, out.strip()) == (
        ExitCode.REFUSED,
        "Odmowa: ktoś zamówił ten egzemplarz, nie można go prolongować.",
    )
    code, out, _ = desk("loans", "hold", "--barcode", "0000777701", "--off", NOW)
    assert (code, out.strip()) == (ExitCode.OK, "Egzemplarz 0000777701: rezerwacja zdjęta.")
    code, out, _ = desk("loans", "renew", "--barcode", "0000777701", NOW)
    assert (code, out.strip()) == (
        ExitCode.REFUSED,
        "Odmowa: limit prolongat wykorzystany (2 z 2).",
    )
    # Not yet due, nothing owed: renewed by the location's period from the due date.
    desk(
        "fines",
        "pay",
        "--card",
        "1000007",
        "--location",
        "multimedia",
        "--amount",
        "2,10",
        "--method",
        "online",
        NOW,
    )
    code, out, _ = desk("loans", "renew", "--barcode", "FIZ-00077", NOW)
    assert code == ExitCode.OK
    assert out.splitlines()[0] == "Prolongata egzemplarza FIZ-00077 do 19 grudnia 2026 (2 z 2)."
    code, out, _ = desk("loans", "return", "--barcode", "0000123401", "--on", "2026-11-15", NOW)
    assert (code, out.strip()) == (
        ExitCode.REFUSED,
        "Odmowa: data zwrotu 2026-11-15 jest przed wpłatą za tę pozycję jako niezwróconą "
        "(2026-11-16).",
    )
    code, out, _ = desk("loans", "return", "--barcode", "0000123401", "--now=2026-11-18T12:00")
    assert code == ExitCode.OK
    assert out.splitlines() == [
        "Zwrot egzemplarza 0000123401 (karta 1000007) z dnia 18 listopada 2026: "
        "6 dni po terminie, opłata 1,80 zł.",
        "Saldo (Biblioteka Główna): 0,00 zł; konto bez blokady.",
    ]


def test_loans_import_reports_bad_rows_and_a_second_import_changes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("patrons", "import", str(FIXTURES / "patrons.csv"), NOW)[0] == ExitCode.OK
    export = tmp_path / "loans.csv"
    export.write_text(
        HEADER
        + "1000001;K-1;multimedia;2026-10-01;2026-11-10;;0;2;nie\n"  # 2: good
        + "1000099;K-2;multimedia;2026-10-01;2026-11-10;;0;2;nie\n"  # 3: unknown card
        + "1000001;K-3;mars;2026-10-01;2026-11-10;;0;2;nie\n"  # 4: unknown location
        + "1000001;K-4;multimedia;2026-10-01;31.02.2026;;0;2;nie\n"  # 5: no such day
        + "1000001;K-5;multimedia;2026-10-01;2026-09-01;;0;2;nie\n"  # 6: due before lent
        + "1000001;K-6;multimedia;2026-10-01;2026-11-10;2026-12-01;0;2;nie\n"  # 7: returned later
        + "1000001;K-7;multimedia;2026-10-01;2026-11-10;;3;2;nie\n"  # 8: renewals over limit
        + "1000001;K-8;multimedia;2026-10-01;2026-11-10;;0;2;może\n"  # 9: hold?
        + "1000001;K-1;multimedia;2026-10-01;2026-11-10;;0;2;nie\n"  # 10: repeated
        + "1000001;;multimedia;2026-10-01;2026-11-10;;0;2;nie\n"  # 11: no barcode
        + "1000001;K-9;w63;01.10.2026;10.11.2026;12.11.2026;1;3;tak\n",  # 12: good
        encoding="utf-8",
    )
    code, out, _ = cli("loans", "import", str(export), NOW)
    assert code == ExitCode.BAD_INPUT
    assert out.splitlines() == [
        "Wypożyczenia: nowych 2, zmienionych 0, bez zmian 0; odrzuconych wierszy: 9.",
        "  linia 3: card_number: nie ma czytelnika z kartą 1000099",
        "  linia 4: location: Nieznana lokalizacja „mars” (są: multimedia, w63, czytelnia-naukowa).",
        "  linia 5: due_on: „31.02.2026” to nie jest data (np. 2027-03-31 albo 31.03.2027)",
        "  linia 6: due_on: termin zwrotu przed datą wypożyczenia",
        "  linia 7: returned_on: zwrot przed wypożyczeniem albo w przyszłości",
        "  linia 8: renewals_used: 3 prolongat przy limicie 2",
        "  linia 9: on_hold: oczekiwano tak/nie (1/0), jest „może”",
        "  linia 10: to wypożyczenie powtórzone (pierwszy raz w linii 2)",
        "  linia 11: item_barcode: niepoprawny kod egzemplarza „”",
    ]
    before = ledger(cli, "1000001")
    assert before["outstanding_grosze"] == 6 * 30 + 2 * 50
    code, out, _ = cli("loans", "import", str(export), NOW)
    assert out.splitlines()[0] == (
        "Wypożyczenia: nowych 0, zmienionych 0, bez zmian 2; odrzuconych wierszy: 9."
    )
    assert ledger(cli, "1000001") == before

    # The library system records the return a day later: the fine stops at that day.
    export.write_text(
        HEADER + "1000001;K-1;multimedia;2026-10-01;2026-11-10;2026-11-13;0;2;nie\n",
        encoding="utf-8",
    )
    code, out, _ = cli("loans", "import", str(export), NOW)
    assert (code, out.splitlines()[0]) == (
        ExitCode.OK,
        "Wypożyczenia: nowych 0, zmienionych 1, bez zmian 0; odrzuconych wierszy: 0.",
    )
    assert ledger(cli, "1000001")["outstanding_grosze"] == 3 * 30 + 2 * 50


def test_bank_postings_count_once_however_often_they_are_listed(desk: Cli, tmp_path: Path) -> None:
    # 1000007 returns the kept book and declares a transfer for the whole main library.
    assert desk("loans", "return", "--barcode", "0000123401", NOW)[0] == ExitCode.OK
    code, out, _ = desk(
        "fines",
        "pay",
        "--card",
        "1000007",
        "--location",
        "multimedia",
        "--amount",
        "2,10",
        "--method",
        "transfer",
        "--now=2026-11-16T11:00",
    )
    assert code == ExitCode.OK
    assert out.startswith(
        "Zapisano przelew 2,10 zł (Biblioteka Główna): czeka na zaksięgowanie "
        "(zwykle do 19 listopada 2026)."
    )
    assert ledger(desk, "1000007")["blocked"] is True
    statement = tmp_path / "bank.csv"
    statement.write_text(
        "posting_id,posted_on,card_number,location,amount\n"
        'PKO/2026/11/0001,2026-11-18,1000007,multimedia,"2,10"\n'
        'PKO/2026/11/0001,2026-11-18,1000007,multimedia,"2,10"\n'
        'PKO/2026/11/0002,2026-11-18,1000007,czytelnia-naukowa,"0,30"\n'
        'PKO/2026/11/0003,2026-11-18,1000007,multimedia,"-2,10"\n'
        'PKO/2026/11/0004,2026-11-18,1000099,multimedia,"2,10"\n',
        encoding="utf-8",
    )
    code, out, _ = desk("fines", "post-transfers", str(statement), "--now=2026-11-18T12:00")
    assert code == ExitCode.BAD_INPUT
    assert out.splitlines() == [
        "Zaksięgowano przelewy: zgłoszone wcześniej 1, nowe 0; pominięte jako już policzone: 1; "
        "do wyjaśnienia: 3.",
        "  linia 3: przelew PKO/2026/11/0001 powtórzony w pliku (linia 2) — policzony raz",
        "  linia 4: przelew do wyjaśnienia przez bibliotekarza: Biblioteka Wydziału Fizyki: "
        "nie ma należności do zapłaty",
        "  linia 5: amount: kwota musi być większa od zera: „-2,10”",
        "  linia 6: Nie ma czytelnika z kartą 1000099.",
    ]
    after = ledger(desk, "1000007", "--now=2026-11-18T12:00")
    assert (after["outstanding_grosze"], after["blocked"]) == (0, False)
    code, out, _ = desk("fines", "post-transfers", str(statement), "--now=2026-11-19T12:00")
    assert out.splitlines()[0] == (
        "Zaksięgowano przelewy: zgłoszone wcześniej 0, nowe 0; pominięte jako już policzone: 2; "
        "do wyjaśnienia: 3."
    )
    glowna = ledger(desk, "1000007", "--now=2026-11-19T12:00")["locations"][0]
    assert [(p["amount_grosze"], p["counted"], p["posted_on"]) for p in glowna["payments"]] == [
        (210, True, "2026-11-18")
    ]
