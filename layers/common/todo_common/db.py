"""One engine per container and the two ways to use it: a read (autocommit, one round trip per statement)
and a write (one transaction).

Production's `DATABASE_URL` is Neon's pooled endpoint (PgBouncer in transaction mode), so nothing here relies on
session state, and psycopg's server-side prepared statements are off. There is no pre-ping (it would cost a round
trip on every request): a connection that died while the container slept is detected by its first statement,
discarded with the rest of the pool, and the unit of work is run once more on a fresh connection.

A Lambda container serves one request at a time, so its pool holds one connection and never more: every extra
connection would only hold a slot of the database's (or the pooler's) limit. A connection idle longer than
`IDLE_SECONDS` is replaced at checkout (after a long freeze the server or a NAT has usually dropped it). Opening a
connection is retried with backoff; an authentication failure instead re-reads the URL's secret once (a rotated
password) and connects with what it holds.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from pydantic_core import from_json
from sqlalchemy import event
from sqlalchemy.engine import Connection, CursorResult, Engine, Row, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlmodel import Session

from todo_common.settings import UrlSource, database_url_source, normalize_database_url

T = TypeVar("T")
logger = logging.getLogger(__name__)

IDLE_SECONDS = 60
CONNECT_ATTEMPTS = 3
CONNECT_BACKOFF_SECONDS = 0.2
# SQLSTATE class 28: invalid authorization (28P01 wrong password, 28000 role or pg_hba refused).
_AUTH_FAILURE_STATES = ("28P01", "28000")


@dataclass(frozen=True)
class Executed:
    """What one statement gave back: its rows (read to the end) and how many rows it changed."""

    rows: list[Row[Any]]
    rowcount: int


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; answered as 503."""


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._autocommit_engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    @classmethod
    def from_url(cls, url: str, *, url_source: UrlSource | None = None, **engine_options: Any) -> Database:
        """`url_source` gives the URL again (force=True: skip any cache) when it comes from a secret; by default,
        `DATABASE_URL_SECRET_ARN`'s secret when that is where `DATABASE_URL` came from."""
        return cls(create_db_engine(url, url_source=url_source or database_url_source(), **engine_options))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def read(self, work: Callable[[Session], T]) -> T:
        """Run read-only `work` outside a transaction: no BEGIN or ROLLBACK round trips around its queries."""
        return self._run(work, self._autocommit_engine, commit=False)

    def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction and commit it; nothing is kept if it raises."""
        return self._run(work, self.engine, commit=True)

    def execute(self, statement: sa.Executable, values: Mapping[str, Any] | None = None) -> Executed:
        """Run one statement that is atomic on its own (a single UPDATE, a data-modifying CTE) outside a
        transaction: one round trip instead of three (BEGIN, statement, COMMIT)."""

        def work(session: Session) -> Executed:
            result = cast(
                CursorResult[Any], session.execute(statement, dict(values or {}))
            )  # a statement, not an ORM query
            return Executed(list(result) if result.returns_rows else [], int(result.rowcount))

        return self._run(work, self._autocommit_engine, commit=False)

    def read_core(self, work: Callable[[Connection], T]) -> T:
        """`read` for Core statements alone: `work` gets the pooled connection itself, without an ORM session
        around it (which costs more CPU than a history page's one SELECT)."""

        def attempt() -> T:
            with self._autocommit_engine.connect() as connection:
                return work(connection)

        return self._retried(attempt, self._autocommit_engine)

    def _run(self, work: Callable[[Session], T], engine: Engine, *, commit: bool) -> T:
        def attempt() -> T:
            with Session(engine, expire_on_commit=False) as session:
                result = work(session)
                if commit:
                    try:
                        session.commit()
                    except DBAPIError as exc:
                        # A commit that failed may or may not have landed: never run that work twice.
                        if exc.connection_invalidated:
                            raise DatabaseUnavailable("the database connection was lost") from exc
                        raise
                return result

        return self._retried(attempt, engine)

    @staticmethod
    def _retried(attempt: Callable[[], T], engine: Engine) -> T:
        """`attempt`, once more on a fresh connection if its pooled one turns out dead."""
        for tried in (1, 2):
            try:
                return attempt()
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                if tried == 2:
                    raise DatabaseUnavailable("the database connection was lost") from exc
                logger.warning("database connection was stale; retrying on a fresh one")
                engine.pool.dispose()
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        """Drop pooled connections (after a SnapStart restore, or in tests)."""
        self.engine.dispose()


def load_json(text: str | bytes) -> Any:
    """The JSON columns' reader: pydantic-core's parser, about ten times faster than `json.loads` on a page of tool
    calls. It refuses a lone surrogate escape, which `json.loads` (and so what was stored) allows: that text gets
    `json.loads`."""
    try:
        return from_json(text)
    except ValueError:
        return json.loads(text)


def create_db_engine(
    url: str, *, url_source: UrlSource | None = None, idle_seconds: float = IDLE_SECONDS, **options: Any
) -> Engine:
    options.setdefault("json_deserializer", load_json)
    # A failed statement's message (logged with its traceback) would carry its parameters: the user's text.
    options.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **options)
    # One per Lambda container; a long-running server of many concurrent requests (the local gateway) sets more.
    options.setdefault("pool_size", int(os.environ.get("DATABASE_POOL_SIZE") or 1))
    options.setdefault("max_overflow", 0)
    options.setdefault("pool_recycle", 240)
    options.setdefault("pool_timeout", 10)
    connect_args = options.pop("connect_args", {})
    # PgBouncer in transaction mode cannot keep named prepared statements for us.
    connect_args.setdefault("prepare_threshold", None)
    connect_args.setdefault("connect_timeout", 5)
    connect_args.setdefault("application_name", "todo-chat")
    engine = sa.create_engine(url, connect_args=connect_args, **options)
    _recycle_idle_connections(engine, idle_seconds)
    _connect_with_retries(engine, url_source)
    return engine


def _recycle_idle_connections(engine: Engine, idle_seconds: float) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is not None and time.monotonic() - idle_since > idle_seconds:
            # The pool discards this connection and checks out a new one.
            raise DisconnectionError("connection idle too long")


def _connect_with_retries(engine: Engine, url_source: UrlSource | None) -> None:
    """Every new connection: the secret's current URL (cached by Parameters up to its max age), a few attempts with
    backoff for a server that is briefly unreachable or full, one fresh secret read on an authentication failure."""
    dialect = engine.dialect

    def parameters_of(url: str) -> dict[str, Any]:
        _args, parameters = dialect.create_connect_args(make_url(normalize_database_url(url)))
        return dict(parameters)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
        if url_source is not None:
            cparams.update(parameters_of(url_source(False)))
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return dialect.loaded_dbapi.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError as exc:
                if _is_authentication_failure(exc):
                    if url_source is None or refreshed:
                        raise
                    logger.warning("database authentication failed; reading the secret again")
                    cparams.update(parameters_of(url_source(True)))
                    refreshed = True
                    continue
                if attempt >= CONNECT_ATTEMPTS:
                    raise
                delay = CONNECT_BACKOFF_SECONDS * 3 ** (attempt - 1)
                logger.warning("database connection attempt %d failed (%s); retrying in %.1fs", attempt, exc, delay)
                time.sleep(delay)


def _is_authentication_failure(exc: BaseException) -> bool:
    if getattr(exc, "sqlstate", None) in _AUTH_FAILURE_STATES:
        return True
    # Before the server answers with a result, psycopg knows the failure only by its message.
    return "authentication failed" in str(exc)


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
