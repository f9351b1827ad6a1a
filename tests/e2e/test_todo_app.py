"""The todo app end to end, in Chromium: the built Next.js example (`next start`, its real Better Auth with the JWT
plugin) in front of the real backend (the local gateway), on SQLite and on PostgreSQL.

A person signs up, sends "add buy milk", sees the answer stream, the `add_task` badge say Success and the task list
show the task without a manual refresh; after a reload the conversation and its messages are there; a second user
is refused the first user's conversation (403) on every route the app uses; after signing out the chat page asks to
sign in. The backend verifies the app's real EdDSA tokens through the app's JWKS.

Twice over: through the plain chat the page offers when ChatKit's script cannot load, and through ChatKit's own
protocol. ChatKit's web component comes from OpenAI's CDN, which the test machine cannot reach, so the browser gets
a TEST DOUBLE of the `<openai-chatkit>` element in its place (`chatkit_double.js`, served with `page.route`). It is
not ChatKit: it speaks ChatKit's wire protocol (`threads.create`, `threads.add_user_message`, `threads.get_by_id`
sent through the app's configured `fetch`, the SSE events read and rendered, client effects dispatched), so the
app's ChatKit configuration (URL, chat token, domain key, theme, effects, initial thread, tag search) is exercised
end to end against the real backend. What it cannot show is ChatKit's own rendering.

The third test drives the app's composer and entity options through the same double: the composer tools and the
"/" commands leave as `inference_options.tool_choice` and the backend answers them; dictation is off and there is
no model picker, since the session offers neither, and attachments are on with the backend's allow-list; a task
entity clicked in the thread (a sent tag, and a task link on an answer) highlights its task in the list and previews
it through the app. The fourth starts the app with `CHAT_ABORT_RELAYED`: ChatKit then goes through the app's
pass-through route.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from chatkit.types import Annotation, AssistantMessageContentPartAnnotationAdded, EntitySource, ThreadItemUpdated
from sqlalchemy.engine import make_url

from functions.chat.agent.offline_model import HELP
from infra.exampledev import Stack
from tests.support.databases import (
    drop_postgres,
    empty_postgres,
    enabled_backends,
    postgres_url,
    prepare_postgres,
    prepare_sqlite,
    run_database_name,
)
from tests.support.example_app import CHATKIT_SCRIPT, chromium_browser, todo_app

pytestmark = [pytest.mark.browser, pytest.mark.long]

CHATKIT_DOUBLE = (Path(__file__).with_name("chatkit_double.js")).read_text()
DOMAIN_KEY = "domain_pk_e2e"
PASSWORD = "correct horse battery"
PACE = 40  # characters a second: the offline model's help (133 characters) takes over 3 s


@pytest.fixture(scope="module", params=enabled_backends())
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The backend and the app, both on SQLite or both on PostgreSQL (each with a database of its own)."""
    if request.param == "postgres":
        # Databases of their own, whatever TEST_POSTGRES_URL names (never the run's shared one, dropped at the end).
        server = make_url(postgres_url())
        database = prepare_postgres(server.set(database=run_database_name("todo_chat_e2e")).render_as_string(False))
        auth = empty_postgres(server.set(database=run_database_name("todo_chat_e2e_auth")).render_as_string(False))
        auth_url = auth.replace("postgresql+psycopg://", "postgresql://")
    else:
        folder = tmp_path_factory.mktemp("e2e")
        database, auth_url = prepare_sqlite(folder), str(folder / "auth.sqlite")
    try:
        # The offline model types at a person's reading pace, so a Stop can land while an answer is being written;
        # the composer may pick a second model.
        paced = {"CHAT_OFFLINE_CHARS_PER_SECOND": str(PACE), "CHAT_MODEL": "gpt-test", "CHAT_MODELS": "gpt-big"}
        with todo_app(database, auth_url, paced, CHATKIT_DOMAIN_KEY=DOMAIN_KEY, CHATKIT_WAIT_MS="1500") as running:
            yield running
    finally:
        if request.param == "postgres":
            drop_postgres(database)
            drop_postgres(auth)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with chromium_browser() as browser:
        yield browser


