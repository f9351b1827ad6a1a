"""Session and history stay light: they never import the agent stack (a fresh process is the only honest check)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

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


def test_the_chat_app_imports_mangum_only_when_its_buffered_handler_is_used() -> None:
    """The deployed chat function runs under uvicorn behind the Web Adapter: Mangum is for `sam local invoke` and
    an HTTP API route, and is imported when Lambda's runtime looks `app.handler` up."""
    code = (
        "import sys, json; import functions.chat.app as chat; loaded = 'mangum' in sys.modules; "
        "handler = chat.handler; print(json.dumps([loaded, type(handler).__name__, chat.handler is handler]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True, check=True
    )
    assert json.loads(output.stdout.strip().splitlines()[-1]) == [False, "Mangum", True]


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


def test_chat_turns_rarely_collect_the_young_generation(tmp_path: Path) -> None:
    """After the cold start the young generation is collected after 10 000 new objects, not 700
    (todo_common.cold_start): at 700 thirty chat turns with tool calls ran about 30 collections, each walking every
    object of the turns in flight."""
    code = textwrap.dedent(
        f"""
        import gc, json, os
        os.environ["DATABASE_URL"] = "sqlite:///{tmp_path / "turns.db"}"
        os.environ["CHAT_RATE_LIMIT_PER_MINUTE"] = "1000"
        from infra.migrate import upgrade
        upgrade(os.environ["DATABASE_URL"])
        import functions.chat.app as chat
        from fastapi.testclient import TestClient
        from todo_common.auth import mint_chat_token

        token = mint_chat_token(chat.services.settings, "gc-user")[0]
        young = []
        with TestClient(chat.app) as client:
            def turn(index, conversation_id):
                body = {{"message": f"add task {{index}}" if index % 3 else "list", "conversation_id": conversation_id}}
                response = client.post("/api/gc-user/chat", json=body, headers={{"Authorization": f"Bearer {{token}}"}})
                assert response.status_code == 200, response.text
                return response.json()["conversation_id"]

            conversation_id = turn(0, None)
            gc.callbacks.append(lambda phase, info: phase == "start" and young.append(info["generation"]))
            for index in range(1, 31):
                turn(index, conversation_id)
        print(json.dumps([gc.get_threshold()[0], len(young)]))
        """
    )
    output = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True)
    assert output.returncode == 0, output.stderr
    threshold, collections = json.loads(output.stdout.strip().splitlines()[-1])
    assert collections <= 6, collections
    assert threshold == 10_000
