"""Sample Lambda events for every route, for `sam local invoke`, the handler tests and `make events-run`.

The tracked files under `events/` carry a placeholder instead of a token, so nothing tracked changes when tokens
expire. Three commands:

    make events       # .data/events/*.json: the same events with a fresh dev token (untracked), for sam local invoke
    make events-run   # in a database of its own (.data/events-run.db): seed, invoke every handler with every event
    .venv/bin/python -m infra.events samples   # regenerate the tracked templates in events/ (after a route change)

API Gateway HTTP API v2 events for session and history, Lambda Function URL events for chat. Then, e.g.:

    sam local invoke HistoryFunction -e .data/events/history_list_conversations.json -t build/template.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from infra.devtoken import DEMO_USER, dev_token, load_dev_environment

if TYPE_CHECKING:
    from todo_common.db import Database

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
FILLED = Path(".data/events")
EVENTS_DATABASE_URL = "sqlite:///.data/events-run.db"  # `make events-run`'s own, apart from the dev database
TOKEN_PLACEHOLDER = "DEV_TOKEN"  # `make events` replaces it with a real dev token in .data/events/
API_HOST = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
URL_HOST = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws"
CONVERSATION = "thr_00000000000000000000000000000001"

# name: (function, method, route key, path, query, body)
ROUTES: dict[str, tuple[str, str, str, str, str, Any]] = {
    "session_create": (
        "session",
        "POST",
        "/api/{user_id}/chatkit/session",
        "/chatkit/session",
        "",
        {"new_conversation": True},
    ),
    "history_list_conversations": ("history", "GET", "/api/{user_id}/conversations", "/conversations", "limit=5", None),
    "history_search_conversations": (
        "history",
        "GET",
        "/api/{user_id}/conversations",
        "/conversations",
        "q=milk",
        None,
    ),
    "history_get_conversation": (
        "history",
        "GET",
        "/api/{user_id}/conversations/{conversation_id}",
        f"/conversations/{CONVERSATION}",
        "",
        None,
    ),
    "history_list_messages": (
        "history",
        "GET",
        "/api/{user_id}/conversations/{conversation_id}/messages",
        f"/conversations/{CONVERSATION}/messages",
        "limit=20&order=asc",
        None,
    ),
    "history_rename_conversation": (
        "history",
        "PATCH",
        "/api/{user_id}/conversations/{conversation_id}",
        f"/conversations/{CONVERSATION}",
        "",
        {"title": "Groceries"},
    ),
    "history_delete_conversation": (
        "history",
        "DELETE",
        "/api/{user_id}/conversations/{conversation_id}",
        f"/conversations/{CONVERSATION}",
        "",
        None,
    ),
    "history_export_conversation": (
        "history",
        "GET",
        "/api/{user_id}/conversations/{conversation_id}/export",
        f"/conversations/{CONVERSATION}/export",
        "format=markdown",
        None,
    ),
    "chat_message": ("chat", "POST", "", "/chat", "", {"message": "add buy milk"}),
    "chat_chatkit_create_thread": (
        "chat",
        "POST",
        "",
        "/chatkit",
        "",
        {
            "type": "threads.create",
            "params": {
                "input": {
                    "content": [{"type": "input_text", "text": "add buy milk"}],
                    "attachments": [],
                    "inference_options": {},
                }
            },
        },
    ),
    "chat_chatkit_list_threads": (
        "chat",
        "POST",
        "",
        "/chatkit",
        "",
        {"type": "threads.list", "params": {"limit": 10}},
    ),
}


def build_event(name: str, user_id: str, token: str) -> dict[str, Any]:
    function, method, route_key, suffix, query, body = ROUTES[name]
    path = f"/api/{user_id}{suffix}"
    function_url = function == "chat"
    host = URL_HOST if function_url else API_HOST
    headers = {
        "accept": "text/event-stream" if name == "chat_chatkit_create_thread" else "application/json",
        "content-type": "application/json",
        "host": host,
        "origin": "https://todo.example.com",
        "user-agent": "Mozilla/5.0",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-proto": "https",
        "authorization": f"Bearer {token}",
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default" if function_url else f"{method} {route_key}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous" if function_url else "123456789012",
            "apiId": host.split(".")[0],
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "Mozilla/5.0",
            },
            "requestId": f"sample-{name}",
            "routeKey": "$default" if function_url else f"{method} {route_key}",
            "stage": "$default",
            "time": "24/Nov/2026:13:00:00 +0000",
            "timeEpoch": 1795870800000,
        },
        "isBase64Encoded": function_url and body is not None,
    }
    if query:
        event["queryStringParameters"] = dict(pair.split("=", 1) for pair in query.split("&"))
    if not function_url:
        parameters = {"user_id": user_id}
        if "{conversation_id}" in route_key:
            parameters["conversation_id"] = CONVERSATION
        event["pathParameters"] = parameters
    if body is not None:
        raw = json.dumps(body)
        event["body"] = base64.b64encode(raw.encode()).decode() if function_url else raw
    return event


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2) + "\n"


def write_samples(target: Path = EVENTS) -> list[Path]:
    """The tracked templates: deterministic, with the placeholder token."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ROUTES:
        path = target / f"{name}.json"
        content = render(build_event(name, DEMO_USER, TOKEN_PLACEHOLDER))
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
        written.append(path)
    return written


def write_events(user_id: str = DEMO_USER, target: Path = FILLED) -> list[Path]:
    """Every sample event with a fresh dev token for `user_id`, into an untracked folder."""
    load_dev_environment()
    token = dev_token(user_id)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ROUTES:
        path = target / f"{name}.json"
        path.write_text(render(build_event(name, user_id, token)))
        written.append(path)
    return written


