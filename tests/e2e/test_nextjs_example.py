"""The Next.js example, built (`make example`) and served by `next start`, in front of the real backend.

Its chat pass-through route (`app/api/chat/[user_id]/[...path]/route.ts`) must stream Server-Sent Events unbuffered,
forward the chat token, pass `WWW-Authenticate` and `Retry-After` back, and answer 401 without a Better Auth session.
The session is looked up over HTTP at `BETTER_AUTH_URL/api/auth/get-session` (`lib/auth-server.ts`); here a small
local server answers that endpoint (and `/api/auth/token`, which `lib/chat-session.ts` calls through the real Better
Auth client), as a Better Auth deployment would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from openai.types.responses import ResponseTextDeltaEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from functions.chat.agent.offline_model import OfflineModel
from infra.exampledev import EXAMPLE
from tests.support.databases import enabled_backends
from tests.support.example_app import built_example, required
from tests.support.jwks import JwksServer
from tests.support.server import Server, free_port
from tests.support.tokens import Tokens
from todo_common.settings import Settings
from todo_common.web import Services

pytestmark = pytest.mark.long

ALICE, BOB = "user_alice", "user_bob"
SESSION_COOKIE = "better-auth.session_token"
DELTA_SECONDS = 0.15
RATE_LIMIT = 4


@pytest.fixture(scope="module", autouse=True)
def _built() -> Iterator[None]:
    """Every test here runs the example's build or its node_modules (built in the background by `make test`)."""
    with built_example():
        yield


class SlowOfflineModel(OfflineModel):
    """The offline model with time between text deltas, so buffering anywhere on the way would show."""

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for event in super().stream_response(*args, **kwargs):
            if isinstance(event, ResponseTextDeltaEvent):
                await asyncio.sleep(DELTA_SECONDS)
            yield event


