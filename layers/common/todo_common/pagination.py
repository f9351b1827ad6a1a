"""Opaque keyset cursors: base64url JSON of the last row's sort key. A cursor only says where to resume; every
query still filters on the authenticated user, so a forged cursor can at most skip rows of one's own. Whatever a
forged cursor holds (a number no column can hold, a time outside the calendar once its offset is applied, text no
backend can store) is a 400 `invalid_cursor`, never a 422 or a 500 from deeper down."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from todo_common.errors import ApiError
from todo_common.models import INTEGER_MAX
from todo_common.text import is_storable


def encode_cursor(**position: Any) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, **expected: type) -> dict[str, Any]:
    """The cursor's fields, each of the expected type (`datetime` fields are ISO strings with an offset, given
    back as UTC datetimes); anything else is a 400 `invalid_cursor`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError, RecursionError) as exc:
        raise invalid_cursor() from exc
    if not isinstance(position, dict) or set(position) != set(expected):
        raise invalid_cursor()
    return {name: _field(position[name], kind) for name, kind in expected.items()}


def _field(value: Any, kind: type) -> Any:
    if kind is datetime:
        if not isinstance(value, str):
            raise invalid_cursor()
        return cursor_time(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise invalid_cursor()
    if isinstance(value, int) and not is_position(value):
        raise invalid_cursor()
    if isinstance(value, str):
        if not is_storable(value):
            raise invalid_cursor()
        _reject_unrepresentable_time(value)
    return value


def is_position(value: int) -> bool:
    """Whether `value` can be a cursor's number: a row's place in an INTEGER column (a `seq`, a task id)."""
    return 0 <= value <= INTEGER_MAX


def cursor_time(value: str) -> datetime:
    """An ISO time with an offset, as UTC; one outside years 1-9999 once in UTC is an invalid cursor."""
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise invalid_cursor()
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise invalid_cursor() from exc


def _reject_unrepresentable_time(value: str) -> None:
    # Cursors carry times as ISO strings; one that parses but cannot be moved to UTC (0001-01-01T00:00+05:00)
    # would only fail later, in the database driver, as a 500.
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return
    if parsed.tzinfo is not None:
        cursor_time(value)


def invalid_cursor() -> ApiError:
    return ApiError(400, "invalid_cursor", "The cursor is not one this API handed out.")
