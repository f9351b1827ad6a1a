"""Session and history stay light: they never import the agent stack (a fresh process is the only honest check)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("openai", "agents", "chatkit", "mcp", "boto3")


@pytest.mark.parametrize("function", ["session", "history"])
def test_function_does_not_import_the_agent_stack(function: str) -> None:
    code = (
        f"import sys, json; import functions.{function}.app; "
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True, check=True
    )
    assert json.loads(output.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("function", ["session", "history", "chat"])
def test_import_runs_without_the_collector_and_freezes_what_it_built(function: str) -> None:
    """A cold start imports with the cyclic GC off (todo_common.cold_start); afterwards the collector is on again
    and the app's long-lived objects sit in the permanent generation, out of every later collection (without it, an
    import of the chat app runs about 560 collections, 4 of them full)."""
    code = (
        "import gc, json, sys; "
        "collections = []; gc.callbacks.append(lambda phase, info: phase == 'start' and collections.append(info)); "
        f"import functions.{function}.app; "
        "print(json.dumps([gc.isenabled(), gc.get_freeze_count(), len(collections)]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True, check=True
    )
    enabled, frozen, collections = json.loads(output.stdout.strip().splitlines()[-1])
    assert enabled is True
    assert frozen > 100_000
    assert collections <= 1  # the allocations right after gc.enable() may start one young collection, no more
