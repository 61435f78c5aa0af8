"""The root of every error this program raises on purpose, and the command line's exit
codes: a command that fails with one of them prints its Polish line and exits with its
code (entrypoints/cli.main); anything else is a bug (exit 1, details in the log)."""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """Documented in docs/commands.md."""

    OK = 0  # done; for `issue`: a code was issued; for `check`: the patron is eligible
    INTERNAL = 1  # a bug: the message and the log say what happened
    USAGE = 2  # wrong command line or configuration
    REFUSED = 3  # the rules do not allow it: a code, a payment, a renewal (reason printed)
    BAD_INPUT = 4  # a file, a row or a value cannot be used (what was good is imported)
    DATABASE = 5  # the database is unreachable, locked or not initialised
    UNREACHABLE = 6  # `run --once`, `doctor`: a mailbox or the SMTP server could not be reached
    DISK_FULL = 7  # no space left where the database writes: nothing half-written, free space


class ProgramError(Exception):
    """An error this program expects. Its text is one line in Polish for the person who
    will read it (staff at a command or a page, the IT person in `doctor`); `label` starts
    that line on the command line and `exit_code` is what the command returns."""

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL
    label: ClassVar[str] = "Błąd"


class BadInput(ProgramError, ValueError):
    """A value, a file or a row that cannot be used as given."""

    exit_code = ExitCode.BAD_INPUT


class Unreachable(ProgramError):
    """A server (a mailbox, SMTP, an identity provider) cannot be reached or refuses us."""

    exit_code = ExitCode.UNREACHABLE


class DatabaseProblem(ProgramError):
    """The database cannot be used now: busy, locked by another pass, or its schema is
    not this version's."""

    exit_code = ExitCode.DATABASE


class Conflict(DatabaseProblem):
    """Another process wrote the same thing in the same instant (a unique constraint
    stopped this one): deciding again sees what it wrote."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "inny proces zapisał to samo w tej samej chwili; spróbuj ponownie"
            + (f" ({detail})" if detail else "")
        )


class DatabaseUnavailable(DatabaseProblem):
    """The database is locked by another process, unreachable, or cannot write (a full
    disk): nothing of the work in hand was written."""


class DiskFull(DatabaseUnavailable):
    """No space left where the database (or the sender's journal) writes. Not "busy":
    waiting does not free space, so whatever meets it stops at once; what was written
    stays written, and the next run after space is freed carries on."""

    exit_code = ExitCode.DISK_FULL
    label = "Brak miejsca na dysku"
    THEN_RETRY: ClassVar[str] = "zwolnij miejsce i uruchom polecenie ponownie"
    THEN_NEXT_RUN: ClassVar[str] = (
        "zwolnij miejsce; następny przebieg dokończy pracę (prośby i niewysłane odpowiedzi "
        "czekają w kolejce)"
    )

    def __init__(self, place: str = "") -> None:
        self.place = place  # where: a directory, the database server, or "" (not known)
        super().__init__(self.message(self.THEN_RETRY))

    def message(self, then: str) -> str:
        """The operator's line (without the label), ending with what to do `then`."""
        where = f" ({self.place})" if self.place else ""
        return f"baza danych{where} nie może nic zapisać — {then}."
