"""Exit codes of the command line, documented in the README."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # done; for `issue`: a code was issued; for `check`: the patron is eligible
    INTERNAL = 1  # a bug: the message and the log say what happened
    USAGE = 2  # wrong command line or configuration
    REFUSED = 3  # the rules do not allow it: a code, a payment, a renewal (reason printed)
    BAD_INPUT = 4  # a file, a row or a value cannot be used (what was good is imported)
    DATABASE = 5  # the database is unreachable, locked or not initialised
    UNREACHABLE = 6  # `run --once`, `doctor`: a mailbox or the SMTP server could not be reached
