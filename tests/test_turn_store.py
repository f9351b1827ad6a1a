"""The turn's contract with the database, on both backends: what a claim answers, and that only the lease's owner
renews, finishes or releases it."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from functions.chat.turn_store import ConversationBusy, Lease, StoredTurn, TurnLost, TurnStart, TurnStore
from tests.support.factories import seed_conversation
from todo_common.db import Database
from todo_common.errors import ApiError
from todo_common.models import Conversation, Message

ALICE, BOB = "user_alice", "user_bob"


@pytest.fixture
def store(database: Database) -> TurnStore:
    return TurnStore(database, history_limit=5, rate_limit_per_minute=3, lease_seconds=30)


def claim(store: TurnStore, conversation_id: str | None, text: str = "hi", key: str | None = None) -> TurnStart:
    started = store.claim(ALICE, conversation_id, text, client_message_id=key)
    assert isinstance(started, TurnStart)
    return started


def messages(database: Database, conversation_id: str) -> list[Message]:
    return database.read(
        lambda s: list(
            s.exec(select(Message).where(Message.conversation_id == conversation_id).order_by(col(Message.seq)))
        )
    )


def test_a_claim_stores_the_question_and_a_streaming_answer_and_holds_the_lease(
    store: TurnStore, database: Database
) -> None:
    start = claim(store, None, "add milk")
    rows = messages(database, start.conversation_id)
    assert [(m.role, m.status) for m in rows] == [("user", "complete"), ("assistant", "streaming")]
    assert [m.content for m in start.context] == ["add milk"]
    held = database.read(lambda s: s.get(Conversation, start.conversation_id))
    assert held is not None and held.turn_owner == start.lease.owner
    assert held.created_at == held.updated_at and held.title == "add milk"


def test_a_second_claim_is_busy_while_the_first_holds_the_lease(store: TurnStore, database: Database) -> None:
    start = claim(store, None)
    with pytest.raises(ConversationBusy):
        store.claim(ALICE, start.conversation_id, "again")
    assert len(messages(database, start.conversation_id)) == 2


def test_another_users_conversation_is_403_and_an_unknown_one_404(store: TurnStore, database: Database) -> None:
    bobs = seed_conversation(database, BOB)
    for conversation_id, status in ((bobs.id, 403), ("thr_missing", 404)):
        with pytest.raises(ApiError) as refused:
            store.claim(ALICE, conversation_id, "hi")
        assert refused.value.status == status
    assert messages(database, bobs.id) == []


def test_over_the_rate_limit_is_429_with_retry_after(store: TurnStore) -> None:
    for _ in range(3):
        store.release(claim(store, None).lease)
    with pytest.raises(ApiError) as refused:
        store.claim(ALICE, None, "one too many")
    assert refused.value.status == 429
    assert refused.value.headers and 1 <= int(refused.value.headers["Retry-After"]) <= 61


def test_a_retried_key_finds_its_turn_and_a_reused_key_is_refused(store: TurnStore) -> None:
    start = claim(store, None, "add milk", key="k")
    found = store.claim(ALICE, None, "add milk", client_message_id="k")
    assert isinstance(found, StoredTurn) and found.user_message.id == start.user_message_id
    with pytest.raises(ApiError) as refused:
        store.claim(ALICE, None, "delete 1", client_message_id="k")
    assert refused.value.code == "idempotency_key_reused"


def test_only_the_owner_renews_finishes_and_releases(store: TurnStore, database: Database) -> None:
    start = claim(store, None)
    stranger = Lease(start.conversation_id, "turn_someone_else")
    with pytest.raises(TurnLost):
        store.renew(stranger)
    assert not store.finish(stranger, start.assistant_message_id, content="x", calls=[], status="complete")
    store.release(stranger)
    held = database.read(lambda s: s.get(Conversation, start.conversation_id))
    assert held is not None and held.turn_owner == start.lease.owner
    assert messages(database, start.conversation_id)[1].status == "streaming"

    store.renew(start.lease)
    assert store.finish(start.lease, start.assistant_message_id, content="done", calls=[], status="complete")
    released = database.read(lambda s: s.get(Conversation, start.conversation_id))
    assert released is not None and released.turn_owner is None and released.turn_lease_until is None


def test_taking_an_expired_lease_repairs_the_dead_turn(database: Database) -> None:
    short = TurnStore(database, history_limit=5, rate_limit_per_minute=100, lease_seconds=0)
    dead = claim(short, None, "first")
    store = TurnStore(database, history_limit=5, rate_limit_per_minute=100, lease_seconds=30)
    next_turn = claim(store, dead.conversation_id, "second")
    rows = messages(database, dead.conversation_id)
    assert [(m.status, m.error_code) for m in rows if m.role == "assistant"] == [
        ("error", "interrupted"),
        ("streaming", None),
    ]
    assert [m.content for m in next_turn.context] == ["first", "", "second"]
    assert next_turn.context[1].status == "error"  # the model is not told the dead answer was a finished reply
    assert not short.finish(dead.lease, dead.assistant_message_id, content="late", calls=[], status="complete")
