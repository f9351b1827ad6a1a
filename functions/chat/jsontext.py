"""Tool arguments and outputs travel as JSON text; this reads them back, leaving anything else as it is."""

from __future__ import annotations

import json
from typing import Any


def parse_json_text(value: Any) -> Any:
    """The JSON value `value` holds if it is JSON text; otherwise `value` itself."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
