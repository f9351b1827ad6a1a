"""ChatKit's `Store` over our tables: a thread is a Conversation row and an item is a Message row.

ChatKit checks no ownership, so every method filters on the user of the request context: another user's thread is
403, an unknown one 404 (raised as `ApiError`, which the route answers before any stream starts). Tool calls live
in the assistant message's `tool_calls`; ChatKit sees them as a workflow item derived from that message (id
`wf_` + the message id's random part), so the history function and ChatKit show one and the same record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    Attachment,
    CustomSummary,
    CustomTask,
    InferenceOptions,
    Page,
    ThreadItem,
    ThreadMetadata,
    UserMessageInput,
    UserMessageItem,
    UserMessageTextContent,
    Workflow,
    WorkflowItem,
)
from pydantic import TypeAdapter
from sqlmodel import Session, col, select

from todo_common import conversations
from todo_common.db import Database
from todo_common.errors import ApiError
from todo_common.models import Conversation, Message, new_id, utcnow

T = TypeVar("T")
_ITEM = TypeAdapter[ThreadItem](ThreadItem)
_PREFIXES: dict[str, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}


@dataclass(frozen=True)
class RequestContext:
    user_id: str


def not_supported(what: str) -> ApiError:
    return ApiError(400, "not_supported", f"{what} is not supported by this assistant.")


class ChatStore(Store[RequestContext]):
    def __init__(self, database: Database) -> None:
        self.database = database

    def generate_thread_id(self, context: RequestContext) -> str:
        return new_id("thr")

    def generate_item_id(self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext) -> str:
        return new_id(_PREFIXES.get(item_type, "itm"))

    # -- threads -------------------------------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        conversation = await self._read(lambda s: conversations.owned_conversation(s, context.user_id, thread_id))
        return to_thread(conversation)

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        def work(session: Session) -> None:
            existing = session.get(Conversation, thread.id)
            if existing is None:
                conversations.create_conversation(
                    session, context.user_id, title=_clip_title(thread.title), conversation_id=thread.id
                )
                return
            conversations.require_owner(existing.user_id, context.user_id)
            existing.title = _clip_title(thread.title)
            existing.chatkit = {"status": thread.status.model_dump(), "metadata": thread.metadata}
            existing.updated_at = utcnow()
            session.add(existing)

        await self._write(work)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        def work(session: Session) -> Page[ThreadMetadata]:
            statement = select(Conversation).where(Conversation.user_id == context.user_id)
            key = sa.tuple_(col(Conversation.created_at), col(Conversation.id))
            if after:
                anchor = conversations.owned_conversation(session, context.user_id, after)
                position = (anchor.created_at, anchor.id)
                statement = statement.where(key < position if order == "desc" else key > position)
            if order == "desc":
                statement = statement.order_by(col(Conversation.created_at).desc(), col(Conversation.id).desc())
            else:
                statement = statement.order_by(col(Conversation.created_at).asc(), col(Conversation.id).asc())
            statement = statement.limit(limit + 1)
            rows = list(session.exec(statement).all())
            page = rows[:limit]
            return Page(
                data=[to_thread(c) for c in page],
                has_more=len(rows) > limit,
                after=page[-1].id if page and len(rows) > limit else None,
            )

        return await self._read(work)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        await self._write(lambda s: conversations.delete_conversation(s, context.user_id, thread_id))

    # -- items ---------------------------------------------------------------------------------------------

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: RequestContext
    ) -> Page[ThreadItem]:
        def work(session: Session) -> Page[ThreadItem]:
            conversations.owned_conversation(session, context.user_id, thread_id)
            statement = select(Message).where(Message.conversation_id == thread_id)
            if after:
                anchor_seq = session.exec(
                    select(Message.seq).where(Message.conversation_id == thread_id, Message.id == _row_id(after))
                ).first()
                if anchor_seq is None:
                    raise ApiError(400, "invalid_cursor", "The cursor is not an item of this thread.")
                statement = statement.where(
                    col(Message.seq) < anchor_seq if order == "desc" else col(Message.seq) > anchor_seq
                )
            statement = statement.order_by(col(Message.seq).desc() if order == "desc" else col(Message.seq).asc())
            rows = list(session.exec(statement.limit(limit + 1)).all())
            page = rows[:limit]
            items: list[ThreadItem] = []
            for row in page:
                expanded = to_items(row)
                items.extend(reversed(expanded) if order == "desc" else expanded)
            has_more = len(rows) > limit
            return Page(data=items, has_more=has_more, after=page[-1].id if page and has_more else None)

        return await self._read(work)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        """Upsert by id (ChatKit may add the same item twice)."""
        if isinstance(item, WorkflowItem):
            return  # a view of the assistant message's tool calls, which the turn records itself

        def work(session: Session) -> None:
            conversation = conversations.owned_conversation(session, context.user_id, thread_id)
            existing = session.get(Message, item.id)
            payload = item.model_dump(mode="json")
            if existing is not None:
                if existing.conversation_id != thread_id:
                    raise ApiError(409, "conflict", "This item id belongs to another thread.")
                existing.chatkit_item = payload
                if isinstance(item, (UserMessageItem, AssistantMessageItem)):
                    existing.content = item_text(item)
                existing.updated_at = utcnow()
                session.add(existing)
                return
            role, item_type, content = _row_shape(item)
            conversations.append_message(
                session,
                conversation,
                role=role,
                content=content,
                message_id=item.id,
                item_type=item_type,
                chatkit_item=payload,
                created_at=_aware(item.created_at),
            )

        await self._write(work)

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        def work(session: Session) -> ThreadItem:
            row = _owned_row(session, context, thread_id, item_id)
            if row is None:
                raise NotFoundError(item_id)
            for item in to_items(row):
                if item.id == item_id:
                    return item
            raise NotFoundError(item_id)

        return await self._read(work)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        def work(session: Session) -> None:
            row = _owned_row(session, context, thread_id, item_id)
            if row is None:
                return
            if item_id != row.id:  # the workflow view: forget the tool calls, keep the message
                row.tool_calls = []
                session.add(row)
                return
            session.delete(row)
            if row.item_type == conversations.CHAT_ITEM:
                session.execute(
                    sa.update(Conversation)
                    .where(col(Conversation.id) == thread_id)
                    .values(message_count=Conversation.message_count - 1)
                )

        await self._write(work)

    # -- attachments: not supported --------------------------------------------------------------------------

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        raise not_supported("Attachments")

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        raise not_supported("Attachments")

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        raise not_supported("Attachments")

    # -- plumbing ------------------------------------------------------------------------------------------

    async def _read(self, work: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self.database.read, work)

    async def _write(self, work: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self.database.write, work)


def _owned_row(session: Session, context: RequestContext, thread_id: str, item_id: str) -> Message | None:
    """The row behind a ChatKit item of the user's own thread (a workflow item is its assistant message's)."""
    conversations.owned_conversation(session, context.user_id, thread_id)
    return session.exec(
        select(Message).where(Message.conversation_id == thread_id, Message.id == _row_id(item_id))
    ).first()


def to_thread(conversation: Conversation) -> ThreadMetadata:
    saved = conversation.chatkit or {}
    thread = ThreadMetadata(
        id=conversation.id,
        title=conversation.title,
        created_at=conversation.created_at,
        metadata=saved.get("metadata") or {},
    )
    if saved.get("status"):
        thread = ThreadMetadata.model_validate({**thread.model_dump(), "status": saved["status"]})
    return thread


def workflow_id(message_id: str) -> str:
    return "wf_" + message_id.split("_", 1)[-1]


def _row_id(item_id: str) -> str:
    return "msg_" + item_id[3:] if item_id.startswith("wf_") else item_id


def to_items(row: Message) -> list[ThreadItem]:
    """The ChatKit items one row stands for: a chat message (preceded by its tool calls' workflow), or the
    item ChatKit stored."""
    if row.item_type != conversations.CHAT_ITEM:
        return [_ITEM.validate_python(row.chatkit_item)] if row.chatkit_item else []
    created = row.created_at
    if row.role == "user":
        if row.chatkit_item and row.chatkit_item.get("type") == "user_message":
            return [_ITEM.validate_python(row.chatkit_item)]
        return [
            UserMessageItem(
                id=row.id,
                thread_id=row.conversation_id,
                created_at=created,
                content=[UserMessageTextContent(text=row.content)],
                inference_options=InferenceOptions(),
            )
        ]
    items: list[ThreadItem] = []
    if row.tool_calls:
        items.append(workflow_item(row.id, row.conversation_id, created, row.tool_calls))
    items.append(
        AssistantMessageItem(
            id=row.id,
            thread_id=row.conversation_id,
            created_at=created,
            content=[AssistantMessageContent(text=row.content)],
        )
    )
    return items


def workflow_item(
    message_id: str, thread_id: str, created_at: datetime, tool_calls: list[dict[str, Any]]
) -> WorkflowItem:
    tasks = [tool_task(call) for call in tool_calls]
    failed = sum(1 for call in tool_calls if call.get("status") == "failure")
    title = f"Used {len(tasks)} tool{'s' if len(tasks) != 1 else ''}" + (f", {failed} failed" if failed else "")
    return WorkflowItem(
        id=workflow_id(message_id),
        thread_id=thread_id,
        created_at=created_at,
        workflow=Workflow(type="custom", tasks=list(tasks), summary=CustomSummary(title=title), expanded=True),
    )


_BADGES: dict[str, tuple[str, Any]] = {
    "success": ("Success", "check-circle-filled"),
    "failure": ("Failed", "lucide:circle-x"),
}


def tool_task(call: dict[str, Any]) -> CustomTask:
    """One tool call as a workflow task: a loading indicator while it runs, then a Success or Failed badge."""
    name = str(call.get("name") or "tool")
    badge = _BADGES.get(str(call.get("status")))
    if badge is None:
        return CustomTask(title=f"{name}…", icon="bolt", status_indicator="loading")
    label, icon = badge
    return CustomTask(
        title=f"{name}: {label}", icon=icon, status_indicator="complete", content=_describe(call.get("result"))
    )


def _describe(result: Any) -> str | None:
    if isinstance(result, dict):
        error = result.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("code") or "failed")
        title, status = result.get("title"), result.get("status")
        if title and status:
            return f"{status}: {title}"
    return None


def item_text(item: UserMessageItem | AssistantMessageItem | UserMessageInput) -> str:
    return "".join(getattr(part, "text", "") for part in item.content)


def _row_shape(item: ThreadItem) -> tuple[str, str, str]:
    if isinstance(item, UserMessageItem):
        return "user", conversations.CHAT_ITEM, item_text(item)
    if isinstance(item, AssistantMessageItem):
        return "assistant", conversations.CHAT_ITEM, item_text(item)
    return "assistant", item.type, ""


def _clip_title(title: str | None) -> str | None:
    return title.strip()[:200] or None if title else None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def save_feedback(database: Database, user_id: str, thread_id: str, item_ids: list[str], kind: str) -> None:
    """Record 👍/👎 on assistant messages of the user's own thread."""

    def work(session: Session) -> None:
        conversations.owned_conversation(session, user_id, thread_id)
        session.execute(
            sa.update(Message)
            .where(col(Message.conversation_id) == thread_id, col(Message.id).in_([_row_id(i) for i in item_ids]))
            .values(feedback=kind)
        )

    database.write(work)
