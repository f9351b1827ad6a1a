"""The local gateway as several processes (GATEWAY_WORKERS) that share nothing but PostgreSQL, as Lambda's
containers do: a message sent twice at once, possibly to two processes, is answered and stored once."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.support.databases import drop_postgres, enabled_backends, postgres_url, prepare_postgres
from tests.support.server import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
USERS = [f"proc-user-{n}" for n in range(4)]
MESSAGES = 3


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    if "postgres" not in enabled_backends():
        pytest.skip("TEST_DATABASES leaves PostgreSQL out")
    run_url = make_url(postgres_url())
    url = prepare_postgres(run_url.set(database=f"{run_url.database}_processes").render_as_string(hide_password=False))
    secret = secrets.token_urlsafe(32)
    monkeypatch.setenv("BETTER_AUTH_SECRET", secret)  # infra.devtoken mints with it
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "APP_ENV": "development",
        "DATABASE_URL": url,
        "CHAT_TOKEN_SECRET": secrets.token_urlsafe(32),
        "OPENAI_API_KEY": "",
        "PORT": str(port),
        "GATEWAY_WORKERS": "2",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "infra.devserver"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_up(base, 90):
            pytest.fail("the gateway with two processes did not start")
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(20)
        drop_postgres(url)


def test_two_gateway_processes_answer_a_doubled_message_once(gateway: tuple[str, int]) -> None:
    from infra.devtoken import dev_token

    base, pid = gateway
    workers = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(workers) >= 2

    async def user_chats(http: httpx.AsyncClient, user: str) -> tuple[list[int], str | None]:
        headers = {"Authorization": f"Bearer {dev_token(user)}"}
        conversation: str | None = None
        statuses: list[int] = []
        for index in range(MESSAGES):
            body = {"message": f"add task {index}", "client_message_id": f"{user}-{index}"}
            if conversation:
                body["conversation_id"] = conversation
            answers = await asyncio.gather(*(http.post(f"/api/{user}/chat", json=body, headers=headers) for _ in "ab"))
            statuses += [answer.status_code for answer in answers]
            conversation = answers[0].json().get("conversation_id", conversation)
        return statuses, conversation

    async def everyone() -> list[tuple[list[int], str | None]]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            return await asyncio.gather(*(user_chats(http, user) for user in USERS))

    results = asyncio.run(everyone())
    for user, (statuses, conversation) in zip(USERS, results, strict=True):
        assert statuses == [200] * (2 * MESSAGES)
        page = httpx.get(
            f"{base}/api/{user}/conversations/{conversation}/messages",
            headers={"Authorization": f"Bearer {dev_token(user)}"},
            timeout=30,
        ).json()
        stored = page["items"]
        assert [m["role"] for m in stored] == ["user", "assistant"] * MESSAGES
        assert [m["content"] for m in stored if m["role"] == "user"] == [f"add task {i}" for i in range(MESSAGES)]
        assert {m["status"] for m in stored} == {"complete"}
