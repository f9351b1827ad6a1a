"""The migrations go up, down and up again on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from infra.migrate import ALEMBIC_INI, upgrade
from tests.support.databases import drop_postgres, enabled_backends, postgres_url, unavailable
from todo_common import models  # noqa: F401  (the tables the models declare)

TABLES = {"conversation", "message", "task", "attachment"}


def roundtrip(url: str) -> None:
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = url
    upgrade(url)
    engine = sa.create_engine(url)
    assert set(sa.inspect(engine).get_table_names()) >= TABLES
    command.downgrade(config, "base")
    assert not TABLES & set(sa.inspect(engine).get_table_names())
    upgrade(url)
    assert set(sa.inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as connection:
        # The migrated schema is the one the models declare: tables, columns, indexes (partial ones included).
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    engine.dispose()


def test_sqlite(tmp_path: Path) -> None:
    roundtrip(f"sqlite:///{tmp_path / 'migrations.db'}")


def test_postgres() -> None:
    if "postgres" not in enabled_backends():
        pytest.skip("PostgreSQL is switched off by TEST_DATABASES")
    run_url = make_url(postgres_url())
    scratch = run_url.set(database=f"{run_url.database}_migrations")
    admin = sa.create_engine(scratch.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{scratch.database}"'))
    except sa.exc.OperationalError as exc:
        unavailable(str(exc).splitlines()[0])
    finally:
        admin.dispose()
    rendered = scratch.render_as_string(hide_password=False)
    try:
        roundtrip(rendered)
    finally:
        drop_postgres(rendered)
