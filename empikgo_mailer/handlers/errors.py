"""Errors a handler raises when a command itself cannot be carried out."""

from __future__ import annotations


class CommandRejected(Exception):
    """The command is wrong as given (unknown branch, past month ...); message in Polish."""
