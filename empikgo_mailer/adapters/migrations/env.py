"""Alembic environment: runs migrations on the engine the application hands over.

On SQLite, a migration that alters a table copies it (batch mode: create a new table, copy
the rows, drop the old one, rename). With foreign keys enforced, dropping a table that
other rows point at fails ("FOREIGN KEY constraint failed": `mail_request` under `outbox`
in 0005), so the whole upgrade runs with enforcement off, as SQLite's own procedure for
altering a table prescribes, and `PRAGMA foreign_key_check` must find no broken reference
before the transaction commits. The pragma does nothing inside a transaction: it is set on
the driver's connection before the BEGIN, and set back afterwards, since the connection
returns to the pool for the rest of the process.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine
from sqlmodel import SQLModel

from empikgo_mailer.adapters import tables  # noqa: F401 (registers the tables)
from empikgo_mailer.domain.errors import DatabaseProblem

engine = context.config.attributes["engine"]
assert isinstance(engine, Engine)


def _enforce_foreign_keys(connection: Connection, on: bool) -> None:
    """Outside any transaction (the driver's connection runs in autocommit until BEGIN)."""
    assert not connection.in_transaction()
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    """Before commit: every reference the copies carry still finds its row."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        tables_hit = sorted({str(row[0]) for row in broken})
        raise DatabaseProblem(
            "Aktualizacja schematu przerwana: wiersze odwołują się do nieistniejących wierszy "
            f"(tabele: {', '.join(tables_hit)}; wierszy: {len(broken)}); niczego nie zmieniono."
        )


def _run(connection: Connection) -> None:
    """Every migration due in one transaction, which commits only when all of them ran
    (and on SQLite the references hold): an upgrade that fails leaves the schema and the
    rows as they were. Begun here, so that Alembic does not commit after each migration
    on SQLite (its default there)."""
    with connection.begin():
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            # SQLite cannot ALTER most things; batch mode copies the table instead.
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        if connection.dialect.name == "sqlite":
            _check_foreign_keys(connection)


with engine.connect() as connection:
    if connection.dialect.name != "sqlite":
        _run(connection)
    else:
        _enforce_foreign_keys(connection, on=False)
        try:
            _run(connection)
        finally:
            _enforce_foreign_keys(connection, on=True)
