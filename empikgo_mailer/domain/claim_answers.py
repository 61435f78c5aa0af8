"""What the catalogue shows a reader who pressed "Pobierz kod Legimi" (RULES.md section 4).

The two sentences of section 4 are the library's own words and are kept word for word.
Other refusals speak to the reader and say what to do next, without revealing more than
the account holder would see in their own account.
"""

from __future__ import annotations

from collections.abc import Mapping

from empikgo_mailer.domain.eligibility import Reason
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.domain.polish import month_genitive, month_locative

CODES_AVAILABLE = "Biblioteka posiada wolne kody dostępowe."
NO_FREE_CODES = (
    "Biblioteka nie posiada wolnych kodów dostępowych. Pobranie kodu będzie możliwe od "
    "pierwszego dnia roboczego kolejnego miesiąca, od godz. 10.00"
)
ONE_CODE_A_MONTH = (
    "Każdy Użytkownik może otrzymać w danym miesiącu tylko 1 kod do Empik Go lub 1 kod do Legimi."
)


def refusal_message(reason: Reason, details: Mapping[str, object]) -> str:
    match reason:
        case Reason.NO_CODES_LEFT | Reason.CLAIMS_NOT_OPEN:
            return NO_FREE_CODES
        case Reason.CARD_NOT_FOUND:
            return "Nie znaleziono konta czytelnika z tym numerem karty."
        case Reason.ACCOUNT_INACTIVE:
            return "Konto czytelnika jest nieaktywne. Prosimy o kontakt z biblioteką."
        case Reason.NAME_MISMATCH | Reason.SENDER_MISMATCH:
            return "Dane konta nie zgadzają się z prośbą. Prosimy o kontakt z biblioteką."
        case Reason.CONTACT_OUTDATED:
            return (
                "Dane kontaktowe na koncie wymagają aktualizacji. Po ich zaktualizowaniu "
                "w bibliotece kod będzie można pobrać."
            )
        case Reason.DEBT:
            return "Na koncie jest zadłużenie. Kod będzie można pobrać po jego uregulowaniu."
        case Reason.BANNED:
            cause, last = details.get("cause"), details.get("last")
            if isinstance(cause, Month) and isinstance(last, Month):
                return (
                    f"Kod wydany w {month_locative(cause)} nie został aktywowany, dlatego "
                    f"do końca {month_genitive(last)} nie możemy wydać kolejnego kodu."
                )
            return "Nieaktywowany kod blokuje wydanie kolejnych kodów przez 3 miesiące."
        case Reason.ALREADY_HAS_CODE:
            platform = details.get("platform")
            name = platform.display_name if isinstance(platform, Platform) else "e-bookowy"
            return f"Na to konto wydano już w tym miesiącu kod {name}. {ONE_CODE_A_MONTH}"
        case Reason.SERVICE_OFF:
            return "Wydawanie kodów Legimi jest obecnie wstrzymane."
