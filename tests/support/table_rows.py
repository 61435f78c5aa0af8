"""Rows in every table of a schema as it stands at any revision, and what a database
holds, to compare before and after an upgrade (tests/integration/test_upgrade_matrix.py)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.postgres import PostgresServer

ROWS_PER_TABLE = 3
VERSION_TABLE = "alembic_version"  # its one row is the revision: changed on purpose
MOMENT = datetime(2026, 10, 30, 9, 15, tzinfo=UTC)
Realistic = dict[tuple[str, str], Callable[[int], Any]]  # (table, column) -> row i's value


def empty_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database `init` has not touched: no SQLite file, or a PostgreSQL one with no tables."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'empikgo.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"empikgo_empty_{time.monotonic_ns()}")


def value_for(column: sa.Column[Any], table: str, i: int) -> Any:
    """Row `i`'s value of a column that is neither realistic nor a foreign key: distinct
    per row (unique constraints hold), within the column's length."""
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return MOMENT + timedelta(days=i, minutes=7 * i)
    if isinstance(kind, sa.Date):
        return (MOMENT + timedelta(days=i)).date()
    if isinstance(kind, sa.Boolean):
        return i % 2 == 0
    if isinstance(kind, sa.Integer):
        return 1000 * (i + 1) + len(column.name)
    if isinstance(kind, sa.Float | sa.Numeric):
        return i + 0.25
    if isinstance(kind, sa.String):
        text = f"{table}.{column.name}-{i}"
        length = kind.length
        if length is not None and len(text) > length:
            text = f"{column.name[: length - 2]}{i:02d}"
        return text
    raise AssertionError(f"no value for {table}.{column.name} of type {kind!r}")


def fill(
    connection: sa.Connection, realistic: Realistic | None = None
) -> dict[str, list[dict[str, Any]]]:
    """ROWS_PER_TABLE rows in every table of the schema as it stands, parents first;
    row i of a child points at row i of its parent; `realistic` gives the values of the
    columns it names. The last row leaves every nullable column NULL, foreign keys too,
    so that NULLs are carried over as well."""
    realistic = realistic or {}
    metadata = sa.MetaData()
    metadata.reflect(bind=connection)
    written: dict[str, list[dict[str, Any]]] = {}
    for table in metadata.sorted_tables:
        if table.name == VERSION_TABLE:
            continue
        rows = []
        for i in range(ROWS_PER_TABLE):
            row: dict[str, Any] = {}
            for column in table.columns:
                last = i == ROWS_PER_TABLE - 1
                if column.nullable and last:
                    row[column.name] = None
                elif column.foreign_keys:
                    (key,) = column.foreign_keys
                    parent = key.column
                    row[column.name] = written[parent.table.name][i][parent.name]
                elif column.primary_key and isinstance(column.type, sa.Integer):
                    row[column.name] = i + 1
                elif (table.name, column.name) in realistic:
                    row[column.name] = realistic[table.name, column.name](i)
                else:
                    row[column.name] = value_for(column, table.name, i)
            rows.append(row)
        connection.execute(table.insert(), rows)
        written[table.name] = rows
    return written


@dataclass(frozen=True)
class Contents:
    counts: dict[str, int]
    values: dict[tuple[str, str], list[Any]]  # each column's values, rows in key order

    def digest(self, table: str, column: str, rule: Callable[[Any], Any] = lambda v: v) -> str:
        text = repr([rule(value) for value in self.values[table, column]])
        return hashlib.sha256(text.encode()).hexdigest()


def read_contents(connection: sa.Connection, only: Contents | None = None) -> Contents:
    """Every table's row count and columns' values as the driver returns them (SQLite's
    stored text of a time, say): `only` the tables and columns there when given."""
    metadata = sa.MetaData()
    metadata.reflect(bind=connection)
    quote = connection.dialect.identifier_preparer.quote
    counts, values = {}, {}
    for table in metadata.sorted_tables:
        if table.name == VERSION_TABLE or (only is not None and table.name not in only.counts):
            continue
        columns = [c.name for c in table.columns]
        if only is not None:
            columns = [c for c in columns if (table.name, c) in only.values]
        keys = ", ".join(quote(c.name) for c in table.primary_key.columns)
        rows = connection.exec_driver_sql(
            f"SELECT {', '.join(map(quote, columns))} FROM {quote(table.name)} ORDER BY {keys}"
        ).all()
        counts[table.name] = len(rows)
        for n, column in enumerate(columns):
            values[table.name, column] = [row[n] for row in rows]
    return Contents(counts, values)
