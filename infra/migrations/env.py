"""Alembic environment: the URL comes from the caller (`infra.migrate`) or `DATABASE_URL`, never from a file."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import todo_common.models  # noqa: F401 - registers the tables on the metadata
from todo_common.settings import DEFAULT_SQLITE_URL, normalize_database_url

config = context.config
url = config.attributes.get("database_url") or normalize_database_url(
    os.environ.get("DATABASE_URL") or DEFAULT_SQLITE_URL
)
target_metadata = SQLModel.metadata


def run_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
