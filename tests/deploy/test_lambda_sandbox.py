"""The built bundles run as Lambda runs them (see tests/support/lambda_sandbox.py): session and history through
`app.handler` with every sample event of `events/`, the chat function started by its `run.sh` as the Web Adapter
does, streaming a turn and answering MCP.

`make package`'s output is built once per session for this machine's architecture; with `LAMBDA_BUNDLE_DIR` set to
`sam build`'s output (`.aws-sam/build`) the same tests run on what `sam build` made."""

from __future__ import annotations

import json
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
from tests.support.chat import parse_sse
from tests.support.databases import drop_postgres, postgres_url, prepare_postgres, run_database_name
from tests.support.jwks import JwksServer
from tests.support.lambda_sandbox import (
    Bundle,
    Sandbox,
    running_chat,
    sandbox_for,
)
from tests.support.tokens import Tokens
from todo_common import conversations
from todo_common.db import Database
from todo_common.settings import Settings

pytestmark = pytest.mark.long

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
EXPECTED = {"session_create": 201, "history_delete_conversation": 204}
HEAVY = {"openai", "agents", "chatkit", "mcp", "uvicorn"}


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    base = make_url(postgres_url())
    url = prepare_postgres(base.set(database=run_database_name("todo_chat_sandbox")).render_as_string(False))
    yield url
    drop_postgres(url)


@pytest.fixture(scope="module")
def sandbox(settings: Settings, database_url: str) -> Sandbox:
    return sandbox_for(settings, database_url)


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
    with running_chat(sandbox, bundles["chat"], chat_log) as url:
        yield url


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
