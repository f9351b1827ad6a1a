"""The self-hosted ChatKit server: ChatKit's protocol on top of the shared chat turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatkit.actions import Action
from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartAdded,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    AudioInput,
    FeedbackKind,
    SyncCustomActionResponse,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    TranscriptionResult,
    UserMessageItem,
    WidgetItem,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)

from functions.chat.agent import ChatContext
from functions.chat.store import (
    ChatStore,
    RequestContext,
    item_text,
    not_supported,
    save_feedback,
    tool_task,
    workflow_item,
)
from functions.chat.turn import TextDelta, ToolCallLog, ToolFinished, ToolStarted, TurnEngine, TurnFailed
from functions.chat.turn_store import title_from
from todo_common.models import utcnow


class TodoChatKitServer(ChatKitServer[RequestContext]):
    def __init__(self, store: ChatStore, engine: TurnEngine) -> None:
        super().__init__(store)
        self.chat_store = store
        self.engine = engine

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        if input_user_message is not None and not thread.title:
            thread.title = title_from(item_text(input_user_message)) or None
        start = await asyncio.to_thread(self.engine.store.start_reply, context.user_id, thread.id)
        chat_context = ChatContext(user_id=context.user_id, database=self.chat_store.database)
        view = _TurnView(thread.id, start.assistant_message_id)
        async for event in self.engine.run(start, chat_context):
            for out in view.render(event):
                yield out
        if view.failure is not None:
            raise CustomStreamError(view.failure, allow_retry=True)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        await asyncio.to_thread(save_feedback, self.chat_store.database, context.user_id, thread_id, item_ids, feedback)

    async def transcribe(self, audio_input: AudioInput, context: RequestContext) -> TranscriptionResult:
        raise NotImplementedError  # refused by the route before it gets here

    def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        raise CustomStreamError("This assistant has no custom actions.", allow_retry=False)

    async def sync_action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: RequestContext
    ) -> SyncCustomActionResponse:
        raise not_supported("Custom actions")


class _TurnView:
    """Turns `TurnEvent`s into ChatKit thread events: a workflow of tool tasks, then the assistant message."""

    def __init__(self, thread_id: str, message_id: str) -> None:
        self.thread_id = thread_id
        self.message_id = message_id
        self.created_at: datetime = utcnow()
        self.log = ToolCallLog()
        self.workflow: WorkflowItem | None = None
        self.text = ""
        self.message_open = False
        self.failure: str | None = None

    def render(self, event: object) -> list[ThreadStreamEvent]:
        match event:
            case ToolStarted():
                index = self.log.record(event)
                if self.workflow is None:
                    self.workflow = workflow_item(self.message_id, self.thread_id, self.created_at, self.log.calls)
                    return [ThreadItemAddedEvent(item=self.workflow)]
                return [
                    ThreadItemUpdatedEvent(
                        item_id=self.workflow.id,
                        update=WorkflowTaskAdded(task_index=index, task=tool_task(self.log.calls[index])),
                    )
                ]
            case ToolFinished():
                if self.workflow is None:
                    return []
                index = self.log.record(event)
                return [
                    ThreadItemUpdatedEvent(
                        item_id=self.workflow.id,
                        update=WorkflowTaskUpdated(task_index=index, task=tool_task(self.log.calls[index])),
                    )
                ]
            case TextDelta():
                events = self._open_message()
                self.text += event.text
                events.append(
                    ThreadItemUpdatedEvent(
                        item_id=self.message_id,
                        update=AssistantMessageContentPartTextDelta(content_index=0, delta=event.text),
                    )
                )
                return events
            case TurnFailed():
                self.failure = event.message
                return self._close()
            case _ if getattr(event, "kind", None) == "completed":
                return self._close()
        return []

    def _open_message(self) -> list[ThreadStreamEvent]:
        if self.message_open:
            return []
        events = self._close_workflow()
        self.message_open = True
        events += [
            ThreadItemAddedEvent(item=self._message("")),
            ThreadItemUpdatedEvent(
                item_id=self.message_id,
                update=AssistantMessageContentPartAdded(content_index=0, content=AssistantMessageContent(text="")),
            ),
        ]
        return events

    def _close_workflow(self) -> list[ThreadStreamEvent]:
        if self.workflow is None:
            return []
        done = workflow_item(self.message_id, self.thread_id, self.created_at, self.log.calls)
        self.workflow = None
        return [ThreadItemDoneEvent(item=done)]

    def _close(self) -> list[ThreadStreamEvent]:
        events = self._close_workflow()
        if not self.text and self.failure is not None:
            return events
        events += self._open_message()
        events += [
            ThreadItemUpdatedEvent(
                item_id=self.message_id,
                update=AssistantMessageContentPartDone(
                    content_index=0, content=AssistantMessageContent(text=self.text)
                ),
            ),
            ThreadItemDoneEvent(item=self._message(self.text)),
        ]
        return events

    def _message(self, text: str) -> AssistantMessageItem:
        return AssistantMessageItem(
            id=self.message_id,
            thread_id=self.thread_id,
            created_at=self.created_at,
            content=[AssistantMessageContent(text=text)],
        )
