"""ChatKit's `AttachmentStore` (two-phase upload): `attachments.create` and `attachments.delete`, for the caller."""

from __future__ import annotations

import asyncio

from chatkit.store import AttachmentStore
from chatkit.types import Attachment, AttachmentCreateParams

from functions.chat.attachments.service import AttachmentService
from functions.chat.chatkit.context import ChatKitContext


class ChatAttachmentStore(AttachmentStore[ChatKitContext]):
    def __init__(self, attachments: AttachmentService) -> None:
        self.attachments = attachments

    async def create_attachment(self, input: AttachmentCreateParams, context: ChatKitContext) -> Attachment:
        return await asyncio.to_thread(self.attachments.create, context.caller, input.name, input.mime_type, input.size)

    async def delete_attachment(self, attachment_id: str, context: ChatKitContext) -> None:
        await asyncio.to_thread(self.attachments.delete_pending, context.caller, attachment_id)
