"""Polish for the parts of click that staff see: help headings and usage errors."""

from __future__ import annotations

import re
from collections.abc import Iterable

import click

_HEADINGS = {"Options": "Opcje", "Commands": "Polecenia", "Arguments": "Argumenty"}
# click's messages, piece by piece (a message can nest another: "Invalid value for X: ...").
_ERRORS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Missing option ('[^']+'|\S+?)\.?$"), r"Brak wymaganej opcji \1."),
    (re.compile(r"Missing argument ('[^']+'|\S+?)\.?$"), r"Brak wymaganego argumentu \1."),
    (re.compile(r"No such option:? ('[^']+'|[^\s.]+)\.?"), r"Nieznana opcja \1."),
    (re.compile(r"No such command:? ('[^']+'|[^\s.]+)\.?"), r"Nieznane polecenie \1."),
    (re.compile(r"Did you mean ('[^']+'|[^\s?]+)\?\.?"), r"Czy chodziło o \1?"),
    (re.compile(r"\(Possible options: (.+?)\)"), r"(możliwe: \1)"),
    (re.compile(r"\(Did you mean one of: (.+?)\?\)"), r"Czy chodziło o jedną z: \1?"),
    (re.compile(r"Option ('[^']+'|\S+) requires an argument\.?"), r"Opcja \1 wymaga wartości."),
    (re.compile(r"Option ('[^']+'|\S+) does not take a value\.?"), r"Opcja \1 nie ma wartości."),
    (re.compile(r"Got unexpected extra arguments? \((.+)\)"), r"Nadmiarowe argumenty: \1"),
    (re.compile(r"Invalid value for (.+?): "), r"Niepoprawna wartość \1: "),
    (
        re.compile(r"'([^']*)' is not a valid integer( range)?\.?"),
        r"„\1” to nie jest liczba całkowita.",
    ),
    (re.compile(r"'([^']*)' is not a valid float( range)?\.?"), r"„\1” to nie jest liczba."),
    (re.compile(r"'([^']*)' is not one of (.+?)\.?$"), r"„\1” — dozwolone: \2."),
    (re.compile(r"(\S+) is not in the range (.+?)\.?$"), r"\1 jest poza zakresem \2."),
    (
        re.compile(r"(File|Path|Directory) '(.+)' does not exist\.?"),
        r"Nie ma takiej ścieżki: „\2”.",
    ),
    (re.compile(r"(File|Path|Directory) '(.+)' is a directory\.?"), r"„\2” to katalog, nie plik."),
    (re.compile(r"^Missing command\.?$"), r"Brak polecenia."),
]


# click's own words in option lists: value types, defaults, the required mark.
_TERMS = (
    ("[required]", "[wymagane]"),
    ("[default: ", "[domyślnie: "),
    (" INTEGER", " LICZBA"),
    (" FLOAT", " LICZBA"),
    (" TEXT", " TEKST"),
    (" PATH", " ŚCIEŻKA"),
    (" FILENAME", " PLIK"),
    (" FILE", " PLIK"),
    (" DIRECTORY", " KATALOG"),
)


def _polish_terms(text: str) -> str:
    for english, polish in _TERMS:
        text = text.replace(english, polish)
    return text


def polish_error(message: str) -> str:
    for pattern, replacement in _ERRORS:
        message = pattern.sub(replacement, message)
    return message.replace(". .", ".").replace("..", ".").strip()


class PolishFormatter(click.HelpFormatter):
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, prefix="Użycie: ")

    def write_heading(self, heading: str) -> None:
        super().write_heading(_HEADINGS.get(heading, heading))

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        polish = [(_polish_terms(term), _polish_terms(text)) for term, text in rows]
        super().write_dl(polish, col_max, col_spacing)


class PolishContext(click.Context):
    formatter_class = PolishFormatter


class PolishCommand(click.Command):
    context_class = PolishContext

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[OPCJE]" if p == "[OPTIONS]" else p for p in super().collect_usage_pieces(ctx)]

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = "Pokaż tę pomoc i zakończ."
        return option


class PolishGroup(click.Group, PolishCommand):
    command_class = PolishCommand

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPCJE] POLECENIE [ARGUMENTY]...")


PolishGroup.group_class = PolishGroup
