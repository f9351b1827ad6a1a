"""The turn's contract with the database, on both backends: what a claim answers, and that only the lease's owner
renews, finishes or releases it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from functions.chat.agent.agent import STOPPED_NOTE, history_to_input
from functions.chat.turn import items
from functions.chat.turn.store import TurnStore
from functions.chat.turn.types import ConversationBusy, Lease, StoredTurn, TurnLost, TurnStart
from tests.support.factories import add_message, seed_conversation
from todo_common.db import Database
from todo_common.errors import ApiError
from todo_common.models import Conversation, Message

ALICE, BOB = "user_alice", "user_bob"


@pytest.fixture
def store(database: Database) -> TurnStore:
    return TurnStore(database, history_limit=5, rate_limit_per_minute=3, lease_seconds=30)


def claim(store: TurnStore, conversation_id: str | None, text: str = "hi", key: str | None = None) -> TurnStart:
    started = store.leases.claim(ALICE, conversation_id, text, client_message_id=key)
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
    assert held.created_at == held.updated_at and held.title == "Add milk"


def test_a_second_claim_is_busy_while_the_first_holds_the_lease(store: TurnStore, database: Database) -> None:
    start = claim(store, None)
    with pytest.raises(ConversationBusy):
        store.leases.claim(ALICE, start.conversation_id, "again")
    assert len(messages(database, start.conversation_id)) == 2


def test_another_users_conversation_is_403_and_an_unknown_one_404(store: TurnStore, database: Database) -> None:
    bobs = seed_conversation(database, BOB)
    for conversation_id, status in ((bobs.id, 403), ("thr_missing", 404)):
        with pytest.raises(ApiError) as refused:
            store.leases.claim(ALICE, conversation_id, "hi")
        assert refused.value.status == status
    assert messages(database, bobs.id) == []


def test_over_the_rate_limit_is_429_with_retry_after(store: TurnStore) -> None:
    for _ in range(3):
        store.leases.release(claim(store, None).lease)
    with pytest.raises(ApiError) as refused:
        store.leases.claim(ALICE, None, "one too many")
    assert refused.value.status == 429
    assert refused.value.headers and 1 <= int(refused.value.headers["Retry-After"]) <= 61


def test_a_retried_key_finds_its_turn_and_a_reused_key_is_refused(store: TurnStore) -> None:
    start = claim(store, None, "add milk", key="k")
    found = store.leases.claim(ALICE, None, "add milk", client_message_id="k")
    assert isinstance(found, StoredTurn) and found.user_message.id == start.user_message_id
    with pytest.raises(ApiError) as refused:
        store.leases.claim(ALICE, None, "delete 1", client_message_id="k")
    assert refused.value.code == "idempotency_key_reused"


def test_only_the_owner_renews_finishes_and_releases(store: TurnStore, database: Database) -> None:
    start = claim(store, None)
    stranger = Lease(start.conversation_id, "turn_someone_else")
    with pytest.raises(TurnLost):
        store.leases.renew(stranger)
    assert not store.finish(stranger, start.assistant_message_id, content="x", calls=[], status="complete")
    store.leases.release(stranger)
    held = database.read(lambda s: s.get(Conversation, start.conversation_id))
    assert held is not None and held.turn_owner == start.lease.owner
    assert messages(database, start.conversation_id)[1].status == "streaming"

    store.leases.renew(start.lease)
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


def stored_rows(database: Database) -> str:
    """A conversation holding one of each kind of row the agent's context reads; its answer that was streaming
    when its turn died holds no lease now, so the next turn takes the lease and repairs it."""
    conversation = seed_conversation(database, ALICE)
    added = {"call_id": "call_add", "name": "add_task", "arguments": {"title": "milk"}, "status": "success"}
    add_message(database, conversation.id, "add milk")
    add_message(
        database,
        conversation.id,
        "Added milk.",
        role="assistant",
        tool_calls=[{**added, "result": {"id": 1, "title": "milk"}, "text_offset": 0}],
    )
    add_message(
        database,
        conversation.id,
        "",
        role="assistant",
        item_type="hidden_context_item",
        chatkit_item={"type": "hidden_context_item", "content": "The user is vegan."},
    )
    add_message(
        database,
        conversation.id,
        "",
        role="assistant",
        item_type="sdk_hidden_context",
        chatkit_item={"type": "sdk_hidden_context", "content": {"diet": "vegan"}},
    )
    add_message(
        database,
        conversation.id,
        "what about walk dog",
        chatkit_item={
            "type": "user_message",
            "quoted_text": "the dog needs a walk",
            "content": [
                {"type": "input_text", "text": "what about "},
                {"type": "input_tag", "id": "task-7", "text": "walk dog", "data": {"task_id": 7}},
            ],
        },
    )
    listed = {"call_id": "", "name": "list_tasks", "arguments": '{"done": false}', "status": "success"}
    running = {"call_id": "call_run", "name": "complete_task", "arguments": {"id": 7}, "status": "running"}
    add_message(
        database,
        conversation.id,
        "You have one ta",
        role="assistant",
        status="streaming",
        tool_calls=[{**listed, "result": {"tasks": [7]}}, running],
    )
    add_message(database, conversation.id, "and now?")
    stopped = add_message(database, conversation.id, "Half an ans", role="assistant", status="error")
    database.write(
        lambda s: s.execute(sa.update(Message).where(col(Message.id) == stopped.id).values(error_code="stopped"))
    )
    return conversation.id


def expected_input(interrupted_id: str) -> list[dict[str, object]]:
    return [
        {"role": "user", "content": "add milk"},
        {"type": "function_call", "call_id": "call_add", "name": "add_task", "arguments": '{"title": "milk"}'},
        {"type": "function_call_output", "call_id": "call_add", "output": '{"id": 1, "title": "milk"}'},
        {"role": "assistant", "content": "Added milk."},
        {"role": "system", "content": "The user is vegan."},
        {"role": "system", "content": '{"diet": "vegan"}'},
        {
            "role": "user",
            "content": 'what about walk dog\nThe user quotes: "the dog needs a walk"\n'
            '@walk dog is the task with id 7 (title "walk dog").',
        },
        {
            "type": "function_call",
            "call_id": f"call_{interrupted_id}_0",
            "name": "list_tasks",
            "arguments": '{"done": false}',
        },
        {"type": "function_call_output", "call_id": f"call_{interrupted_id}_0", "output": '{"tasks": [7]}'},
        {"role": "user", "content": "and now?"},
        {"role": "system", "content": STOPPED_NOTE},
        {"role": "user", "content": "thanks"},
    ]


@pytest.mark.parametrize("via", ["claim", "chatkit", "rerun"])
def test_the_agent_input_rebuilt_from_each_kind_of_stored_row(database: Database, via: str) -> None:
    """Chat messages, tool calls with their results, ChatKit's hidden context and a message's tags and quote, an
    interrupted answer (its finished tool calls, not its partial text) and a stopped one (the note), as a claim,
    ChatKit's reply (whose store saved the user's item) and the rerun of a failed answer load them."""
    conversation_id = stored_rows(database)
    interrupted = next(m for m in messages(database, conversation_id) if m.status == "streaming")
    store = TurnStore(database, history_limit=12, rate_limit_per_minute=100, lease_seconds=30)
    if via == "claim":
        start = claim(store, conversation_id, "thanks")
    elif via == "rerun":
        failed = claim(store, conversation_id, "thanks", key="k")
        assert store.finish(failed.lease, failed.assistant_message_id, content="", calls=[], status="error")
        stored = store.leases.claim(ALICE, conversation_id, "thanks", client_message_id="k")
        assert isinstance(stored, StoredTurn)
        start = store.leases.claim_rerun(ALICE, stored)
    else:
        lease = store.leases.take_lease(ALICE, conversation_id, counts_as_message=True)
        add_message(database, conversation_id, "thanks")
        start = store.start_reply(lease, ALICE)
    assert history_to_input(start.context, 100_000) == expected_input(interrupted.id)
    assert [m.status for m in start.context if m.id == interrupted.id] == ["error"]


def test_an_answer_written_in_an_open_transaction_commits_with_it_or_not_at_all(database: Database) -> None:
    conversation = seed_conversation(database, ALICE)
    add_message(database, conversation.id, "delete walk dog")

    def answered_then_refused(session: Session) -> None:
        items.add_answer(session, ALICE, conversation.id, "Deleted it.")
        raise ApiError(409, "already_answered", "This question was already answered.")

    with pytest.raises(ApiError):
        database.write(answered_then_refused)
    assert [m.content for m in messages(database, conversation.id)] == ["delete walk dog"]

    answer = database.write(lambda session: items.add_answer(session, ALICE, conversation.id, "Deleted it."))
    rows = messages(database, conversation.id)
    assert [(m.id, m.role, m.status, m.content, m.seq) for m in rows[1:]] == [
        (answer.id, "assistant", "complete", "Deleted it.", rows[0].seq + 1)
    ]
    assert answer.created_at is not None and answer.tool_calls == [] and answer.chatkit_item is None
    stored = database.read(lambda s: s.get(Conversation, conversation.id))
    assert stored is not None and stored.message_count == 2 and stored.last_seq == rows[1].seq

    with pytest.raises(ApiError) as refused:
        database.write(lambda session: items.add_answer(session, BOB, conversation.id, "not yours"))
    assert refused.value.status == 403
    assert len(messages(database, conversation.id)) == 2
