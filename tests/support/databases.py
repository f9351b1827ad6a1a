"""The test databases: an SQLite file and a real PostgreSQL database, both built by the real migrations."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from infra.migrate import upgrade
from tests.support.workers import worker_name
from todo_common.db import Database

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/todo_chat_test"
TABLES = ("attachment", "message", "conversation", "task", "rate_window")
# Each run gets databases of its own (the name in TEST_POSTGRES_URL plus this suffix), so two runs on one server
# (CI and a teammate, two worktrees) never drop each other's databases; and each of a run's parallel workers its own
# (the worker's name last), so no worker empties a table another one is using.
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID", secrets.token_hex(4))[:8]


def postgres_url() -> str:
    """The database of this run: TEST_POSTGRES_URL's server and name, the name suffixed with the run's id."""
    base = make_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    return base.set(database=run_database_name(base.database or "todo_chat_test")).render_as_string(hide_password=False)


def run_database_name(name: str) -> str:
    return f"{name}_{RUN_ID}_{worker_name()}"


def drop_postgres(url: str) -> None:
    """Drop a database this run created (only connections to that database are closed)."""
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    except sa.exc.OperationalError:
        pass  # the server is gone: nothing left to drop
    finally:
        admin.dispose()


def enabled_backends() -> list[str]:
    return [b.strip() for b in os.environ.get("TEST_DATABASES", "sqlite,postgres").split(",") if b.strip()]


def unavailable(reason: str) -> None:
    """Locally a missing PostgreSQL skips its tests; under CI it fails them, so nothing hides behind a skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


def prepare_postgres(url: str) -> str:
    """Create the test database if needed and rebuild its schema from the migrations."""
    empty_postgres(url)
    upgrade(url)
    return url


def empty_postgres(url: str) -> str:
    """Create the database if needed, with an empty public schema."""
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            ).first()
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    except sa.exc.OperationalError as exc:
        unavailable(str(exc).splitlines()[0])
    finally:
        admin.dispose()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def prepare_sqlite(directory: Path) -> str:
    url = f"sqlite:///{directory / 'test.db'}"
    upgrade(url)
    return url


def empty_tables(database: Database) -> None:
    with database.engine.begin() as connection:
        for table in TABLES:
            connection.execute(sa.text(f"DELETE FROM {table}"))
