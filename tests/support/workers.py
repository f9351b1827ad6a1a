"""What the suite's parallel workers (pytest-xdist) share and what each one has of its own: a worker's name, and an
exclusive lock on a file, so a thing built once for the whole run (an install, a bundle) is built by one worker while
the others wait for it and then reuse it."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def worker_name() -> str:
    """`gw0`, `gw1`, ... under pytest-xdist; `main` in a run without workers."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """Held by one process at a time (workers of this run and any other run on this machine)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder of this run that all its workers see (each worker's own temp folders are inside the run's one)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / name
