"""Which errors mean a link is down (the database gone, a server unreachable), as opposed
to a bug, and their one-line summaries for the log: a known outage is said in one line,
without a traceback (`entrypoints/outage_log`)."""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from empikgo_mailer.adapters.database import causes, disk_full_in
from empikgo_mailer.domain.errors import DatabaseUnavailable

DATABASE = "database"  # the link name of the database, in logs and outage notes


def database_down(error: BaseException) -> bool:
    """The database could not be reached or used (refused, gone, restarting, locked, out
    of space): an outage to wait out, not a bug."""
    for exc in causes(error):
        if isinstance(exc, DatabaseUnavailable | OperationalError | InterfaceError):
            return True
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return True
        if isinstance(exc, sqlite3.OperationalError):
            return True
    return False


def summary(error: BaseException) -> str:
    """One line: the error's type and the first line of what the driver said (not the
    SQL, not the parameters: those can hold a reader's data)."""
    full = disk_full_in(error)
    if full is not None:
        return f"DiskFull: no space left to write in {full.place or 'the database'}"
    inner = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    # A mail link's errors carry their English line beside the Polish one staff read.
    english = getattr(inner, "log_text", None)
    text = (english if isinstance(english, str) else str(inner)).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(inner).__name__}: {first}" if first else type(inner).__name__
