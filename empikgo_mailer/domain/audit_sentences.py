"""The audit trail in Polish: every recorded action as a sentence a librarian reads.

The trail stores machine words (`pay-fine`, `amount_grosze: 120`); the console shows
"Przyjęto wpłatę 1,20 zł gotówką od czytelnika z kartą 1000012 (Dzielnicowa Wypożyczalnia
Multimedialna)." Staff accounts carry a login, not a name or a gender, so the sentences use
the impersonal past ("przyjęto", "wydano") and say who in their own column. Codes are
vouchers: a sentence never names one, not even by its id."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from empikgo_mailer.domain.explanations import OUTCOME_LABELS
from empikgo_mailer.domain.money import format_pln
from empikgo_mailer.domain.month import Month
from empikgo_mailer.domain.polish import month_name

MONTHS_SHORT = ("sty", "lut", "mar", "kwi", "maj", "cze", "lip", "sie", "wrz", "paź", "lis", "gru")


@dataclass(frozen=True)
class AuditNames:
    """The library's own names for the ids the trail stores."""

    platforms: Mapping[str, str] = field(default_factory=dict)
    branches: Mapping[str, str] = field(default_factory=dict)
    locations: Mapping[str, str] = field(default_factory=dict)

    def platform(self, value: object) -> str:
        return self.platforms.get(str(value), str(value or "?"))

    def branch(self, value: object) -> str:
        return self.branches.get(str(value), str(value)) if value else ""

    def location(self, value: object) -> str:
        return self.locations.get(str(value), str(value)) if value else ""


@dataclass(frozen=True)
class AuditEntry:
    action: str
    outcome: str
    card_number: str | None
    details: Mapping[str, object]

    def number(self, key: str) -> int:
        value = self.details.get(key)
        return value if isinstance(value, int) else 0

    def text(self, key: str) -> str:
        value = self.details.get(key)
        return "" if value is None else str(value)


Sentence = Callable[[AuditEntry, AuditNames], str]

# What was said to a reader or about a request, as the status page says it.
_OUTCOMES = {
    **OUTCOME_LABELS,
    "done": "wykonano",
    "refused": "odmowa",
    "throttled": "zablokowano",
    "counted": "zaliczono",
    "pending": "czeka na zaksięgowanie",
}
_CHANNELS = {"email": "e-mailem", "desk": "w placówce", "self-service": "przez konto czytelnika"}
_METHODS = {"cash": "gotówką", "transfer": "przelewem", "online": "online"}
_ROLES = {"librarian": "bibliotekarz", "head": "kierownik", "admin": "administrator"}


def outcome_text(outcome: str) -> str:
    return _OUTCOMES.get(outcome, outcome)


def _reader(entry: AuditEntry, ending: str) -> str:
    card = entry.card_number
    return f"czytelnik{ending} " + (f"z kartą {card}" if card else "bez numeru karty")


def _to_reader(entry: AuditEntry) -> str:
    return _reader(entry, "owi")


def _of_reader(entry: AuditEntry) -> str:
    return _reader(entry, "a")


def _place(name: str) -> str:
    return f" ({name})" if name else ""


def _branch(entry: AuditEntry, names: AuditNames) -> str:
    return _place(names.branch(entry.details.get("branch")))


def _location(entry: AuditEntry, names: AuditNames) -> str:
    return _place(names.location(entry.details.get("location")))


def _file(entry: AuditEntry) -> str:
    return f"„{entry.text('file')}”" if entry.text("file") else "(bez nazwy)"


def _month(entry: AuditEntry) -> str:
    try:
        return month_name(Month.parse(entry.text("month")))
    except ValueError:
        return entry.text("month") or "?"


def _counts(entry: AuditEntry, *labels: tuple[str, str]) -> str:
    return ", ".join(f"{label} {entry.number(key)}" for key, label in labels)


def _request(entry: AuditEntry) -> str:
    number = entry.text("request")
    return f"Wiadomość odłożona dla obsługi nr {number}" if number else "Wiadomość odłożona"


def _give_code(entry: AuditEntry, names: AuditNames) -> str:
    platform = names.platform(entry.details.get("platform"))
    channel = _CHANNELS.get(entry.text("channel"), entry.text("channel"))
    place = _branch(entry, names)
    if entry.outcome == "issued":
        return f"Wydano kod {platform} {_to_reader(entry)} {channel}{place}."
    return (
        f"Odmówiono kodu {platform} {_to_reader(entry)} {channel}{place}: "
        f"{outcome_text(entry.outcome)}."
    )


def _set_aside_give(entry: AuditEntry, names: AuditNames) -> str:
    card = entry.card_number or "?"
    if entry.outcome == "issued":
        return f"{_request(entry)}{_branch(entry, names)}: wydano kod na kartę {card}."
    return (
        f"{_request(entry)}{_branch(entry, names)}: nie wydano kodu na kartę {card} "
        f"({outcome_text(entry.outcome)}); wiadomość czeka dalej."
    )


