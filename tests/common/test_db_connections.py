"""One connection per container: a pool of one without overflow, idle connections replaced, connection attempts
retried with backoff, and a rotated database password picked up in the same warm container (Secrets Manager through
moto, a real password check on a private cluster)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import boto3
import pytest
import sqlalchemy as sa
from moto import mock_aws
from sqlmodel import Session

from tests.support.pg_cluster import Cluster, private_cluster
from todo_common.db import Database, create_db_engine, load_json
from todo_common.settings import Settings

pytestmark = pytest.mark.postgres_only


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with private_cluster(max_connections=13) as running:  # 3 of them reserved for superusers
        admin = sa.create_engine(running.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text("CREATE ROLE app LOGIN PASSWORD 'first-password'"))
            connection.execute(sa.text("CREATE DATABASE app OWNER app"))
        admin.dispose()
        yield running


def backend_pid(database: Database) -> int:
    return int(database.read(lambda s: s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()))


def connections_of(cluster: Cluster, application: str) -> int:
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            return int(
                connection.execute(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": application},
                ).scalar_one()
            )
    finally:
        admin.dispose()


def test_each_container_holds_one_connection(cluster: Cluster) -> None:
    """Ten containers against a server with room for exactly ten: every one of them keeps working."""
    url = cluster.url("app", "first-password", "app")
    containers = [Database.from_url(url, connect_args={"application_name": "todo-chat-pool"}) for _ in range(10)]
    try:
        for _ in range(3):
            for database in containers:
                assert database.read(lambda s: s.execute(sa.text("SELECT 1")).scalar_one()) == 1
        assert connections_of(cluster, "todo-chat-pool") == 10
        assert containers[0].engine.pool.size() == 1  # type: ignore[attr-defined]
    finally:
        for database in containers:
            database.dispose()


def test_an_idle_connection_is_replaced(cluster: Cluster) -> None:
    database = Database(create_db_engine(cluster.url("app", "first-password", "app"), idle_seconds=0.2))
    try:
        first = backend_pid(database)
        assert backend_pid(database) == first
        time.sleep(0.4)
        assert backend_pid(database) != first
    finally:
        database.dispose()


class RefusingProxy:
    """A TCP proxy that drops the first `refuse` connections at once (a server still starting), then forwards."""

    def __init__(self, target_port: int, refuse: int) -> None:
        self.target_port = target_port
        self.refuse = refuse
        self.attempts = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.attempts += 1
            if self.attempts <= self.refuse:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            sink.close()

    def close(self) -> None:
        self.listener.close()


def test_connection_attempts_are_retried_with_backoff(cluster: Cluster) -> None:
    proxy = RefusingProxy(cluster.port, refuse=2)
    database = Database.from_url(f"postgresql+psycopg://app:first-password@127.0.0.1:{proxy.port}/app")
    try:
        started = time.monotonic()
        assert database.read(lambda s: s.execute(sa.text("SELECT 1")).scalar_one()) == 1
        assert proxy.attempts == 3
        assert time.monotonic() - started >= 0.2 + 0.6 - 0.05  # two waits, growing
    finally:
        database.dispose()
        proxy.close()


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from aws_lambda_powertools.utilities import parameters

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        parameters.clear_caches()  # type: ignore[no-untyped-call]  # providers made outside moto
        yield boto3.client("secretsmanager", region_name="us-east-1")
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def test_a_rotated_password_works_in_the_same_warm_container(
    cluster: Cluster, secrets_manager: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    client: object = secrets_manager
    arn = client.create_secret(  # type: ignore[attr-defined]
        Name="todo-chat/database-url", SecretString=cluster.url("app", "first-password", "app")
    )["ARN"]
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL_SECRET_ARN", arn)
    monkeypatch.setenv("SECRETS_MAX_AGE_SECONDS", "300")
    settings = Settings.from_environ()
    database = Database.from_url(settings.database_url, connect_args={"application_name": "todo-chat-rotation"})
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    try:
        assert backend_pid(database)

        # Rotation as Secrets Manager's rotation function does it: new password on the role, then in the secret.
        with admin.connect() as connection:
            connection.execute(sa.text("ALTER ROLE app PASSWORD 'second-password'"))
        client.put_secret_value(  # type: ignore[attr-defined]
            SecretId=arn, SecretString=cluster.url("app", "second-password", "app")
        )
        # The container's connection is gone (recycled, or dropped while it slept): the next one must log in.
        with admin.connect() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'todo-chat-rotation'"
                )
            )

        def count(session: Session) -> int:
            return int(session.execute(sa.text("SELECT 1")).scalar_one())

        assert database.read(count) == 1  # within the secret's max age: the failed login forced a fresh read
        assert json.dumps(database.engine.url.render_as_string(hide_password=True))
    finally:
        database.dispose()
        admin.dispose()


def test_the_secrets_max_age_is_honoured_for_new_connections(
    cluster: Cluster, secrets_manager: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rotation by alternating users (both stay valid): once the secret's max age has passed, the next connection
    the container opens uses the new value, with no failed login needed."""
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE ROLE app_clone LOGIN PASSWORD 'clone-password' IN ROLE app"))
    admin.dispose()
    client: object = secrets_manager
    arn = client.create_secret(  # type: ignore[attr-defined]
        Name="todo-chat/database-url-alternating", SecretString=cluster.url("app", "second-password", "app")
    )["ARN"]
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL_SECRET_ARN", arn)
    monkeypatch.setenv("SECRETS_MAX_AGE_SECONDS", "1")
    database = Database.from_url(Settings.from_environ().database_url, idle_seconds=0)

    def user(session: Session) -> str:
        return str(session.execute(sa.text("SELECT current_user")).scalar_one())

    try:
        assert database.read(user) == "app"
        client.put_secret_value(  # type: ignore[attr-defined]
            SecretId=arn, SecretString=cluster.url("app_clone", "clone-password", "app")
        )
        assert database.read(user) == "app"  # the cached value, within its max age
        time.sleep(1.2)
        assert database.read(user) == "app_clone"
    finally:
        database.dispose()


@pytest.mark.parametrize(
    "stored",
    ['[{"call_id": "c1", "arguments": {"title": "milk"}, "text_offset": 0}]', "[]", '{"a": 1, "a": 2}', '"\\ud800"'],
)
def test_json_columns_read_back_as_json_loads_reads_them(stored: str) -> None:
    """pydantic-core's parser reads the JSON columns; text it refuses (a lone surrogate escape) still reads."""
    assert load_json(stored) == json.loads(stored)
    assert load_json(stored.encode()) == json.loads(stored)
