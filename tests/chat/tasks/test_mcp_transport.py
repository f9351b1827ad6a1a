"""The MCP endpoint's transport rules over a real socket: 405 for GET (no endless stream), JSON-RPC errors for
wrong Content-Type, Host or Origin, and sign-in discovery (RFC 9728) that the official MCP client understands."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Iterator

import httpx
import httpx2
import pytest
from agents.testing import ScriptedModel
from mcp.client.auth.utils import (
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    handle_protected_resource_response,
)
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_http import HostPolicy, mount_mcp
from tests.support.chat import chat_app
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.settings import Settings
from todo_common.web import Services

ALICE = "user_alice"
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
LIST_TOOLS = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})


def serve(services: Services, environ: dict[str, str] | None = None) -> Server:
    app = chat_app(services, ScriptedModel([]))
    settings = ChatSettings.from_environ(environ or {})
    mount_mcp(app, services, settings)
    return Server(app)


@pytest.fixture
def base(services: Services) -> Iterator[str]:
    with serve(services) as url:
        yield url


def assert_jsonrpc_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["code"] == -32600 and body["error"]["message"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_answer_405_at_once(base: str, tokens: Tokens, method: str) -> None:
    started = time.monotonic()
    response = httpx.request(
        method, f"{base}/mcp", headers={**tokens.headers(ALICE), "Accept": "text/event-stream"}, timeout=5
    )
    assert time.monotonic() - started < 2
    assert_jsonrpc_error(response, 405)
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_a_wrong_or_missing_content_type_is_a_jsonrpc_error(
    base: str, tokens: Tokens, content_type: str | None
) -> None:
    headers = {**tokens.headers(ALICE), "Accept": JSON_HEADERS["Accept"]}
    if content_type:
        headers["Content-Type"] = content_type
    assert_jsonrpc_error(httpx.post(f"{base}/mcp", content=LIST_TOOLS, headers=headers, timeout=5), 415)


def test_a_foreign_host_or_origin_is_refused(base: str, tokens: Tokens) -> None:
    headers = {**JSON_HEADERS, **tokens.headers(ALICE)}
    foreign_host = httpx.post(f"{base}/mcp", content=LIST_TOOLS, headers={**headers, "Host": "evil.example"}, timeout=5)
    assert_jsonrpc_error(foreign_host, 421)
    foreign_origin = httpx.post(
        f"{base}/mcp", content=LIST_TOOLS, headers={**headers, "Origin": "https://evil.example"}, timeout=5
    )
    assert_jsonrpc_error(foreign_origin, 403)
    local = httpx.post(
        f"{base}/mcp", content=LIST_TOOLS, headers={**headers, "Origin": "http://localhost:6274"}, timeout=5
    )
    assert local.status_code == 200
    assert local.json()["result"]["tools"]


def test_the_configured_hosts_are_answered(services: Services, tokens: Tokens) -> None:
    production = dataclasses.replace(
        services,
        settings=dataclasses.replace(
            services.settings, environment="production", chat_base_url="https://chat.example.com"
        ),
    )
    headers = {**JSON_HEADERS, **tokens.headers(ALICE)}
    lambda_env = {"MCP_ALLOWED_HOSTS": "mcp.example.org"}
    with serve(production, lambda_env) as url:
        for host in ("chat.example.com", "mcp.example.org"):
            response = httpx.post(f"{url}/mcp", content=LIST_TOOLS, headers={**headers, "Host": host}, timeout=5)
            assert response.status_code == 200, (host, response.text)
        refused = httpx.post(f"{url}/mcp", content=LIST_TOOLS, headers=headers, timeout=5)  # 127.0.0.1:port
        assert_jsonrpc_error(refused, 421)


def test_a_lambda_function_urls_own_host_is_answered(services: Services) -> None:
    production = dataclasses.replace(services.settings, environment="production")
    policy = HostPolicy.of(
        dataclasses.replace(services, settings=production),
        ChatSettings.from_environ({}),
        {"AWS_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_NAME": "todo-chat-ChatFunction"},
    )
    assert policy.allows_host("abcdefghij0123456789klmnop.lambda-url.eu-west-1.on.aws")
    assert not policy.allows_host("abc.lambda-url.us-east-1.on.aws")
    assert not policy.allows_host("lambda-url.eu-west-1.on.aws.evil.example")
    assert not policy.allows_host("localhost:8000")
    assert not policy.allows_origin("http://abc.lambda-url.eu-west-1.on.aws")
    assert policy.allows_origin("https://abc.lambda-url.eu-west-1.on.aws")


def test_a_401_points_the_official_client_at_the_protected_resource_metadata(base: str, settings: Settings) -> None:
    async def discover() -> tuple[str | None, object]:
        async with httpx2.AsyncClient(timeout=5) as http:
            refused = await http.post(f"{base}/mcp", content=LIST_TOOLS, headers=JSON_HEADERS)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "unauthorized"
            pointer = extract_resource_metadata_from_www_auth(refused)
            for url in build_protected_resource_metadata_discovery_urls(pointer, f"{base}/mcp"):
                metadata = await handle_protected_resource_response(await http.get(url))
                assert metadata is not None, url
            return pointer, metadata

    pointer, metadata = asyncio.run(discover())
    assert pointer == f"{base}/.well-known/oauth-protected-resource/mcp"
    assert str(metadata.resource) == f"{base}/mcp"  # type: ignore[attr-defined]
    servers = [str(server).rstrip("/") for server in metadata.authorization_servers]  # type: ignore[attr-defined]
    assert servers == [(settings.better_auth_url or "").rstrip("/")]


def test_the_official_client_still_works_through_the_rules(base: str, tokens: Tokens) -> None:
    async def run() -> list[str]:
        async with (
            httpx2.AsyncClient(headers=tokens.headers(ALICE), timeout=10) as http,
            streamable_http_client(f"{base}/mcp", http_client=http) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            await session.initialize()
            await session.send_ping()
            return [tool.name for tool in (await session.list_tools()).tools]

    assert "add_task" in asyncio.run(run())
