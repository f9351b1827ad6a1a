"""Waits on the wall clock that tests of per-minute counters need."""

from __future__ import annotations

import time

MINUTE = 60


def early_in_a_minute(margin_seconds: float = 20) -> None:
    """Return at least `margin_seconds` before the current clock minute ends, sleeping into the next minute if
    needed: requests counted against a per-minute window then all fall in one window, however slow the machine."""
    left = MINUTE - time.time() % MINUTE
    if left < margin_seconds:
        time.sleep(left + 0.05)
