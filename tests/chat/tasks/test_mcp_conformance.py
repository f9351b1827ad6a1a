"""MCP Inspector (command-line mode) and the official MCP conformance suite (`@modelcontextprotocol/conformance`,
server scenarios), on Node 22 from npm's `node@22` package, against the real `/mcp` endpoint over a real socket.

The suite cannot send a bearer token, so the harness adds the test user's token to each request that has none, as
a configured MCP client (Claude Desktop, MCP Inspector) does. The scenarios run are the ones that apply to a task
server; the others need the suite's own reference tools, prompts and resources (images, sampling, logging...)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents.testing import ScriptedModel
from starlette.types import Receive, Scope, Send

from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_http import mount_mcp
from tests.support.chat import chat_app
from tests.support.server import Server
from tests.support.tokens import Tokens
from tests.support.workers import exclusive
from todo_common.web import Services

pytestmark = pytest.mark.long

PACKAGES = ("@modelcontextprotocol/conformance@0.1.16", "@modelcontextprotocol/inspector@0.15.0", "node@22.23.3")
TOOLS = Path(__file__).resolve().parents[3] / ".data" / "mcp-conformance"
INSPECTOR = TOOLS / "node_modules/@modelcontextprotocol/inspector/cli/build/index.js"
SCENARIOS = ("server-initialize", "ping", "tools-list", "tools-call-error", "dns-rebinding-protection")


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the MCP conformance suite is required under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def conformance() -> list[str]:
    """The suite's command, installed once into `.data/` (npm registry)."""
    node, suite = TOOLS / "node_modules/.bin/node", TOOLS / "node_modules/.bin/conformance"
    with exclusive(TOOLS.with_name("mcp-conformance.lock")):
        if not (node.exists() and suite.exists() and INSPECTOR.exists()):
            if shutil.which("npm") is None:
                unavailable("npm is not installed")
            TOOLS.mkdir(parents=True, exist_ok=True)
            (TOOLS / "package.json").write_text('{"private": true}\n')
            failed = _npm_install()
            if failed:
                unavailable(f"npm could not install the suite: {failed[-300:]}")
    return [str(node), str(suite)]


def _npm_install(attempts: int = 3) -> str:
    """Install the suite; '' when done, else why not. A registry connection that stalls (seen: `node@22`'s nested
    `npm install` waiting on a socket for minutes) is cut by npm's own fetch timeout, and a whole attempt that still
    hangs is killed with every process it started and tried again."""
    environ = {**os.environ, "npm_config_fetch_timeout": "60000", "npm_config_update_notifier": "false"}
    why = ""
    for _ in range(attempts):
        process = subprocess.Popen(
            ["npm", "install", "--no-audit", "--no-fund", "--save-exact", *PACKAGES],
            cwd=TOOLS,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            _, errors = process.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            why = "npm install did not finish within 240 s"
            continue
        if process.returncode == 0:
            return ""
        why = errors
    return why


@pytest.fixture
def mcp_url(services: Services, tokens: Tokens) -> Iterator[str]:
    app = chat_app(services, ScriptedModel([]))
    mount_mcp(app, services, ChatSettings.from_environ({}))
    header = f"Bearer {tokens.chat('user_alice')}".encode()

    async def signed_in(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not any(name == b"authorization" for name, _ in scope["headers"]):
            scope = {**scope, "headers": [*scope["headers"], (b"authorization", header)]}
        await app(scope, receive, send)

    with Server(signed_in) as base:
        yield f"{base}/mcp"


@pytest.mark.parametrize("backend", ["sqlite"])  # the transport is under test, not the database
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_official_conformance_scenarios_pass(conformance: list[str], mcp_url: str, scenario: str) -> None:
    result = subprocess.run(
        [*conformance, "server", "--url", mcp_url, "--scenario", scenario],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-1000:]
    assert " 0 failed" in result.stdout


@pytest.mark.parametrize("backend", ["sqlite"])
def test_mcp_inspector_lists_and_calls_the_tools(conformance: list[str], mcp_url: str) -> None:
    """MCP Inspector's command-line mode (its CLI sends no headers; the harness signs its requests in)."""
    node = conformance[0]

    def inspect(*arguments: str) -> str:
        done = subprocess.run(
            [node, str(INSPECTOR), mcp_url, "--transport", "http", *arguments],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
        return done.stdout

    listed = inspect("--method", "tools/list")
    for name in ("add_task", "list_tasks", "complete_task", "reopen_task", "delete_task", "update_task"):
        assert f'"name": "{name}"' in listed
    assert '"readOnlyHint": true' in listed and '"destructiveHint": true' in listed
    added = inspect("--method", "tools/call", "--tool-name", "add_task", "--tool-arg", "title=buy milk")
    assert '"status": "created"' in added and '"isError": true' not in added
