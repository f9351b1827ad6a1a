"""A fresh, empty PostgreSQL database for a benchmark (BENCH_POSTGRES_URL points at the server)."""

from __future__ import annotations

import os

import sqlalchemy as sa
from sqlalchemy.engine import make_url


def fresh_postgres(name: str, *, migrate: bool = True) -> str:
    base = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    url = make_url(base).set(database=name)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    rendered = url.render_as_string(hide_password=False)
    if migrate:
        from infra.migrate import upgrade

        upgrade(rendered)
    return rendered
