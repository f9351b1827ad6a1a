"""Apply the migrations to `DATABASE_URL` (or the URL given): `python -m infra.migrate [URL]`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from todo_common.settings import DEFAULT_SQLITE_URL, normalize_database_url

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def upgrade(database_url: str, revision: str = "head") -> None:
    config = Config(str(ALEMBIC_INI))
    config.attributes["database_url"] = normalize_database_url(database_url)
    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(config, revision)


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DATABASE_URL") or DEFAULT_SQLITE_URL
    upgrade(url)
    print(f"database is at the latest schema: {url.split('@')[-1]}")


if __name__ == "__main__":
    main()
