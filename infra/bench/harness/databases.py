"""A fresh, empty PostgreSQL database for a benchmark (BENCH_POSTGRES_URL points at the server)."""

from __future__ import annotations

import atexit
import os
import secrets

import sqlalchemy as sa
from sqlalchemy.engine import make_url

# Every benchmark run names its databases with a suffix of its own: two runs on one server never collide.
RUN_ID = secrets.token_hex(4)


def fresh_postgres(name: str, *, migrate: bool = True) -> str:
    """A new database `name_<run id>`, dropped when the benchmark process exits."""
    base = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = f"{name}_{RUN_ID}"
    url = make_url(base).set(database=name)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    rendered = url.render_as_string(hide_password=False)
    atexit.register(drop_postgres, rendered)
    if migrate:
        from infra.migrate import upgrade

        upgrade(rendered)
    return rendered


def drop_postgres(url: str) -> None:
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()
