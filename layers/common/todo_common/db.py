"""One engine per container and the two ways to use it: a read (autocommit, one round trip per statement)
and a write (one transaction).

Production's `DATABASE_URL` is Neon's pooled endpoint (PgBouncer in transaction mode), so nothing here relies on
session state, and psycopg's server-side prepared statements are off. There is no pre-ping (it would cost a round
trip on every request): a connection that died while the container slept is detected by its first statement,
discarded with the rest of the pool, and the unit of work is run once more on a fresh connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

T = TypeVar("T")
logger = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; answered as 503."""


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._autocommit_engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> Database:
        return cls(create_db_engine(url, **engine_options))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def read(self, work: Callable[[Session], T]) -> T:
        """Run read-only `work` outside a transaction: no BEGIN or ROLLBACK round trips around its queries."""
        return self._run(work, self._autocommit_engine, commit=False)

    def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction and commit it; nothing is kept if it raises."""
        return self._run(work, self.engine, commit=True)

    def execute(self, work: Callable[[Session], T]) -> T:
        """Run `work`, which must issue exactly one (atomic) writing statement, without a transaction around it:
        one round trip instead of three."""
        return self._run(work, self._autocommit_engine, commit=False)

    def _run(self, work: Callable[[Session], T], engine: Engine, *, commit: bool) -> T:
        for attempt in (1, 2):
            committing = False
            try:
                with Session(engine, expire_on_commit=False) as session:
                    result = work(session)
                    if commit:
                        committing = True
                        session.commit()
                    return result
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # A commit that failed may or may not have landed: never run that work twice.
                if attempt == 2 or committing:
                    raise DatabaseUnavailable("the database connection was lost") from exc
                logger.warning("database connection was stale; retrying on a fresh one")
                engine.pool.dispose()
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        """Drop pooled connections (after a SnapStart restore, or in tests)."""
        self.engine.dispose()


def create_db_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **options)
    options.setdefault("pool_size", 2)
    options.setdefault("max_overflow", 3)
    options.setdefault("pool_recycle", 240)
    options.setdefault("pool_timeout", 10)
    connect_args = options.pop("connect_args", {})
    # PgBouncer in transaction mode cannot keep named prepared statements for us.
    connect_args.setdefault("prepare_threshold", None)
    connect_args.setdefault("connect_timeout", 5)
    connect_args.setdefault("application_name", "todo-chat")
    return sa.create_engine(url, connect_args=connect_args, **options)


def _sqlite_engine(url: str, **options: Any) -> Engine:
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 15}, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine
