"""An older program on a database a newer version has upgraded: every command that needs
the schema, `init` too, says so in one Polish line, exits 10 and changes nothing (it
used to say "older schema, run init", and `init` then crashed on Alembic's CommandError)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text

from empikgo_mailer.adapters import schema
from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.errors import ExitCode
from tests.support.cli import NOW, run_cli
from tests.support.config import write_config
from tests.support.table_rows import empty_database, fill, read_contents

NEWER = "0999"  # a revision no migration of this program has

COMMANDS = {
    "init": ["init"],
    "run --once": ["run", "--once", NOW],
    "status": ["status", NOW],
    "status, waiting": ["--wait-for-schema", "60", "status", NOW],
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_command_says_the_schema_is_newer_and_changes_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = empty_database(backend, tmp_path, request)
    db = Database(url)
    schema.upgrade(db)
    with db.engine.begin() as connection:
        fill(connection)
        connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": NEWER})
    with db.engine.connect() as connection:
        before = read_contents(connection)
    db.dispose()
    config = write_config(tmp_path, url)
    line = (
        f"Błąd: Baza danych ma nowszy schemat ({NEWER}) niż ta wersja programu "
        f"({schema.head_revision()}): zainstaluj nowszą wersję empikgo-mailer; "
        "niczego nie zmieniono."
    )

    for name, args in COMMANDS.items():
        began = time.monotonic()
        done = run_cli(config, {}, *args)
        assert (done.returncode, done.stderr.strip(), done.stdout) == (
            ExitCode.SCHEMA_NEWER,
            line,
            "",
        ), name
        assert time.monotonic() - began < 15, f"{name}: a newer schema is never waited for"

    db = Database(url)
    with db.engine.connect() as connection:
        after = read_contents(connection)
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    db.dispose()
    assert revision == NEWER
    assert after == before


def test_the_code_is_the_documented_number() -> None:
    # Scripts and service managers match on it (docs/commands.md, README): never renumber.
    assert int(ExitCode.SCHEMA_NEWER) == 10
