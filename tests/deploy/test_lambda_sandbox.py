"""The built bundles run as Lambda runs them (see tests/support/lambda_sandbox.py): session and history through
`app.handler` with every sample event of `events/`, the chat function started by its `run.sh` as the Web Adapter
does, streaming a turn and answering MCP.

`make package`'s output is built once per session for this machine's architecture; with `LAMBDA_BUNDLE_DIR` set to
`sam build`'s output (`.aws-sam/build`) the same tests run on what `sam build` made."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session

from infra.devtoken import DEMO_USER
from infra.events import CONVERSATION, ROUTES
from infra.package import host_architecture, package
from tests.support.chat import parse_sse
from tests.support.databases import drop_postgres, postgres_url, prepare_postgres, run_database_name
from tests.support.jwks import JwksServer
from tests.support.lambda_sandbox import Bundle, Sandbox, can_unshare, require, runtime_environment, stop
from tests.support.server import free_port
from tests.support.tokens import Tokens
from todo_common import conversations
from todo_common.db import Database
from todo_common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
EXPECTED = {"session_create": 201, "history_delete_conversation": 204}
HEAVY = {"openai", "agents", "chatkit", "mcp", "uvicorn"}
SAM_IDS = {"session": "SessionFunction", "history": "HistoryFunction", "chat": "ChatFunction"}


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Bundle]:
    sam_output = os.environ.get("LAMBDA_BUNDLE_DIR")
    if sam_output:
        built = Path(sam_output).resolve()
        return {name: Bundle(name, built / logical, built / "CommonLayer") for name, logical in SAM_IDS.items()}
    out = tmp_path_factory.mktemp("lambda") / "build"
    package(out, host_architecture())
    return {name: Bundle(name, out / "functions" / name, out / "layer") for name in SAM_IDS}


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    base = make_url(postgres_url())
    url = prepare_postgres(base.set(database=run_database_name("todo_chat_sandbox")).render_as_string(False))
    yield url
    drop_postgres(url)


@pytest.fixture(scope="module")
def sandbox(settings: Settings, database_url: str) -> Sandbox:
    if not can_unshare():
        require("a private mount namespace (unshare -m)")
    assert settings.better_auth_secret and settings.chat_token_secret
    return Sandbox(
        runtime=runtime_environment(),
        environment={
            "APP_ENV": "production",
            "DATABASE_URL": database_url,
            "BETTER_AUTH_SECRET": settings.better_auth_secret,
            "CHAT_TOKEN_SECRET": settings.chat_token_secret,
            "JWT_ISSUER": settings.jwt_issuer or "",
            "JWT_AUDIENCE": settings.jwt_audience or "",
            "ALLOWED_ORIGINS": "https://todo.example.com",
            "CHAT_BASE_URL": "https://chat.example.com",
            "LOG_LEVEL": "INFO",
            "OPENAI_AGENTS_DISABLE_TRACING": "1",
        },
    )


@pytest.fixture
def tokens(settings: Settings, jwks: JwksServer) -> Tokens:
    return Tokens(settings, jwks)


def seed(url: str) -> None:
    database = Database.from_url(url)

    def work(session: Session) -> None:
        session.execute(sa.text("DELETE FROM message; DELETE FROM conversation; DELETE FROM task"))
        conversation = conversations.create_conversation(
            session, DEMO_USER, title="Weekend milk", conversation_id=CONVERSATION
        )
        conversations.append_message(session, conversation, role="user", content="add milk")
        conversations.append_message(session, conversation, role="assistant", content="Added milk.")

    database.write(work)
    database.dispose()


def events_of(function: str, tokens: Tokens) -> list[tuple[str, dict[str, Any]]]:
    """Every sample event of `function`, with a fresh token; the delete runs last (it removes what others read)."""
    names = sorted((n for n, route in ROUTES.items() if route[0] == function), key=lambda n: ("delete" in n, n))
    assert {p.stem for p in EVENTS.glob(f"{function}_*.json")} == set(names), "events/ and infra.events agree"
    events = []
    for name in names:
        event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
        token = tokens.hs256(DEMO_USER) if function == "session" else tokens.chat(DEMO_USER)
        event["headers"]["authorization"] = f"Bearer {token}"
        events.append((name, event))
    return events


def lines_of(output: str) -> list[dict[str, Any]]:
    parsed = []
    for line in output.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            parsed.append(value)
    return parsed


@pytest.mark.parametrize("function", ["session", "history", "chat"])
def test_every_event_through_the_packaged_handler(
    function: str,
    bundles: dict[str, Bundle],
    sandbox: Sandbox,
    database_url: str,
    tokens: Tokens,
    tmp_path: Path,
) -> None:
    """One cold container per function, invoked through the Runtime API by the runtime's own client."""
    seed(database_url)
    events = events_of(function, tokens)
    log = tmp_path / "stdout.log"
    outcomes = sandbox.invoke(bundles[function], [event for _, event in events], log)
    lines = lines_of(log.read_text(errors="replace"))

    imported = next(line for line in lines if line.get("sandbox") == "import")
    loaded = {name.split(".")[0] for name in imported["modules"]}
    if function != "chat":
        assert not loaded & HEAVY, f"{function} imports {loaded & HEAVY}"
    assert "boto3" not in loaded, "no secret ARN configured: nothing needs boto3"
    for (name, _), outcome in zip(events, outcomes, strict=True):
        assert outcome.kind == "response", (name, outcome.body)
        assert outcome.body["statusCode"] == EXPECTED.get(name, 200), (name, outcome.body.get("body"))
        assert outcome.body["headers"]["x-request-id"] == outcome.request_id, "Lambda's request id, end to end"
    if function == "history":
        latencies = [line["HistoryLatencyMs"] for line in lines if "_aws" in line]
        assert len(latencies) == len(events), "one EMF line per invocation"


