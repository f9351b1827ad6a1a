"""ChatKit's `Store` over our tables: a thread is a Conversation row and an item is a Message row.

A pure store: it reads and writes rows, always filtered on the caller's user (ChatKit checks no ownership), and
nothing else. Another user's thread is 403, an unknown one 404 (raised as `ApiError`). The rows of a turn are
written by the turn store alone: the user's item is handed to it, typed, and the items ChatKit hands back for an
answer (the assistant message, its workflow, its widgets) are the turn's own rows, not written twice. A thread is
never created here: the turn service makes the conversation, with its lease, before ChatKit asks for a new
thread's id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import sqlalchemy as sa
from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import (
    AssistantMessageItem,
    Attachment,
    Page,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    WidgetItem,
    WorkflowItem,
)
from sqlmodel import Session, col, select

from functions.chat.attachments.service import AttachmentService
from functions.chat.caller import Caller
from functions.chat.chatkit.context import ChatKitContext
from functions.chat.chatkit.task_widgets import current_tasks
from functions.chat.chatkit.view import WORKFLOW_PREFIX, item_text, items_of, row_id
from functions.chat.turn.store import TurnStore
from functions.chat.turn.types import ItemRow
from todo_common import conversations, keyset
from todo_common.errors import ApiError
from todo_common.models import TITLE_MAX, Conversation, Message, new_id, utcnow
from todo_common.text import one_line

T = TypeVar("T")


def not_supported(what: str) -> ApiError:
    return ApiError(400, "not_supported", f"{what} is not supported by this assistant.")


class ChatStore(Store[ChatKitContext]):
    def __init__(self, turns: TurnStore, attachments: AttachmentService) -> None:
        self.turns = turns  # the one writer of a turn's rows: the items ChatKit stores are written there
        self.attachments = attachments

    def generate_thread_id(self, context: ChatKitContext) -> str:
        return context.new_thread_id or new_id("thr")

    def generate_item_id(self, item_type: StoreItemType, thread: ThreadMetadata, context: ChatKitContext) -> str:
        return new_id("msg" if item_type == "message" else "itm")

    # -- threads -------------------------------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: ChatKitContext) -> ThreadMetadata:
        conversation = await _read(
            context.caller, lambda s: conversations.owned_conversation(s, context.user_id, thread_id)
        )
        return to_thread(conversation)

    async def save_thread(self, thread: ThreadMetadata, context: ChatKitContext) -> None:
        """Write what ChatKit sets on a thread (a rename, its status and metadata) to the user's existing
        conversation; a deleted one is not brought back (404)."""
        title = _checked_title(thread.title)

        def work(session: Session) -> None:
            conversation = conversations.owned_conversation(session, context.user_id, thread.id)
            conversation.chatkit = {"status": thread.status.model_dump(), "metadata": thread.metadata}
            if title is not None and title != conversation.title:
                conversation.title = title
                conversation.updated_at = utcnow()
            session.add(conversation)

        await _write(context.caller, work)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: ChatKitContext
    ) -> Page[ThreadMetadata]:
        """The user's threads by last activity, the order of the history function's list (`desc`: newest first)."""

        def work(session: Session) -> Page[ThreadMetadata]:
            statement = select(Conversation).where(Conversation.user_id == context.user_id)
            key, direction = conversations.RECENT, _order(order)
            if after:
                anchor = conversations.owned_conversation(session, context.user_id, after)
                statement = statement.where(keyset.after(key, (anchor.updated_at, anchor.id), direction))
            statement = statement.order_by(*keyset.ordered(key, direction)).limit(limit + 1)
            page, has_more = keyset.split(session.exec(statement).all(), limit)
            return Page(data=[to_thread(c) for c in page], has_more=has_more, after=page[-1].id if has_more else None)

        return await _read(context.caller, work)

    async def delete_thread(self, thread_id: str, context: ChatKitContext) -> None:
        await asyncio.to_thread(
            conversations.delete_conversation_and_files,
            context.database,
            self.attachments.files,
            context.user_id,
            thread_id,
        )

    # -- items ---------------------------------------------------------------------------------------------

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: ChatKitContext
    ) -> Page[ThreadItem]:
        """`limit` ChatKit items (an answer's row may stand for two: its workflow and its message); every item id,
        a workflow's too, is a cursor that resumes right after that item."""

        def work(session: Session) -> Page[ThreadItem]:
            conversation = conversations.owned_conversation(session, context.user_id, thread_id)
            direction = _order(order)
            statement = select(Message).where(Message.conversation_id == thread_id)
            anchor: Message | None = None
            if after:
                anchor = session.exec(
                    select(Message).where(Message.conversation_id == thread_id, Message.id == row_id(after))
                ).first()
                if anchor is None:
                    raise ApiError(400, "invalid_cursor", "The cursor is not an item of this thread.")
                statement = statement.where(keyset.after([col(Message.seq)], [anchor.seq], direction))
            statement = statement.order_by(*keyset.ordered([col(Message.seq)], direction)).limit(limit + 1)
            rows, more_rows = keyset.split(session.exec(statement).all(), limit)
            tasks = current_tasks(session, context.user_id, [*([anchor] if anchor else []), *rows])

            def shown(row: Message) -> list[ThreadItem]:
                expanded = [
                    self._fresh(i) for i in items_of(conversations.settled(row, conversation.turn_lease_until), tasks)
                ]
                return list(reversed(expanded)) if direction == "desc" else expanded

            items: list[ThreadItem] = []
            if anchor is not None:
                ids = [item.id for item in shown(anchor)]
                if after not in ids:
                    raise ApiError(400, "invalid_cursor", "The cursor is not an item of this thread.")
                items = shown(anchor)[ids.index(after) + 1 :]
            for row in rows:
                items.extend(shown(row))
            page, has_more = keyset.split(items, limit)
            has_more = bool(page) and (has_more or more_rows)  # never more without a cursor to resume from
            return Page(data=page, has_more=has_more, after=page[-1].id if has_more else None)

        return await _read(context.caller, work)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: ChatKitContext) -> None:
        # ChatKit sends this same item to the client next: with its true offset, like every other item's time.
        item.created_at = aware(item.created_at)
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: ChatKitContext) -> None:
        """Upsert by id (ChatKit may add the same item twice). An answer's own items are the turn's to write."""
        if isinstance(item, (WorkflowItem, AssistantMessageItem, WidgetItem)):
            return  # a widget row is written, with its state, by the turn or the action that shows it

        is_user = isinstance(item, UserMessageItem)
        row = ItemRow(
            item.id,
            "user" if is_user else "assistant",
            conversations.CHAT_ITEM if is_user else item.type,
            item_text(item) if isinstance(item, UserMessageItem) else "",
            item.model_dump(mode="json"),
            aware(item.created_at),
        )
        await asyncio.to_thread(self.turns.items.save_item, context.user_id, thread_id, row)

    async def load_item(self, thread_id: str, item_id: str, context: ChatKitContext) -> ThreadItem:
        def work(session: Session) -> ThreadItem:
            row = _owned_row(session, context.caller, thread_id, item_id)
            tasks = current_tasks(session, context.user_id, [row]) if row else {}
            found = next((item for item in items_of(row, tasks) if item.id == item_id), None) if row else None
            if found is None:
                raise NotFoundError(item_id)
            return self._fresh(found)

        return await _read(context.caller, work)

    async def question_at_or_before(self, thread_id: str, item_id: str, context: ChatKitContext) -> str | None:
        """The id of the user's message that a retry of `item_id` retries: that item when it is one, else the
        newest one before it (None when there is none). Two indexed reads however long the thread is."""

        def work(session: Session) -> str | None:
            row = _owned_row(session, context.caller, thread_id, item_id)
            if row is None:
                raise NotFoundError(item_id)
            return session.exec(
                select(Message.id)
                .where(
                    Message.conversation_id == thread_id,
                    Message.item_type == conversations.CHAT_ITEM,
                    Message.role == "user",
                    col(Message.seq) <= row.seq,
                )
                .order_by(col(Message.seq).desc())
                .limit(1)
            ).first()

        return await _read(context.caller, work)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: ChatKitContext) -> None:
        def work(session: Session) -> None:
            row = _owned_row(session, context.caller, thread_id, item_id)
            if row is None:
                return
            if item_id != row.id:  # the workflow view: forget the tool calls and thoughts, keep the message
                row.tool_calls, row.reasoning = [], []
                session.add(row)
                return
            session.delete(row)
            if row.item_type == conversations.CHAT_ITEM:
                session.execute(
                    sa.update(Conversation)
                    .where(col(Conversation.id) == thread_id)
                    .values(message_count=Conversation.message_count - 1)
                )

        await _write(context.caller, work)

    def _fresh(self, item: ThreadItem) -> ThreadItem:
        """A stored user message's attachments with their preview links made again (the stored ones expired)."""
        if not isinstance(item, UserMessageItem) or not item.attachments:
            return item
        return item.model_copy(update={"attachments": [self.attachments.refreshed(a) for a in item.attachments]})

    # -- attachments ------------------------------------------------------------------------------------------

    async def save_attachment(self, attachment: Attachment, context: ChatKitContext) -> None:
        """ChatKit saves an attachment when it is made (the row is written then, by the attachment store) and when
        a message carries it into a thread: then it is attached to that conversation."""
        if attachment.thread_id is not None:
            await asyncio.to_thread(self.attachments.attach, context.caller, attachment.id, attachment.thread_id)

    async def load_attachment(self, attachment_id: str, context: ChatKitContext) -> Attachment:
        return await asyncio.to_thread(self.attachments.load, context.caller, attachment_id)

    async def delete_attachment(self, attachment_id: str, context: ChatKitContext) -> None:
        """Nothing left to do: ChatKit asks the attachment store first, which deleted the row and its file."""