def _set_aside_refuse(entry: AuditEntry, names: AuditNames) -> str:
    return (
        f"{_request(entry)}{_branch(entry, names)}: wysłano odmowę „{outcome_text(entry.outcome)}”."
    )


def _set_aside_dismiss(entry: AuditEntry, names: AuditNames) -> str:
    return f"{_request(entry)}{_branch(entry, names)}: zamknięto bez odpowiedzi."


def _send_again(entry: AuditEntry, names: AuditNames) -> str:
    return f"Odpowiedź nr {entry.text('reply')} wróciła do kolejki wysyłki{_branch(entry, names)}."


def _replies_retry(entry: AuditEntry, names: AuditNames) -> str:
    where = names.branch(entry.details.get("branch")) or "wszystkie filie"
    counts = _counts(entry, ("waiting", "czekające"), ("failed", "niewysłane wcześniej"))
    return f"Ponowiono wysyłkę odpowiedzi ({where}): {counts}."


def _code_send_again(entry: AuditEntry, names: AuditNames) -> str:
    return f"Wysłano ponownie niedoręczony kod {_to_reader(entry)}{_branch(entry, names)}."


def _code_return(entry: AuditEntry, names: AuditNames) -> str:
    reason = entry.text("reason")
    why = f" Powód niedoręczenia: {reason[:200]}" if reason else ""
    if why and not why.endswith("."):
        why += "."
    return (
        f"Zwrócono niedoręczony kod {_of_reader(entry)} za {_month(entry)}"
        f"{_branch(entry, names)}.{why}"
    )


def _pay_fine(entry: AuditEntry, names: AuditNames) -> str:
    amount = format_pln(entry.number("amount_grosze"))
    method = _METHODS.get(entry.text("method"), entry.text("method"))
    rest = f"{amount} {method} od {_of_reader(entry)}{_location(entry, names)}"
    match entry.outcome:
        case "counted" | "done":
            return f"Przyjęto wpłatę {rest}."
        case "pending":
            return f"Zapisano wpłatę {rest}; czeka na zaksięgowanie."
        case "refused" if entry.details.get("desk_branch"):
            desk = names.branch(entry.text("desk_branch"))
            return f"Nie przyjęto wpłaty {rest}: tej biblioteki nie obsługuje placówka {desk}."
        case "refused":
            return f"Nie przyjęto wpłaty {rest}."
    return f"Wpłata {rest}: {outcome_text(entry.outcome)}."


def _post_transfers(entry: AuditEntry, names: AuditNames) -> str:
    counts = _counts(
        entry,
        ("matched", "dopasowane"),
        ("recorded", "zapisane"),
        ("repeated", "powtórzone"),
        ("rejected", "odrzucone"),
    )
    return f"Zaksięgowano wyciąg bankowy {_file(entry)}: {counts}."


def _loan(verb: str) -> Sentence:
    def sentence(entry: AuditEntry, names: AuditNames) -> str:
        barcode = entry.text("barcode") or "?"
        return verb.format(barcode=barcode, reader=_of_reader(entry)) + (
            f"{_location(entry, names)}."
        )

    return sentence


def _import(what: str, *labels: tuple[str, str]) -> Sentence:
    def sentence(entry: AuditEntry, names: AuditNames) -> str:
        return f"Wczytano {what} z pliku {_file(entry)}: {_counts(entry, *labels)}."

    return sentence


def _import_codes(entry: AuditEntry, names: AuditNames) -> str:
    platform = names.platform(entry.details.get("platform"))
    place = names.branch(entry.details.get("branch")) or "cała biblioteka"
    counts = _counts(entry, ("loaded", "wczytane kody"), ("refused", "odrzucone linie"))
    return (
        f"Wczytano pulę {platform} na {_month(entry)} ({place}) z pliku {_file(entry)}: {counts}."
    )


def _import_activations(entry: AuditEntry, names: AuditNames) -> str:
    platform = names.platform(entry.details.get("platform"))
    counts = _counts(
        entry,
        ("recorded", "nowe"),
        ("already_known", "znane wcześniej"),
        ("bans_lifted", "zdjęte blokady"),
        ("unknown", "nieznane kody"),
        ("refused", "odrzucone linie"),
    )
    return f"Wczytano raport aktywacji {platform} z pliku {_file(entry)}: {counts}."


def _close_month(entry: AuditEntry, names: AuditNames) -> str:
    counts = _counts(
        entry,
        ("lapsed", "niewykorzystane kody"),
        ("expired", "nieaktywowane kody"),
        ("banned", "nowe blokady"),
        ("undelivered", "niedoręczone kody"),
    )
    return f"Zamknięto miesiąc {_month(entry)}: {counts}."


def _service_on(entry: AuditEntry, names: AuditNames) -> str:
    return f"Włączono usługę {names.platform(entry.details.get('platform'))}."


