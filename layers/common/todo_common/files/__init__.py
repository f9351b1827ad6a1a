"""Where the bytes of users' attachments live: one protocol, two stores. S3 (presigned URLs) when
`CHAT_ATTACHMENTS_BUCKET` is set, else a directory on this machine served by the chat app's upload routes
(`local`). The rows that say whose file a key is are the chat function's; a store only keeps bytes under keys.

Both the chat function (uploads, the model's input) and history (a deleted conversation's files) use it, so it lives
in the layer and imports nothing of the agent stack."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal, Protocol

from todo_common.settings import Settings

DEFAULT_DIRECTORY = ".data/attachments"
DEFAULT_LOCAL_BASE_URL = "http://127.0.0.1:8000"
URL_TTL_SECONDS = 600  # an upload or preview link works this long


@dataclass(frozen=True)
class UploadTarget:
    """Where and how the browser sends a file's bytes: ChatKit's `upload_descriptor`."""

    url: str
    method: Literal["PUT"]
    headers: dict[str, str]


class FileStore(Protocol):
    def upload_target(self, key: str, mime_type: str, size: int) -> UploadTarget:
        """A short-lived, signed PUT of at most `size` bytes of `mime_type` to `key`."""
        ...

    def download_url(self, key: str, mime_type: str) -> str:
        """A short-lived signed GET of `key` (an image's preview)."""
        ...

    def read(self, key: str, max_bytes: int) -> bytes | None:
        """The bytes under `key`, None when nothing was uploaded; never more than `max_bytes` + 1 (one more tells
        the caller the file is over its limit)."""
        ...

    def mark_attached(self, key: str) -> None:
        """The file leaves the pending state: a message holds it now (S3's expiry applies to pending files only)."""
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Remove these files; a missing one is no error."""
        ...


class LazyFileStore:
    """A store made on its first use: a cold start that serves no file never builds one (S3's client)."""

    def __init__(self, make: Callable[[], FileStore]) -> None:
        self._make = make

    @cached_property
    def store(self) -> FileStore:
        return self._make()

    def upload_target(self, key: str, mime_type: str, size: int) -> UploadTarget:
        return self.store.upload_target(key, mime_type, size)

    def download_url(self, key: str, mime_type: str) -> str:
        return self.store.download_url(key, mime_type)

    def read(self, key: str, max_bytes: int) -> bytes | None:
        return self.store.read(key, max_bytes)

    def mark_attached(self, key: str) -> None:
        self.store.mark_attached(key)

    def delete(self, keys: Sequence[str]) -> None:
        self.store.delete(keys)


def file_store(settings: Settings, environ: Mapping[str, str] | None = None) -> FileStore:
    """The deployment's store: S3 when the settings name a bucket (`CHAT_ATTACHMENTS_BUCKET`; imported only then),
    else the local one under `CHAT_ATTACHMENTS_DIR`, whose links point at `CHAT_ATTACHMENTS_URL` (the local
    gateway)."""
    env = os.environ if environ is None else environ
    if settings.attachments_bucket is not None:
        s3 = importlib.import_module("todo_common.files.s3")  # boto3 only where a bucket is configured
        store: FileStore = s3.S3FileStore(settings.attachments_bucket)
        return store
    from todo_common.files.local import LocalFileStore

    base_url = env.get("CHAT_ATTACHMENTS_URL") or settings.chat_base_url or DEFAULT_LOCAL_BASE_URL
    return LocalFileStore(
        Path(env.get("CHAT_ATTACHMENTS_DIR") or DEFAULT_DIRECTORY),
        (settings.chat_token_secret or "").encode(),
        base_url,
    )