def save_feedback(caller: Caller, thread_id: str, item_ids: list[str], kind: str) -> None:
    """Record 👍/👎 on assistant messages of the user's own thread (feedback is on what was said: a workflow item,
    a view of the message's tool calls, takes none of its own)."""

    def work(session: Session) -> None:
        conversations.owned_conversation(session, caller.user_id, thread_id)
        messages = [i for i in item_ids if not i.startswith(WORKFLOW_PREFIX)]  # a workflow's row is its message's
        session.execute(
            sa.update(Message)
            .where(col(Message.conversation_id) == thread_id, col(Message.id).in_(messages))
            .values(feedback=kind)
        )

    caller.database.write(work)


def _order(order: str) -> keyset.Order:
    return "desc" if order == "desc" else "asc"


def to_thread(conversation: Conversation) -> ThreadMetadata:
    saved = conversation.chatkit or {}
    fields = {
        "id": conversation.id,
        "title": conversation.title,
        "created_at": conversation.created_at,
        "metadata": saved.get("metadata") or {},
    }
    if saved.get("status"):
        fields["status"] = saved["status"]
    return ThreadMetadata.model_validate(fields)


def aware(value: datetime) -> datetime:
    """ChatKit makes its items' times with a naive `datetime.now()`: local time, whatever the host's zone."""
    return value.astimezone(UTC)


def _checked_title(title: str | None) -> str | None:
    if title is None:
        return None
    clean = one_line(title)
    if not clean or len(clean) > TITLE_MAX:
        raise ApiError(422, "validation_error", f"A title needs 1 to {TITLE_MAX} characters.")
    return clean


def _owned_row(session: Session, caller: Caller, thread_id: str, item_id: str) -> Message | None:
    """The row behind a ChatKit item of the user's own thread."""
    conversations.owned_conversation(session, caller.user_id, thread_id)
    return session.exec(
        select(Message).where(Message.conversation_id == thread_id, Message.id == row_id(item_id))
    ).first()


async def _read(caller: Caller, work: Callable[[Session], T]) -> T:
    return await asyncio.to_thread(caller.database.read, work)


async def _write(caller: Caller, work: Callable[[Session], T]) -> T:
    return await asyncio.to_thread(caller.database.write, work)
