"""Many rows at once on PostgreSQL: new rows with COPY ... FROM STDIN, what a multi-row
INSERT of the same rows writes at several times its speed, and a list of values as one
array parameter (a month's first morning collects and decides 10,000 requests;
bench.ingest, bench.mail_run).

An UPDATE ... FROM unnest(arrays) of a batch's decided requests was tried and measured
slower than psycopg's pipelined executemany: the planner hashes the whole table for it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, any_, bindparam, insert, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine
from sqlmodel import Session

from empikgo_mailer.adapters.database import in_chunks


def copy_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """`rows` (each with the same keys) into `table`, in the session's transaction; each
    value goes through its column's bind processing, as in an INSERT. Unlike an INSERT,
    COPY does not fill in a column's Python-side default: rows name every such column.
    Even one row costs no more than an INSERT (0.13 ms), 50 rows a third less, 200 rows
    40% less (measured on the test cluster). What the database raises is SQLAlchemy's
    error, as for any statement: a lost connection is an OperationalError ("the database
    is unavailable"), a unique constraint an IntegrityError (a race that callers decide
    again); a value the encoder refuses raises the encoder's own error."""
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
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """`rows` into `table` in the session's transaction: one COPY on PostgreSQL
    (`copy_rows`), INSERTs of a chunk of rows each elsewhere."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        copy_rows(session, table, rows)
        return
    for chunk in in_chunks(list(rows)):
        session.execute(table.insert(), list(chunk))


def insert_rows_with_ids(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """`rows` into `table` (whose key is a serial `id`); their new ids, in the rows' order.
    On PostgreSQL the ids are drawn from the column's sequence in one query and the rows
    go in with one COPY: an INSERT ... RETURNING of a batch is a new statement of hundreds
    of values that psycopg parses each time (measured: 80 us a row in a month-start
    burst's issuances). Elsewhere, INSERT ... RETURNING a chunk at a time."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        ids = [
            int(i)
            for i in session.execute(_NEW_IDS, {"table": table.name, "count": len(rows)}).scalars()
        ]
        copy_rows(session, table, [{**row, "id": new} for row, new in zip(rows, ids, strict=True)])
        return ids
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = []
    for chunk in in_chunks(list(rows)):
        ids.extend(int(i) for i in session.execute(statement, list(chunk)).scalars())
    return ids


# One new value of the serial key per row; in no particular order, which does not matter.
_NEW_IDS = text(
    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
)


def one_of(session: Session, column: Any, values: Sequence[Any], kind: TypeEngine[Any]) -> Any:
    """`column IN (values)`; on PostgreSQL `column = ANY(array)`: one parameter instead of
    hundreds, so the statement's text stays the same from batch to batch and psycopg
    prepares it once, instead of parsing a new one each time."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(kind)))
    return column.in_(values)
