"""The root of every error this program raises on purpose, and the command line's exit
codes: a command that fails with one of them prints its Polish line and exits with its
code (entrypoints/cli.main); anything else is a bug (exit 1, details in the log)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """Documented in docs/commands.md; a mail pass's in the README (Monitoring) as well."""

    OK = 0  # done; for `issue`: a code was issued; for `check`: the patron is eligible
    INTERNAL = 1  # a bug: the message and the log say what happened
    USAGE = 2  # wrong command line or configuration
    REFUSED = 3  # the rules do not allow it: a code, a payment, a renewal (reason printed)
    BAD_INPUT = 4  # a file, a row or a value cannot be used (what was good is imported)
    DATABASE = 5  # the database is unreachable, locked or not initialised
    UNREACHABLE = 6  # `run --once`, `doctor`: a mailbox or the SMTP server could not be reached
    # `run --once`: a phase of the pass failed (a server or the database unreachable, or an
    # error); the rest of the pass was done. The same number: both say "part of the work
    # waits for the next pass", and cron jobs written for 6 keep working.
    PHASE_FAILED = 6
    DISK_FULL = 7  # no space left where the database writes: nothing half-written, free space
    REPLIES_FAILED = 8  # `run --once`: the SMTP server refused replies for good (`status`)
    UNDELIVERED_CODES = 9  # `run --once`: a reply carrying a code was refused for good
    # The database's schema is newer than this program knows (a newer version ran `init`
    # on it): nothing was changed; install the newer version. Not 5: neither waiting nor
    # `init` mends it, so a script or a service manager can tell it apart.
    SCHEMA_NEWER = 10


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


class SchemaNewer(DatabaseProblem):
    """The database's schema revision is not among this program's migrations: a newer
    version upgraded it. This version neither uses nor changes it (its code could
    misread the newer tables); only the newer version can."""

    exit_code = ExitCode.SCHEMA_NEWER

    def __init__(self, found: str, known: str) -> None:
        self.found, self.known = found, known
        super().__init__(
            f"Baza danych ma nowszy schemat ({found}) niż ta wersja programu ({known}): "
            "zainstaluj nowszą wersję empikgo-mailer; niczego nie zmieniono."
        )


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


@dataclass(frozen=True)
class PassOutcome:
    """What a mail pass (`run --once`) came to, as far as its exit code goes."""

    busy: bool = False  # another pass holds the lock: this one did nothing
    disk_full: bool = False  # the pass stopped: no space left for the database
    phase_failed: bool = False  # a phase failed or a server could not be reached
    replies_failed: int = 0  # replies the SMTP server refused for good this pass
    # Of those, replies that carried a code (a reader without the code they were given).
    undelivered_codes: int = 0


# The exit code of a pass: the first row that holds, most urgent first. Disk full first
# (nothing more can be written until someone frees space), then busy (nothing was done),
# then a phase that did not run (a whole part of the work waits), then replies refused
# for good: codes first (a reader without their code needs staff), then the rest.
PASS_EXIT_CODES: tuple[tuple[str, ExitCode], ...] = (
    ("disk_full", ExitCode.DISK_FULL),
    ("busy", ExitCode.DATABASE),
    ("phase_failed", ExitCode.PHASE_FAILED),
    ("undelivered_codes", ExitCode.UNDELIVERED_CODES),
    ("replies_failed", ExitCode.REPLIES_FAILED),
)


def pass_exit_code(outcome: PassOutcome) -> ExitCode:
    """The one place a pass's outcome becomes its exit code (README, "Exit codes")."""
    for field_name, code in PASS_EXIT_CODES:
        if getattr(outcome, field_name):
            return code
    return ExitCode.OK
