"""The self-hosted ChatKit server: ChatKit's protocol over the turn service, rendered through the ChatKit view.

The request's lease is taken (and released) by `leasing` through the turn service; `respond` only asks that
service for the answer under it, with the context that holds it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from chatkit.actions import Action
from chatkit.errors import CustomStreamError
from chatkit.server import ChatKitServer
from chatkit.store import NotFoundError
from chatkit.types import (
    AudioInput,
    ChatKitReq,
    ClientToolCallItem,
    FeedbackKind,
    InferenceOptions,
    InputTranscribeReq,
    ItemsListReq,
    ProgressUpdateEvent,
    StreamOptions,
    SyncCustomActionResponse,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadsAddClientToolOutputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadStreamEvent,
    ThreadUpdatedEvent,
    TranscriptionResult,
    UserMessageItem,
    WidgetItem,
)

from functions.chat.agent import composer
from functions.chat.agent.transcription import NO_PROVIDER, Transcriber, check_audio
from functions.chat.attachments.service import AttachmentService
from functions.chat.caller import Caller
from functions.chat.chatkit import task_actions
from functions.chat.chatkit.attachments import ChatAttachmentStore
from functions.chat.chatkit.context import ChatKitContext
from functions.chat.chatkit.store import ChatStore, save_feedback
from functions.chat.chatkit.view import TurnView
from functions.chat.settings import ChatSettings
from functions.chat.turn.events import ToolFinished, TurnCompleted, TurnEvent, TurnFailed
from functions.chat.turn.service import TurnService
from functions.chat.turn.types import DATABASE_ERRORS
from todo_common.errors import ApiError, not_found
from todo_common.models import utcnow

logger = logging.getLogger(__name__)


# The requests that add to an existing thread: a closed or locked one refuses them.
_ADDING_REQUESTS = (ThreadsAddUserMessageReq, ThreadsRetryAfterItemReq, ThreadsAddClientToolOutputReq)
# The sizes of a page a client asks for (`threads.list`, `items.list`); absent or 0 is ChatKit's default (20).
PAGE_LIMIT_MIN, PAGE_LIMIT_MAX = 1, 100


def clamp_page_limit(request: ChatKitReq) -> bool:
    """Bring a page's `limit` into 1-100 (-1 is 1, 100000 is 100), so no request asks for a page without bound or
    for an empty one; True when the request was rewritten so."""
    if not isinstance(request, (ThreadsListReq, ItemsListReq)) or not request.params.limit:
        return False
    clamped = min(max(request.params.limit, PAGE_LIMIT_MIN), PAGE_LIMIT_MAX)
    rewritten, request.params.limit = clamped != request.params.limit, clamped
    return rewritten


class ThreadNotOpen(Exception):
    """A closed or locked thread takes no new messages: the client is told in the stream, nothing is stored."""


class TodoChatKitServer(ChatKitServer[ChatKitContext]):
    def __init__(
        self,
        store: ChatStore,
        turns: TurnService,
        transcriber: Transcriber | None,
        attachments: AttachmentService,
        settings: ChatSettings,
    ) -> None:
        super().__init__(store, ChatAttachmentStore(attachments))
        self.settings = settings
        self.chat_store = store  # typed as ours, for what ChatKit's Store interface does not have
        self.attachments = attachments
        self.turns = turns
        self.transcriber = transcriber  # None: no provider, no dictation

    def get_stream_options(self, thread: ThreadMetadata, context: ChatKitContext) -> StreamOptions:
        """A Stop button only where a stop reaches this function (docs/deploy.md, "Stop")."""
        return StreamOptions(allow_cancel=self.settings.allow_cancel)

    async def retry_target(self, request: ChatKitReq, context: ChatKitContext) -> bool:
        """`threads.retry_after_item` naming an answer (or its workflow) retries from the user message before it,
        as a user who clicks retry on an answer means; True when the request was rewritten so."""
        if not isinstance(request, ThreadsRetryAfterItemReq):
            return False
        params = request.params
        try:
            question = await self.chat_store.question_at_or_before(params.thread_id, params.item_id, context)
        except NotFoundError:
            raise not_found("The item") from None
        if question is None:
            raise ApiError(400, "nothing_to_retry", "There is no message of yours before this item to retry.")
        rewritten = question != params.item_id
        params.item_id = question
        return rewritten

    async def prepare(self, request: ChatKitReq, context: ChatKitContext) -> None:
        """Under the request's lease, before ChatKit processes it: a retry drops the items after its user message
        in one statement (ChatKit's own loop would delete them one by one, a transaction each)."""
        if isinstance(request, ThreadsRetryAfterItemReq):
            if context.lease is None:
                raise ApiError(409, "conversation_busy", "This request holds no turn of the conversation.")
            await self.turns.drop_items_after(context.caller, context.lease, request.params.item_id)

    async def guard(self, request: ChatKitReq, context: ChatKitContext) -> None:
        """Refuse, before any stream starts, what ChatKit would fail on later: a composer tool or model this server
        does not offer (400), another user's or an unknown thread (403/404), attachments that are not the caller's,
        not uploaded or held by another thread (4xx), a tool output nobody asked for (409), an action whose sender
        is not a widget (4xx), dictation without a provider, over the rate limit or with audio the provider would
        refuse."""
        if isinstance(request, InputTranscribeReq):
            await self._check_dictation(request, context)
        if isinstance(request, (ThreadsCreateReq, ThreadsAddUserMessageReq)):
            self._check_composer(request.params.input.inference_options)
        thread_id: str | None = getattr(getattr(request, "params", None), "thread_id", None)
        if thread_id is not None:
            thread = await self.store.load_thread(thread_id, context)
            if isinstance(request, _ADDING_REQUESTS) and thread.status.type != "active":
                raise ThreadNotOpen(thread.status.reason or f"This conversation is {thread.status.type}.")
        if isinstance(request, (ThreadsCreateReq, ThreadsAddUserMessageReq)) and request.params.input.attachments:
            await asyncio.to_thread(
                self.attachments.check_for_message, context.caller, request.params.input.attachments, thread_id
            )
        if isinstance(request, ThreadsAddClientToolOutputReq):
            last = await self.store.load_thread_items(request.params.thread_id, None, 1, "desc", context)
            item = last.data[0] if last.data else None
            if not (isinstance(item, ClientToolCallItem) and item.status == "pending"):
                raise ApiError(409, "no_pending_tool_call", "This thread is not waiting for a client tool's output.")
        if isinstance(request, (ThreadsCustomActionReq, ThreadsSyncCustomActionReq)):
            await self._check_action(request, context)

    async def _check_action(
        self, request: ThreadsCustomActionReq | ThreadsSyncCustomActionReq, context: ChatKitContext
    ) -> None:
        """An action comes from a widget item of the caller's thread, with a button that widget has."""
        params = request.params
        if params.item_id:
            try:
                sender = await self.store.load_item(params.thread_id, params.item_id, context)
            except NotFoundError:
                raise not_found("The item") from None
            if not isinstance(sender, WidgetItem):
                raise ApiError(400, "invalid_sender", "Actions can only come from a widget item.")
        await asyncio.to_thread(
            task_actions.check,
            context.caller,
            params.thread_id,
            params.item_id,
            params.action.type,
            params.action.payload,
        )

    def _check_composer(self, options: InferenceOptions) -> None:
        """A composer tool or model this server does not offer is 400, before anything is stored."""
        composer.checked(
            options.tool_choice.id if options.tool_choice else None, options.model, self.settings.allowed_models
        )

    async def _check_dictation(self, request: InputTranscribeReq, context: ChatKitContext) -> None:
        if self.transcriber is None:
            raise NO_PROVIDER
        check_audio(request.params.audio_base64, request.params.mime_type)
        await self.turns.check_rate(context.caller)

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: ChatKitContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        lease = context.lease
        if lease is None or lease.conversation_id != thread.id:
            raise CustomStreamError("This request holds no turn of this thread.", allow_retry=True)
        yield ProgressUpdateEvent(icon="sparkle", text="Thinking…")  # until the first text or tool call
        # A ChatKit user answers a confirm card: `delete_task` asks first.
        start, events = await self.turns.reply(context.caller, lease, stop=context.stop)
        if start.new_title is not None:
            yield ThreadUpdatedEvent(thread=self._to_thread_response(to_thread_titled(thread, start.new_title)))
        view = TurnView(thread.id, start.assistant_message_id, utcnow())
        async for event in events:
            for out in view.render(event):
                yield out
            async for extra in _task_events(event, thread.id, context.caller, self.turns):
                yield extra
            if isinstance(event, TurnFailed):
                raise CustomStreamError(event.message, allow_retry=event.code != "conversation_deleted")
            if isinstance(event, TurnCompleted):  # the answer is out: now its conversation gets a real title
                title = await self.turns.generated_title(context.caller, start, event)
                if title is not None:
                    yield ThreadUpdatedEvent(thread=self._to_thread_response(to_thread_titled(thread, title)))

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: ChatKitContext
    ) -> None:
        await asyncio.to_thread(save_feedback, context.caller, thread_id, item_ids, feedback)

    async def transcribe(self, audio_input: AudioInput, context: ChatKitContext) -> TranscriptionResult:
        if self.transcriber is None:  # the guard refused it already
            raise NO_PROVIDER
        text = await self.transcriber.transcribe(audio_input.data, audio_input.media_type.strip().lower())
        return TranscriptionResult(text=text)

    async def action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: ChatKitContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        """A task widget's button, streamed: the widget as it is now, a confirm card's answer, the effect."""
        try:
            outcome = await task_actions.perform(context.caller, thread.id, _id(sender), action.type, action.payload)
        except ApiError as exc:  # changed between the request's check and now
            raise CustomStreamError(exc.message, allow_retry=False) from None
        yield ThreadItemReplacedEvent(item=outcome.item)
        if outcome.message is not None:
            yield ThreadItemDoneEvent(item=outcome.message)
        if outcome.effect is not None:
            yield outcome.effect

    async def sync_action(
        self, thread: ThreadMetadata, action: Action[str, Any], sender: WidgetItem | None, context: ChatKitContext
    ) -> SyncCustomActionResponse:
        """A task widget's button, at once: the widget item as it is after the change."""
        outcome = await task_actions.perform(context.caller, thread.id, _id(sender), action.type, action.payload)
        return SyncCustomActionResponse(updated_item=outcome.item)


