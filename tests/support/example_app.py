"""Running the todo app for browser tests: the built Next.js example under `next start` (with its real Better Auth)
and the real backend (`python -m infra.devserver`), configured for each other as `make example-dev` configures them
(`infra.exampledev.Stack`), each in a process of its own."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from infra.exampledev import EXAMPLE, Stack
from tests.support.server import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHATKIT_SCRIPT = "https://cdn.platform.openai.com/**"


# Under ROOT, as the Makefile names them (EXAMPLE_LOCK, EXAMPLE_LOG): `make test` builds the example in the
# background under this lock while the rest of the suite starts, and writes its output to this log.
BUILD_LOCK = Path(".data/example-build.lock")
BUILD_LOG = Path(".data/example-build.log")
BUILD_WAIT_SECONDS = 900  # a build (about a minute and a half) that holds the lock longer has hung


def required(reason: str) -> None:
    """Locally a missing node or browser skips; under CI it fails, so nothing hides behind a skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the Next.js example's tests need this under CI: {reason}")
    pytest.skip(reason)


@contextmanager
def built_example() -> Iterator[None]:
    """The example built from its current sources, for as long as the caller uses it: waits for `make test`'s
    background build, or builds it (`make example-built`), then holds the build's lock shared, so that no build (of
    another run in this checkout) replaces it meanwhile."""
    if shutil.which("node") is None:
        required("node is not installed")
    lock_file = ROOT / BUILD_LOCK
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + BUILD_WAIT_SECONDS
    with lock_file.open("a") as lock:
        while True:
            _shared_before(lock, deadline)  # waits for a build under way
            if _make("example-fresh").returncode == 0:
                break
            fcntl.flock(lock, fcntl.LOCK_UN)
            try:  # not blocking: a worker of this run may be building it, or a run using it holds it shared
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(1)
                continue
            build = _make("example-built")
            fcntl.flock(lock, fcntl.LOCK_UN)
            if build.returncode != 0:
                pytest.fail(f"the Next.js example did not build:\n{(build.stdout + build.stderr)[-4000:]}")
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _shared_before(lock: IO[str], deadline: float) -> None:
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                log = ROOT / BUILD_LOG
                tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
                pytest.fail(f"the Next.js example's build held its lock for {BUILD_WAIT_SECONDS} s:\n{tail}")
            time.sleep(0.5)


def _make(target: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(
        ["make", "--no-print-directory", target], cwd=ROOT, env=environ, capture_output=True, text=True
    )


@contextmanager
def running(
    command: list[str], environ: Mapping[str, str], cwd: Path, base: str, ready_path: str, name: str
) -> Iterator[None]:
    process = subprocess.Popen(
        command, cwd=cwd, env=dict(environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        if not wait_until_up(base, 90, path=ready_path, alive=lambda: process.poll() is None):
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            pytest.fail(f"{name} did not come up: {output[-4000:]}")
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@contextmanager
def todo_app(
    database_url: str, auth_database_url: str, backend_settings: Mapping[str, str] | None = None, **app_settings: str
) -> Iterator[Stack]:
    """The backend on `database_url` (with `backend_settings`) and the app (Better Auth on `auth_database_url`, with
    `app_settings`), on free ports."""
    stack = Stack(app_url=f"http://127.0.0.1:{free_port()}", api_url=f"http://127.0.0.1:{free_port()}")
    inherited = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}  # the offline model answers
    backend = {
        **inherited,
        **stack.backend_environment(),
        "DATABASE_URL": database_url,
        "PORT": stack.api_url.rsplit(":", 1)[1],
        "LOG_LEVEL": "WARNING",
        **(backend_settings or {}),
    }
    app = {
        **inherited,
        **stack.app_environment("test-app-auth-secret-0123456789abcdef0123"),
        "AUTH_DATABASE_URL": auth_database_url,
        "NODE_ENV": "production",
        **app_settings,
    }
    next_bin = str(EXAMPLE / "node_modules" / ".bin" / "next")
    app_port = stack.app_url.rsplit(":", 1)[1]
    with (
        built_example(),
        running([sys.executable, "-m", "infra.devserver"], backend, ROOT, stack.api_url, "/healthz", "the backend"),
        running(
            [next_bin, "start", "-H", "127.0.0.1", "-p", app_port], app, EXAMPLE, stack.app_url, "/sign-in", "next"
        ),
    ):
        yield stack


@contextmanager
def chromium_browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        required("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            yield browser
        finally:
            browser.close()
