"""What the turn store hands out and raises: the lease, a started turn, a stored one found again."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.exc import DBAPIError

from functions.chat.agent.messages import ContextMessage
from todo_common.db import DatabaseUnavailable
from todo_common.models import Message

WIDGET_ITEM = "widget"  # the item_type of a widget row
STOP_REQUESTED = "stop_requested"  # the error_code of a `streaming` answer whose user asked it to stop
# What the turn store's calls raise when the database cannot be reached (or refuses a statement).
DATABASE_ERRORS = (DatabaseUnavailable, DBAPIError)


class ConversationBusy(Exception):
    """Another turn holds the conversation's lease."""


class TurnLost(Exception):
    """The turn no longer owns its conversation: it was deleted, or the lease was taken over."""


@dataclass(frozen=True)
class Lease:
    conversation_id: str
    owner: str
    repaired: int = field(default=0, compare=False)  # answers of dead turns this lease's claim marked interrupted


@dataclass(frozen=True)
class TurnStart:
    lease: Lease
    user_message_id: str
    assistant_message_id: str
    context: tuple[ContextMessage, ...]  # the conversation before this answer, oldest first, the user's new one last
    new_title: str | None = None  # set when this turn gave the conversation its title

    @property
    def conversation_id(self) -> str:
        return self.lease.conversation_id


@dataclass(frozen=True)
class StoredTurn:
    """A turn found again through its `client_message_id`, its answer as reads show it."""

    conversation_id: str
    user_message: Message
    answer: Message | None


@dataclass(frozen=True)
class ItemRow:
    """A ChatKit item that its client stores in a thread (the user's question, a hidden context item, ...), as the
    row it becomes: `chatkit_item` is the item's JSON."""

    id: str
    role: Literal["user", "assistant"]
    item_type: str
    content: str
    chatkit_item: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class WidgetRow:
    """A widget a turn shows, stored after its answer: `state` is what it shows (rendered on every read)."""

    id: str
    state: dict[str, Any]
