"""Keyset paging, for the history API and ChatKit's store alike: rows after a position in a sort key that cannot
tie, fetched one past the page so the page knows whether more follow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar

import sqlalchemy as sa

T = TypeVar("T")
Order = Literal["asc", "desc"]


def after(columns: Sequence[Any], position: Sequence[Any], order: Order) -> sa.ColumnElement[bool]:
    """Rows past `position` in the direction of `order` (one column, or a row value of several)."""
    key = columns[0] if len(columns) == 1 else sa.tuple_(*columns)
    point = position[0] if len(position) == 1 else tuple(position)
    return key > point if order == "asc" else key < point


def ordered(columns: Sequence[Any], order: Order) -> list[Any]:
    direction = sa.asc if order == "asc" else sa.desc
    return [direction(column) for column in columns]


def split(rows: Sequence[T], limit: int) -> tuple[list[T], bool]:
    """The page (the first `limit` rows of a fetch of `limit + 1`) and whether more follow."""
    return list(rows[:limit]), len(rows) > limit
