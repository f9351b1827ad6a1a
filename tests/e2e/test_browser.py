"""The product's three scenarios in a real headless Chromium, against the local gateway and its dev chat page.

1. Send a message, reload: the conversation is still there.
2. Open another user's conversation: 403 is shown.
3. "add buy milk": a Success badge appears on the tool call.

Then what a newcomer trips over on the dev page: error banners that clear, a refused send that keeps the text,
scrolling, phone width, confirmation, disabled looks, hints, search, export, older messages, failed answers with
Retry, and both color schemes. Screenshots go to pytest's tmp folder (BROWSER_SCREENSHOT names one for the README).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from agents.models.interface import Model
from sqlmodel import col

from functions.chat.agent.offline_model import HELP, OfflineModel
from functions.chat.agent.providers import select_model
from functions.chat.settings import ChatSettings
from tests.support.chat import SlowModel
from tests.support.factories import add_message, all_messages, seed_conversation
from tests.support.gateway import serve_gateway
from tests.support.tokens import Tokens
from todo_common.db import Database
from todo_common.models import Message, Task
from todo_common.web import Services

pytestmark = [pytest.mark.browser, pytest.mark.long]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ALICE, BOB = "user_alice", "user_bob"


@pytest.fixture
def chat_model() -> Model:
    return OfflineModel()


@pytest.fixture
def gateway_url(services: Services, chat_model: Model) -> Iterator[str]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium is required under CI (apt-get install chromium)")
        pytest.skip("Chromium is not installed: `make test` installs it (apt-get install chromium)")
    with serve_gateway(services, chat_model) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module (starting it is most of a test's time); each test gets a fresh context."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Chromium is required under CI (apt-get install chromium)")
        pytest.skip("Chromium is not installed: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, gateway_url: str) -> Iterator[Any]:
    from playwright.sync_api import expect

    # Waits are for what the page shows, not for a fixed time: on a loaded 2-core machine an answer can take a while.
    expect.set_options(timeout=30_000)
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def test_message_survives_a_reload_and_add_task_shows_success(
    page: Any, gateway_url: str, tokens: Tokens, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}")
    page.fill("#message", "add buy milk")
    page.click("button[type=submit]")

    badge = page.locator(".badge.success")
    expect(badge).to_have_text("add_task: Success", timeout=30_000)
    expect(page.locator(".msg.assistant .text").last).to_contain_text("buy milk")
    expect(page.locator("#conversations .conv")).to_have_count(1)
    expect(page.locator("#title")).to_have_text("Add buy milk")  # the question's clean clip
    screenshot = os.environ.get("BROWSER_SCREENSHOT")
    if screenshot:  # the README's picture (docs/img/dev-chat.png), in the dark scheme
        page.emulate_media(color_scheme="dark")
        page.screenshot(path=screenshot)
        page.emulate_media(color_scheme="light")

    page.reload()
    expect(page.locator("#conversations .conv").first).to_contain_text("Add buy milk", timeout=30_000)
    expect(page.locator(".msg.user .text").first).to_have_text("add buy milk")
    expect(page.locator(".badge.success")).to_have_count(1)


def test_another_users_conversation_shows_403(page: Any, gateway_url: str, database: Database, tokens: Tokens) -> None:
    from playwright.sync_api import expect

    bobs = seed_conversation(database, BOB, title="Bob's plans", messages=2)
    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}#{bobs.id}")

    expect(page.locator("#error")).to_have_text("This conversation belongs to another user.", timeout=30_000)
    expect(page.locator("#error")).to_have_attribute("data-code", "forbidden")
    expect(page.locator(".msg")).to_have_count(0)
    expect(page.locator("#conversations")).not_to_contain_text("Bob's plans")


def test_a_message_sent_while_the_page_boots_is_not_cleared_away(page: Any, gateway_url: str, tokens: Tokens) -> None:
    """Booting opens the conversation, which clears the log: Send waits for it, or the message sent meanwhile would
    vanish from the page (its answer streamed into a bubble no longer shown)."""
    from playwright.sync_api import expect

    def slow_list(route: Any) -> None:
        page.wait_for_timeout(1500)  # the conversation list answers late, as over a slow link
        route.continue_()

    page.route("**/api/*/conversations?*", slow_list)
    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}", wait_until="domcontentloaded")
    expect(page.locator("button[type=submit]")).to_be_disabled()
    page.fill("#message", "add pay rent")
    page.click("button[type=submit]")
    expect(page.locator(".msg.assistant .text").last).to_contain_text("pay rent")
    expect(page.locator(".msg.user .text")).to_have_text(["add pay rent"])
    page.unroute_all(behavior="ignoreErrors")  # the list reload after the answer may still be held back


def open_page(page: Any, gateway_url: str, token: str, conversation_id: str | None = None) -> None:
    page.goto(f"{gateway_url}/?token={token}" + (f"#{conversation_id}" if conversation_id else ""))
    if conversation_id:
        page.locator(f"#conversations .conv[data-id='{conversation_id}']").wait_for(timeout=30_000)


def test_error_banners_clear_on_the_next_success(
    page: Any, gateway_url: str, database: Database, tokens: Tokens
) -> None:
    from playwright.sync_api import expect

    groceries = seed_conversation(database, ALICE, title="Groceries", messages=2)
    open_page(page, gateway_url, tokens.hs256(ALICE), groceries.id)
    page.once("dialog", lambda dialog: dialog.accept("x" * 201))
    page.click("#rename")
    expect(page.locator("#error")).to_contain_text("200 characters", timeout=30_000)
    assert_in_words(page.locator("#error").inner_text())

    page.fill("#message", "list")
    page.click("button[type=submit]")
    expect(page.locator(".msg.assistant").last).not_to_contain_text("…", timeout=30_000)
    expect(page.locator("#error")).to_be_empty()

    page.fill("#message", "add buy milk")
    page.click("button[type=submit]")
    expect(page.locator(".badge.success", has_text="add_task")).to_have_count(1, timeout=30_000)
    expect(page.locator("#error")).to_be_empty()

    page.fill("#token", "not-a-token.eyJzdWIiOiJ1c2VyX2FsaWNlIn0.x")
    page.dispatch_event("#token", "change")
    expect(page.locator("#error")).to_have_attribute("data-code", "unauthorized", timeout=30_000)
    assert_in_words(page.locator("#error").inner_text())
    page.fill("#token", tokens.hs256(ALICE))
    page.dispatch_event("#token", "change")
    expect(page.locator("#conversations .conv")).to_have_count(1, timeout=30_000)
    expect(page.locator("#error")).to_be_empty()


def test_a_refused_send_takes_its_bubbles_back_and_keeps_the_text(
    page: Any, gateway_url: str, database: Database, tokens: Tokens
) -> None:
    from playwright.sync_api import expect

    bobs = seed_conversation(database, BOB, title="Bob's plans", messages=2)
    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}#{bobs.id}")
    expect(page.locator("#error")).to_have_attribute("data-code", "forbidden", timeout=30_000)
    page.fill("#message", "add buy milk")
    page.evaluate("document.getElementById('error').textContent = ''")
    page.click("button[type=submit]")
    expect(page.locator("#error")).to_have_text("This conversation belongs to another user.", timeout=30_000)
    expect(page.locator(".msg")).to_have_count(0)
    assert page.input_value("#message") == "add buy milk"
    assert database.read(lambda session: all_messages(session, bobs.id))[-1].content == "message 1"


def test_the_list_scrolls_to_the_end_of_the_newest_answer(
    page: Any, gateway_url: str, database: Database, tokens: Tokens
) -> None:
    from playwright.sync_api import expect

    long = seed_conversation(database, ALICE, title="Long", messages=18)
    page.set_viewport_size({"width": 1000, "height": 600})
    open_page(page, gateway_url, tokens.hs256(ALICE), long.id)
    page.fill("#message", "add buy milk")
    page.click("button[type=submit]")
    expect(page.locator(".badge.success")).to_have_count(1, timeout=30_000)
    page.wait_for_function(
        "() => { const l = document.getElementById('log'); return l.scrollHeight - l.scrollTop - l.clientHeight < 2 }"
    )
    log = page.locator("#log").bounding_box()
    last = page.locator(".msg.assistant").last.bounding_box()
    assert page.evaluate("document.getElementById('log').scrollHeight") > log["height"]  # it did overflow
    assert last["y"] + last["height"] <= log["y"] + log["height"] + 1


def test_phone_width_has_no_horizontal_overflow(
    page: Any, gateway_url: str, database: Database, tokens: Tokens, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    word = "Supercalifragilisticexpialidocious" * 8
    conversation = seed_conversation(database, ALICE, title=word[:200])
    add_message(database, conversation.id, f"add {word}")
    add_message(database, conversation.id, f"Added {word} (#1).", role="assistant")
    page.set_viewport_size({"width": 390, "height": 844})
    open_page(page, gateway_url, tokens.hs256(ALICE), conversation.id)
    expect(page.locator(".msg")).to_have_count(2)

    page.screenshot(path=str(tmp_path / "dev-page-390.png"), full_page=True)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    for selector in (".msg.user", ".msg.assistant", "#conversations .conv", "#title"):
        box = page.locator(selector).first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, selector


def test_delete_asks_first_and_disabled_buttons_look_disabled(
    page: Any, gateway_url: str, database: Database, tokens: Tokens
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}")
    for button in ("#rename", "#delete", "#export"):
        expect(page.locator(button)).to_be_disabled()
        assert float(page.eval_on_selector(button, "b => getComputedStyle(b).opacity")) < 0.6
        assert page.eval_on_selector(button, "b => getComputedStyle(b).cursor") == "not-allowed"

    groceries = seed_conversation(database, ALICE, title="Groceries", messages=2)
    open_page(page, gateway_url, tokens.hs256(ALICE), groceries.id)
    expect(page.locator("#delete")).to_be_enabled()
    assert page.eval_on_selector("#delete", "b => getComputedStyle(b).opacity") == "1"

    questions: list[str] = []

    def dismiss(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("#delete")
    expect(page.locator("#conversations .conv")).to_have_count(1)
    assert questions and "Delete “Groceries”" in questions[0]
    assert database.read(lambda session: all_messages(session, groceries.id))

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    expect(page.locator("#conversations .conv")).to_have_count(0, timeout=30_000)
    expect(page.locator("#conversations")).to_contain_text("No conversations yet.")


def test_the_first_page_hints_what_the_offline_model_understands(page: Any, gateway_url: str, tokens: Tokens) -> None:
    from playwright.sync_api import expect

    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}")
    hints = page.locator("#hints button")
    expect(hints).to_have_text(["add buy milk", "list", "done 1", "delete 1", "rename 1 to oat milk"])
    hints.nth(4).click()
    assert page.input_value("#message") == "rename 1 to oat milk"
    favicon = page.request.get(f"{gateway_url}/favicon.ico")
    assert favicon.status == 200 and favicon.headers["content-type"] == "image/x-icon"


def test_a_delete_waits_for_the_users_answer_on_the_dev_page(
    page: Any, gateway_url: str, database: Database, tokens: Tokens
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}")
    page.fill("#message", "add buy milk")
    page.click("#send")
    expect(page.locator(".msg.assistant .text").last).to_contain_text("Added")
    milk: int = database.read(lambda s: s.execute(sa.select(col(Task.id))).scalar_one())
    page.fill("#message", f"delete {milk}")
    page.click("#send")
    expect(page.locator("button.confirm-delete")).to_be_visible()
    assert database.read(lambda s: s.get(Task, milk)) is not None  # asked, not deleted
    # The question's buttons take a click once its answer has ended (disabled until then, not deaf).
    expect(page.locator("button.confirm-delete")).to_be_enabled()
    page.click("button.confirm-delete")
    expect(page.locator(".msg.user .text").last).to_have_text("Yes, delete it.")
    expect(page.locator(".msg.assistant .status")).to_have_count(0)
    assert database.read(lambda s: s.get(Task, milk)) is None


def test_search_export_and_older_messages_use_the_history_api(
    page: Any, gateway_url: str, database: Database, tokens: Tokens, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    long = seed_conversation(database, ALICE, title="Weekend plans", messages=30)
    seed_conversation(database, ALICE, title="Groceries", messages=2)
    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}")
    expect(page.locator("#conversations .conv")).to_have_count(2, timeout=30_000)

    page.fill("#search", "weekend")
    expect(page.locator("#conversations .conv")).to_have_count(1)
    expect(page.locator("#conversations .conv")).to_contain_text("Weekend plans")
    page.fill("#search", "no such thing")
    expect(page.locator("#conversations")).to_contain_text("No conversation matches “no such thing”.")
    page.fill("#search", "")
    expect(page.locator("#conversations .conv")).to_have_count(2)

    page.click(f"#conversations .conv[data-id='{long.id}']")
    expect(page.locator(".msg")).to_have_count(20, timeout=30_000)
    expect(page.locator(".msg .text").first).to_have_text("message 10")
    page.click("#older")
    expect(page.locator(".msg")).to_have_count(30)
    expect(page.locator(".msg .text").first).to_have_text("message 0")
    expect(page.locator(".msg .text").last).to_have_text("message 29")
    expect(page.locator("#older")).to_have_count(0)

    with page.expect_download() as download_info:
        page.click("#export")
    download = download_info.value
    assert download.suggested_filename == f"Weekend-plans-{long.id}.md"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text()
    assert text.startswith("# Weekend plans")
    times = re.findall(r"^## (?:You|Assistant) · (.+)$", text, re.M)
    assert len(times) == 30 and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", t) for t in times), times[:2]
    assert re.search(r"^_Started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC · 30 messages_$", text, re.M)
    assert "message 0" in text and "message 29" in text


def test_a_failed_answer_shows_its_reason_after_a_reload_and_retries_the_same_turn(
    page: Any, gateway_url: str, database: Database, tokens: Tokens
) -> None:
    from playwright.sync_api import expect

    conversation = seed_conversation(database, ALICE, title="Flaky")
    add_message(database, conversation.id, "add buy milk", client_message_id="cm-retry-1")
    failed = add_message(database, conversation.id, "Adding", role="assistant", status="error")

    def mark(session: Any) -> None:
        row = session.get(Message, failed.id)
        row.error_code = "model_error"
        session.add(row)

    database.write(mark)
    open_page(page, gateway_url, tokens.hs256(ALICE), conversation.id)
    status = page.locator(".msg.assistant .status.error")
    expect(status).to_contain_text("The model failed before finishing this answer.", timeout=30_000)

    with page.expect_request(lambda request: request.url.endswith(f"/api/{ALICE}/chat")) as sent:
        status.locator("button.retry").click()
    body = sent.value.post_data_json
    assert body == {"message": "add buy milk", "conversation_id": conversation.id, "client_message_id": "cm-retry-1"}
    expect(page.locator(".msg.user")).to_have_count(1)  # a retry is the same turn, not a new question
    expect(page.locator(".msg.assistant")).to_have_count(1)


def test_light_and_dark_themes_follow_the_system_and_the_toggle(
    page: Any, gateway_url: str, database: Database, tokens: Tokens, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    groceries = seed_conversation(database, ALICE, title="Groceries", messages=2)

    def background() -> str:
        return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))

    def accent() -> str:
        return str(page.eval_on_selector("#new", "b => getComputedStyle(b).backgroundColor"))

    page.emulate_media(color_scheme="dark")
    open_page(page, gateway_url, tokens.hs256(ALICE), groceries.id)
    expect(page.locator(".msg")).to_have_count(2)
    assert background() == "rgb(14, 17, 22)" and accent() == "rgb(15, 255, 80)"
    page.screenshot(path=str(tmp_path / "dev-page-dark.png"))

    page.emulate_media(color_scheme="light")
    assert background() == "rgb(246, 248, 250)" and accent() == "rgb(15, 255, 80)"
    page.screenshot(path=str(tmp_path / "dev-page-light.png"))

    page.emulate_media(color_scheme="dark")
    page.click("#theme")  # system → light, whatever the system says
    expect(page.locator("#theme")).to_contain_text("light")
    assert background() == "rgb(246, 248, 250)"
    page.click("#theme")  # light → dark
    assert background() == "rgb(14, 17, 22)"
    page.emulate_media(color_scheme="light")
    assert background() == "rgb(14, 17, 22)"  # the toggle wins over the system
    page.reload()
    expect(page.locator("#theme")).to_contain_text("dark")
    assert background() == "rgb(14, 17, 22)"


@pytest.mark.parametrize("chat_model", [SlowModel(OfflineModel(), 0.25)])
def test_a_reload_during_an_answer_follows_it_to_the_end(page: Any, gateway_url: str, tokens: Tokens) -> None:
    from playwright.sync_api import expect

    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}")
    page.fill("#message", "hello")
    page.click("button[type=submit]")
    answer = page.locator(".msg.assistant .text").last
    expect(answer).not_to_have_text("", timeout=30_000)
    page.wait_for_function("location.hash.length > 1")
    page.reload()
    followed = page.locator(".msg.assistant .text").last
    expect(followed).to_have_text(HELP, timeout=30_000)
    expect(page.locator(".msg.assistant .status")).to_have_count(0)


@pytest.mark.parametrize("chat_model", [SlowModel(OfflineModel(), 0.3)])
def test_stop_stops_the_answer_and_says_so(page: Any, gateway_url: str, tokens: Tokens) -> None:
    from playwright.sync_api import expect

    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}")
    page.fill("#message", "hello")
    page.click("button[type=submit]")
    expect(page.locator(".msg.assistant .text").last).not_to_have_text("", timeout=30_000)
    page.click("#stop")
    status = page.locator(".msg.assistant .status.stopped").last
    expect(status).to_have_text("You stopped this answer; what it had said so far is kept.", timeout=30_000)
    expect(page.locator("#stop")).to_be_hidden()
    expect(page.locator(".msg.assistant .status.error")).to_have_count(0)
    expect(page.locator("#error")).to_be_empty()
    assert page.locator(".msg.assistant .text").last.inner_text() != HELP


def assert_in_words(text: str) -> None:
    """An error the page shows is a sentence, with no HTTP error status and no error code in it."""
    assert text and not re.search(r"\b[45]\d\d\b", text), text
    assert not re.search(r"\b[a-z]+_[a-z_]+\b|unauthorized|forbidden", text), text


def test_the_conversation_list_is_reachable_with_the_keyboard(
    page: Any, gateway_url: str, database: Database, tokens: Tokens
) -> None:
    from playwright.sync_api import expect

    groceries = seed_conversation(database, ALICE, title="Groceries", messages=2)
    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}")
    expect(page.locator("#conversations .conv")).to_have_count(1, timeout=30_000)
    page.focus("#search")
    page.keyboard.press("Tab")
    focused = page.evaluate("[document.activeElement.className, document.activeElement.dataset.id]")
    assert focused == ["conv", groceries.id]
    page.keyboard.press("Enter")
    expect(page.locator(".msg")).to_have_count(2)
    assert page.evaluate("location.hash") == f"#{groceries.id}"
    expect(page.locator(f"#conversations .conv[data-id='{groceries.id}']")).to_have_attribute("aria-current", "page")


def test_the_token_is_taken_out_of_the_address_bar(page: Any, gateway_url: str, tokens: Tokens) -> None:
    from playwright.sync_api import expect

    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}&keep=1")
    expect(page.locator("#conversations")).to_contain_text("No conversations yet.", timeout=30_000)
    assert page.url == f"{gateway_url}/?keep=1"
    page.reload()  # the token is kept in this browser, not in the address
    expect(page.locator("#conversations")).to_contain_text("No conversations yet.", timeout=30_000)
    expect(page.locator("#error")).to_be_empty()


def test_the_length_limit_is_hinted_before_sending(page: Any, gateway_url: str, tokens: Tokens) -> None:
    from playwright.sync_api import expect

    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}")
    expect(page.locator("#send")).to_be_enabled(timeout=30_000)
    page.fill("#message", "add " + "m" * 3596)
    expect(page.locator("#limit")).to_have_text("3,600 of 4,000 characters.")
    expect(page.locator("#send")).to_be_enabled()

    page.fill("#message", "add " + "m" * 4008)
    expect(page.locator("#limit")).to_have_text("12 characters over the 4,000-character limit: shorten it to send.")
    expect(page.locator("#send")).to_be_disabled()
    page.press("#message", "Enter")
    page.wait_for_timeout(300)
    assert sent == [] and page.locator(".msg").count() == 0

    page.fill("#message", "add buy milk")
    expect(page.locator("#limit")).to_have_text("")
    page.click("#send")
    expect(page.locator(".badge.success")).to_have_count(1, timeout=30_000)


CONTRASTS = """() => {
  const rgb = (color) => color.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = (color) => {
    const linear = (v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    const [r, g, b] = rgb(color).map(linear);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const behind = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const color = getComputedStyle(node).backgroundColor;
      if (!/rgba\\(.*, 0\\)$/.test(color) && color !== "transparent") return color;
    }
    return getComputedStyle(document.documentElement).backgroundColor;
  };
  const found = {};
  for (const badge of document.querySelectorAll(".badge")) {
    const style = getComputedStyle(badge);
    found[badge.className] = ratio(style.color, style.backgroundColor);
  }
  for (const id of ["new", "send", "search"]) {
    const element = document.getElementById(id);
    element.focus();
    const style = getComputedStyle(element);
    if (style.outlineStyle === "none") throw new Error(`no focus ring on #${id}`);
    found[`focus #${id}`] = ratio(style.outlineColor, behind(element.parentElement));
  }
  return found;
}"""


def test_focus_ring_and_badges_have_3_to_1_contrast_in_both_themes(
    page: Any, gateway_url: str, database: Database, tokens: Tokens
) -> None:
    from playwright.sync_api import expect

    conversation = seed_conversation(database, ALICE, title="Badges")
    add_message(database, conversation.id, "add buy milk and list")
    calls = [
        {"call_id": "c1", "name": "add_task", "arguments": {}, "result": {}, "status": "success"},
        {"call_id": "c2", "name": "list_tasks", "arguments": {}, "result": {}, "status": "failure"},
        {"call_id": "c3", "name": "delete_task", "arguments": {}, "result": None, "status": "running"},
    ]
    add_message(database, conversation.id, "Added.", role="assistant", tool_calls=calls)
    open_page(page, gateway_url, tokens.hs256(ALICE), conversation.id)
    expect(page.locator(".badge")).to_have_count(3)
    page.keyboard.press("Tab")  # focus by keyboard, so :focus-visible applies to what the script focuses next
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        contrasts = page.evaluate(CONTRASTS)
        assert len(contrasts) == 6, contrasts
        low = {name: round(value, 2) for name, value in contrasts.items() if value < 3}
        assert not low, f"{scheme}: {low}"


@pytest.mark.parametrize(
    "chat_model", [select_model(ChatSettings.from_environ({"CHAT_OFFLINE_CHARS_PER_SECOND": "25"}))]
)
def test_stop_while_following_an_answer_after_a_reload(page: Any, gateway_url: str, tokens: Tokens) -> None:
    """The offline model at 25 characters a second (CHAT_OFFLINE_CHARS_PER_SECOND): its help text takes seconds,
    time to reload in the middle of it, follow it, and stop it; the stop is the user's, not an error."""
    from playwright.sync_api import expect

    page.goto(f"{gateway_url}/?token={tokens.hs256(ALICE)}")
    page.fill("#message", "hello")
    page.click("#send")
    expect(page.locator(".msg.assistant .text").last).not_to_have_text("", timeout=30_000)
    page.wait_for_function("location.hash.length > 1")
    page.reload()

    following = page.locator(".msg.assistant").last
    expect(following.locator(".status")).to_contain_text("Still writing this answer", timeout=30_000)
    expect(page.locator("#stop")).to_be_visible()
    page.click("#stop")
    status = following.locator(".status.stopped")
    expect(status).to_have_text("You stopped this answer; what it had said so far is kept.", timeout=30_000)
    expect(page.locator("#stop")).to_be_hidden()
    expect(page.locator("#send")).to_be_enabled()
    expect(page.locator("#error")).to_be_empty()
    assert following.locator(".text").inner_text() != HELP
    color, bad = page.evaluate(
        """() => {
          const probe = document.createElement("div");
          probe.style.color = "var(--bad)";
          document.body.append(probe);
          const bad = getComputedStyle(probe).color;
          probe.remove();
          return [getComputedStyle(document.querySelector(".status.stopped")).color, bad];
        }"""
    )
    assert color != bad  # muted, not the error red