# The order `make events-run` invokes them in (delete last, so every other event finds the conversation), and the
# status each should answer.
RUN_ORDER: tuple[tuple[str, int], ...] = (
    ("session_create", 201),
    ("history_list_conversations", 200),
    ("history_search_conversations", 200),
    ("history_get_conversation", 200),
    ("history_list_messages", 200),
    ("history_export_conversation", 200),
    ("history_rename_conversation", 200),
    ("chat_message", 200),
    ("chat_chatkit_create_thread", 200),
    ("chat_chatkit_list_threads", 200),
    ("history_delete_conversation", 204),
)


@dataclass
class LocalLambdaContext:
    """What the Lambda runtime passes to a handler, enough for Mangum and Powertools."""

    aws_request_id: str
    function_name: str = "todo-chat-local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:todo-chat-local"
    log_group_name: str = "/aws/lambda/todo-chat-local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def seed_sample_conversation(user_id: str = DEMO_USER, database: Database | None = None) -> None:
    """(Re)create the conversation the history events name, with one question and its answer, in `database`
    (default: the one the history function's handler uses)."""
    from sqlmodel import Session

    from todo_common import conversations
    from todo_common.errors import ApiError

    if database is None:
        from functions.history.app import app as history

        database = history.state.services.database

    def work(session: Session) -> None:
        with contextlib.suppress(ApiError):  # not there yet
            conversations.delete_conversation(session, user_id, CONVERSATION)
        conversation = conversations.create_conversation(
            session, user_id, title="Weekend milk", conversation_id=CONVERSATION
        )
        conversations.append_message(session, conversation, role="user", content="add milk")
        conversations.append_message(session, conversation, role="assistant", content="Added milk.")

    database.write(work)


def summary(result: dict[str, Any]) -> str:
    """One line that says what came back, not the raw body."""
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return _describe(data)
    if body.startswith("data:"):
        kinds = [json.loads(line[5:]).get("type") for line in body.splitlines() if line.startswith("data:")]
        return f"ChatKit stream: {', '.join(dict.fromkeys(kinds))}"
    return " ".join(body.split())[:110]


def _describe(data: dict[str, Any]) -> str:
    if "error" in data:
        return f"{data['error'].get('code')}: {data['error'].get('message')}"
    if "token" in data:
        return f"chat token until {data.get('expires_at')}, conversation {data.get('conversation_id')}"
    if "response" in data:
        calls = ", ".join(f"{c['name']} {c['status']}" for c in data.get("tool_calls", []))
        return f"{data['response']!r} [{calls}]"
    for key in ("items", "data"):
        if isinstance(data.get(key), list):
            rows = data[key]
            names = ", ".join(repr(r.get("title") or r.get("content") or r.get("id")) for r in rows[:3])
            return f"{len(rows)} {key}: {names}"
    if "title" in data:
        return f"{data['id']} {data['title']!r}, {data.get('message_count')} messages"
    return json.dumps(data)[:110]


def run_events(user_id: str = DEMO_USER) -> bool:
    """Invoke each function's real handler with each sample event against a database of its own:
    `EVENTS_DATABASE_URL`, by default `.data/events-run.db`; never the dev database (`DATABASE_URL`) that `make dev`
    and its page show, which the events would fill with their sample conversations and tasks."""
    from infra.migrate import upgrade
    from todo_common.settings import DEFAULT_SQLITE_URL

    load_dev_environment()
    url = os.environ.get("EVENTS_DATABASE_URL") or EVENTS_DATABASE_URL
    if url in (os.environ.get("DATABASE_URL"), DEFAULT_SQLITE_URL):
        print(f"EVENTS_DATABASE_URL names the dev database ({url}): give the events a database of their own")
        return False
    os.environ["DATABASE_URL"] = url  # read by the function apps when they are imported below
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the status lines below are the report; keep request logs out
    upgrade(url)
    from functions.chat import app as chat
    from functions.history import app as history
    from functions.session import app as session

    asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum's handlers run on the thread's event loop
    handlers = {"session": session.handler, "history": history.handler, "chat": chat.handler}
    seed_sample_conversation(user_id)
    token = dev_token(user_id)
    ok = True
    print(f"seeded {CONVERSATION} for {user_id} in {url.split('@')[-1]}; invoking every handler:\n")
    for name, expected in RUN_ORDER:
        event = build_event(name, user_id, token)
        context = cast("Any", LocalLambdaContext(aws_request_id=f"local-{name}"))  # the fields Mangum reads
        result = handlers[ROUTES[name][0]](event, context)
        status = int(result["statusCode"])
        verdict = "ok" if status == expected else f"UNEXPECTED (wanted {expected})"
        ok &= status == expected
        print(f"  {status}  {name:<30} {verdict:<8} {summary(result)}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.events", description="Sample Lambda events for every route.")
    parser.add_argument(
        "command",
        nargs="?",
        default="write",
        choices=("write", "run", "samples"),
        help="write: fresh-token events into .data/events/ (default); run: invoke every handler with every event "
        "against the local database; samples: regenerate the tracked templates in events/",
    )
    parser.add_argument("--user", default=DEMO_USER, help=f"the user the events act for (default: {DEMO_USER})")
    args = parser.parse_args(argv)
    if args.command == "run":
        return 0 if run_events(args.user) else 1
    paths = write_samples() if args.command == "samples" else write_events(args.user)
    for path in paths:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
