"""Errors a handler raises when a command itself cannot be carried out."""

from __future__ import annotations


class CommandRejected(Exception):
    """The command is wrong as given (unknown branch, past month ...); message in Polish."""


class CommandRefused(Exception):
    """The command is well formed but the rules do not allow it (a renewal of an item
    someone holds ...); message in Polish."""
