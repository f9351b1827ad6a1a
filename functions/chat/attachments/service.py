"""A user's attachments: made pending by ChatKit's `attachments.create` (a row, and a signed link the browser
uploads the bytes to), checked and attached to a conversation by the message that carries them, shown again with
fresh links on every read. Every read and write is filtered on the caller: another user's attachment is refused
exactly as an unknown one. The bytes live in the file store under the attachment's id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from chatkit.types import Attachment as ChatKitAttachment
from chatkit.types import AttachmentUploadDescriptor, FileAttachment, ImageAttachment
from sqlmodel import Session, col, select

from functions.chat.attachments.policy import AttachmentPolicy
from functions.chat.caller import Caller
from todo_common.conversations import owned_conversation
from todo_common.db import Database
from todo_common.errors import ApiError
from todo_common.files import FileStore
from todo_common.models import Attachment, new_id, utcnow

# Uploads that no message carries yet: at most this many per user, forgotten after this many hours.
MAX_PENDING = 20
PENDING_HOURS = 24


def not_found() -> ApiError:
    return ApiError(404, "attachment_not_found", "There is no such attachment.")


def in_use() -> ApiError:
    return ApiError(409, "attachment_in_use", "This file is attached to another conversation; attach it again.")


class AttachmentService:
    def __init__(self, files: FileStore, policy: AttachmentPolicy) -> None:
        self.files = files
        self.policy = policy

    def create(self, caller: Caller, name: str, mime_type: str, size: int) -> ChatKitAttachment:
        """A pending attachment of the caller's, with where to upload its bytes (and, for an image, its preview)."""
        declared = self.policy.declared(name, mime_type, size)
        self._make_room(caller)
        attachment_id = new_id("atc")
        row = Attachment(
            id=attachment_id,
            user_id=caller.user_id,
            name=declared.name,
            mime_type=declared.mime_type,
            size=size,
            kind=declared.kind,
            storage_key=storage_key(attachment_id),
        )

        def work(session: Session) -> None:
            session.add(row)

        caller.database.write(work)
        target = self.files.upload_target(row.storage_key, row.mime_type, size)
        upload = AttachmentUploadDescriptor.model_validate(
            {"url": target.url, "method": target.method, "headers": target.headers}
        )
        return self.shown(row.id, row.name, row.mime_type, row.kind, upload=upload)

    def _make_room(self, caller: Caller) -> None:
        """Forget the caller's uploads that no message took within `PENDING_HOURS` (rows and files), then refuse a
        new one while `MAX_PENDING` are still waiting: what one user keeps in the store without a message is bounded."""
        cutoff = utcnow() - timedelta(hours=PENDING_HOURS)

        def work(session: Session) -> tuple[list[str], int]:
            stale = (
                session.execute(
                    sa.delete(Attachment)
                    .where(
                        col(Attachment.user_id) == caller.user_id,
                        col(Attachment.status) == "pending",
                        col(Attachment.created_at) < cutoff,
                    )
                    .returning(col(Attachment.storage_key))
                )
                .scalars()
                .all()
            )
            waiting = session.execute(
                sa.select(sa.func.count())
                .select_from(Attachment)
                .where(col(Attachment.user_id) == caller.user_id, col(Attachment.status) == "pending")
            ).scalar_one()
            return [str(key) for key in stale], int(waiting)

        stale, waiting = caller.database.write(work)
        if stale:
            self.files.delete(stale)
        if waiting >= MAX_PENDING:
            raise ApiError(
                429,
                "too_many_pending_attachments",
                f"{waiting} of your files wait for a message; send or remove some before attaching more.",
            )

    def delete_pending(self, caller: Caller, attachment_id: str) -> None:
        """Forget an upload no message carries yet (the user removed it from the composer): its row and file."""

        def work(session: Session) -> str:
            row = _owned(session, caller, attachment_id)
            if row.status != "pending":
                raise ApiError(
                    409, "attachment_attached", "A message carries this file; delete its conversation to delete it."
                )
            session.delete(row)
            return row.storage_key

        self.files.delete([caller.database.write(work)])

    def check_for_message(self, caller: Caller, attachment_ids: Sequence[str], thread_id: str | None) -> None:
        """Refuse a message's attachments unless each is the caller's, uploaded within its limit and not attached to
        another conversation (`thread_id`: the message's, None for a new one)."""
        self.policy.check_count(len(attachment_ids))
        if not attachment_ids:
            return
        if len(set(attachment_ids)) != len(attachment_ids):
            raise ApiError(422, "duplicate_attachment", "A message carries each attachment once.")

        def work(session: Session) -> dict[str, Attachment]:
            rows = session.exec(
                select(Attachment).where(
                    col(Attachment.id).in_(list(attachment_ids)), Attachment.user_id == caller.user_id
                )
            ).all()
            return {row.id: row for row in rows}

        rows = caller.database.read(work)
        for attachment_id in attachment_ids:
            row = rows.get(attachment_id)
            if row is None:
                raise not_found()
            if row.conversation_id is not None and row.conversation_id != thread_id:
                raise in_use()
            limit = self.policy.max_bytes(row.mime_type)
            content = self.files.read(row.storage_key, limit)
            if content is None:
                raise ApiError(
                    409, "attachment_not_uploaded", f"“{row.name}” has not been uploaded yet; wait for its upload."
                )
            self.policy.check_size(row.mime_type, len(content))
            self.policy.check_content(row.mime_type, content)

    def load(self, caller: Caller, attachment_id: str) -> ChatKitAttachment:
        """The caller's attachment as a message shows it (no upload link; an image's preview link made now)."""
        row = caller.database.read(lambda session: _owned(session, caller, attachment_id))
        return self.shown(row.id, row.name, row.mime_type, row.kind)

    def attach(self, caller: Caller, attachment_id: str, thread_id: str) -> None:
        """The message of `thread_id` carries this attachment now; one another conversation holds is refused, and so
        is a conversation that is not the caller's or is gone (deleted since the message's checks)."""

        def work(session: Session) -> str:
            if not _exists(session, caller, attachment_id):
                raise not_found()
            owned_conversation(session, caller.user_id, thread_id, for_update=True)  # a delete waits, or went first
            key = session.execute(
                sa.update(Attachment)
                .where(
                    col(Attachment.id) == attachment_id,
                    col(Attachment.user_id) == caller.user_id,
                    sa.or_(col(Attachment.conversation_id).is_(None), col(Attachment.conversation_id) == thread_id),
                )
                .values(conversation_id=thread_id, status="attached")
                .returning(col(Attachment.storage_key))
            ).scalar_one_or_none()
            if key is None:
                raise in_use() if _exists(session, caller, attachment_id) else not_found()
            return str(key)

        self.files.mark_attached(caller.database.write(work))

    def shown(
        self,
        attachment_id: str,
        name: str,
        mime_type: str,
        kind: str,
        *,
        upload: AttachmentUploadDescriptor | None = None,
        thread_id: str | None = None,
    ) -> ChatKitAttachment:
        """ChatKit's view of an attachment; an image gets a preview link made now (links expire)."""
        if kind == "image":
            return ImageAttachment.model_validate(
                {
                    "id": attachment_id,
                    "name": name,
                    "mime_type": mime_type,
                    "upload_descriptor": upload,
                    "thread_id": thread_id,
                    "preview_url": self.files.download_url(storage_key(attachment_id), mime_type),
                }
            )
        return FileAttachment(
            id=attachment_id, name=name, mime_type=mime_type, upload_descriptor=upload, thread_id=thread_id
        )

    def refreshed(self, attachment: ChatKitAttachment) -> ChatKitAttachment:
        """A stored message's attachment as a reload shows it: its preview link made again."""
        return self.shown(
            attachment.id, attachment.name, attachment.mime_type, attachment.type, thread_id=attachment.thread_id
        )


def upload_state(database: Database, key: str) -> str | None:
    """Whose bytes an upload link may write under `key`: the status of the attachment stored there ("pending" or
    "attached"), None when no attachment has it (deleted with its conversation or from the composer: a link outlives
    its row, and a file written then would belong to nobody and never be removed)."""
    return database.read(
        lambda session: session.exec(select(Attachment.status).where(Attachment.storage_key == key)).first()
    )


def storage_key(attachment_id: str) -> str:
    """Where an attachment's bytes are: under its id (random, and unique like it)."""
    return attachment_id


def _owned(session: Session, caller: Caller, attachment_id: str) -> Attachment:
    row = session.exec(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.user_id == caller.user_id)
    ).first()
    if row is None:
        raise not_found()
    return row


def _exists(session: Session, caller: Caller, attachment_id: str) -> bool:
    found = session.exec(
        select(Attachment.id).where(Attachment.id == attachment_id, Attachment.user_id == caller.user_id)
    ).first()
    return found is not None
