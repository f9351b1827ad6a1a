"""Shared fixtures. The environment is set before any function module is imported, so `functions.<name>.app`
builds its services exactly as on Lambda: from the environment, once."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infra.package import host_architecture, package
from tests.support.databases import (
    drop_postgres,
    empty_tables,
    enabled_backends,
    postgres_url,
    prepare_postgres,
    prepare_sqlite,
)
from tests.support.jwks import JwksServer
from tests.support.lambda_sandbox import Bundle
from tests.support.tokens import Tokens
from tests.support.workers import exclusive, shared_folder
from todo_common.auth import TokenVerifier
from todo_common.db import Database
from todo_common.logs import configure_logging
from todo_common.settings import Settings
from todo_common.web import Services, build_app

JWKS = JwksServer()
_SCRATCH = Path(tempfile.mkdtemp(prefix="todo-chat-tests-"))
os.environ.update(
    {
        "APP_ENV": "test",
        "BETTER_AUTH_URL": JWKS.url,
        "BETTER_AUTH_SECRET": "test-better-auth-secret-0123456789abcdef",
        "CHAT_TOKEN_SECRET": "test-chat-token-secret-0123456789abcdef",
        "DATABASE_URL": f"sqlite:///{_SCRATCH / 'module-apps.db'}",
        "LOG_LEVEL": "WARNING",
        "POWERTOOLS_SERVICE_NAME": "todo-chat-tests",
        "OPENAI_AGENTS_DISABLE_TRACING": "1",
        "CHAT_ATTACHMENTS_DIR": str(_SCRATCH / "attachments"),
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long modules first, each in its own order: the workers (`make test`'s `--no-loadscope-reorder`) take modules in
    this order, so the run ends on short ones instead of waiting for a long one handed out last."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_environ()


@pytest.fixture(scope="session")
def jwks() -> JwksServer:
    return JWKS


@pytest.fixture
def tokens(settings: Settings) -> Tokens:
    return Tokens(settings, JWKS)


@pytest.fixture(scope="session", params=enabled_backends())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Database]]:
    opened: dict[str, Database] = {}
    yield opened
    for backend, database in opened.items():
        url = database.engine.url.render_as_string(hide_password=False)
        database.dispose()
        if backend == "postgres":
            drop_postgres(url)


@pytest.fixture
def database(backend: str, _databases: dict[str, Database], tmp_path_factory: pytest.TempPathFactory) -> Database:
    """A migrated, empty database of the backend under test."""
    if backend not in _databases:
        if backend == "postgres":
            url = prepare_postgres(postgres_url())
        else:
            url = prepare_sqlite(tmp_path_factory.mktemp("sqlite"))
        _databases[backend] = Database.from_url(url)
    database = _databases[backend]
    empty_tables(database)
    return database


@pytest.fixture
def services(settings: Settings, database: Database) -> Services:
    configured = dataclasses.replace(settings, database_url=database.engine.url.render_as_string(hide_password=False))
    return Services(
        settings=configured,
        database=database,
        verifier=TokenVerifier(configured),
        logger=configure_logging("todo-chat-tests", "WARNING"),
    )


@pytest.fixture
def history_client(services: Services) -> Iterator[TestClient]:
    from functions.history.routes import router

    with TestClient(build_app("history", services, [router]), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def session_client(services: Services) -> Iterator[TestClient]:
    from functions.session.routes import router

    with TestClient(build_app("session", services, [router]), raise_server_exceptions=False) as client:
        yield client


_SAM_IDS = {"session": "SessionFunction", "history": "HistoryFunction", "chat": "ChatFunction"}


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Bundle]:
    """The functions as `make package` builds them for this machine (once per run, for every sandbox test); with
    `LAMBDA_BUNDLE_DIR` set to `sam build`'s output (`.aws-sam/build`), what `sam build` made."""
    sam_output = os.environ.get("LAMBDA_BUNDLE_DIR")
    if sam_output:
        built = Path(sam_output).resolve()
        return {name: Bundle(name, built / logical, built / "CommonLayer") for name, logical in _SAM_IDS.items()}
    # Built by the first worker that needs them; the others wait for that build and share it (nothing writes to it).
    folder = shared_folder(tmp_path_factory, "lambda")
    out, built = folder / "build", folder / "built"
    with exclusive(folder / "lock"):
        if not built.exists():
            shutil.rmtree(out, ignore_errors=True)
            package(out, host_architecture())
            built.touch()
    return {name: Bundle(name, out / "functions" / name, out / "layer") for name in _SAM_IDS}
