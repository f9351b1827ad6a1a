"""Sample Lambda events for every route, for `sam local invoke` and the handler tests.

`python -m infra.events` (or `make events`) writes them to `events/` with fresh dev tokens (see infra/devtoken.py):
API Gateway HTTP API v2 events for session and history, Lambda Function URL events for chat. Then, e.g.:

    sam local invoke HistoryFunction -e events/history_list_conversations.json -t build/template.yaml
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from infra.devtoken import DEMO_USER, dev_token, load_dev_environment

EVENTS = Path(__file__).resolve().parents[1] / "events"
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


def write_events(user_id: str = DEMO_USER) -> list[Path]:
    load_dev_environment()
    token = dev_token(user_id)
    EVENTS.mkdir(exist_ok=True)
    written = []
    for name in ROUTES:
        target = EVENTS / f"{name}.json"
        target.write_text(json.dumps(build_event(name, user_id, token), indent=2) + "\n")
        written.append(target)
    return written


def main() -> None:
    for path in write_events():
        print(path.relative_to(EVENTS.parent))


if __name__ == "__main__":
    main()
