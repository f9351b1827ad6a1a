"""Opaque keyset cursors: base64url JSON of the last row's sort key. A cursor only says where to resume; every
query still filters on the authenticated user, so a forged cursor can at most skip rows of one's own."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from todo_common.errors import ApiError


def encode_cursor(**position: Any) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, **expected: type) -> dict[str, Any]:
    """The cursor's fields, each of the expected type; anything else is a 400 `invalid_cursor`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise invalid_cursor() from exc
    if not isinstance(position, dict) or set(position) != set(expected):
        raise invalid_cursor()
    for name, kind in expected.items():
        value = position[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise invalid_cursor()
    return position


def invalid_cursor() -> ApiError:
    return ApiError(400, "invalid_cursor", "The cursor is not one this API handed out.")
