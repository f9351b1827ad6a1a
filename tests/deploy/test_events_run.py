"""`make events-run` writes into a database of its own, never into the dev database that `make dev` shows."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def events_run(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "EVENTS_DATABASE_URL")}
    environment |= {"PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "infra.events", "run"],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def conversation_titles(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT title FROM conversation")]


def test_events_run_leaves_the_dev_database_alone(tmp_path: Path) -> None:
    dev_database = tmp_path / "dev.db"

    result = events_run(tmp_path, DATABASE_URL=f"sqlite:///{dev_database}")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "events-run.db" in result.stdout.splitlines()[0]
    assert not dev_database.exists()
    assert conversation_titles(tmp_path / ".data" / "events-run.db")  # the events' own, with what they left


def test_events_run_refuses_to_be_pointed_at_the_dev_database(tmp_path: Path) -> None:
    dev_url = f"sqlite:///{tmp_path / 'dev.db'}"

    result = events_run(tmp_path, DATABASE_URL=dev_url, EVENTS_DATABASE_URL=dev_url)

    assert result.returncode == 1
    assert "names the dev database" in result.stdout
    assert not (tmp_path / "dev.db").exists()
