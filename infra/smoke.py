"""`make smoke URL=... TOKEN=...`: checks a deployed stack end to end, as the frontend uses it.

URL is the stack's `HttpApiUrl` (or a custom domain in front of it; locally, the `make dev` gateway), TOKEN a Better
Auth token of a real user of the app. In order: a chat session (the chat token and the chat URL it names), a
streamed turn that adds a task, the task listed and deleted through the chat, the conversation's history, and a
403 for another user's path on the HTTP API and on the chat URL. It leaves nothing behind: the test task is
deleted and the conversation too. Each check prints one line; a failed one says in words what went wrong, and the
exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

TIMEOUT = httpx.Timeout(30.0, read=120.0)  # a turn with a real model can think for a while


class CheckFailed(Exception):
    """A check's failure, in words."""


@dataclass(frozen=True)
class Outcome:
    name: str
    passed: bool
    detail: str


@dataclass
class Turn:
    """What one streamed chat turn sent back."""

    events: list[tuple[str, Any]]
    first_byte_seconds: float

    def final(self) -> tuple[str, Any]:
        return self.events[-1] if self.events else ("", None)

    def tool_calls(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == "tool_call_finished" and data.get("name") == name]


@dataclass
class Smoke:
    base_url: str
    token: str
    client: httpx.Client
    user_id: str = ""
    chat_token: str = ""
    chat_url: str = ""
    conversation_id: str = ""
    task_id: int = 0
    tag: str = field(default_factory=lambda: secrets.token_hex(3))

    def checks(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("session", self.check_session),
            ("streamed turn with add_task", self.check_streamed_turn),
            ("list_tasks through the chat", self.check_list),
            ("delete_task through the chat", self.check_delete),
            ("history", self.check_history),
            ("another user's path is 403", self.check_other_user),
            ("clean-up", self.check_clean_up),
        ]

    def run(self) -> Iterator[Outcome]:
        """Every check in order; after a failure the checks that need what it should have given are not run."""
        broken = ""
        for name, check in self.checks():
            if broken and name != "clean-up":
                yield Outcome(name, False, f"not run: {broken} failed")
                continue
            if name == "clean-up" and not self.conversation_id:
                continue
            try:
                yield Outcome(name, True, check())
            except CheckFailed as failed:
                broken = broken or name
                yield Outcome(name, False, str(failed))
            except httpx.HTTPError as error:
                broken = broken or name
                yield Outcome(name, False, f"could not talk to {error.request.url}: {describe_transport(error)}")

    # -- the checks ----------------------------------------------------------------------------------------------

    def check_session(self) -> str:
        self.user_id = token_subject(self.token)
        response = self.client.post(
            f"{self.base_url}/api/{quote(self.user_id, safe='')}/chatkit/session",
            json={"new_conversation": True},
            headers=self.bearer(self.token),
        )
        expect_status(response, 201, "the session function")  # 201: it created the conversation asked for
        body = response.json()
        for key in ("token", "chat_url", "conversation_id"):
            if not body.get(key):
                raise CheckFailed(f"the session answer has no {key}: {shorten(response.text)}")
        self.chat_token, self.chat_url, self.conversation_id = body["token"], body["chat_url"], body["conversation_id"]
        return f"user {self.user_id}, conversation {self.conversation_id}, chat at {self.chat_url}"

    def check_streamed_turn(self) -> str:
        turn = self.send(f"add smoke check {self.tag}")
        added = [call for call in turn.tool_calls("add_task") if call.get("status") == "success"]
        if not added:
            raise CheckFailed(f"the answer made no successful add_task call ({summarize(turn)})")
        self.task_id = int(added[0]["result"]["task_id"])
        return (
            f"first byte after {turn.first_byte_seconds:.2f} s, {len(turn.events)} events, task #{self.task_id} added"
        )

    def check_list(self) -> str:
        turn = self.send("list")
        listed = [
            task.get("title", "")
            for call in turn.tool_calls("list_tasks")
            if call.get("status") == "success"
            for task in (call.get("result") or {}).get("tasks", [])
        ]
        if not any(self.tag in title for title in listed):
            raise CheckFailed(f"list_tasks did not show the task just added ({summarize(turn)})")
        return f"{len(listed)} task(s) listed, the new one among them"

    def check_delete(self) -> str:
        """A delete asks first (no model output deletes on its own): the answer names the task awaiting
        confirmation, and the next message's `confirm_delete` deletes it."""
        asked = self.send(f"delete {self.task_id}")
        waiting = [
            call
            for call in asked.tool_calls("delete_task")
            if (call.get("result") or {}).get("status") == "awaiting_confirmation"
        ]
        if not waiting:
            raise CheckFailed(f"delete_task did not ask before deleting task #{self.task_id} ({summarize(asked)})")
        self.send("yes, delete it", confirm_delete={"task_id": self.task_id, "decision": "delete"})
        listed = self.send("list")
        still_there = [
            task
            for call in listed.tool_calls("list_tasks")
            for task in (call.get("result") or {}).get("tasks", [])
            if task.get("id") == self.task_id
        ]
        if still_there:
            raise CheckFailed(f"task #{self.task_id} is still listed after its delete was confirmed")
        return f"task #{self.task_id} deleted"

    def check_history(self) -> str:
        response = self.client.get(
            f"{self.user_api()}/conversations/{self.conversation_id}/messages",
            params={"limit": 20},
            headers=self.bearer(self.token),
        )
        expect_status(response, 200, "the history function")
        messages = response.json().get("items") or []
        texts = [str(message.get("content", "")) for message in messages]
        if not any(f"smoke check {self.tag}" in text for text in texts):
            raise CheckFailed(f"the conversation's history lacks the message sent: {shorten(response.text)}")
        unfinished = [m for m in messages if m.get("role") == "assistant" and m.get("status") != "complete"]
        if unfinished:
            raise CheckFailed(f"an answer is stored as {unfinished[0].get('status')!r}, not 'complete'")
        return f"{len(messages)} messages stored, every answer complete"

    def check_other_user(self) -> str:
        other = quote(f"{self.user_id}-smoke-other", safe="")
        own = f"/api/{quote(self.user_id, safe='')}/"
        history = self.client.get(f"{self.base_url}/api/{other}/conversations", headers=self.bearer(self.token))
        expect_status(history, 403, "the history function, asked for another user's conversations,")
        chat = self.client.post(
            self.chat_url.replace(own, f"/api/{other}/", 1),
            json={"message": "list"},
            headers=self.bearer(self.chat_token),
        )
        expect_status(chat, 403, "the chat function, asked to chat as another user,")
        return "the HTTP API and the chat URL both refuse it"

    def check_clean_up(self) -> str:
        response = self.client.delete(
            f"{self.user_api()}/conversations/{self.conversation_id}", headers=self.bearer(self.token)
        )
        expect_status(response, 204, "deleting the test conversation")
        return "the test conversation is deleted"

    # -- helpers -------------------------------------------------------------------------------------------------

    def user_api(self) -> str:
        return f"{self.base_url}/api/{quote(self.user_id, safe='')}"

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def send(self, message: str, **fields: Any) -> Turn:
        """One chat turn through the chat URL, read as the stream it is (`fields`: more of the request body)."""
        started = time.monotonic()
        headers = {**self.bearer(self.chat_token), "Accept": "text/event-stream"}
        body = {"message": message, "conversation_id": self.conversation_id, **fields}
        with self.client.stream("POST", self.chat_url, json=body, headers=headers) as response:
            if response.status_code != 200:
                response.read()
                expect_status(response, 200, "the chat function")
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise CheckFailed(f"the chat URL answered {response.headers.get('content-type')!r}, not a stream")
            first_byte: float | None = None
            lines: list[str] = []
            for line in response.iter_lines():
                first_byte = time.monotonic() - started if first_byte is None else first_byte
                lines.append(line)
        turn = Turn(parse_sse(lines), first_byte or 0.0)
        event, data = turn.final()
        if event == "error":
            raise CheckFailed(f"the turn ended with an error: {data.get('message')} ({data.get('code')})")
        if event != "done":
            raise CheckFailed(f"the stream ended without its final event ({summarize(turn)})")
        return turn