async def _task_events(
    event: TurnEvent, thread_id: str, caller: Caller, turns: TurnService
) -> AsyncIterator[ThreadStreamEvent]:
    """What a turn's task tools add to ChatKit's stream: a `tasks.changed` effect when a tool changed a task,
    and, once the answer is done, the widgets of its tool calls (stored after it, so a reload has them there)."""
    if isinstance(event, ToolFinished):
        effect = task_actions.effect_of_call(event.call)
        if effect is not None:
            yield effect
    ended = isinstance(event, TurnCompleted) or (isinstance(event, TurnFailed) and event.code != "conversation_deleted")
    if ended:
        assert isinstance(event, (TurnCompleted, TurnFailed))
        try:
            widgets = await task_actions.add_turn_widgets(caller, turns, thread_id, event.tool_calls)
        except (ApiError, *DATABASE_ERRORS):  # the answer is stored; its widgets are a view of it, not worth failing
            logger.warning("the turn's task widgets could not be stored", exc_info=True)
            widgets = []
        for item in widgets:
            yield ThreadItemDoneEvent(item=item)


def _id(sender: WidgetItem | None) -> str | None:
    return sender.id if sender is not None else None


def to_thread_titled(thread: ThreadMetadata, title: str) -> ThreadMetadata:
    return thread.model_copy(update={"title": title})
