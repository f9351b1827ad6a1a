"""What a user may attach, written once: the types the model's input knows how to show (images as image input,
text files as text), a size limit per kind, how many per message, how long a name. Each refusal is a 4xx with its
code in words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from functions.chat.settings import ChatSettings
from todo_common.errors import ApiError
from todo_common.models import ATTACHMENT_NAME_MAX
from todo_common.text import one_line

Kind = Literal["image", "file"]
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
TEXT_TYPES = ("text/plain", "text/csv", "text/markdown")


@dataclass(frozen=True)
class Declared:
    """An upload as the client declared it, checked: its clean name, its media type (no parameters), its kind."""

    name: str
    mime_type: str
    kind: Kind
    size: int


@dataclass(frozen=True)
class AttachmentPolicy:
    image_max_bytes: int
    text_max_bytes: int
    per_message: int
    enabled: bool = True  # CHAT_ATTACHMENTS (the shared settings: the session offers attachments by the same value)

    @classmethod
    def from_settings(cls, settings: ChatSettings, enabled: bool = True) -> AttachmentPolicy:
        return cls(
            settings.attachment_image_max_bytes,
            settings.attachment_text_max_bytes,
            settings.attachments_per_message,
            enabled,
        )

    @property
    def largest(self) -> int:
        return max(self.image_max_bytes, self.text_max_bytes)

    def max_bytes(self, mime_type: str) -> int:
        return self.image_max_bytes if kind_of(mime_type) == "image" else self.text_max_bytes

    def declared(self, name: str, mime_type: str, size: int) -> Declared:
        """The upload ChatKit's `attachments.create` describes, or the reason it is refused."""
        self.check_enabled()
        media = mime_type.split(";", 1)[0].strip().lower()
        if media not in IMAGE_TYPES + TEXT_TYPES:
            raise ApiError(
                415,
                "attachment_type_not_allowed",
                f"Files of type {media or 'unknown'} cannot be attached. Attach an image (PNG, JPEG, WebP, GIF) or a "
                "text file (plain text, CSV, Markdown).",
            )
        clean = one_line(name)
        if not clean or len(clean) > ATTACHMENT_NAME_MAX:
            raise ApiError(422, "invalid_attachment_name", f"A file name needs 1 to {ATTACHMENT_NAME_MAX} characters.")
        if size < 1:
            raise ApiError(422, "attachment_empty", "The file is empty.")
        self.check_size(media, size)
        return Declared(clean, media, kind_of(media), size)

    def check_size(self, mime_type: str, size: int) -> None:
        limit = self.max_bytes(mime_type)
        if size > limit:
            what = "Images" if kind_of(mime_type) == "image" else "Text files"
            raise ApiError(413, "attachment_too_large", f"{what} are limited to {_bytes(limit)}.")

    def check_content(self, mime_type: str, content: bytes) -> None:
        """An image's bytes begin as its type's do: the model's API refuses an image it cannot decode, and the file
        would stay among the conversation's newest, failing every later turn too."""
        if not is_readable(mime_type, content):
            raise ApiError(
                415, "attachment_not_an_image", f"This file is not a {mime_type.removeprefix('image/').upper()} image."
            )

    def check_enabled(self) -> None:
        if not self.enabled:
            raise unavailable()

    def check_count(self, count: int) -> None:
        if count:
            self.check_enabled()
        if count > self.per_message:
            raise ApiError(422, "too_many_attachments", f"A message can carry at most {self.per_message} attachments.")


def unavailable() -> ApiError:
    """CHAT_ATTACHMENTS=false: no upload is made, stored or carried by a message."""
    return ApiError(400, "attachments_unavailable", "This deployment does not take attachments.")


def is_readable(mime_type: str, content: bytes) -> bool:
    """A text file always is (decoded leniently); an image when it starts with its format's signature."""
    if mime_type == "image/webp":
        return content[:4] == b"RIFF" and content[8:12] == b"WEBP"
    return kind_of(mime_type) != "image" or content.startswith(_IMAGE_SIGNATURES.get(mime_type, ()))


_IMAGE_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def kind_of(mime_type: str) -> Kind:
    return "image" if mime_type in IMAGE_TYPES else "file"


def _bytes(size: int) -> str:
    if size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"
