"""Text that every backend can store: PostgreSQL refuses NUL characters and nothing can encode a lone UTF-16
surrogate (JSON's `"\\ud800"` decodes to one), so requests carrying either are a 422."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def is_storable(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def no_nul(value: str) -> str:
    """`value` if every backend can store it; else ValueError (a 422 in a request model)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if not is_storable(value):
        raise ValueError("must not contain lone surrogates (invalid Unicode)")
    return value


StoredText = Annotated[str, AfterValidator(no_nul)]
