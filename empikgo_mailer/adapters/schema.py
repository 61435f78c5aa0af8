"""Creating and upgrading the database schema with Alembic (migrations ship in the package)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from empikgo_mailer.adapters.database import Database
from empikgo_mailer.domain.errors import SchemaNewer

MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = db.engine
    return config


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    """Every revision this program's migrations can start from."""
    return {script.revision for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


def refuse_newer(current: str | None) -> None:
    """Raise SchemaNewer when `current` is a revision this program does not know: a
    newer version's (revisions are only ever added, so an unknown one is newer)."""
    if current is not None and current not in known_revisions():
        raise SchemaNewer(current, head_revision())


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(db: Database) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; return (before, after). Safe to repeat.
    A new SQLite database is created here, its directory too. A newer schema than this
    program's is left as it is (SchemaNewer)."""
    db.make_home()
    before = current_revision(db)
    refuse_newer(before)
    command.upgrade(_alembic_config(db), "head")
    return before, head_revision()


def is_current(db: Database) -> bool:
    return current_revision(db) == head_revision()