def token_subject(token: str) -> str:
    """The `sub` of a JWT, read without checking it (the stack checks it)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        subject = claims["sub"]
    except (IndexError, ValueError, KeyError, TypeError):
        raise CheckFailed("TOKEN is not a JWT with a subject (sub): give a Better Auth token of a user") from None
    if not isinstance(subject, str) or not subject:
        raise CheckFailed("TOKEN's subject (sub) is empty")
    return subject


def expect_status(response: httpx.Response, expected: int, who: str) -> None:
    if response.status_code == expected:
        return
    message = ""
    try:
        error = response.json().get("error") or {}
        message = f": {error.get('message')}" if isinstance(error, dict) and error.get("message") else ""
    except ValueError:
        message = f": {shorten(response.text)}" if response.text else ""
    hint = HINTS.get(response.status_code, "")
    raise CheckFailed(f"{who} answered {response.status_code} instead of {expected}{message}{hint}")


HINTS = {
    401: " (is TOKEN a current token of the Better Auth server named by BetterAuthUrl, with iss/aud that match it?)",
    403: " (the token's user is not the one in the path)",
    404: " (is URL the stack's HttpApiUrl, without /api?)",
    429: " (rate limited: wait a minute and run again)",
    500: " (see the function's logs in CloudWatch)",
    502: " (the function failed or timed out: see its logs in CloudWatch)",
    503: " (the database could not be reached: check the database URL secret)",
}


def describe_transport(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.ConnectError):
        return "no connection (is the URL right and the stack deployed?)"
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    return str(error) or type(error).__name__


def parse_sse(lines: list[str]) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    name, data = "message", list[str]()
    for line in [*lines, ""]:
        if line == "":
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    return events


def summarize(turn: Turn) -> str:
    names = [event for event, _ in turn.events]
    return "events: " + (", ".join(names) if names else "none")


def shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("URL"), help="the stack's HttpApiUrl (default: $URL)")
    parser.add_argument(
        "--token", default=os.environ.get("TOKEN"), help="a Better Auth token (JWT) of a user (default: $TOKEN)"
    )
    args = parser.parse_args(argv)
    if not args.url or not args.token:
        parser.error("give the stack's URL and a user's TOKEN: make smoke URL=<HttpApiUrl> TOKEN=<Better Auth token>")
    with httpx.Client(timeout=TIMEOUT) as client:
        smoke = Smoke(args.url.rstrip("/"), args.token.strip(), client)
        outcomes = []
        for outcome in smoke.run():
            outcomes.append(outcome)
            print(f"{'ok  ' if outcome.passed else 'FAIL'}  {outcome.name}: {outcome.detail}", flush=True)
    failed = [o for o in outcomes if not o.passed]
    print(f"\n{len(outcomes) - len(failed)} of {len(outcomes)} checks passed" + (", see FAIL above" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