@pytest.fixture(scope="module")
def chat_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chat") / "stdout.log"


@pytest.fixture(scope="module")
def chat_url(bundles: dict[str, Bundle], sandbox: Sandbox, chat_log: Path) -> Iterator[str]:
    """The chat function's `run.sh`, started with the template's environment as the Web Adapter starts it, ready
    once GET /healthz answers (the adapter's readiness check)."""
    port = free_port()
    process = sandbox.start(
        bundles["chat"],
        {
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
            "AWS_LWA_INVOKE_MODE": "response_stream",
            "AWS_LWA_READINESS_CHECK_PATH": "/healthz",
            "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH": "/lwa/snapstart/before",
            "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH": "/lwa/snapstart/after",
            "PORT": str(port),
        },
        chat_log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                output = chat_log.read_text(errors="replace")
                pytest.fail(f"run.sh exited with {process.returncode} before it was ready:\n{output[-4000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the readiness check never passed"
            time.sleep(0.1)
        yield url
    finally:
        stop(process)


def test_chat_streams_a_turn_through_run_sh(chat_url: str, database_url: str, tokens: Tokens) -> None:
    seed(database_url)
    with httpx.stream(
        "POST",
        f"{chat_url}/api/{DEMO_USER}/chat",
        json={"message": "add buy milk"},
        headers={"Accept": "text/event-stream", "Authorization": f"Bearer {tokens.hs256(DEMO_USER)}"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(response.iter_lines())
    names = [name for name, _ in events]
    assert names[0] == "conversation"
    assert names[-1] == "done", events
    finished = [data for name, data in events if name == "tool_call_finished"]
    assert [(f["name"], f["status"]) for f in finished] == [("add_task", "success")]


def test_chat_answers_mcp_through_run_sh(chat_url: str, tokens: Tokens) -> None:
    headers = {
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {tokens.chat(DEMO_USER)}",
        "MCP-Protocol-Version": "2025-06-18",
        # The Web Adapter forwards the Function URL's Host; production answers only its own (CHAT_BASE_URL's) host.
        "Host": "chat.example.com",
    }
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "sandbox", "version": "1"},
        },
    }
    answer = httpx.post(f"{chat_url}/mcp", json=initialize, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["serverInfo"]["name"]
    listing = httpx.post(
        f"{chat_url}/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=headers, timeout=10
    )
    assert listing.status_code == 200, listing.text
    assert "add_task" in {tool["name"] for tool in listing.json()["result"]["tools"]}


def test_snapstart_hooks_reconnect_what_the_snapshot_froze(chat_url: str, database_url: str, tokens: Tokens) -> None:
    """The Web Adapter's calls around a snapshot: both hooks answer 2xx, and the app then serves a turn on a new
    connection."""
    assert httpx.post(f"{chat_url}/lwa/snapstart/before", timeout=10).status_code == 204
    assert httpx.post(f"{chat_url}/lwa/snapstart/after", timeout=10).status_code == 204
    seed(database_url)
    answer = httpx.post(
        f"{chat_url}/api/{DEMO_USER}/chat",
        json={"message": "list"},
        headers={"Authorization": f"Bearer {tokens.chat(DEMO_USER)}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "complete"
