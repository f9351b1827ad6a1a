"""Apply the migrations to `DATABASE_URL` (or the URL given): `make migrate`, or
`.venv/bin/python -m infra.migrate [URL]`.

Before migrating, `ensure_database` checks that a PostgreSQL database can be reached, so a wrong `DATABASE_URL`
reads as one line saying what is wrong and how to fix it, not a traceback. A database that does not exist is
created when the server is on this machine and `APP_ENV` is not production (local development); anywhere else it
is only reported, since creating databases on a shared or hosted server is an operator's decision.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, make_url

from todo_common.settings import DEFAULT_SQLITE_URL, normalize_database_url

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
LOCAL_HOSTS = frozenset({None, "", "localhost", "127.0.0.1", "::1"})


class DatabaseProblem(Exception):
    """A database URL that cannot be used as it is; the message is one line for a person to act on."""


def upgrade(database_url: str, revision: str = "head") -> None:
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = normalize_database_url(database_url)
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(config, revision)


def _where(url: URL) -> str:
    return f"{url.host or 'the local socket'}:{url.port or 5432}"


def _missing_database(exc: sa.exc.OperationalError, url: URL) -> bool:
    return f'database "{url.database}" does not exist' in str(exc)


def _create_database(url: URL) -> None:
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            quoted = connection.dialect.identifier_preparer.quote(url.database or "")
            connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
    finally:
        admin.dispose()


def ensure_database(database_url: str, *, create_if_local: bool | None = None) -> str | None:
    """Check that `database_url` can be used; return a note when something was done (a database created).

    Raises `DatabaseProblem` with one line when it cannot. SQLite needs no check (its file is created on use).
    """
    url = make_url(normalize_database_url(database_url))
    if not url.drivername.startswith("postgresql"):
        return None
    if create_if_local is None:
        create_if_local = os.environ.get("APP_ENV", "development") != "production"
    engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as exc:
        if not _missing_database(exc, url):
            reason = str(exc.orig or exc).strip().splitlines()[0].split("failed: ")[-1]
            raise DatabaseProblem(
                f"Cannot connect to PostgreSQL at {_where(url)} ({reason}): check DATABASE_URL and that the server "
                "is running."
            ) from None
    finally:
        engine.dispose()
    if create_if_local and url.host in LOCAL_HOSTS:
        try:
            _create_database(url)
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise DatabaseProblem(
                f'DATABASE_URL names the database "{url.database}", which does not exist on {_where(url)}, and '
                f"creating it failed ({reason}): create it yourself (createdb) or fix DATABASE_URL."
            ) from None
        return f'created the PostgreSQL database "{url.database}" on {_where(url)} (local development)'
    user = f" -U {url.username}" if url.username else ""
    raise DatabaseProblem(
        f'DATABASE_URL names the database "{url.database}", which does not exist on {_where(url)}: create it '
        f"(createdb -h {url.host} -p {url.port or 5432}{user} {url.database}, or in your provider's console) or "
        "point DATABASE_URL at an existing database."
    )


def prepare(database_url: str) -> None:
    """What `make dev` and `make migrate` do first: check (or locally create) the database, then migrate it.

    A problem ends the program with its one-line message (exit status 1)."""
    try:
        note = ensure_database(database_url)
    except DatabaseProblem as problem:
        sys.exit(f"error: {problem}")
    if note:
        print(note)
    upgrade(database_url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m infra.migrate", description="Apply the migrations to DATABASE_URL (default: the local SQLite)."
    )
    parser.add_argument("url", nargs="?", help="the database URL (default: $DATABASE_URL, else the local SQLite file)")
    args = parser.parse_args(argv)
    url = args.url or os.environ.get("DATABASE_URL") or DEFAULT_SQLITE_URL
    prepare(url)
    print(f"database is at the latest schema: {url.split('@')[-1]}")


if __name__ == "__main__":
    main()
