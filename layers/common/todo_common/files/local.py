"""The file store of a machine without S3: files under a directory, uploaded and read through the chat app's
`/api/attachments/{key}` routes with links signed like S3's presigned URLs (HMAC of the method, key, type, size
and expiry; a key of its own derived from the chat token secret), so the browser's two-phase upload works the
same way locally as on AWS."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote, urlencode

from todo_common.files import URL_TTL_SECONDS, UploadTarget

ROUTE = "/api/attachments"
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}(/[A-Za-z0-9][A-Za-z0-9_-]{0,127}){0,3}")
_ATTACHED = ".attached"  # beside a file a message holds: its upload link no longer replaces it


class LinkRefused(Exception):
    """A link whose signature does not match, or that has expired."""


def valid_key(key: str) -> bool:
    return bool(_KEY.fullmatch(key))


class LocalFileStore:
    def __init__(
        self,
        directory: Path,
        secret: bytes,
        base_url: str,
        *,
        ttl_seconds: int = URL_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.base_url = base_url.rstrip("/")
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._key = hmac.new(secret, b"todo-chat attachment links", hashlib.sha256).digest()

    # -- the protocol ------------------------------------------------------------------------------------------

    def upload_target(self, key: str, mime_type: str, size: int) -> UploadTarget:
        query = self._signed("PUT", key, mime_type, size)
        return UploadTarget(self._url(key, query), "PUT", {"Content-Type": mime_type})

    def download_url(self, key: str, mime_type: str) -> str:
        return self._url(key, self._signed("GET", key, mime_type, None))

    def read(self, key: str, max_bytes: int) -> bytes | None:
        try:
            with self.path(key).open("rb") as file:
                return file.read(max_bytes + 1)
        except FileNotFoundError:
            return None

    def mark_attached(self, key: str) -> None:
        marker = self._marker(key)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.path(key).unlink(missing_ok=True)
            self._marker(key).unlink(missing_ok=True)

    # -- what the upload routes need ---------------------------------------------------------------------------

    def verify(self, method: str, key: str, mime_type: str, size: int | None, expires: str, signature: str) -> None:
        """Raise `LinkRefused` unless this link was made here for exactly this request and has not expired."""
        expires_at = link_number(expires)
        if expires_at is None:
            raise LinkRefused("The link is not a signed attachment link.")
        expected = self._signature(method, key, mime_type, size, expires_at)
        if not hmac.compare_digest(expected, signature):
            raise LinkRefused("The link's signature does not match.")
        if expires_at < self.clock():
            raise LinkRefused("The link has expired; ask for a new one.")

    def is_attached(self, key: str) -> bool:
        return self._marker(key).exists()

    def write(self, key: str, body: bytes) -> None:
        """Replace the file at once: a reader sees the old bytes or the new, never a part."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(8)}.part")
        try:
            partial.write_bytes(body)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    def path(self, key: str) -> Path:
        if not valid_key(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.directory / key

    # -- links -------------------------------------------------------------------------------------------------

    def _marker(self, key: str) -> Path:
        path = self.path(key)
        return path.with_name(path.name + _ATTACHED)

    def _signed(self, method: str, key: str, mime_type: str, size: int | None) -> dict[str, str]:
        # Cut to the minute, never later than the TTL: every read within a minute makes the same link, so a reload
        # shows the same preview (and a browser's cache keeps it) instead of a link that differs by a second.
        expires = (int(self.clock()) + self.ttl_seconds) // 60 * 60
        query = {"type": mime_type, "expires": str(expires)}
        if size is not None:
            query["size"] = str(size)
        query["signature"] = self._signature(method, key, mime_type, size, expires)
        return query

    def _signature(self, method: str, key: str, mime_type: str, size: int | None, expires: int) -> str:
        message = "\n".join([method, key, mime_type, "" if size is None else str(size), str(expires)])
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def _url(self, key: str, query: dict[str, str]) -> str:
        return f"{self.base_url}{ROUTE}/{quote(key)}?{urlencode(query)}"


def link_number(text: str) -> int | None:
    """A number of a link's query (a size, an expiry): ASCII digits only, at most 12 of them, else None (`isdigit`
    also takes "²" and any length, which `int` refuses)."""
    return int(text) if re.fullmatch(r"[0-9]{1,12}", text) else None