@pytest.fixture(autouse=True)
def _pages_closed_after_each_test(chromium: Any) -> Iterator[None]:
    """A test's pages are closed when it ends: an open page keeps connections to the app and the backend, which
    would hold their graceful shutdown (a stack's teardown) until it is killed."""
    yield
    for context in chromium.contexts:
        context.close()


def new_page(chromium: Any, *, chatkit: bool, color_scheme: str = "light") -> Any:
    """A fresh browser (no cookies). ChatKit's script is the double, or unreachable as it is from this machine."""
    context = chromium.new_context(color_scheme=color_scheme, viewport={"width": 1280, "height": 860})
    if chatkit:
        context.route(
            CHATKIT_SCRIPT, lambda route: route.fulfill(body=CHATKIT_DOUBLE, content_type="application/javascript")
        )
    else:
        context.route(CHATKIT_SCRIPT, lambda route: route.abort("internetdisconnected"))
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def sign_up(page: Any, stack: Stack, name: str) -> str:
    """Signs a new user up through the pages (the email is NAME@...); returns their user id (the JWT's subject)."""
    from playwright.sync_api import expect

    page.goto(f"{stack.app_url}/dashboard/chat")
    expect(page.get_by_text("Sign in to chat")).to_be_visible()  # the proxy sent a signed-out visitor to sign in
    page.get_by_role("link", name="No account yet? Sign up").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email_of(name))
    page.get_by_label("Password").fill(PASSWORD)
    submit_past_the_rate_limit(page, "sign-up", "Sign up")
    page.wait_for_url(f"{stack.app_url}/dashboard/chat**")
    expect(page.get_by_test_id("signed-in-as")).to_have_text(name)
    session = page.evaluate("fetch('/api/auth/get-session').then((r) => r.json())")
    # The token the backend is given: Better Auth's JWT plugin, EdDSA with a key id (checked through the app's JWKS).
    token = page.evaluate("fetch('/api/auth/token').then((r) => r.json())")["token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "EdDSA" and header["kid"], header
    return str(session["user"]["id"])


def submit_past_the_rate_limit(page: Any, form: str, button: str) -> None:
    """Clicks the form's button. Better Auth allows 3 sign-ins and sign-ups per 10 s from one address (all of these
    tests' users): the form then says so in words, and the same click goes through once the window has passed."""
    from playwright.sync_api import expect

    for _ in range(4):
        with page.expect_response(f"**/api/auth/{form}/email") as submitted:
            page.get_by_role("button", name=button).click()
        if submitted.value.status != 429:
            return
        expect(page.get_by_test_id(form).get_by_role("alert")).to_contain_text("Too many requests")
        page.wait_for_timeout(3_500)


RUN = secrets.token_hex(4)


def email_of(name: str) -> str:
    return f"{name.lower()}-{RUN}@example.com"


def sign_out_and_see_the_sign_in_page(page: Any, stack: Stack) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{stack.app_url}/sign-in**")
    page.goto(f"{stack.app_url}/dashboard/chat")
    expect(page.get_by_text("Sign in to chat")).to_be_visible()
    assert "/sign-in" in page.url


def tasks_shown(page: Any) -> Any:
    return page.locator("[data-testid=task-list] li")


# What a second user's browser tries with the first user's conversation id, through every route the app uses:
# the history function, the plain chat, following an answer, ChatKit, and the app's own pass-through route.
REFUSALS = """
async ([stack, me, owner, conversation]) => {
  const jwt = (await (await fetch("/api/auth/token")).json()).token;
  const session = await (await fetch(`${stack.api}/api/${me}/chatkit/session`, {
    method: "POST", headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" }, body: "{}",
  })).json();
  const auth = { Authorization: `Bearer ${session.token}`, "Content-Type": "application/json" };
  const call = async (name, url, init = {}) => {
    const response = await fetch(url, { ...init, headers: auth });
    const body = await response.json().catch(() => null);
    return [name, response.status, body?.error?.code ?? null];
  };
  const chatkit = (type, params) => ({ method: "POST", body: JSON.stringify({ type, params }) });
  const input = { content: [{ type: "input_text", text: "hello" }], attachments: [], inference_options: {} };
  const send = { method: "POST", body: JSON.stringify({ message: "hello", conversation_id: conversation }) };
  return [
    await call("conversation", `${stack.api}/api/${me}/conversations/${conversation}`),
    await call("messages", `${stack.api}/api/${me}/conversations/${conversation}/messages`),
    await call("rename", `${stack.api}/api/${me}/conversations/${conversation}`,
      { method: "PATCH", body: JSON.stringify({ title: "mine now" }) }),
    await call("chat", `${stack.chat}/api/${me}/chat`, send),
    await call("follow", `${stack.chat}/api/${me}/chat/${conversation}/stream`),
    await call("chatkit threads.get_by_id", `${stack.chat}/api/${me}/chatkit`,
      chatkit("threads.get_by_id", { thread_id: conversation })),
    await call("chatkit threads.add_user_message", `${stack.chat}/api/${me}/chatkit`,
      chatkit("threads.add_user_message", { thread_id: conversation, input })),
    await call("pass-through chat", `/api/chat/${me}/chat`, send),
    await call("pass-through, the owner's path", `/api/chat/${owner}/chat`, send),
    await call("the owner's path with my token", `${stack.chat}/api/${owner}/chat`, send),
  ];
}
"""


def assert_refused_everywhere(page: Any, stack: Stack, me: str, owner: str, conversation: str) -> None:
    answers = page.evaluate(REFUSALS, [{"api": stack.api_url, "chat": stack.api_url}, me, owner, conversation])
    assert [(name, status) for name, status, _ in answers] == [(name, 403) for name, _, _ in answers], answers
    assert {code for _, _, code in answers} == {"forbidden"}, answers


def test_the_plain_chat_when_chatkit_cannot_load(stack: Stack, chromium: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = new_page(chromium, chatkit=False)
    alice = sign_up(page, stack, "Alice")

    # No empty box: the page says why in words and offers the plain chat.
    expect(page.get_by_test_id("chatkit-unavailable")).to_contain_text("could not be loaded")
    chat = page.get_by_test_id("plain-chat")
    expect(tasks_shown(page)).to_have_count(0)
    refreshes = int(page.get_by_test_id("task-list").get_attribute("data-refreshes") or 0)

    with page.expect_response(lambda r: r.url.endswith(f"/api/{alice}/chat") and r.request.method == "POST") as sent:
        page.get_by_label("Message").fill("add buy milk")
        page.get_by_role("button", name="Send").click()
    stream = sent.value
    assert stream.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("event:").strip() for line in stream.text().splitlines() if line.startswith("event:")]
    assert events[0] == "conversation" and events[-1] == "done", events
    assert "text_delta" in events and "tool_call_finished" in events

    answer = chat.locator("[data-testid=message][data-role=assistant]").last
    expect(answer).to_have_attribute("data-status", "complete")
    expect(answer.get_by_test_id("tool-badge")).to_have_text("add_task: Success")
    expect(answer).to_contain_text("buy milk")
    # The task list shows the new task without a manual refresh.
    expect(tasks_shown(page)).to_have_count(1)
    expect(tasks_shown(page).first).to_contain_text("buy milk")
    assert int(page.get_by_test_id("task-list").get_attribute("data-refreshes") or 0) > refreshes
    conversation = page.evaluate("location.hash.slice(1)")
    assert conversation.startswith("thr_")
    # A tool call that fails says so on its badge.
    page.get_by_label("Message").fill("done 999999")
    page.get_by_role("button", name="Send").click()
    failed = chat.locator("[data-testid=message][data-role=assistant]").nth(1)
    expect(failed).to_have_attribute("data-status", "complete")
    expect(failed.get_by_test_id("tool-badge")).to_have_text("complete_task: Failed")
    page.screenshot(path=str(tmp_path / "plain-chat-light.png"))

    # A reload: the conversation and its messages are there.
    page.reload()
    expect(chat.locator("[data-testid=message]")).to_have_count(4)
    # In order: each question, then its answer.
    roles = chat.locator("[data-testid=message]").evaluate_all("ms => ms.map((m) => m.dataset.role)")
    assert roles == ["user", "assistant", "user", "assistant"]
    expect(chat.locator("[data-testid=message][data-role=user]").first).to_have_text("add buy milk")
    expect(chat.get_by_test_id("tool-badge")).to_have_text(["add_task: Success", "complete_task: Failed"])
    expect(chat.locator(f"[data-conversation-id='{conversation}']")).to_have_attribute("aria-current", "true")
    page.emulate_media(color_scheme="dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.screenshot(path=str(tmp_path / "plain-chat-dark.png"))

    # A second user: Alice's conversation is refused on every route, and the page shows nothing of it.
    other = new_page(chromium, chatkit=False)
    bob = sign_up(other, stack, "Bob")
    assert bob != alice
    assert_refused_everywhere(other, stack, bob, alice, conversation)
    other.goto(f"{stack.app_url}/dashboard/chat#{conversation}")
    other.reload()  # a new page load with Alice's conversation in the address
    expect(other.get_by_test_id("plain-chat").get_by_role("alert")).to_contain_text("another user")
    expect(other.get_by_test_id("plain-chat").locator("[data-testid=message]")).to_have_count(0)
    expect(tasks_shown(other)).to_have_count(0)

    # Stop: the answer being written ends where it was, kept and marked, not shown as a failure of the app.
    page.get_by_label("Message").fill("hello")
    page.get_by_role("button", name="Send").click()
    writing = chat.locator("[data-testid=message][data-role=assistant]").last
    expect(writing).not_to_have_text("", timeout=10_000)  # the first words are in
    page.get_by_role("button", name="Stop").click()
    expect(writing).to_have_attribute("data-status", "error")
    expect(writing).to_contain_text("Stopped.")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    page.reload()
    kept = chat.locator("[data-testid=message][data-role=assistant]").last
    expect(kept).to_have_attribute("data-status", "error")
    assert 0 < len(kept.inner_text()) < len(HELP) + len("Stopped."), kept.inner_text()

    sign_out_and_see_the_sign_in_page(page, stack)
    sign_out_and_see_the_sign_in_page(other, stack)

    # Signing in again goes back to a path of this site only, never to another site named in `next`.
    for elsewhere in ("//evil.example/x", "/\\evil.example/x", "https://evil.example/x"):
        page.goto(f"{stack.app_url}/sign-in?next={quote(elsewhere)}")
        page.get_by_label("Email").fill(email_of("Alice"))
        page.get_by_label("Password").fill(PASSWORD)
        submit_past_the_rate_limit(page, "sign-in", "Sign in")
        page.wait_for_url(f"{stack.app_url}/dashboard/chat**")
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{stack.app_url}/sign-in**")
    for shot in ("plain-chat-light.png", "plain-chat-dark.png"):
        assert (tmp_path / shot).stat().st_size > 10_000


def test_chatkit_through_its_wire_protocol_with_a_double_of_the_element(
    stack: Stack, chromium: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = new_page(chromium, chatkit=True, color_scheme="dark")
    carol = sign_up(page, stack, "Carol")
    element = page.locator("openai-chatkit")
    # The app's configuration, as ChatKit receives it.
    expect(element).to_have_attribute("data-color-scheme", "dark")
    expect(element).to_have_attribute("data-domain-key", DOMAIN_KEY)
    options = page.evaluate("JSON.parse(JSON.stringify(document.querySelector('openai-chatkit').options))")
    assert options["api"]["url"] == f"{stack.api_url}/api/{carol}/chatkit"
    expect(page.get_by_test_id("chatkit-unavailable")).to_have_count(0)

    requests: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: (
            requests.append({"auth": r.headers.get("authorization"), **json.loads(r.post_data or "{}")})
            if r.url.endswith(f"/api/{carol}/chatkit")
            else None
        ),
    )
    page.get_by_label("ChatKit message").fill("add buy milk")
    page.get_by_label("ChatKit message").press("Enter")
    items = element.locator("[data-item-id]")
    expect(element.locator("[data-type=workflow]")).to_have_text("add_task: Success")
    expect(element.locator("[data-type=assistant_message]").last).to_contain_text("buy milk")
    # The task list follows the backend's `tasks.changed` client effect, without a manual refresh.
    expect(tasks_shown(page)).to_have_count(1)
    expect(tasks_shown(page).first).to_contain_text("buy milk")
    assert requests[0]["type"] == "threads.create"
    assert requests[0]["auth"].startswith("Bearer ")  # the chat token, added by the app's fetch
    thread = page.evaluate("location.hash.slice(1)")  # kept by the app's onThreadChange
    assert thread.startswith("thr_")
    page.screenshot(path=str(tmp_path / "chatkit-double-dark.png"))

    # Tag search: "@milk" becomes a tag carrying the task's id, from the app's onTagSearch; the model is told the id.
    task_id = tasks_shown(page).first.get_attribute("data-task-id")
    page.get_by_label("ChatKit message").fill("done @milk")
    page.get_by_label("ChatKit message").press("Enter")
    expect(element.locator("[data-type=user_message]")).to_have_count(2)
    expect(element.locator("[data-type=assistant_message]")).to_have_count(2)
    follow_up = requests[-1]
    assert follow_up["type"] == "threads.add_user_message"
    assert follow_up["params"]["thread_id"] == thread
    tag = follow_up["params"]["input"]["content"][1]
    assert tag["type"] == "input_tag" and tag["data"] == {"task_id": task_id}, follow_up
    expect(element.locator("[data-type=workflow]").last).to_have_text("complete_task: Success")
    expect(tasks_shown(page).first).to_have_attribute("data-completed", "true")

    # A reload: the app hands ChatKit the thread in the address, which loads it with its items.
    count = items.count()
    page.reload()
    expect(element).to_have_attribute("data-loaded-thread", thread)
    expect(items).to_have_count(count)
    expect(element.locator("[data-type=user_message]").first).to_have_text("add buy milk")
    page.emulate_media(color_scheme="light")
    expect(element).to_have_attribute("data-color-scheme", "light")
    page.screenshot(path=str(tmp_path / "chatkit-double-light.png"))

    other = new_page(chromium, chatkit=True)
    dave = sign_up(other, stack, "Dave")
    assert_refused_everywhere(other, stack, dave, carol, thread)
    other.goto(f"{stack.app_url}/dashboard/chat#{thread}")
    other.reload()  # a new page load with Carol's thread in the address
    expect(other.locator("openai-chatkit")).to_have_attribute("data-error", "threads.get_by_id: 403")
    expect(other.locator("openai-chatkit [data-item-id]")).to_have_count(0)

    sign_out_and_see_the_sign_in_page(page, stack)


def test_chatkit_composer_tools_commands_and_task_links_through_the_double(stack: Stack, chromium: Any) -> None:
    """The app's composer tools, "/" commands, dictation, attachments and entity handlers, through the double's ChatKit
    protocol: a picked tool leaves as `inference_options.tool_choice` and the backend answers it; a task entity
    clicked in the chat highlights that task in the list, and its preview shows the task as it is now."""
    from playwright.sync_api import expect

    page = new_page(chromium, chatkit=True)
    erin = sign_up(page, stack, "Erin")
    element = page.locator("openai-chatkit")
    composer = page.get_by_label("ChatKit message")
    expect(element.get_by_test_id("chatkit-tools").get_by_role("button")).to_have_text(
        ["Plan my day", "What's left", "Add a task"]
    )
    options = page.evaluate("JSON.parse(JSON.stringify(document.querySelector('openai-chatkit').options))")
    assert [tool["id"] for tool in options["composer"]["tools"]] == ["plan_my_day", "whats_left", "add_task"]
    assert all(tool["icon"] for tool in options["composer"]["tools"])
    assert options["commands"]["enabled"] is True
    # The session function names no speech provider (dictation stays off) and the chat function's two models, the
    # default first: the composer's model picker.
    expect(element).to_have_attribute("data-dictation", "off")
    assert options["composer"]["dictation"] == {"enabled": False}
    # It takes attachments (its default): the composer offers the backend's allow-list, uploaded in two phases.
    assert options["composer"]["attachments"] == {
        "enabled": True,
        "accept": {
            "image/png": [".png"],
            "image/jpeg": [".jpg", ".jpeg"],
            "image/webp": [".webp"],
            "image/gif": [".gif"],
            "text/plain": [".txt"],
            "text/csv": [".csv"],
            "text/markdown": [".md", ".markdown"],
        },
        "maxSize": {"image/*": 5 * 1024 * 1024, "text/*": 256 * 1024},
        "maxCount": 4,
    }
    assert options["api"]["uploadStrategy"] == {"type": "two_phase"}
    assert options["composer"]["models"] == [
        {"id": "gpt-test", "label": "gpt-test", "default": True},
        {"id": "gpt-big", "label": "gpt-big", "default": False},
    ]

    sent: list[dict[str, Any]] = []
    answered: list[int] = []

    def seen(response: Any) -> None:
        if response.url.endswith(f"/api/{erin}/chatkit") and response.request.method == "POST":
            sent.append(json.loads(response.request.post_data or "{}"))
            answered.append(response.status)

    page.on("response", seen)
    answers = element.locator("[data-type=assistant_message]")
    for number, text in enumerate(("add walk dog", "add buy milk"), start=1):
        composer.fill(text)
        composer.press("Enter")
        expect(answers).to_have_count(number)
    expect(tasks_shown(page)).to_have_count(2)

    # A composer tool, picked with its button: sent once as tool_choice, then cleared (not persistent).
    element.get_by_role("button", name="What's left").click()
    expect(element).to_have_attribute("data-selected-tool", "whats_left")
    composer.fill("what is left?")
    composer.press("Enter")
    expect(answers).to_have_count(3)
    expect(element).to_have_attribute("data-selected-tool", "")
    # A "/" command: the app's commands.onSearch finds the tool and onSelect selects it through the control.
    composer.fill("/plan")
    composer.press("Enter")
    expect(element).to_have_attribute("data-selected-tool", "plan_my_day")
    composer.fill("anything for today?")
    composer.press("Enter")
    expect(answers).to_have_count(4)
    options_sent = [body["params"]["input"]["inference_options"] for body in sent]
    assert options_sent == [{}, {}, {"tool_choice": {"id": "whats_left"}}, {"tool_choice": {"id": "plan_my_day"}}]
    assert answered == [200, 200, 200, 200]
    assert not element.get_attribute("data-error")

    # A task entity in the thread (the tag "@milk", which completes that task): a click highlights the task in the
    # list, and only that one; its preview is fetched now, so it says Done.
    milk = tasks_shown(page).filter(has_text="buy milk")
    milk_id = milk.get_attribute("data-task-id")
    composer.fill("done @milk")
    composer.press("Enter")
    expect(answers).to_have_count(5)
    expect(milk).to_have_attribute("data-completed", "true")
    expect(tasks_shown(page).filter(has_text="walk dog")).to_have_attribute("data-highlighted", "false")
    entity = element.locator(f"[data-type=user_message] [data-entity-id='task-{milk_id}']")
    entity.get_by_role("button", name="buy milk").click()
    expect(milk).to_have_attribute("data-highlighted", "true")
    expect(milk).to_have_attribute("aria-current", "true")
    expect(tasks_shown(page).filter(has_text="walk dog")).to_have_attribute("data-highlighted", "false")
    entity.get_by_role("button", name="Preview").click()
    preview = element.get_by_test_id("entity-preview")
    expect(preview).to_have_text(f"buy milk Done Task #{milk_id}")

    # A task link on an answer, in the shape the backend's task links take (an `annotation_added` update built
    # with the ChatKit SDK's own types: id `task_<id>`, `data.task_id` a number). This backend does not link tasks
    # yet, so the update is handed to the double as if streamed; the app's handlers are the real ones.
    walk = tasks_shown(page).filter(has_text="walk dog")
    walk_id = int(walk.get_attribute("data-task-id") or 0)
    answer_id = answers.last.get_attribute("data-item-id")
    link = Annotation(
        source=EntitySource(
            id=f"task_{walk_id}",
            title="walk dog",
            label=f"Task #{walk_id}",
            icon="empty-circle",
            interactive=True,
            data={"task_id": walk_id},
        )
    )
    update = ThreadItemUpdated(
        item_id=answer_id or "",
        update=AssistantMessageContentPartAnnotationAdded(content_index=0, annotation_index=0, annotation=link),
    )
    page.evaluate("(event) => document.querySelector('openai-chatkit').handle(event)", update.model_dump(mode="json"))
    linked = answers.last.locator(f"[data-entity-id='task_{walk_id}']")
    linked.get_by_role("button", name="walk dog").click()
    expect(walk).to_have_attribute("data-highlighted", "true")
    expect(milk).to_have_attribute("data-highlighted", "false")
    linked.get_by_role("button", name="Preview").click()
    expect(preview).to_have_text(f"walk dog To do Task #{walk_id}")


def test_with_the_abort_relayed_chatkit_goes_through_the_apps_route(chromium: Any, tmp_path: Path) -> None:
    """With `CHAT_ABORT_RELAYED` the app points ChatKit at its pass-through route, the only hop that sees the
    browser's abort and relays it as a thread stop (docs/deploy.md, "Stop"); without it ChatKit goes straight to the
    chat function (the test above). One database: what is under test is the app's choice of URL, and a turn through
    it end to end."""
    from playwright.sync_api import expect

    database, auth_url = prepare_sqlite(tmp_path), str(tmp_path / "auth.sqlite")
    with todo_app(
        database, auth_url, CHATKIT_DOMAIN_KEY=DOMAIN_KEY, CHATKIT_WAIT_MS="1500", CHAT_ABORT_RELAYED="true"
    ) as relayed:
        page = new_page(chromium, chatkit=True)
        frank = sign_up(page, relayed, "Frank")
        element = page.locator("openai-chatkit")
        options = page.evaluate("JSON.parse(JSON.stringify(document.querySelector('openai-chatkit').options))")
        assert options["api"]["url"] == f"/api/chat/{frank}/chatkit"

        sent: list[tuple[str, int, str | None]] = []
        page.on(
            "response",
            lambda r: (
                sent.append((r.url, r.status, r.request.headers.get("authorization")))
                if r.url.endswith("/chatkit") and r.request.method == "POST"
                else None
            ),
        )
        page.get_by_label("ChatKit message").fill("add buy milk")
        page.get_by_label("ChatKit message").press("Enter")
        expect(element.locator("[data-type=workflow]")).to_have_text("add_task: Success")
        expect(element.locator("[data-type=assistant_message]").last).to_contain_text("buy milk")
        expect(tasks_shown(page)).to_have_count(1)
        assert sent, "ChatKit sent nothing"
        for url, status, authorization in sent:
            assert url == f"{relayed.app_url}/api/chat/{frank}/chatkit", url  # never the chat function directly
            assert status == 200
            assert (authorization or "").startswith("Bearer ")

        # A request of ChatKit's to any other URL (an upload to a presigned S3 URL) goes without the chat token.
        elsewhere: list[str | None] = []
        page.on("request", lambda r: elsewhere.append(r.headers.get("authorization")) if "/healthz" in r.url else None)
        status = page.evaluate(
            "(url) => document.querySelector('openai-chatkit').options.api.fetch(url).then((r) => r.status)",
            f"{relayed.api_url}/healthz",
        )
        assert status == 200
        assert elsewhere == [None]
