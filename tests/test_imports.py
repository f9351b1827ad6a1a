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
