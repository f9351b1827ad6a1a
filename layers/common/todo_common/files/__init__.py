"""Where attachments' bytes live: a store that hands the browser a signed upload target and the app the bytes back.

S3 when `CHAT_ATTACHMENTS_BUCKET` is set (`todo_common.files.s3`), else a local folder served by the gateway.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class UploadTarget:
    url: str
    method: Literal["PUT"]
    headers: dict[str, str]


class FileStore(Protocol):
    def upload_target(self, key: str, mime_type: str, size: int) -> UploadTarget:
        """Where the browser sends the file: short-lived and signed for this key, type and size."""
        ...

    def download_url(self, key: str, mime_type: str) -> str:
        """A short-lived GET of the file (image previews)."""
        ...

    def read(self, key: str, max_bytes: int) -> bytes | None:
        """The file's bytes; None when nothing was uploaded. Never more than `max_bytes` + 1 bytes."""
        ...

    def mark_attached(self, key: str) -> None:
        """The file leaves the "pending" state: unattached uploads are removed after a day, attached ones are kept."""
        ...

    def delete(self, keys: Sequence[str]) -> None: ...


def file_store() -> FileStore:
    bucket = os.environ.get("CHAT_ATTACHMENTS_BUCKET", "").strip()
    if bucket:
        from todo_common.files.s3 import S3FileStore  # boto3 only where a bucket is configured

        return S3FileStore(bucket)
    raise NotImplementedError("the local file store is not part of this module yet: set CHAT_ATTACHMENTS_BUCKET")
