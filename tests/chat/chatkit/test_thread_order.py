"""ChatKit's thread list and the history function's conversation list are one order, last activity first: they
agree after a new message and after a rename (from either side), and ChatKit's cursor pages through that order."""

from __future__ import annotations

from chatkit.types import ThreadListParams, ThreadsListReq, ThreadsUpdateReq, ThreadUpdateParams
from fastapi.testclient import TestClient

from functions.chat.agent.offline_model import OfflineModel
from tests.support.chatkit import ChatKitClient, chatkit_client
from tests.support.tokens import Tokens
from todo_common.web import Services

ALICE = "user_alice"


def history_ids(history: TestClient, tokens: Tokens) -> list[str]:
    response = history.get(f"/api/{ALICE}/conversations?limit=50", headers=tokens.headers(ALICE))
    assert response.status_code == 200, response.text
    return [conversation["id"] for conversation in response.json()["items"]]


def paged_ids(chatkit: ChatKitClient) -> list[str]:
    """ChatKit's list read one thread a page, through its cursor."""
    seen: list[str] = []
    after: str | None = None
    while True:
        page = chatkit.post(ThreadsListReq(params=ThreadListParams(limit=1, after=after, order="desc"))).json()
        seen += [thread["id"] for thread in page["data"]]
        if not page["has_more"]:
            return seen
        after = page["after"]


def test_both_lists_follow_the_last_activity(services: Services, tokens: Tokens, history_client: TestClient) -> None:
    with chatkit_client(services, OfflineModel(), tokens, ALICE) as chatkit:
        first, _ = chatkit.create("list")
        second, _ = chatkit.create("list pending")
        third, _ = chatkit.create("list completed")

        def agreed() -> list[str]:
            listed = chatkit.thread_ids()
            assert listed == history_ids(history_client, tokens) == paged_ids(chatkit)
            return listed

        assert agreed() == [third, second, first]

        chatkit.send(first, "list")  # a new message is activity
        assert agreed() == [first, third, second]

        renamed = chatkit.post(ThreadsUpdateReq(params=ThreadUpdateParams(thread_id=second, title="Errands")))
        assert renamed.status_code == 200, renamed.text  # a ChatKit rename is activity
        assert agreed() == [second, first, third]

        patched = history_client.patch(
            f"/api/{ALICE}/conversations/{third}", json={"title": "Home"}, headers=tokens.headers(ALICE)
        )
        assert patched.status_code == 200, patched.text  # and so is a rename in the history function
        assert agreed() == [third, second, first]
