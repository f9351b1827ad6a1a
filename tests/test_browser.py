"""The product's three scenarios in a real headless Chromium, against the local gateway and its dev chat page.

1. Send a message, reload: the conversation is still there.
2. Open another user's conversation: 403 is shown.
3. "add buy milk": a Success badge appears on the tool call.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from functions.chat.offline_model import OfflineModel
from tests.support.factories import seed_conversation
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.web import Services

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ALICE, BOB = "user_alice", "user_bob"


@pytest.fixture
def gateway_url(services: Services) -> Iterator[str]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium is required under CI (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from functions.chat import app as chat
    from functions.chat.runtime import ChatRuntime
    from functions.history import app as history
    from functions.session import app as session
    from infra.devserver import build_gateway

    modules = (session, history, chat)
    saved: list[Any] = [m.app.state.services for m in modules] + [chat.app.state.chat]
    for module in modules:
        module.app.state.services = services
    chat.app.state.chat = ChatRuntime.build(services, chat.chat_settings, OfflineModel(), chat.task_server)
    asyncio.set_event_loop(None)
    with Server(build_gateway()) as url:
        yield url
    for module, original in zip(modules, saved, strict=False):
        module.app.state.services = original
    chat.app.state.chat = saved[-1]


@pytest.fixture
def page(gateway_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        yield page
        browser.close()


def test_message_survives_a_reload_and_add_task_shows_success(
    page: Any, gateway_url: str, tokens: Tokens, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}")
    page.fill("#message", "add buy milk")
    page.click("button[type=submit]")

    badge = page.locator(".badge.success")
    expect(badge).to_have_text("add_task: Success", timeout=10_000)
    expect(page.locator(".msg.assistant .text").last).to_contain_text("buy milk")
    screenshot = os.environ.get("BROWSER_SCREENSHOT")
    if screenshot:
        page.screenshot(path=screenshot)

    page.reload()
    expect(page.locator("#conversations .conv").first).to_contain_text("add buy milk", timeout=10_000)
    expect(page.locator(".msg.user .text").first).to_have_text("add buy milk")
    expect(page.locator(".badge.success")).to_have_count(1)


def test_another_users_conversation_shows_403(page: Any, gateway_url: str, database: Database, tokens: Tokens) -> None:
    from playwright.sync_api import expect

    bobs = seed_conversation(database, BOB, title="Bob's plans", messages=2)
    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}#{bobs.id}")

    expect(page.locator("#error")).to_contain_text("403", timeout=10_000)
    expect(page.locator("#error")).to_contain_text("forbidden")
    expect(page.locator(".msg")).to_have_count(0)
    expect(page.locator("#conversations")).not_to_contain_text("Bob's plans")
