"""Polish explanations of eligibility results, for staff at the desk and in `check`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from empikgo_mailer.domain.eligibility import Reason, Rule, RuleResult, Verdict
from empikgo_mailer.domain.money import format_pln
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Channel, Platform
from empikgo_mailer.domain.polish import day_text, moment_text, month_genitive, month_name

RULE_LABELS = {
    Rule.ACCOUNT: "Karta istnieje, konto aktywne",
    Rule.NAME: "Imię i nazwisko zgodne z kontem",
    Rule.SENDER: "Nadawca to adres e-mail z konta",
    Rule.CONTACT: "Aktualne dane kontaktowe",
    Rule.DEBT: "Brak zadłużenia",
    Rule.BAN: "Brak blokady za nieaktywowany kod",
    Rule.MONTHLY_LIMIT: "Brak kodu w tym miesiącu",
    Rule.SERVICE: "Usługa włączona",
    Rule.POOL: "Wolny kod w puli",
}
VERDICT_LABELS = {Verdict.PASS: "TAK", Verdict.FAIL: "NIE", Verdict.NOT_CHECKED: "—"}
# Short Polish names of every outcome of a request, for staff (`status`).
OUTCOME_LABELS = {
    "issued": "wydano kod",
    "written-before-first": "przed 1. dniem miesiąca",
    "card-missing": "brak numeru karty",
    "too-large": "za duża wiadomość",
    "automatic": "poczta automatyczna",
    "rate-limited": "limit odpowiedzi",
    "repeat": "kolejna prośba tego samego dnia",
    "stranger": "nadawca spoza kartoteki (odpowiedź neutralna)",
    "unanswered": "nadawca spoza kartoteki, bez odpowiedzi (limit godzinowy)",
    "no-sender": "brak poprawnego nadawcy",
    "failed": "błąd (dla obsługi)",
    "duplicate": "kopia wcześniejszej prośby",
    "dismissed": "zamknięta bez odpowiedzi",
    Reason.CARD_NOT_FOUND.value: "nieznana karta",
    Reason.ACCOUNT_INACTIVE.value: "konto nieaktywne",
    Reason.NAME_MISMATCH.value: "inne imię i nazwisko",
    Reason.SENDER_MISMATCH.value: "inny nadawca",
    Reason.CONTACT_OUTDATED.value: "nieaktualne dane",
    Reason.DEBT.value: "zadłużenie",
    Reason.BANNED.value: "blokada",
    Reason.ALREADY_HAS_CODE.value: "już ma kod",
    Reason.SERVICE_OFF.value: "usługa wyłączona",
    Reason.NO_CODES_LEFT.value: "brak kodów",
    Reason.CLAIMS_NOT_OPEN.value: "jeszcze nie wydajemy",
}
CHANNEL_LABELS = {
    Channel.EMAIL: "e-mailem",
    Channel.DESK: "w placówce",
    Channel.SELF_SERVICE: "z konta czytelnika",
}


def _as_date(value: object) -> str:
    if isinstance(value, datetime):
        return moment_text(value)
    if isinstance(value, date):
        return day_text(value)
    return "nigdy"


def _month(value: object, words: Callable[[Month], str]) -> str:
    return words(value) if isinstance(value, Month) else "?"


def _platform(value: object) -> str:
    return value.display_name if isinstance(value, Platform) else str(value)


def explain_refusal(reason: Reason, details: dict[str, object]) -> str:
    """One Polish sentence that tells staff why a code cannot be given."""
    match reason:
        case Reason.CARD_NOT_FOUND:
            return "Nie ma czytelnika z takim numerem karty."
        case Reason.ACCOUNT_INACTIVE:
            return "Konto czytelnika jest nieaktywne."
        case Reason.NAME_MISMATCH:
            return "Imię i nazwisko nie zgadzają się z danymi na koncie."
        case Reason.SENDER_MISMATCH:
            return "Wiadomość przyszła z innego adresu niż adres e-mail zapisany na koncie."
        case Reason.CONTACT_OUTDATED:
            return (
                f"Dane kontaktowe potwierdzono dawniej niż {details.get('max_age_months')} "
                f"mies. temu (ostatnio: {_as_date(details.get('confirmed_on'))})."
            )
        case Reason.DEBT:
            owed = details.get("outstanding_grosze")
            text = "Na koncie jest zadłużenie"
            if isinstance(owed, int) and owed > 0:
                text += f": {format_pln(owed)}"
            if details.get("blocked"):
                text += "; konto zablokowane"
            why = details.get("why")
            return text + (f" — {why}." if why else ".")
        case Reason.BANNED:
            return (
                f"Blokada do końca {_month(details.get('last'), month_genitive)} za kod "
                f"z miesiąca {_month(details.get('cause'), month_name)}, "
                "który nie został aktywowany."
            )
        case Reason.ALREADY_HAS_CODE:
            channel = details.get("channel")
            how = CHANNEL_LABELS[channel] if isinstance(channel, Channel) else "?"
            return (
                f"Czytelnik otrzymał już w tym miesiącu kod {_platform(details.get('platform'))} "
                f"({how}, {_as_date(details.get('issued_at'))})."
            )
        case Reason.SERVICE_OFF:
            return f"Usługa {_platform(details.get('platform'))} jest wyłączona."
        case Reason.NO_CODES_LEFT:
            return f"Brak wolnych kodów w puli na {_month(details.get('month'), month_name)}."
        case Reason.CLAIMS_NOT_OPEN:
            return f"Kody na ten miesiąc można wydawać od {_as_date(details.get('opens_at'))}."


def explain(result: RuleResult) -> str:
    """The line `check` prints after a rule's label."""
    details = dict(result.details)
    if result.reason is not None:
        return explain_refusal(result.reason, details)
    if result.verdict is Verdict.NOT_CHECKED:
        by_branch = details.get("by_branch")
        if isinstance(by_branch, dict) and by_branch:
            counts = ", ".join(f"{branch}: {free}" for branch, free in by_branch.items())
            return f"każda placówka ma własną pulę (podaj --branch); wolnych kodów — {counts}"
        return "nie sprawdzano"
    match result.rule:
        case Rule.CONTACT:
            return f"potwierdzone {_as_date(details.get('confirmed_on'))}"
        case Rule.POOL if details.get("claimed"):
            return "kod pobrany z puli"
        case Rule.POOL:
            return f"wolnych kodów: {details.get('free_codes')}"
        case _:
            return "w porządku"


def rule_rows(results: tuple[RuleResult, ...]) -> list[dict[str, str]]:
    """Each rule with its verdict and why, in Polish, as the request page shows them
    (kept with a mail decision: the facts behind it change later)."""
    return [
        {
            "rule": RULE_LABELS[result.rule],
            "verdict": VERDICT_LABELS[result.verdict],
            "why": explain(result),
        }
        for result in results
    ]