class BetterAuthStandIn:
    """Better Auth's two HTTP endpoints the example calls: get-session (by cookie) and token (JWT plugin)."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens
        self.sessions: dict[str, str] = {"alice-session": ALICE}
        self.signed_in = ALICE  # whose JWT /api/auth/token hands out
        self.cookies_seen: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/api/auth/get-session", self.get_session),
                Route("/api/auth/token", self.token),
            ]
        )

    async def get_session(self, request: Request) -> Response:
        self.cookies_seen.append(request.headers.get("cookie", ""))
        user = self.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        if user is None:
            return Response("null", media_type="application/json")
        return JSONResponse({"session": {"userId": user, "id": f"s-{user}"}, "user": {"id": user, "name": user}})

    async def token(self, _request: Request) -> Response:
        return JSONResponse({"token": self.tokens.hs256(self.signed_in)})


@pytest.fixture(scope="module")
def backend() -> str:
    """One database is enough here: what is under test is the Next.js route, not the store."""
    return enabled_backends()[0]


class FixedPortServer(Server):
    """A test's own gateway on the port the module's `next start` was told about."""

    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)


@pytest.fixture(scope="module")
def backend_port() -> int:
    return free_port()


@pytest.fixture
def backend_url(services: Services, backend_port: int) -> Iterator[str]:
    from functions.chat import app as chat
    from functions.chat.runtime import ChatRuntime
    from functions.history import app as history
    from functions.session import app as session
    from infra.devserver import build_gateway

    modules = (session, history, chat)
    saved: list[Any] = [m.app.state.services for m in modules] + [chat.app.state.chat]
    for module in modules:
        module.app.state.services = services
    settings = dataclasses.replace(chat.chat_settings, rate_limit_per_minute=RATE_LIMIT)
    chat.app.state.chat = ChatRuntime.build(services, settings, SlowOfflineModel(), chat.task_server)
    asyncio.set_event_loop(None)
    with FixedPortServer(build_gateway(), backend_port) as url:
        yield url
    for module, original in zip(modules, saved, strict=False):
        module.app.state.services = original
    chat.app.state.chat = saved[-1]


@pytest.fixture(scope="module")
def better_auth(settings: Settings, jwks: JwksServer) -> Iterator[tuple[BetterAuthStandIn, str]]:
    stand_in = BetterAuthStandIn(Tokens(settings, jwks))
    with Server(stand_in.app) as url:
        yield stand_in, url


@pytest.fixture
def next_url(next_server: str, backend_url: str) -> str:
    return next_server


@pytest.fixture(scope="module")
def next_server(backend_port: int, better_auth: tuple[BetterAuthStandIn, str]) -> Iterator[str]:
    backend_url = f"http://127.0.0.1:{backend_port}"
    port = free_port()
    env = {
        **os.environ,
        "NODE_ENV": "production",
        "NEXT_TELEMETRY_DISABLED": "1",
        "TODO_CHAT_FUNCTION_URL": backend_url,
        # The page's own origin, whatever the build was given: the browser's session calls are routed from there.
        "TODO_CHAT_API": f"http://127.0.0.1:{port}",
        "BETTER_AUTH_URL": better_auth[1],
    }
    process = subprocess.Popen(
        [str(EXAMPLE / "node_modules" / ".bin" / "next"), "start", "-H", "127.0.0.1", "-p", str(port)],
        cwd=EXAMPLE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/dashboard/chat", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"next start did not come up: {output}")
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def chat_request(tokens: Tokens, user: str = ALICE, *, cookie: str | None = "alice-session") -> dict[str, Any]:
    headers = {
        "Authorization": f"Bearer {tokens.chat(user)}",
        "Accept": "text/event-stream",
        "Content-Type": "application/json",
    }
    if cookie is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    return {"headers": headers, "json": {"message": "add buy milk please and thank you"}}


def test_sse_passes_through_unbuffered_with_the_token_forwarded(next_url: str, tokens: Tokens) -> None:
    started = time.monotonic()
    arrivals: list[tuple[float, str]] = []
    with httpx.stream("POST", f"{next_url}/api/chat/{ALICE}/chat", timeout=30, **chat_request(tokens)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers or response.headers["content-encoding"] == "none"
        assert response.headers["x-request-id"]
        for line in response.iter_lines():
            if line.startswith("event:"):
                arrivals.append((time.monotonic() - started, line.removeprefix("event:").strip()))
    events = [name for _, name in arrivals]
    assert events[0] == "conversation" and events[-1] == "done", events
    assert events.count("text_delta") >= 3
    first, last = arrivals[0][0], arrivals[-1][0]
    # The answer takes at least (deltas * DELTA_SECONDS); a buffered pass-through delivers everything at the end.
    assert last - first >= DELTA_SECONDS * (events.count("text_delta") - 1) * 0.8, arrivals


def test_a_rejected_token_comes_back_with_www_authenticate(next_url: str, tokens: Tokens) -> None:
    request = chat_request(tokens)
    request["headers"]["Authorization"] = "Bearer not-a-token"
    response = httpx.post(f"{next_url}/api/chat/{ALICE}/chat", timeout=30, **request)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["message"] != "Sign in first."  # the backend's answer, passed back
    assert response.headers["x-request-id"]


def test_rate_limited_sends_come_back_with_retry_after(next_url: str, tokens: Tokens) -> None:
    statuses = []
    for _ in range(RATE_LIMIT + 1):
        request = chat_request(tokens)
        request["headers"]["Accept"] = "application/json"
        response = httpx.post(f"{next_url}/api/chat/{ALICE}/chat", timeout=30, **request)
        statuses.append(response.status_code)
    assert statuses == [200] * RATE_LIMIT + [429]
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"


def test_no_session_is_401_and_another_users_path_is_403(
    next_url: str, tokens: Tokens, better_auth: tuple[BetterAuthStandIn, str]
) -> None:
    stand_in, _ = better_auth
    without_cookie = httpx.post(f"{next_url}/api/chat/{ALICE}/chat", timeout=30, **chat_request(tokens, cookie=None))
    assert without_cookie.status_code == 401
    assert without_cookie.headers["www-authenticate"].startswith("Bearer")

    unknown = httpx.post(f"{next_url}/api/chat/{ALICE}/chat", timeout=30, **chat_request(tokens, cookie="expired"))
    assert unknown.status_code == 401
    assert unknown.json()["error"] == {"code": "unauthorized", "message": "Sign in first."}
    assert unknown.headers["www-authenticate"].startswith("Bearer")
    assert f"{SESSION_COOKIE}=expired" in stand_in.cookies_seen[-1]  # the session was asked, with the cookie

    other = httpx.post(f"{next_url}/api/chat/{BOB}/chat", timeout=30, **chat_request(tokens, BOB))
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "forbidden"

    unknown_path = httpx.post(f"{next_url}/api/chat/{ALICE}/mcp", timeout=30, **chat_request(tokens))
    assert unknown_path.status_code == 404


def test_an_unreachable_backend_is_a_502_in_the_error_shape(next_server: str, tokens: Tokens) -> None:
    # No backend_url fixture: nothing listens on the port `next start` forwards to.
    response = httpx.post(f"{next_server}/api/chat/{ALICE}/chat", timeout=30, **chat_request(tokens))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unavailable"


CHAT_SESSION_SCRIPT = """
import { chatSession } from "./chat-session.mjs";
const signIn = (user) => fetch(`${process.env.AUTH}/sign-in-as/${user}`, { method: "POST" });
const alice = await chatSession("user_alice");
const aliceAgain = await chatSession("user_alice");
await signIn("user_bob");
const bob = await chatSession("user_bob");
console.log(JSON.stringify({ alice, aliceAgain, bob }));
"""


def test_the_cached_chat_token_belongs_to_the_user_it_was_minted_for(
    backend_url: str, better_auth: tuple[BetterAuthStandIn, str]
) -> None:
    """lib/chat-session.ts, compiled by the example's TypeScript and run in node with the real Better Auth client
    against the real session function: after another user signs in, their id gets their own token."""
    stand_in, auth_url = better_auth
    stand_in.signed_in = ALICE

    async def sign_in_as(request: Request) -> Response:
        stand_in.signed_in = request.path_params["user"]
        return Response(status_code=204)

    stand_in.app.router.routes.append(Route("/sign-in-as/{user}", sign_in_as, methods=["POST"]))
    # Compiled next to the example (under its ignored .next/) so `better-auth` resolves from its node_modules.
    out = EXAMPLE / ".next" / "test-chat-session"
    out.mkdir(parents=True, exist_ok=True)
    compile_script = """
