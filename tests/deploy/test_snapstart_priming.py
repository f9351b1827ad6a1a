"""A SnapStart snapshot of the chat function is primed: in the Lambda sandbox, `run.sh` started as the Web Adapter
starts it, then the hooks in Lambda's order (before-checkpoint, after-restore), then the first real requests. Python
reports every import it makes (`PYTHONPROFILEIMPORTTIME`, to the log): the first plain turn and the first ChatKit
turn after the restore import nothing, since the priming already ran their code; and the priming left nothing in the
real database and counted no turn in the metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from functions.chat.priming import PRIMING_USER
from infra.devtoken import DEMO_USER
from tests.support.databases import drop_postgres, postgres_url, prepare_postgres, run_database_name
from tests.support.lambda_sandbox import SNAPSTART_HOOKS, Bundle, Sandbox, running_chat, sandbox_for
from tests.support.tokens import Tokens
from todo_common.settings import Settings

IMPORT_LINE = "import time:"


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    base = make_url(postgres_url())
    url = prepare_postgres(base.set(database=run_database_name("todo_chat_priming")).render_as_string(False))
    yield url
    drop_postgres(url)


@pytest.fixture(scope="module")
def sandbox(settings: Settings, database_url: str) -> Sandbox:
    return sandbox_for(settings, database_url)


def rows_of(url: str, user_id: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(
                    sa.text(f"SELECT count(*) FROM {table} WHERE user_id = :u"), {"u": user_id}
                ).scalar_one()
                for table in ("conversation", "message", "task")
            }
    finally:
        engine.dispose()


def imports_after(log: Path, offset: int) -> list[str]:
    written = log.read_bytes()[offset:].decode(errors="replace")
    return [line.split("|")[-1].strip() for line in written.splitlines() if line.startswith(IMPORT_LINE)]


def test_the_first_turns_after_a_restore_import_nothing_and_the_priming_stored_nothing(
    bundles: dict[str, Bundle], sandbox: Sandbox, database_url: str, tokens: Tokens, tmp_path: Path
) -> None:
    log = tmp_path / "chat.log"
    with running_chat(sandbox, bundles["chat"], log, {"PYTHONPROFILEIMPORTTIME": "1"}) as url:
        assert imports_after(log, 0), "Python reports the imports of the app"
        before = SNAPSTART_HOOKS["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"]
        after = SNAPSTART_HOOKS["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"]
        assert httpx.post(f"{url}{before}", timeout=60).status_code == 204
        assert httpx.post(f"{url}{after}", timeout=10).status_code == 204
        restored = log.stat().st_size
        primed = log.read_text(errors="replace")
        assert "priming the snapshot failed" not in primed, primed[-4000:]
        assert "TurnsComplete" not in primed, "the priming's turns are no one's: no metrics"

        headers = {"Authorization": f"Bearer {tokens.chat(DEMO_USER)}"}
        plain = httpx.post(f"{url}/api/{DEMO_USER}/chat", json={"message": "add buy milk"}, headers=headers, timeout=30)
        assert plain.status_code == 200, plain.text
        assert plain.json()["status"] == "complete"
        body = {
            "type": "threads.create",
            "params": {
                "input": {
                    "content": [{"type": "input_text", "text": "list my tasks"}],
                    "attachments": [],
                    "inference_options": {},
                }
            },
        }
        with httpx.stream("POST", f"{url}/api/{DEMO_USER}/chatkit", json=body, headers=headers, timeout=30) as chatkit:
            assert chatkit.status_code == 200
            lines = [line.removeprefix("data: ") for line in chatkit.iter_lines() if line.startswith("data: ")]
        events = [json.loads(line) for line in lines]
        assert events[0]["type"] == "thread.created" and events[-1]["type"] != "error", events

        assert imports_after(log, restored) == []
    assert rows_of(database_url, PRIMING_USER) == {"conversation": 0, "message": 0, "task": 0}
    assert rows_of(database_url, DEMO_USER)["message"] >= 4, "the real turns were stored in the real database"
