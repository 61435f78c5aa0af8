"""Errors a handler raises when a command itself cannot be carried out."""

from __future__ import annotations

from empikgo_mailer.domain.errors import BadInput, ExitCode, ProgramError


class CommandRejected(BadInput):
    """The command is wrong as given (unknown branch, past month ...); message in Polish."""


class CommandRefused(ProgramError):
    """The command is well formed but the rules do not allow it (a renewal of an item
    someone holds ...); message in Polish."""

    exit_code = ExitCode.REFUSED
    label = "Odmowa"
