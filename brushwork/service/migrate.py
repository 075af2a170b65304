"""Which schema revision a database is at, and bringing it to this brushwork's (Alembic owns the schema).

A new, empty database is made at the newest revision when a server or a command first opens it.
One at an older revision is upgraded only on purpose, by ``brushwork serve migrate``: a server
refuses to start on it. A database brushwork 0.1.0 made (before Alembic) is at ``BASELINE``.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from plugin_core.errors import RequestError

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"
"""The schema brushwork 0.1.0 made with ``create_all``: its tables and no ``alembic_version``."""
LOCK = 0x6272_7368
"""PostgreSQL advisory lock held while a schema is made or upgraded, so servers starting together wait."""
MIGRATE = "brushwork serve migrate"


class SchemaError(RequestError):
    """The database is at another revision than this brushwork's."""


def _config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def revision(db: sa.Connection) -> str | None:
    """The database's revision; ``BASELINE`` for 0.1.0's tables, None for an empty database."""
    current = MigrationContext.configure(db).get_current_revision()
    if current is None and "keys" in sa.inspect(db).get_table_names():
        return BASELINE
    return current


def _locked(db: sa.Connection) -> None:
    if db.dialect.name == "postgresql":
        db.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": LOCK})


def _upgrade(db: sa.Connection, current: str | None) -> None:
    config = _config(db)
    if current == BASELINE and MigrationContext.configure(db).get_current_revision() is None:
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")


def prepare(engine: sa.Engine) -> None:
    """Make an empty database at the newest revision; refuse one at any other revision."""
    wanted = head()
    with engine.begin() as db:
        _locked(db)
        current = revision(db)
        if current is None:
            _upgrade(db, current)
        elif current != wanted:
            known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
            if current not in known:
                raise SchemaError(f"the database is at schema revision {current}, made by a newer brushwork "
                                  f"than this one (revision {wanted}): upgrade brushwork")
            raise SchemaError(f"the database is at schema revision {current}, older than this brushwork's "
                              f"{wanted}: back it up, then run `{MIGRATE}` with the same --data or --database-url")


def upgrade(engine: sa.Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision; returns the revisions before and after."""
    with engine.begin() as db:
        _locked(db)
        before = revision(db)
        _upgrade(db, before)
        return before, revision(db)
