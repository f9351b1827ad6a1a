"""What the turn store hands out and raises: the lease, a started turn, a stored one found again."""

from __future__ import annotations

from dataclasses import dataclass, field

from functions.chat.agent.messages import ContextMessage
from todo_common.models import Message

STOP_REQUESTED = "stop_requested"  # the error_code of a `streaming` answer whose user asked it to stop


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