def _service_off(entry: AuditEntry, names: AuditNames) -> str:
    reason = entry.text("reason")
    why = f"; powód: „{reason}”" if reason else ""
    return f"Wyłączono usługę {names.platform(entry.details.get('platform'))}{why}."


def _staff_add(entry: AuditEntry, names: AuditNames) -> str:
    role = _ROLES.get(entry.text("role"), entry.text("role"))
    branch = names.branch(entry.details.get("branch"))
    return f"Założono konto „{entry.text('login')}”: {role}{', ' + branch if branch else ''}."


def _staff(verb: str) -> Sentence:
    def sentence(entry: AuditEntry, names: AuditNames) -> str:
        return f"{verb} konta „{entry.text('login')}”."

    return sentence


def _login(entry: AuditEntry, names: AuditNames) -> str:
    return {
        "done": "Zalogowano do konsoli.",
        "refused": "Nieudana próba logowania (zły login lub hasło).",
        "throttled": "Odmowa logowania: zbyt wiele nieudanych prób z tego adresu.",
    }.get(entry.outcome, f"Logowanie: {outcome_text(entry.outcome)}.")


# Every action the trail records: its short name for the filter, and its sentence.
ACTIONS: dict[str, tuple[str, Sentence]] = {
    "give-code": ("wydanie kodu", _give_code),
    "set-aside-give": ("odłożone: wydanie kodu", _set_aside_give),
    "set-aside-refuse": ("odłożone: odmowa", _set_aside_refuse),
    "set-aside-dismiss": ("odłożone: zamknięcie", _set_aside_dismiss),
    "send-again": ("ponowna wysyłka odpowiedzi", _send_again),
    "replies-retry": ("ponowienie wysyłki odpowiedzi", _replies_retry),
    "code-send-again": ("ponowna wysyłka kodu", _code_send_again),
    "code-return": ("zwrot niedoręczonego kodu", _code_return),
    "pay-fine": ("wpłata", _pay_fine),
    "post-transfers": ("wyciąg bankowy", _post_transfers),
    "return-loan": ("zwrot egzemplarza", _loan("Przyjęto zwrot egzemplarza {barcode} od {reader}")),
    "renew-loan": (
        "prolongata",
        _loan("Prolongowano wypożyczenie egzemplarza {barcode} {reader}"),
    ),
    "hold-loan": (
        "zamówienie egzemplarza",
        _loan("Oznaczono egzemplarz {barcode} {reader} jako zamówiony przez innego czytelnika"),
    ),
    "release-hold": (
        "zdjęcie zamówienia",
        _loan("Zdjęto zamówienie z egzemplarza {barcode} {reader}"),
    ),
    "import-patrons": (
        "wczytanie czytelników",
        _import(
            "czytelników", ("created", "nowi"), ("updated", "zmienieni"), ("rejected", "odrzuceni")
        ),
    ),
    "import-loans": (
        "wczytanie wypożyczeń",
        _import(
            "wypożyczenia", ("created", "nowe"), ("updated", "zmienione"), ("rejected", "odrzucone")
        ),
    ),
    "import-codes": ("wczytanie puli kodów", _import_codes),
    "import-activations": ("wczytanie raportu aktywacji", _import_activations),
    "close-month": ("zamknięcie miesiąca", _close_month),
    "service-on": ("włączenie usługi", _service_on),
    "service-off": ("wyłączenie usługi", _service_off),
    "staff-add": ("nowe konto", _staff_add),
    "staff-passwd": ("zmiana hasła", _staff("Zmieniono hasło")),
    "staff-disable": ("wyłączenie konta", _staff("Wyłączono")),
    "login": ("logowanie", _login),
}


def action_label(action: str) -> str:
    known = ACTIONS.get(action)
    return known[0] if known is not None else action


def sentence(entry: AuditEntry, names: AuditNames) -> str:
    """One Polish sentence of what happened; an action this module does not know (a newer
    program wrote it) still reads as its name and outcome."""
    known = ACTIONS.get(entry.action)
    if known is None:
        return f"Działanie „{entry.action}”: {outcome_text(entry.outcome)}."
    return known[1](entry, names)


def actor_text(actor: str, names: AuditNames) -> str:
    """Who: a staff login as it is, and the program's own doors in words."""
    kind, _, rest = actor.partition(":")
    match kind:
        case "staff":
            return rest
        case "mail":
            return f"poczta ({names.branch(rest) or rest})"
        case "desk":
            return f"placówka, wiersz poleceń ({names.branch(rest) or rest})"
    return {
        "cli": "wiersz poleceń",
        "system": "system",
        "scheduler": "harmonogram",
        "bank": "bank",
        "catalogue": "katalog (konto czytelnika)",
    }.get(actor, actor)


def moment_short(at: datetime) -> str:
    """'2 lis 2026, 10:03': one line in a table (the caller passes a local time)."""
    return f"{at.day} {MONTHS_SHORT[at.month - 1]} {at.year}, {at:%H:%M}"
