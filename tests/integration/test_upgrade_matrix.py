"""An install at any landed schema version upgrades to this one with every row it holds,
on SQLite and on PostgreSQL (issue 30: a SQLite install at 0004 could not upgrade, since
0005 rebuilds `mail_request` while `outbox` rows point at it).

Each case builds the schema at one revision with the migration chain itself, fills every
table that exists there (several rows each, every foreign key pointing at a real row),
upgrades it as `init` does (schema.upgrade; `init` itself runs in the tests below) and
compares, table by table, the row count and a digest of every column that existed before.
The rows are made generically from the reflected tables (type, length, foreign keys,
nullability); the few columns a migration reads get realistic values (`REALISTIC`), and
the one column a migration deliberately rewrites is named with its rule (`REWRITTEN`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from empikgo_mailer.adapters import schema
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.card_number import CardNumber
from empikgo_mailer.domain.errors import ExitCode
from tests.support.cli import run_cli
from tests.support.config import write_config
from tests.support.table_rows import (
    ROWS_PER_TABLE,
    Realistic,
    empty_database,
    fill,
    read_contents,
)

# Oldest first: 0001 ... head. Upgrading from head itself is `init` on a current install.
REVISIONS = [
    s.revision for s in reversed(list(ScriptDirectory(str(schema.MIGRATIONS)).walk_revisions()))
]

# Values for the columns a migration reads, so that it meets what it was written for
# (anything else a migration reads only in a column it adds, which holds no old data).
REALISTIC: Realistic = {
    # 0006 rewrites card numbers written with dashes or spaces: one of each kind.
    ("patron", "card_number"): lambda i: ("AB-12345", "cd 770", "B0012345")[i % 3] + str(i),
    # 0013 keys patrons by their address, casefolded.
    ("patron", "email"): lambda i: f"Czytelnik.{i}@Example.COM",
    # 0013 gives replies carrying an issued code their issuance, through their request.
    ("mail_request", "outcome"): lambda i: "issued",
}


@dataclass(frozen=True)
class Rewrite:
    revision: str  # the migration that rewrites the column's old values
    why: str
    rule: Callable[[Any], Any]  # an old value -> the value expected after the upgrade


def _stored_card(card: Any) -> Any:
    found = CardNumber.find(card) if isinstance(card, str) else None
    return card if found is None else found.value


REWRITTEN: dict[tuple[str, str], Rewrite] = {
    ("patron", "card_number"): Rewrite(
        "0006",
        "card numbers imported with dashes or spaces are stored plainly, as every door "
        "looks them up (a patron whose plain number another patron has keeps the old one)",
        _stored_card,
    ),
}


def rewrites_since(revision: str) -> Iterator[tuple[tuple[str, str], Rewrite]]:
    """The rewrites an upgrade from `revision` runs (their migrations are newer)."""
    order = REVISIONS.index
    for place, rewrite in REWRITTEN.items():
        if order(rewrite.revision) > order(revision):
            yield place, rewrite


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("revision", REVISIONS)
def test_an_install_at_any_schema_version_upgrades_with_every_row(
    backend: str,
    revision: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url = empty_database(backend, tmp_path, request)
    db = Database(url)
    db.make_home()
    command.upgrade(schema._alembic_config(db), revision)
    with db.engine.begin() as connection:
        written = fill(connection, REALISTIC)
    with db.engine.connect() as connection:
        before = read_contents(connection)
    db.dispose()
    assert set(before.counts) == set(written)
    assert all(count == ROWS_PER_TABLE for count in before.counts.values())

    db = Database(url)
    started = time.monotonic()
    assert schema.upgrade(db) == (revision, schema.head_revision())  # what `init` runs
    seconds = time.monotonic() - started
    db.dispose()

    db = Database(url)
    with db.engine.connect() as connection:
        after = read_contents(connection, only=before)
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    db.dispose()
    assert after.counts == before.counts
    rules = dict(rewrites_since(revision))
    changed = [
        f"{table}.{column}"
        for table, column in before.values
        if after.digest(table, column)
        != before.digest(table, column, *(r.rule for r in [rules.get((table, column))] if r))
    ]
    assert changed == []
    assert differences == []  # the upgraded schema is the one a new install gets
    rows = sum(before.counts.values())
    print(
        f"upgrade {revision} -> {schema.head_revision()} ({backend}): {rows} rows in "
        f"{len(before.counts)} tables kept; the upgrade took {seconds:.2f} s"
    )


def test_init_upgrades_a_sqlite_install_at_0004_whose_replies_point_at_requests(
    tmp_path: Path,
) -> None:
    """The issue's case, through the command line: it stopped with "FOREIGN KEY
    constraint failed" (exit 5) and the library was stuck on the old version."""
    url = f"sqlite:///{tmp_path / 'empikgo.sqlite3'}"
    db = Database(url)
    command.upgrade(schema._alembic_config(db), "0004")
    replies = (
        "SELECT outbox.id, mail_request.id FROM outbox JOIN mail_request "
        "ON mail_request.id = outbox.request_id ORDER BY outbox.id"
    )
    with db.engine.begin() as connection:
        fill(connection, REALISTIC)
    with db.engine.connect() as connection:
        answered = connection.exec_driver_sql(replies).all()
    db.dispose()
    assert answered

    done = run_cli(write_config(tmp_path, url), {}, "init")

    assert done.returncode == ExitCode.OK, done.stderr
    head = schema.head_revision()
    assert done.stdout.startswith(f"Zaktualizowano bazę danych z wersji 0004 do {head}:")
    db = Database(url)
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql(replies).all() == answered
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    db.dispose()


def test_a_reference_to_no_row_stops_the_upgrade_and_changes_nothing(tmp_path: Path) -> None:
    """SQLite rebuilds tables with its foreign-key checks off; a reference that finds no
    row (made by hand, or by a tool without the checks) is found before the commit."""
    url = f"sqlite:///{tmp_path / 'broken.sqlite3'}"
    db = Database(url)
    command.upgrade(schema._alembic_config(db), "0004")
    with db.engine.begin() as connection:
        fill(connection, REALISTIC)
        connection.exec_driver_sql("DELETE FROM outbox WHERE request_id IS NOT NULL")
    with db.engine.connect() as connection:
        # A reply pointing at a request that is not there, written without the checks.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
        connection.exec_driver_sql(
            "INSERT INTO outbox (id, request_id, branch_id, sender, recipient, recipient_key, "
            "message_id, message, status, attempts, next_attempt_at, created_at) VALUES "
            "(9, 99, 'w63', 'w63@biblioteka.test', 'r@example.com', 'r@example.com', '<m9@x>', "
            "'x', 'sent', 0, '2026-10-30 09:15:00', '2026-10-30 09:15:00')"
        )
        connection.commit()
    db.dispose()
    db = Database(url)
    with db.engine.connect() as connection:
        before = read_contents(connection)
    db.dispose()

    done = run_cli(write_config(tmp_path, url), {}, "init")

    assert done.returncode == ExitCode.DATABASE
    assert done.stderr.strip() == (
        "Błąd: Aktualizacja schematu przerwana: wiersze odwołują się do nieistniejących "
        "wierszy (tabele: outbox; wierszy: 1); niczego nie zmieniono."
    )
    db = Database(url)
    assert schema.current_revision(db) == "0004"
    with db.engine.connect() as connection:
        after = read_contents(connection)
        enforced = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    db.dispose()
    assert after == before
    assert enforced == 1
