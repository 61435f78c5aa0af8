"""Many new rows into one PostgreSQL table with COPY ... FROM STDIN: what a multi-row
INSERT of the same rows writes, at several times its speed (a month's first morning
collects 10,000 requests; bench.ingest)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import OperationalError
from sqlmodel import Session


def copy_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """`rows` (each with the same keys) into `table`, in the session's transaction; each
    value goes through its column's bind processing, as in an INSERT. A connection lost
    on the way is SQLAlchemy's OperationalError, as for any statement ("the database is
    unavailable"); a value the database or the encoder refuses raises the driver's or
    the encoder's own error, which callers treat as a problem of these rows."""
    if not rows:
        return
    import psycopg  # noqa: PLC0415 (here: a SQLite installation never loads the driver, ~45 ms)

    connection = session.connection()
    dialect = connection.dialect
    names = list(rows[0])
    processors = [table.c[name].type.bind_processor(dialect) for name in names]
    quote = dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(map(quote, names))}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        row[name] if process is None else process(row[name])
                        for name, process in zip(names, processors, strict=True)
                    ]
                )
    except psycopg.OperationalError as exc:
        raise OperationalError(statement, None, exc) from exc
