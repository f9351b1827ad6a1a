"""`make smoke` against the local stack: the gateway of `make dev` on a real socket, every check passing, and a
wrong token reported in words with a failing exit status."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from functions.chat.agent.offline_model import OfflineModel
from tests.support.gateway import serve_gateway
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.web import Services

ALICE = "user_alice"


@pytest.fixture
def stack_url(services: Services) -> Iterator[str]:
    with serve_gateway(services, OfflineModel()) as url:
        yield url


def smoke(url: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.smoke", "--url", url, "--token", token],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_check_passes_on_a_working_stack_and_leaves_nothing_behind(
    stack_url: str, tokens: Tokens, database: Database
) -> None:
    result = smoke(stack_url, tokens.eddsa(ALICE))

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name in (
        "session",
        "streamed turn with add_task",
        "list_tasks through the chat",
        "delete_task through the chat",
        "history",
        "another user's path is 403",
        "clean-up",
    ):
        assert any(line.startswith(f"ok    {name}: ") for line in lines), (name, result.stdout)
    assert "7 of 7 checks passed" in result.stdout
    assert rows(database, "conversation") == 0 and rows(database, "task") == 0


def rows(database: Database, table: str) -> int:
    query = sa.text(f"SELECT count(*) FROM {table}")
    return int(database.read(lambda session: session.connection().execute(query).scalar_one()))


def test_a_wrong_token_fails_in_words(stack_url: str, tokens: Tokens) -> None:
    forged = tokens.hs256(ALICE, secret="not-the-better-auth-secret-0123456789")

    result = smoke(stack_url, forged)

    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(
        "FAIL  session: the session function answered 401 instead of 201: The bearer token is invalid. "
    )
    assert "is TOKEN a current token of the Better Auth server" in first
    assert "FAIL  history: not run: session failed" in result.stdout
    assert "0 of 6 checks passed" in result.stdout


def test_a_token_that_is_no_jwt_is_named_as_such(stack_url: str) -> None:
    result = smoke(stack_url, "not-a-token")

    assert result.returncode == 1
    assert "FAIL  session: TOKEN is not a JWT with a subject (sub)" in result.stdout


def test_an_unreachable_url_is_named_as_such(tokens: Tokens) -> None:
    result = smoke("http://127.0.0.1:9", tokens.eddsa(ALICE))

    assert result.returncode == 1
    assert "no connection (is the URL right and the stack deployed?)" in result.stdout
