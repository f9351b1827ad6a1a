"""The commands a newcomer types: dev tokens, migrations against a database that is not there, sample events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from infra import devtoken, events
from infra.migrate import DatabaseProblem, ensure_database
from tests.support.databases import drop_postgres, enabled_backends, postgres_url, unavailable
from todo_common import conversations
from todo_common.db import Database

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | (env or {})
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120, check=False
    )


def test_devtoken_help_prints_help_and_mints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        devtoken.main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert out.startswith("usage: python -m infra.devtoken")
    assert "eyJ" not in out


def test_devtoken_mints_a_token_for_the_named_user(capsys: pytest.CaptureFixture[str]) -> None:
    devtoken.main(["mallory", "--hours", "1"])
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "mallory"
    assert claims["exp"] - claims["iat"] == 3600


def test_make_token_names_the_user_given_on_the_command_line() -> None:
    result = subprocess.run(
        ["make", "-s", "token", "USER=mallory"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert jwt.decode(result.stdout.strip(), options={"verify_signature": False})["sub"] == "mallory"
    plain = subprocess.run(["make", "-s", "token"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert jwt.decode(plain.stdout.strip(), options={"verify_signature": False})["sub"] == devtoken.DEMO_USER


@pytest.fixture
def missing_postgres_database() -> str:
    if "postgres" not in enabled_backends():
        pytest.skip("TEST_DATABASES leaves PostgreSQL out")
    url = make_url(postgres_url())
    url = url.set(database=f"{url.database}_missing")
    admin = sa.create_engine(url.set(database="postgres"))
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError as exc:
        unavailable(str(exc).splitlines()[0])
    finally:
        admin.dispose()
    return url.render_as_string(hide_password=False)


def test_a_missing_remote_style_database_is_one_line_saying_how_to_fix_it(missing_postgres_database: str) -> None:
    with pytest.raises(DatabaseProblem) as problem:
        ensure_database(missing_postgres_database, create_if_local=False)
    message = str(problem.value)
    name = make_url(missing_postgres_database).database
    assert "\n" not in message
    assert f'"{name}", which does not exist' in message
    assert f"createdb -h 127.0.0.1 -p 5432 -U postgres {name}" in message


def test_make_migrate_creates_a_missing_local_database_and_says_so(missing_postgres_database: str) -> None:
    try:
        result = run("-m", "infra.migrate", env={"DATABASE_URL": missing_postgres_database, "APP_ENV": "development"})
        assert result.returncode == 0, result.stderr
        assert "created the PostgreSQL database" in result.stdout
        assert "(local development)" in result.stdout
        assert "database is at the latest schema" in result.stdout
        engine = sa.create_engine(missing_postgres_database)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM conversation")).scalar_one() == 0
        engine.dispose()
    finally:
        drop_postgres(missing_postgres_database)


def test_production_never_creates_and_the_error_is_one_line(missing_postgres_database: str) -> None:
    result = run("-m", "infra.migrate", env={"DATABASE_URL": missing_postgres_database, "APP_ENV": "production"})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: DATABASE_URL names the database")
    assert "Traceback" not in result.stderr


def test_an_unreachable_server_is_one_line() -> None:
    result = run("-m", "infra.migrate", "postgresql://postgres@127.0.0.1:9/todo")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: Cannot connect to PostgreSQL at 127.0.0.1:9 (Connection refused): check DATABASE_URL and that the "
        "server is running."
    ]


def test_tracked_events_carry_a_placeholder_and_make_events_leaves_them_alone(tmp_path: Path) -> None:
    before = {path.name: path.read_bytes() for path in events.EVENTS.glob("*.json")}
    assert set(before) == {f"{name}.json" for name in events.ROUTES}
    for name, content in before.items():
        event = json.loads(content)
        assert event["headers"]["authorization"] == f"Bearer {events.TOKEN_PLACEHOLDER}", name
        assert content.decode() == events.render(events.build_event(name[:-5], devtoken.DEMO_USER, "DEV_TOKEN"))

    written = events.write_events(target=tmp_path / "events")
    events.write_samples()  # regenerating the templates is a no-op when the routes did not change

    assert {path.name: path.read_bytes() for path in events.EVENTS.glob("*.json")} == before
    filled = json.loads(written[0].read_text())
    token = filled["headers"]["authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == devtoken.DEMO_USER


def test_events_run_invokes_every_handler_with_meaningful_results(tmp_path: Path) -> None:
    database = tmp_path / "events.db"
    result = run("-m", "infra.events", "run", env={"DATABASE_URL": f"sqlite:///{database}"}, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    assert list(lines) == [name for name, _ in events.RUN_ORDER]
    for name, status in events.RUN_ORDER:
        assert lines[name].split()[0] == str(status) and " ok " in lines[name] + " ", lines[name]
    assert "Weekend milk" in lines["history_get_conversation"]
    assert "# Weekend milk" in lines["history_export_conversation"]
    assert "Groceries" in lines["history_rename_conversation"]
    assert "add_task" in lines["chat_message"]


def test_seeding_again_recreates_the_conversation_the_events_name(database: Database) -> None:
    for _ in range(2):  # a second `make events-run` finds the conversation fresh
        events.seed_sample_conversation(database=database)
        database.write(
            lambda session: conversations.rename_conversation(
                session, devtoken.DEMO_USER, events.CONVERSATION, "Groceries"
            )
        )
    summary = database.read(
        lambda session: conversations.conversation_summary(session, devtoken.DEMO_USER, events.CONVERSATION)
    )
    assert (summary.title, summary.message_count) == ("Groceries", 2)
    events.seed_sample_conversation(database=database)
    summary = database.read(
        lambda session: conversations.conversation_summary(session, devtoken.DEMO_USER, events.CONVERSATION)
    )
    assert (summary.title, summary.message_count) == ("Weekend milk", 2)


def test_make_dev_stops_with_the_same_one_line_message(missing_postgres_database: str) -> None:
    result = run("-m", "infra.devserver", env={"DATABASE_URL": missing_postgres_database, "APP_ENV": "production"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error: DATABASE_URL names the database")
