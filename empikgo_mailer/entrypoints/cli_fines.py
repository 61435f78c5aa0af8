"""Staff commands for loans and overdue fines: the library system's export, the desk's
returns, renewals and holds, payments, the bank's postings and a patron's ledger."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.errors import ExitCode
from empikgo_mailer.domain.fines import FineLedger, LoanState, LocationAccount, PaymentMethod
from empikgo_mailer.domain.money import format_pln
from empikgo_mailer.domain.polish import day_text, days_text
from empikgo_mailer.domain.timestamps import InvalidMoment, parse_day
from empikgo_mailer.entrypoints.cli_support import (
    CARD,
    ParsedType,
    ProgressBar,
    app_command,
    echo_columns,
    echo_json,
    echo_problems,
    json_fields,
    json_option,
)
from empikgo_mailer.entrypoints.click_pl import PolishGroup
from empikgo_mailer.handlers.fines import (
    FinesView,
    PayFine,
    PaymentResult,
    PostTransfers,
    ShowFines,
    amount_of,
)
from empikgo_mailer.handlers.loans import (
    HoldLoan,
    ImportLoans,
    LoanOutcome,
    RenewLoan,
    ReturnLoan,
)
from empikgo_mailer.handlers.patrons import BadRow

# An amount in PLN ('1,20', '1.2') as grosze; zero, negative or not a number fails.
AMOUNT = ParsedType("KWOTA", amount_of, BadRow)
DAY = ParsedType("DATA", parse_day, InvalidMoment)
card_option = click.option(
    "--card", "card_number", type=CARD, help="Numer karty czytelnika (dla pewności)."
)
patron_card_option = click.option(
    "--card", "card_number", type=CARD, required=True, help="Numer karty."
)
barcode_option = click.option(
    "--barcode", metavar="KOD", required=True, help="Kod kreskowy egzemplarza."
)


@click.group(cls=PolishGroup)
def loans() -> None:
    """Wypożyczenia: import z systemu bibliotecznego, zwroty, prolongaty, rezerwacje."""


@loans.command("import")
@click.argument("file", metavar="PLIK", type=click.Path(path_type=Path))
@app_command
def loans_import(app: App, now: datetime, file: Path) -> int:
    """Wczytaj wypożyczenia z arkusza .xlsx albo CSV (aktualizacja po karcie, egzemplarzu
    i dacie).

    Kolumny: numer karty, kod kreskowy, lokalizacja, data wypożyczenia, termin zwrotu,
    data zwrotu, prolongaty, limit prolongat, rezerwacja (nagłówki polskie albo
    card_number, item_barcode, location, borrowed_on, due_on, returned_on, renewals_used,
    renewal_limit, on_hold; inne nazwy: [import_columns.loans] w konfiguracji).
    Daty RRRR-MM-DD albo DD.MM.RRRR.
    """
    with ProgressBar("Wczytywanie wypożyczeń") as bar:
        report = app.handle(ImportLoans(file, actor="cli"), now=now, progress=bar)
    echo_columns(report.columns)
    click.echo(
        f"Wypożyczenia: nowych {report.created}, zmienionych {report.updated}, "
        f"bez zmian {report.unchanged}; odrzuconych wierszy: {len(report.rejected)}."
    )
    return echo_problems(report.rejected)


def _echo_loan_outcome(outcome: LoanOutcome) -> None:
    click.echo(
        f"Saldo ({outcome.location.name}): {format_pln(outcome.location_balance_grosze)}; "
        + ("konto zablokowane." if outcome.account_blocked else "konto bez blokady.")
    )


@loans.command("return")
@barcode_option
@card_option
@click.option("--on", "returned_on", type=DAY, help="Dzień zwrotu (domyślnie dziś).")
@app_command
def loans_return(
    app: App, now: datetime, barcode: str, card_number: str | None, returned_on: date | None
) -> int:
    """Zapisz zwrot egzemplarza; opłata za przetrzymanie przestaje rosnąć."""
    outcome = app.handle(ReturnLoan(barcode, card_number, returned_on, actor="cli"), now=now)
    loan = outcome.loan
    late = loan.charged_days(outcome.today)
    ending = (
        f": {days_text(late)} po terminie, opłata {format_pln(loan.fine(outcome.today))}."
        if late
        else " w terminie."
    )
    click.echo(
        f"Zwrot egzemplarza {loan.barcode} (karta {outcome.card_number}) "
        f"z dnia {day_text(loan.returned_on or outcome.today)}{ending}"
    )
    _echo_loan_outcome(outcome)
    return ExitCode.OK


@loans.command("renew")
@barcode_option
@card_option
@click.option("--until", type=DAY, help="Nowy termin (domyślnie okres z konfiguracji).")
@app_command
def loans_renew(
    app: App, now: datetime, barcode: str, card_number: str | None, until: date | None
) -> int:
    """Prolonguj egzemplarz (nie, gdy ktoś go zamówił, limit jest wykorzystany albo konto
    jest zablokowane)."""
    outcome = app.handle(RenewLoan(barcode, card_number, until, actor="cli"), now=now)
    loan = outcome.loan
    click.echo(
        f"Prolongata egzemplarza {loan.barcode} do {day_text(loan.due_on)} "
        f"({loan.renewals_used} z {loan.renewal_limit})."
    )
    _echo_loan_outcome(outcome)
    return ExitCode.OK


@loans.command("hold")
@barcode_option
@click.option("--off", is_flag=True, help="Zdejmij rezerwację.")
@app_command
def loans_hold(app: App, now: datetime, barcode: str, off: bool) -> int:
    """Zaznacz, że inny czytelnik zamówił wypożyczony egzemplarz (albo zdejmij --off)."""
    outcome = app.handle(HoldLoan(barcode, on_hold=not off, actor="cli"), now=now)
    if off:
        click.echo(f"Egzemplarz {outcome.loan.barcode}: rezerwacja zdjęta.")
    else:
        click.echo(
            f"Egzemplarz {outcome.loan.barcode} zamówiony: bez prolongaty i bez dodatkowych "
            "dni po wpłacie online."
        )
    return ExitCode.OK


@click.group(cls=PolishGroup)
def fines() -> None:
    """Opłaty za przetrzymanie: wpłaty, przelewy z banku, stan konta czytelnika."""


@fines.command("pay")
@patron_card_option
@click.option("--location", "location_id", metavar="LOKALIZACJA", required=True, help="Biblioteka.")
@click.option("--amount", type=AMOUNT, required=True, help="Kwota, np. 1,20.")
@click.option(
    "--method",
    type=click.Choice([m.value for m in PaymentMethod]),
    required=True,
    help="online, transfer (przelew) albo cash (gotówka).",
)
@click.option("--proof", is_flag=True, help="Bibliotekarz widział dowód przelewu.")
@app_command
def fines_pay(
    app: App,
    now: datetime,
    card_number: str,
    location_id: str,
    amount: int,
    method: str,
    proof: bool,
) -> int:
    """Zapisz wpłatę za jedną bibliotekę (kod 0: przyjęta, 3: odmowa)."""
    result = app.handle(
        PayFine(card_number, location_id, amount, PaymentMethod(method), proof, actor="cli"),
        now=now,
    )
    if result.refusal is not None:
        click.echo(f"Odmowa: {result.refusal}.")
        return ExitCode.REFUSED
    _echo_payment(result)
    return ExitCode.OK


def _echo_payment(result: PaymentResult) -> None:
    assert result.ledger is not None
    place = result.location.name
    amount = format_pln(result.amount_grosze)
    if not result.counted:
        assert result.expected_by is not None
        click.echo(
            f"Zapisano przelew {amount} ({place}): czeka na zaksięgowanie "
            f"(zwykle do {day_text(result.expected_by)}). Do tego czasu należność pozostaje."
        )
    else:
        click.echo(f"Przyjęto wpłatę ({result.method.label}) {amount} — {place}.")
    for loan in result.settled:
        if loan.grace_until is not None:
            click.echo(
                f"Egzemplarz {loan.barcode}: 3 dodatkowe dni na zwrot lub prolongatę, "
                f"do {day_text(loan.grace_until)}."
            )
    account = result.ledger.account(result.location)
    click.echo(f"Saldo ({place}): {format_pln(account.balance_grosze)}.")
    _echo_account_state(result.ledger)


def _echo_account_state(ledger: FineLedger) -> None:
    if ledger.blocked or ledger.outstanding_grosze:
        why = ledger.explanation()
        click.echo(
            f"Razem do zapłaty: {format_pln(ledger.outstanding_grosze)}; "
            + ("konto zablokowane" if ledger.blocked else "konto z zaległością")
            + (f" — {why}." if why else ".")
        )
    else:
        click.echo("Konto bez zadłużenia i bez blokady.")


@fines.command("post-transfers")
@click.argument("file", metavar="PLIK", type=click.Path(path_type=Path))
@app_command
def fines_post_transfers(app: App, now: datetime, file: Path) -> int:
    """Zaksięguj przelewy z wyciągu banku (każdy identyfikator przelewu liczy się raz).

    Kolumny: posting_id, posted_on, card_number, location, amount (CSV albo arkusz .xlsx).
    """
    report = app.handle(PostTransfers(file, actor="cli"), now=now)
    click.echo(
        f"Zaksięgowano przelewy: zgłoszone wcześniej {report.matched}, nowe {report.recorded}; "
        f"pominięte jako już policzone: {len(report.repeated)}; "
        f"do wyjaśnienia: {len(report.rejected)}."
    )
    echo_problems(report.repeated)
    return echo_problems(report.rejected)


@fines.command("show")
@patron_card_option
@json_option
@app_command
def fines_show(app: App, now: datetime, card_number: str, as_json: bool) -> int:
    """Pokaż opłaty czytelnika w każdej bibliotece: przetrzymania, wpłaty, saldo, blokadę."""
    view = app.handle(ShowFines(card_number), now=now)
    if as_json:
        echo_json(fines_document(view))
    else:
        _echo_fines(view)
    return ExitCode.OK


def _loan_line(loan: LoanState, today: date) -> str:
    days = loan.charged_days(today)
    state = (
        f"zwrócony {day_text(loan.returned_on)}" if loan.returned_on is not None else "niezwrócony"
    )
    text = (
        f"  egz. {loan.barcode}: wypożyczony {day_text(loan.borrowed_on)}, "
        f"termin {day_text(loan.due_on)}, {state}"
    )
    if days:
        text += f"; {days_text(days)} po terminie: {format_pln(loan.fine(today))}"
    if loan.blocks(today):
        text += " — blokuje konto"
    elif loan.in_grace(today) and loan.grace_until is not None:
        text += f" — dodatkowe dni do {day_text(loan.grace_until)}"
    return text


def _echo_account(account: LocationAccount) -> None:
    state = f"konto zablokowane: {account.why_blocked()}" if account.blocked else "rozliczona"
    click.echo(f"{account.location.name} — saldo {format_pln(account.balance_grosze)}, {state}")
    for loan in account.loans:
        click.echo(_loan_line(loan, account.today))
    for payment in account.payments:
        line = (
            f"  wpłata {day_text(payment.made_on)}, {payment.method.label}: "
            f"{format_pln(payment.amount_grosze)}"
        )
        if payment.posted_on is not None:
            line += f", zaksięgowana {day_text(payment.posted_on)}"
        elif payment.proof:
            line += ", potwierdzona dowodem wpłaty"
        elif not payment.counted and payment.expected_by is not None:
            line += f", czeka na zaksięgowanie (zwykle do {day_text(payment.expected_by)})"
        click.echo(line)


def _echo_fines(view: FinesView) -> None:
    ledger = view.ledger
    click.echo(f"Karta {view.card_number} — {view.name}, stan na {day_text(ledger.today)}:")
    if not ledger.accounts and not ledger.opening_balance_grosze:
        click.echo("Brak wypożyczeń i opłat.")
        return
    for account in ledger.accounts:
        _echo_account(account)
    if ledger.opening_balance_grosze:
        click.echo(
            "Saldo przeniesione z poprzedniego systemu: "
            f"{format_pln(ledger.opening_balance_grosze)}"
        )
    _echo_account_state(ledger)


def fines_document(view: FinesView) -> dict[str, Any]:
    """`fines show --json`: the same facts as the text, in grosze and ISO dates."""
    ledger = view.ledger
    today = ledger.today
    return {
        "card": view.card_number,
        **json_fields(ledger, "today outstanding_grosze opening_balance_grosze blocked"),
        "why": ledger.explanation(),
        "locations": [
            {
                **json_fields(account.location, "id name accepts_transfers"),
                **json_fields(
                    account, "fines_grosze paid_grosze pending_grosze balance_grosze blocked"
                ),
                "why": account.why_blocked() or None,
                "loans": [
                    {
                        **json_fields(loan, "barcode borrowed_on due_on returned_on"),
                        "days_overdue": loan.charged_days(today),
                        "fine_grosze": loan.fine(today),
                        "blocks": loan.blocks(today),
                        **json_fields(loan if loan.in_grace(today) else None, "grace_until"),
                        **json_fields(loan, "on_hold renewals_used renewal_limit"),
                    }
                    for loan in account.loans
                ],
                "payments": [
                    json_fields(
                        payment, "method amount_grosze counted made_on expected_by posted_on proof"
                    )
                    for payment in account.payments
                ],
            }
            for account in ledger.accounts
        ],
    }
