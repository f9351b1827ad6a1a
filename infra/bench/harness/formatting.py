"""How the sections write their figures: one way to print a duration and one way to pick a percentile."""

from __future__ import annotations

from collections.abc import Sequence


def ms(seconds: float, decimals: int = 1) -> str:
    """A duration in milliseconds, with as many decimals as the section's figures carry."""
    return f"{seconds * 1000:.{decimals}f} ms"


def percentile(values: Sequence[float], percent: float) -> float:
    """The sample at `percent` of the sorted values (the lower one between two ranks)."""
    return sorted(values)[int(percent / 100 * (len(values) - 1))]
