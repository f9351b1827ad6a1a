"""A private PostgreSQL cluster of a test's own (initdb under a temp dir, as the postgres user, another port):
password authentication and limits that the shared server (trust auth) cannot give, started and removed by the test."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.server import free_port

SUPERUSER_PASSWORD = "cluster-superuser-password"


def _bin(name: str) -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return found[0] if found else None


@dataclass(frozen=True)
class Cluster:
    port: int

    def url(self, user: str = "postgres", password: str = SUPERUSER_PASSWORD, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{user}:{password}@127.0.0.1:{self.port}/{database}"


@contextmanager
def private_cluster(max_connections: int = 20) -> Iterator[Cluster]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None or shutil.which("runuser") is None or os.geteuid() != 0:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("a private PostgreSQL cluster needs initdb, pg_ctl and root (to run them as postgres)")
        pytest.skip("cannot start a private PostgreSQL cluster here")
    root = Path(tempfile.mkdtemp(prefix="todo-chat-pg-"))
    data, password_file = root / "data", root / "pw"
    password_file.write_text(SUPERUSER_PASSWORD + "\n")
    shutil.chown(root, "postgres")
    shutil.chown(password_file, "postgres")
    port = free_port()

    def as_postgres(*argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True)

    try:
        as_postgres(
            str(initdb), "-D", str(data), "-U", "postgres", "--pwfile", str(password_file),
            "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
        )  # fmt: skip
        as_postgres(
            str(pg_ctl), "-D", str(data), "-w", "-l", str(root / "log"), "start", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections={max_connections} -c fsync=off",
        )  # fmt: skip
        yield Cluster(port)
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(pg_ctl), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)
