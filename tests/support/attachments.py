"""ChatKit attachments in tests: `attachments.create` through a ChatKit client, the bytes sent to the upload link it
gives (through the same client: the local file store's routes are on the chat app), messages that carry them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import httpx2
from chatkit.types import (
    AttachmentCreateParams,
    AttachmentsCreateReq,
    InferenceOptions,
    UserMessageInput,
    UserMessageTextContent,
)

from tests.support.chatkit import ChatKitClient

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def create(chatkit: ChatKitClient, name: str, mime_type: str, size: int) -> httpx.Response | httpx2.Response:
    request = AttachmentsCreateReq(params=AttachmentCreateParams(name=name, size=size, mime_type=mime_type))
    return chatkit.post(request)


def local_path(url: str) -> str:
    """A link of the local file store as a path on the app under test (whatever host the link names)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def put(
    chatkit: ChatKitClient, attachment: dict[str, Any], content: bytes, content_type: str | None = None
) -> httpx.Response | httpx2.Response:
    """The browser's upload: the bytes PUT to the attachment's upload link with the headers it names."""
    descriptor = attachment["upload_descriptor"]
    assert descriptor["method"] == "PUT"
    headers = dict(descriptor["headers"])
    if content_type is not None:
        headers["Content-Type"] = content_type
    return chatkit.client.put(local_path(descriptor["url"]), content=content, headers=headers)


def uploaded(chatkit: ChatKitClient, name: str, mime_type: str, content: bytes) -> dict[str, Any]:
    """An attachment created and uploaded, as `attachments.create` answered."""
    created = create(chatkit, name, mime_type, len(content))
    assert created.status_code == 200, created.text
    attachment: dict[str, Any] = created.json()
    sent = put(chatkit, attachment, content)
    assert sent.status_code == 204, sent.text
    return attachment


def carrying(text: str, *attachment_ids: str) -> UserMessageInput:
    """A user message's input with these attachments."""
    return UserMessageInput(
        content=[UserMessageTextContent(text=text)],
        attachments=list(attachment_ids),
        inference_options=InferenceOptions(),
    )


def error_code(response: Any) -> str:
    """The machine-readable code of an error answer."""
    return str(response.json()["error"]["code"])
