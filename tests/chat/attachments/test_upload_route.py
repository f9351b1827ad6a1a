"""The local upload route (functions/chat/http/uploads.py) against links bent out of shape, attachments switched off,
and bodies larger than the link: refused in words (never a 500), nothing stored, no more read than the link allows."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from functions.chat.agent.offline_model import OfflineModel
from tests.support.attachments import create, error_code, put
from tests.support.chat import chat_app
from tests.support.chatkit import ChatKitClient
from tests.support.tokens import Tokens
from todo_common.files.local import LocalFileStore
from todo_common.web import Services

ALICE = "user_alice"


def _link(attachment: dict[str, Any], **replace: str) -> str:
    parts = urlsplit(attachment["upload_descriptor"]["url"])
    query = dict(parse_qsl(parts.query))
    query.update(replace)
    return f"{parts.path}?{urlencode(query)}"


@pytest.mark.parametrize("size", ["²", "9" * 5000], ids=["superscript-two", "5000-digits"])
def test_a_size_that_is_no_plain_number_is_refused_not_a_500(alice: ChatKitClient, size: str) -> None:
    """`str.isdigit` takes '²' (which `int` refuses) and any number of digits (`int` converts at most 4300)."""
    attachment = create(alice, "list.txt", "text/plain", 10).json()
    response = alice.client.put(
        _link(attachment, size=size), content=b"0123456789", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 403, response.text


@pytest.mark.parametrize("method", ["PUT", "GET"])
@pytest.mark.parametrize("expires", ["²", "9" * 5000], ids=["superscript-two", "5000-digits"])
def test_an_expiry_that_is_no_plain_number_is_refused_not_a_500(
    alice: ChatKitClient, method: str, expires: str
) -> None:
    attachment = create(alice, "list.txt", "text/plain", 10).json()
    response = alice.client.request(
        method, _link(attachment, expires=expires), content=b"0123456789", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 403, response.text


def test_with_attachments_off_the_upload_route_stores_nothing(
    alice: ChatKitClient, services: Services, tokens: Tokens, files: LocalFileStore
) -> None:
    """A link signed before attachments were switched off (it works URL_TTL_SECONDS) stores nothing after."""
    attachment = create(alice, "list.txt", "text/plain", 9).json()
    off = dataclasses.replace(services, settings=dataclasses.replace(services.settings, attachments=False))
    with TestClient(chat_app(off, OfflineModel()), raise_server_exceptions=False) as http:
        response = put(ChatKitClient(http, tokens, ALICE), attachment, b"buy milk\n")
    assert response.status_code == 400 and error_code(response) == "attachments_unavailable", response.text
    assert files.read(attachment["id"], 100) is None


def test_the_upload_route_reads_no_further_than_one_byte_past_the_signed_size(
    alice: ChatKitClient, client: TestClient
) -> None:
    """The app's body limit leaves this route's body to it: a 10-byte link sent a chunked 3.75 MiB body (no
    Content-Length) has its first 64 KiB read, then 413."""
    attachment = create(alice, "list.txt", "text/plain", 10).json()
    parts = urlsplit(_link(attachment))
    pulled: list[int] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> Any:
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * 65536, "more_body": len(pulled) < 60}

    async def send(message: Any) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"text/plain"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }

    async def call() -> None:
        await client.app(scope, receive, send)

    asyncio.run(call())
    assert sent[0]["status"] == 413
    assert len(pulled) == 1, f"{len(pulled)} chunks of 64 KiB were read for a 10-byte link"
