"""Polish for the parts of click that staff see: help headings and usage errors."""

from __future__ import annotations

import re
from collections.abc import Sequence

import click

_HEADINGS = {"Options": "Opcje", "Commands": "Polecenia", "Arguments": "Argumenty"}
_ERRORS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Missing option (.+?)\.?$"), r"Brak wymaganej opcji \1."),
    (re.compile(r"^Missing argument (.+?)\.?$"), r"Brak wymaganego argumentu \1."),
    (re.compile(r"^No such option: (.+?)$"), r"Nieznana opcja: \1"),
    (re.compile(r"^No such command (.+?)\.?$"), r"Nieznane polecenie \1."),
    (re.compile(r"^Option (.+?) requires an argument\.?$"), r"Opcja \1 wymaga wartości."),
    (re.compile(r"^Got unexpected extra arguments? \((.+)\)$"), r"Nadmiarowe argumenty: \1"),
    (re.compile(r"^Invalid value for (.+?): (.*)$", re.S), r"Niepoprawna wartość \1: \2"),
    (re.compile(r"^Missing command\.?$"), r"Brak polecenia."),
]


def polish_error(message: str) -> str:
    for pattern, replacement in _ERRORS:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    return message


class PolishFormatter(click.HelpFormatter):
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, prefix="Użycie: ")

    def write_heading(self, heading: str) -> None:
        super().write_heading(_HEADINGS.get(heading, heading))

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        polish = [(term, text.replace("[required]", "[wymagane]")) for term, text in rows]
        super().write_dl(polish, col_max, col_spacing)


class PolishContext(click.Context):
    formatter_class = PolishFormatter


def _polish_help_option(option: click.Option | None) -> click.Option | None:
    if option is not None:
        option.help = "Pokaż tę pomoc i zakończ."
    return option


class PolishCommand(click.Command):
    context_class = PolishContext

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[OPCJE]" if p == "[OPTIONS]" else p for p in super().collect_usage_pieces(ctx)]

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return _polish_help_option(super().get_help_option(ctx))


class PolishGroup(click.Group):
    context_class = PolishContext
    command_class = PolishCommand

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return _polish_help_option(super().get_help_option(ctx))

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPCJE] POLECENIE [ARGUMENTY]...")


PolishGroup.group_class = PolishGroup
