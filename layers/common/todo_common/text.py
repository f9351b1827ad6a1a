"""Text that every backend can store: PostgreSQL refuses NUL characters, so requests carrying them are a 422."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


StoredText = Annotated[str, AfterValidator(no_nul)]
