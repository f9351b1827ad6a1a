"""The MCP endpoint's protected resource metadata (RFC 9728) trusts no Host header: it names the configured public
base URL (`CHAT_BASE_URL`, set on the chat function by template.yaml when a public URL is given) and answers only
the Hosts `/mcp` answers (421 otherwise); a document made from the request's Host is never cached by others."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
from agents.testing import ScriptedModel
from samtranslator.yaml_helper import yaml_parse

from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_http import mount_mcp
from tests.support.chat import chat_app
from tests.support.server import Server
from todo_common.web import Services

PATHS = ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource")
TEMPLATE = Path(__file__).parents[3] / "template.yaml"


def serve(services: Services, environ: dict[str, str] | None = None) -> Server:
    app = chat_app(services, ScriptedModel([]))
    mount_mcp(app, services, ChatSettings.from_environ(environ or {}))
    return Server(app)


def production(services: Services, base_url: str | None) -> Services:
    settings = dataclasses.replace(services.settings, environment="production", chat_base_url=base_url)
    return dataclasses.replace(services, settings=settings)


@pytest.mark.parametrize("path", PATHS)
def test_an_unknown_host_is_refused_not_echoed(services: Services, path: str) -> None:
    for configured in (services, production(services, "https://chat.example.com")):
        with serve(configured) as base:
            response = httpx.get(f"{base}{path}", headers={"Host": "evil.example"}, timeout=5)
        assert response.status_code == 421, response.text
        assert response.json()["error"]["code"] == "misdirected_request"
        assert "evil" not in response.text and "public" not in response.headers.get("cache-control", "")


@pytest.mark.parametrize("path", PATHS)
def test_the_configured_base_url_is_named_whatever_allowed_host_asked(services: Services, path: str) -> None:
    with serve(production(services, "https://chat.example.com"), {"MCP_ALLOWED_HOSTS": "mcp.example.org"}) as base:
        for host in ("chat.example.com", "mcp.example.org"):
            response = httpx.get(f"{base}{path}", headers={"Host": host}, timeout=5)
            assert response.status_code == 200, response.text
            assert response.json()["resource"] == "https://chat.example.com/mcp"
            assert response.headers["cache-control"] == "public, max-age=300"


def test_without_a_configured_base_url_the_answer_is_not_cached(services: Services) -> None:
    with serve(services) as base:
        response = httpx.get(f"{base}{PATHS[0]}", timeout=5)
    assert response.status_code == 200
    assert response.json()["resource"] == f"{base}/mcp"
    assert response.headers["cache-control"] == "no-store"


def test_the_template_gives_the_chat_function_its_public_base_url() -> None:
    template = yaml_parse(TEMPLATE.read_text())
    parameter = template["Parameters"]["ChatPublicUrl"]
    assert parameter["Default"] == ""
    condition = template["Conditions"]["HasChatPublicUrl"]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ChatPublicUrl"}, ""]}]}
    chat = template["Resources"]["ChatFunction"]["Properties"]["Environment"]["Variables"]
    assert chat["CHAT_BASE_URL"] == {"Fn::If": ["HasChatPublicUrl", {"Ref": "ChatPublicUrl"}, {"Ref": "AWS::NoValue"}]}
    session = template["Resources"]["SessionFunction"]["Properties"]["Environment"]["Variables"]
    assert session["CHAT_BASE_URL"] == {
        "Fn::If": ["HasChatPublicUrl", {"Ref": "ChatPublicUrl"}, {"Fn::GetAtt": ["ChatFunctionUrl", "FunctionUrl"]}]
    }
