"""The column names library systems export, mapped to the names our imports use.

Exports from Polish library systems (and spreadsheets staff edit) name the same column in
many ways: `Numer karty`, `Nr karty`, `card_number`. A header is matched after folding
case, spaces, dashes and Polish letters (`Imię` = `imie` = `IMIE`), first by the
library's own mapping from the configuration (`[import_columns.patrons]`), then by the
names below. Every import says which column it took for which field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

_SEPARATORS = re.compile(r"[\s_\-./]+")


def fold(name: str) -> str:
    """`Data potwierdzenia  danych` -> `data_potwierdzenia_danych`; `Imię` -> `imie`."""
    text = name.strip().strip("\ufeff").strip().casefold().replace("ł", "l")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _SEPARATORS.sub("_", text).strip("_")


def _table(names: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {fold(alias): field for field, aliases in names.items() for alias in (field, *aliases)}


_PATRON_NAMES: dict[str, tuple[str, ...]] = {
    "card_number": ("numer karty", "nr karty", "karta", "numer czytelnika", "card"),
    "first_name": ("imię", "imie czytelnika", "first name", "given name"),
    "last_name": ("nazwisko", "last name", "surname", "family name"),
    "email": ("e-mail", "adres e-mail", "adres email", "mail", "email address"),
    "active": ("aktywny", "aktywne", "konto aktywne", "status konta", "aktywność"),
    "contact_confirmed_on": (
        "data potwierdzenia danych",
        "dane potwierdzone",
        "potwierdzenie danych",
        "data aktualizacji danych",
        "dane aktualne od",
        "contact confirmed",
    ),
    "balance": ("saldo", "należność", "zadłużenie", "opłaty", "do zapłaty", "debt"),
}
_LOAN_NAMES: dict[str, tuple[str, ...]] = {
    "card_number": ("numer karty", "nr karty", "karta", "numer czytelnika", "card"),
    "item_barcode": (
        "kod kreskowy",
        "kod egzemplarza",
        "numer egzemplarza",
        "nr egzemplarza",
        "numer inwentarza",
        "nr inwentarza",
        "barcode",
    ),
    "location": ("lokalizacja", "placówka", "filia", "agenda", "wypożyczalnia", "branch"),
    "borrowed_on": ("data wypożyczenia", "wypożyczono", "loan date", "borrowed"),
    "due_on": ("termin zwrotu", "data zwrotu planowana", "zwrot do", "due date", "due"),
    "returned_on": ("data zwrotu", "zwrócono", "return date", "returned"),
    "renewals_used": ("prolongaty", "liczba prolongat", "prolongat wykorzystanych", "renewals"),
    "renewal_limit": ("limit prolongat", "prolongat dozwolonych", "max renewals"),
    "on_hold": ("rezerwacja", "zarezerwowane", "zamówione", "hold", "reserved"),
}
# The fields each import needs, in the order our own exports write them.
PATRON_FIELDS = tuple(_PATRON_NAMES)
LOAN_FIELDS = tuple(_LOAN_NAMES)
PATRON_COLUMNS = _table(_PATRON_NAMES)
LOAN_COLUMNS = _table(_LOAN_NAMES)


# What a librarian calls each field, for messages about a column the file lacks.
_LABELS = {field: aliases[0] for field, aliases in (_PATRON_NAMES | _LOAN_NAMES).items()}


def label(field: str) -> str:
    """`first_name` -> `imię`; a field without a Polish name is named as it is."""
    return _LABELS.get(field, field)


def header_of(field: str, found: Mapping[str, str]) -> str:
    """The header the librarian's file gives `field` (`found`: field -> header), else the
    field's Polish name: a row's problem names the column as the file does."""
    return found.get(field) or label(field)


def with_library_names(known: Mapping[str, str], library: Mapping[str, str]) -> dict[str, str]:
    """The built-in names plus the configuration's `"Header in the file" = "field"`."""
    return {**known, **{fold(header): field for header, field in library.items()}}
