"""Text that every backend can store: PostgreSQL refuses NUL characters and nothing can encode a lone UTF-16
surrogate (JSON's `"\\ud800"` decodes to one), so requests carrying either are a 422. Titles and task text are
cleaned where they enter instead (`one_line`, `plain_text`): control characters (NUL, CR/LF, ESC, BEL, ...) and the
bidi controls that make text read backwards (U+202E) are no part of a title a person typed."""

from __future__ import annotations

import re
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

# Controls (C0, DEL, C1) become spaces in a title; bidi embeddings, overrides and isolates (U+202A-E, U+2066-9),
# bidi marks (U+061C, U+200E-F), zero-width space, word joiner and BOM (U+200B, U+2060, U+FEFF) and lone surrogates
# are dropped: none shows anything, so a text of only those would look empty. ZWNJ/ZWJ (U+200C-D) stay: scripts and
# emoji sequences need them. Multi-line text keeps its line breaks and tabs.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_EXCEPT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_INVISIBLE = re.compile(r"[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff\ud800-\udfff]")


def one_line(text: str) -> str:
    """`text` as a one-line title: every control character a space (a line break too), bidi controls and lone
    surrogates gone, runs of spaces one space, no spaces at the ends."""
    return " ".join(_CONTROL.sub(" ", _INVISIBLE.sub("", text)).split())


def plain_text(text: str) -> str:
    """`text` as multi-line plain text: line breaks (CR LF and CR become LF) and tabs kept, every other control
    character, bidi control and lone surrogate gone, no spaces at the ends."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_EXCEPT_LINES.sub("", _INVISIBLE.sub("", lines)).strip()


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape character `\\`) matching any text that contains `text` literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