const ts = require("typescript"), fs = require("fs"), path = require("path");
const [out, ...files] = process.argv.slice(1);
for (const file of files) {
  const source = fs.readFileSync(file, "utf8").replace('"@/lib/auth-client"', '"./auth-client.mjs"');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext,
    target: ts.ScriptTarget.ES2022 } });
  fs.writeFileSync(path.join(out, path.basename(file).replace(/\\.ts$/, ".mjs")), outputText);
}
"""
    subprocess.run(
        ["node", "-e", compile_script, str(out), "lib/auth-client.ts", "lib/chat-session.ts"],
        cwd=EXAMPLE,
        check=True,
        timeout=60,
    )
    (out / "main.mjs").write_text(CHAT_SESSION_SCRIPT)
    env = {
        **os.environ,
        "AUTH": auth_url,
        "NEXT_PUBLIC_BETTER_AUTH_URL": auth_url,
        "NEXT_PUBLIC_TODO_CHAT_API": backend_url,
    }
    result = subprocess.run(
        ["node", str(out / "main.mjs")], cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    sessions = json.loads(result.stdout.strip().splitlines()[-1])
    assert sessions["alice"]["user_id"] == ALICE
    assert sessions["aliceAgain"]["token"] == sessions["alice"]["token"]  # still cached for the same user
    assert sessions["bob"]["user_id"] == BOB
    assert sessions["bob"]["token"] != sessions["alice"]["token"]


# -- the page in a real Chromium: light and dark, the task list, tag search ---------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
GREEN = "rgb(15, 255, 80)"  # #0FFF50, the accent in both schemes
BACKGROUND = {"dark": "rgb(14, 17, 22)", "light": "rgb(246, 248, 250)"}

# ChatKit's web component comes from OpenAI's CDN, which this machine cannot reach. In its place the browser gets
# this element: it keeps what @openai/chatkit-react hands `setOptions` (the theme, the item actions, the composer's
# tag search) so the test can read them and call them, and the test dispatches the element's `chatkit.effect`
# events the way ChatKit does when the backend streams a client effect.
CHATKIT_STAND_IN = """
customElements.define("openai-chatkit", class extends HTMLElement {
  setOptions(options) {
    this.options = options;
    this.dataset.optionsColorScheme = options.theme?.colorScheme ?? "";
    this.dataset.setOptionsCalls = String(Number(this.dataset.setOptionsCalls ?? 0) + 1);
  }
});
"""


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        required("Chromium is not installed: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        yield browser
        browser.close()


def example_page(
    chromium: Any, next_url: str, backend_url: str, better_auth: tuple[BetterAuthStandIn, str], cookie: str
) -> Any:
    """A browser context signed in with `cookie`, whose calls to Better Auth and to the session function reach the
    stand-in and the real backend: the browser asks the page's own origin for them (Better Auth's client by
    default, the session function because `next start` was given that origin as TODO_CHAT_API), where a deployment
    would have Better Auth and the HTTP API."""
    stand_in, auth_url = better_auth
    stand_in.signed_in = ALICE
    context = chromium.new_context(color_scheme="dark")
    context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": next_url}])

    def to(upstream: str) -> Any:
        def handle(route: Any) -> None:
            request = route.request
            path = request.url.removeprefix(next_url)
            headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
            headers["cookie"] = f"{SESSION_COOKIE}={cookie}"
            answer = httpx.request(request.method, upstream + path, headers=headers, content=request.post_data_buffer)
            route.fulfill(status=answer.status_code, body=answer.content, content_type=answer.headers["content-type"])

        return handle

    context.route(f"{next_url}/api/auth/**", to(auth_url))
    context.route(f"{next_url}/api/*/chatkit/session", to(backend_url))
    context.route(
        "https://cdn.platform.openai.com/**",
        lambda route: route.fulfill(body=CHATKIT_STAND_IN, content_type="application/javascript"),
    )
    return context


def add_task(database: Any, user: str, title: str, completed: bool = False) -> int:
    from todo_common.models import Task

    def work(session: Any) -> int:
        task = Task(user_id=user, title=title, completed=completed)
        session.add(task)
        session.flush()
        return int(task.id or 0)

    return int(database.write(work))


def chatkit_options(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("JSON.parse(JSON.stringify(document.querySelector('openai-chatkit').options))"))


@pytest.mark.browser
def test_the_page_follows_light_and_dark_and_gives_chatkit_the_scheme_and_accent(
    chromium: Any,
    next_url: str,
    backend_url: str,
    better_auth: tuple[BetterAuthStandIn, str],
    database: Any,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    add_task(database, ALICE, "buy milk")
    context = example_page(chromium, next_url, backend_url, better_auth, "alice-session")
    page = context.new_page()
    errors: list[str] = []  # a hydration mismatch (the theme on <html>, the toggle) is a console error
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        page.goto(f"{next_url}/dashboard/chat")
        chatkit = page.locator("openai-chatkit")
        expect(page.locator("[data-testid=task-list] li")).to_have_count(1, timeout=20_000)

        def applied(scheme: str) -> None:
            expect(page.locator("html")).to_have_attribute("data-theme", scheme)
            expect(chatkit).to_have_attribute("data-options-color-scheme", scheme)
            expect(chatkit).to_have_attribute("data-color-scheme", scheme)
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUND[scheme]
            accent = page.locator("header [aria-hidden=true].rounded-full")
            assert accent.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
            badge = page.locator("[data-testid=task-list] [data-slot=badge]").first
            assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
            theme = chatkit_options(page)["theme"]
            assert theme["colorScheme"] == scheme
            assert theme["color"]["accent"]["primary"].upper() == "#0FFF50"

        # The system's preference, with the toggle on "System".
        applied("dark")
        expect(page.get_by_role("radio", name="System")).to_have_attribute("data-state", "on")
        page.screenshot(path=str(tmp_path / "example-dark.png"))
        page.emulate_media(color_scheme="light")
        applied("light")
        page.screenshot(path=str(tmp_path / "example-light.png"))

        # The toggle wins over the system, and is kept across a reload.
        page.get_by_role("radio", name="Dark").click()
        applied("dark")
        page.reload()
        expect(page.locator("[data-testid=task-list] li")).to_have_count(1, timeout=20_000)
        applied("dark")
        expect(page.get_by_role("radio", name="Dark")).to_have_attribute("data-state", "on")
        page.get_by_role("radio", name="System").click()
        applied("light")

        # The buttons the server supports.
        assert chatkit_options(page)["threadItemActions"] == {"feedback": True, "retry": True}
        assert (tmp_path / "example-dark.png").stat().st_size > 0
        assert errors == []
    finally:
        context.close()


@pytest.mark.browser
def test_the_task_list_refreshes_on_tasks_changed_and_tag_search_finds_the_users_tasks(
    chromium: Any,
    next_url: str,
    backend_url: str,
    better_auth: tuple[BetterAuthStandIn, str],
    database: Any,
) -> None:
    from playwright.sync_api import expect

    walk = add_task(database, ALICE, "walk dog")
    walk_again = add_task(database, ALICE, "Walk dog again", completed=True)
    add_task(database, ALICE, "buy milk")
    add_task(database, BOB, "walk bob's dog")  # never offered to Alice
    context = example_page(chromium, next_url, backend_url, better_auth, "alice-session")
    page = context.new_page()
    try:
        page.goto(f"{next_url}/dashboard/chat")
        items = page.locator("[data-testid=task-list] li")
        expect(items).to_have_count(3, timeout=20_000)
        task_list = page.locator("[data-testid=task-list]")
        expect(task_list).to_have_attribute("data-refreshes", "1")

        # What the composer offers after "@walk": Alice's two, as entities carrying the task id.
        entities = page.evaluate("document.querySelector('openai-chatkit').options.entities.onTagSearch('walk')")
        assert [(e["title"], e["data"]) for e in entities] == [
            ("walk dog", {"task_id": str(walk)}),
            ("Walk dog again", {"task_id": str(walk_again)}),
        ]
        assert {e["group"] for e in entities} == {"To do", "Done"}
        assert page.evaluate("document.querySelector('openai-chatkit').options.entities.showComposerMenu") is True

        # The assistant changed a task: an effect of another name refreshes nothing; tasks.changed refreshes.
        added = add_task(database, ALICE, "call mum")
        dispatch = "([name, data]) => document.querySelector('openai-chatkit')" + (
            ".dispatchEvent(new CustomEvent('chatkit.effect', { detail: { name, data } }))"
        )
        page.evaluate(dispatch, ["confetti", {}])
        page.wait_for_timeout(500)
        expect(items).to_have_count(3)
        page.evaluate(dispatch, ["tasks.changed", {"task_id": added, "change": "added"}])
        expect(items).to_have_count(4, timeout=10_000)
        expect(task_list).to_have_attribute("data-refreshes", "2")
        expect(page.locator(f"[data-task-id='{added}']")).to_contain_text("call mum")
    finally:
        context.close()


@pytest.mark.browser
def test_signed_out_shows_a_sign_in_card_in_both_schemes(
    chromium: Any,
    next_url: str,
    backend_url: str,
    better_auth: tuple[BetterAuthStandIn, str],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    context = example_page(chromium, next_url, backend_url, better_auth, "expired")  # Better Auth: no session
    page = context.new_page()
    try:
        page.goto(f"{next_url}/dashboard/chat")
        card = page.locator("[data-testid=signed-out]")
        expect(card).to_contain_text("Sign in to chat", timeout=20_000)
        expect(page.locator("openai-chatkit")).to_have_count(0)
        sign_in = card.get_by_role("link", name="Sign in")
        assert sign_in.get_attribute("href") == "/sign-in?next=/dashboard/chat"
        for scheme in ("dark", "light"):
            page.emulate_media(color_scheme=scheme)
            expect(page.locator("html")).to_have_attribute("data-theme", scheme)
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUND[scheme]
            assert sign_in.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
            page.screenshot(path=str(tmp_path / f"example-signed-out-{scheme}.png"))
    finally:
        context.close()


# -- widget JSON against ChatKit's WidgetRoot ---------------------------------------------------------------------

WIDGET_FIXTURES = EXAMPLE / "fixtures" / "widgets"


def check_widgets(fixtures: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """`make example`'s check on one folder: the fixtures inlined under `satisfies WidgetRoot`, then tsc."""
    generated = subprocess.run(
        ["node", "scripts/widget-fixtures.mjs", str(fixtures), str(out)],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if generated.returncode != 0:
        return generated
    tsc = [str(EXAMPLE / "node_modules" / ".bin" / "tsc"), "--noEmit", "--strict", "--skipLibCheck"]
    options = ["--module", "esnext", "--moduleResolution", "bundler", "--target", "es2022", str(out)]
    return subprocess.run([*tsc, *options], cwd=EXAMPLE, capture_output=True, text=True, timeout=120)


def test_the_widget_fixtures_satisfy_chatkits_widget_root_and_a_wrong_one_fails(tmp_path: Path) -> None:
    fixtures = sorted(WIDGET_FIXTURES.glob("*.json"))
    assert fixtures, "at least one widget fixture is checked"
    # Generated under the example (ignored .next/) so `@openai/chatkit` resolves from its node_modules.
    out = EXAMPLE / ".next" / "test-widgets"
    good = check_widgets(WIDGET_FIXTURES, out / "good.ts")
    assert good.returncode == 0, good.stdout + good.stderr
    assert all(f'"{path.name}":' in (out / "good.ts").read_text() for path in fixtures)

    sample = json.loads((WIDGET_FIXTURES / "task-list.sample.json").read_text())
    button = sample["children"][0]["children"][3]
    assert button["type"] == "Button"
    bad = tmp_path / "bad"
    bad.mkdir()
    wrong_type = json.loads(json.dumps(sample))
    wrong_type["children"][0]["children"][3]["type"] = "Buton"
    (bad / "wrong-type.json").write_text(json.dumps(wrong_type))
    unknown_field = json.loads(json.dumps(sample))
    unknown_field["children"][0]["children"][3]["onClick"] = {"type": "tasks.complete"}
    (bad / "unknown-field.json").write_text(json.dumps(unknown_field))
    failed = check_widgets(bad, out / "bad.ts")
    assert failed.returncode != 0
    assert "'\"Buton\"' is not assignable" in failed.stdout, failed.stdout
    assert "'\"onClick\"' does not exist in type 'Button'" in failed.stdout, failed.stdout

    (bad / "not-json.json").write_text("{")
    assert check_widgets(bad, out / "bad.ts").returncode != 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_widgets(empty, out / "empty.ts").returncode != 0  # no fixture is not a pass


# -- the task search through the pass-through route (tag search and the task list, lib/tasks.ts) -----------------


def search_request(tokens: Tokens, user: str = ALICE, *, cookie: str | None = "alice-session") -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {tokens.chat(user)}", "Accept": "application/json"}
    if cookie is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    return {"headers": headers}


def test_the_task_search_passes_through_for_the_signed_in_user_only(
    next_url: str, tokens: Tokens, database: Any
) -> None:
    walk = add_task(database, ALICE, "walk dog")
    add_task(database, BOB, "walk bob's dog")
    url = f"{next_url}/api/chat/{ALICE}/tasks/search"
    found = httpx.get(url, params={"q": "WALK", "limit": 5, "user_id": BOB}, timeout=30, **search_request(tokens))
    assert found.status_code == 200, found.text
    assert found.json()["items"] == [{"id": walk, "title": "walk dog", "description": "", "completed": False}]

    too_many = httpx.get(url, params={"limit": 500}, timeout=30, **search_request(tokens))
    assert too_many.status_code == 422  # the backend's answer, passed back

    no_session = httpx.get(url, timeout=30, **search_request(tokens, cookie=None))
    assert no_session.status_code == 401 and no_session.headers["www-authenticate"].startswith("Bearer")
    bobs = httpx.get(f"{next_url}/api/chat/{BOB}/tasks/search", timeout=30, **search_request(tokens, BOB))
    assert bobs.status_code == 403
    alices_path_bobs_token = httpx.get(url, timeout=30, **search_request(tokens, BOB))
    assert alices_path_bobs_token.status_code == 403  # the backend checks the token's user too
    other_get = httpx.get(f"{next_url}/api/chat/{ALICE}/chatkit", timeout=30, **search_request(tokens))
    assert other_get.status_code == 404


TASKS_SCRIPT = """
import {
  backendTaskApi, taskEntity, tagSearch, isTasksChanged, taskIdOf, findTask, taskPreview,
} from "./tasks.mjs";
const headers = (init) => ({ ...init.headers, cookie: process.env.COOKIE });
const api = backendTaskApi("user_alice", async () => process.env.CHAT_TOKEN, {
  base: `${process.env.NEXT}/api/chat`,
  fetch: (url, init) => fetch(url, { ...init, headers: headers(init) }),
});
const all = await api.list();
const three = await api.search("  task 1", 3);
const entities = await tagSearch(api, "task 12");
let refused = null;
try {
  await backendTaskApi("user_bob", async () => process.env.CHAT_TOKEN, {
    base: `${process.env.NEXT}/api/chat`, fetch: (url, init) => fetch(url, { ...init, headers: headers(init) }),
  }).list();
} catch (error) { refused = error.message; }
console.log(JSON.stringify({
  all, three, entities, refused, done: taskEntity({ id: 7, title: "x", completed: true }),
  effects: [isTasksChanged({ name: "tasks.changed" }), isTasksChanged({ name: "tasks.changed.not" })],
  ids: [
    taskIdOf({ id: "task-7", data: { task_id: "7" } }), taskIdOf({ id: "task_8", data: { task_id: 8 } }),
    taskIdOf({ id: "task_9" }), taskIdOf({ id: "doc-1" }), taskIdOf({ id: "task-1", data: { task_id: "1e3" } }),
    taskIdOf({ id: "x", data: { task_id: "-2" } }),
  ],
  found: [
    await findTask(api, all[12].id, "task 12"), await findTask(api, all[59].id, "a title it no longer has"),
    await findTask(api, 2147483647, "task 1"),
  ],
  previews: [taskPreview(all[12], all[12].id), taskPreview(null, 5)],
}));
"""


def test_the_task_api_pages_the_whole_list_and_maps_tags_to_entities(
    next_url: str, tokens: Tokens, database: Any
) -> None:
    """lib/tasks.ts, compiled by the example's TypeScript and run in node against `next start` and the real task
    search: `list()` follows `next_cursor` past the 50-item page; a tag carries `data.task_id`."""
    ids = [add_task(database, ALICE, f"task {n}", completed=n % 2 == 0) for n in range(60)]
    out = EXAMPLE / ".next" / "test-tasks"
    out.mkdir(parents=True, exist_ok=True)
    compile_script = """
const ts = require("typescript"), fs = require("fs");
const source = fs.readFileSync("lib/tasks.ts", "utf8");
const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022 } });
fs.writeFileSync(process.argv[1] + "/tasks.mjs", outputText);
"""
    subprocess.run(["node", "-e", compile_script, str(out)], cwd=EXAMPLE, check=True, timeout=60)
    (out / "main.mjs").write_text(TASKS_SCRIPT)
    env = {
        **os.environ,
        "NEXT": next_url,
        "COOKIE": f"{SESSION_COOKIE}=alice-session",
        "CHAT_TOKEN": tokens.chat(ALICE),
    }
    result = subprocess.run(
        ["node", str(out / "main.mjs")], cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert [task["id"] for task in answer["all"]] == ids  # two pages, in id order
    assert [task["title"] for task in answer["three"]] == ["task 1", "task 10", "task 11"]
    assert answer["entities"] == [
        {
            "id": f"task-{ids[12]}",
            "title": "task 12",
            "group": "Done",
            "interactive": True,
            "data": {"task_id": str(ids[12])},
        },
    ]
    assert answer["refused"] == "You may not access another user's data."
    assert answer["done"]["group"] == "Done" and answer["done"]["data"] == {"task_id": "7"}
    assert answer["effects"] == [True, False]
    # The task an entity names: a tag's string id, a task link's numeric one, the entity's own id; nothing else.
    assert answer["ids"] == [7, 8, 9, None, None, None]
    # One task, fetched now: by its title, else from the whole list (renamed); an unknown id is None.
    assert [task and task["id"] for task in answer["found"]] == [ids[12], ids[59], None]
    done, gone = answer["previews"]
    assert done["type"] == "Basic" and done["children"][0] == {"type": "Title", "value": "task 12", "size": "sm"}
    assert done["children"][1]["children"][0]["label"] == "Done"
    assert done["children"][1]["children"][1]["value"] == f"Task #{ids[12]}"
    assert gone["children"][0]["value"] == "Task #5 no longer exists."


def test_a_browsers_abort_of_a_chatkit_stream_is_relayed_as_a_thread_stop(
    next_url: str, backend_url: str, services: Services, tokens: Tokens, database: Any
) -> None:
    """Behind a Lambda Function URL the abort never reaches the chat function; here the backend is told to ignore
    it too (`allow_cancel` off), so only the pass-through route's relay (the thread stop) can stop the answer."""
    from agents.testing import ScriptedModel, assistant_message
    from chatkit.types import ThreadCreateParams, ThreadsCreateReq
    from sqlmodel import select

    from functions.chat import app as chat
    from functions.chat.runtime import ChatRuntime
    from tests.support.chat import SlowModel
    from tests.support.chatkit import user_input
    from todo_common.models import Message

    words = [f"word{i} " for i in range(40)]
    model = SlowModel(ScriptedModel([[assistant_message(word) for word in words] for _ in range(2)]), 0.1)
    settings = dataclasses.replace(chat.app.state.chat.settings, allow_cancel=False)
    chat.app.state.chat = ChatRuntime.build(services, settings, model, chat.task_server)  # the fixture restores it
    headers = chat_request(tokens)["headers"]
    create = ThreadsCreateReq(params=ThreadCreateParams(input=user_input("tell me a long story")))

    def abort_while_answering(url: str) -> float:
        with httpx.stream("POST", url, content=create.model_dump_json(), headers=headers, timeout=30) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if "assistant_message.content_part.text_delta" in line:
                    break  # the answer is being written: the user presses Stop, the browser aborts the stream
        return time.monotonic()

    def answers() -> list[Message]:
        return list(database.read(lambda s: s.exec(select(Message).where(Message.role == "assistant")).all()))

    abort_while_answering(f"{backend_url}/api/{ALICE}/chatkit")  # straight to the function: nobody relays
    time.sleep(1.5)
    assert [a.status for a in answers()] == ["streaming"]  # the abort alone stopped nothing

    aborted_at = abort_while_answering(f"{next_url}/api/chat/{ALICE}/chatkit")
    while len(answers()) < 2 or (
        [a for a in answers() if a.status == "streaming"] and time.monotonic() - aborted_at < 5
    ):
        time.sleep(0.1)
    stopped = [a for a in answers() if a.error_code == "stopped"]
    assert len(stopped) == 1 and stopped[0].status == "error"  # the relayed one, and only it
    assert len(stopped[0].content) < len("".join(words)) / 2  # stopped, not run to its end
    # The first answer still runs (about 20 s) and its request with it: stopped here, so the gateway's shutdown does
    # not wait for it.
    for running in [a for a in answers() if a.status == "streaming"]:
        httpx.post(f"{backend_url}/api/{ALICE}/chatkit/threads/{running.conversation_id}/stop", headers=headers)
