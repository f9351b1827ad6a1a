"""A Lambda-like sandbox for the built bundles: the runtime's Python (3.12, isolated), a folder of the packages the
runtime provides, the layer mounted read-only at /opt/python, the function folder as a read-only working directory,
and Lambda's environment variables, nothing inherited from the test process.

The mounts live in a private mount namespace (`unshare -m`), so /opt/python exists only for the sandboxed process and
is read-only even for root (chmod alone would not stop root from writing `__pycache__`)."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.runtime_python import DEFAULT_VERSION, RUNTIME_NAME, VERSION, runtime_python
from tests.support.runtime_api import Outcome, RuntimeApi
from tests.support.workers import exclusive
from todo_common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_REQUIREMENTS = ROOT / "tests" / "deploy" / "lambda-runtime.txt"
INVOKE = Path(__file__).with_name("lambda_invoke.py")


def require(reason: str) -> None:
    """Locally a missing piece skips the sandbox; under CI it fails, so nothing hides behind a skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the Lambda sandbox needs {reason}")
    pytest.skip(f"Lambda sandbox unavailable: {reason}")


def runtime_environment() -> Path:
    """A python3.12 virtualenv holding only what Lambda's runtime provides (boto3 and its dependencies), built once
    per requirements file and reused: it is to the sandbox what /var/lang is to Lambda."""
    python = runtime_python()
    if python is None:
        require(f"{RUNTIME_NAME} (set LAMBDA_PYTHON)")
        raise AssertionError("unreachable")
    digest = hashlib.sha256(RUNTIME_REQUIREMENTS.read_bytes() + str(python).encode()).hexdigest()[:12]
    venv = ROOT / (".venv-lambda-runtime" if VERSION == DEFAULT_VERSION else f".venv-lambda-runtime-{VERSION}")
    stamp = venv / f".installed-{digest}"
    with exclusive(ROOT / ".data" / f"{venv.name[1:]}.lock"):
        if not stamp.exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "-r", str(RUNTIME_REQUIREMENTS)],
                check=True,
            )
            stamp.touch()
    return venv


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a sandboxed process as Lambda discards a container: asked first, killed if it does not go."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@dataclass(frozen=True)
class Bundle:
    """One built function: its folder (Lambda's /var/task) and the layer folder whose python/ is /opt/python."""

    name: str
    function: Path
    layer: Path


@dataclass
class Sandbox:
    runtime: Path
    environment: dict[str, str]

    def lambda_environment(self, bundle: Bundle, extra: dict[str, str]) -> dict[str, str]:
        """What Lambda's python3.12 runtime puts in a function's environment, plus the template's variables."""
        return {
            "PATH": f"{self.runtime / 'bin'}:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/opt/lib",
            "PYTHONPATH": "/var/runtime",
            "LAMBDA_TASK_ROOT": str(bundle.function),
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME_NAME}",
            "AWS_LAMBDA_FUNCTION_NAME": f"todo-chat-{bundle.name}-sandbox",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024" if bundle.name == "chat" else "512",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/todo-chat-{bundle.name}-sandbox",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/01/[$LATEST]sandbox",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "_HANDLER": "run.sh" if bundle.name == "chat" else "app.handler",
            "POWERTOOLS_SERVICE_NAME": bundle.name,
            **self.environment,
            **extra,
        }

    def command(self, bundle: Bundle, argv: list[str], extra: dict[str, str] | None = None) -> list[str]:
        """`argv` run in the sandbox: inside its own mount namespace, with a clean environment, in the function
        folder."""
        environment = self.lambda_environment(bundle, extra or {})
        function = shlex.quote(str(bundle.function))
        mounts = " && ".join(
            [
                "mount -t tmpfs -o size=1m tmpfs /opt",
                "mkdir /opt/python",
                f"mount --bind -o ro {shlex.quote(str(bundle.layer / 'python'))} /opt/python",
                f"mount --bind -o ro {function} {function}",
                f"cd {function}",
            ]
        )
        assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in environment.items())
        script = f"{mounts} && exec env -i {assignments} {' '.join(shlex.quote(a) for a in argv)}"
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script]

    def bootstrap(self) -> list[str]:
        """The runtime's own start: its Python, isolated, running the bootstrap stand-in."""
        return [str(self.runtime / "bin" / "python"), "-I", str(INVOKE)]

    def invoke(self, bundle: Bundle, events: list[Any], log: Path, timeout: float = 60) -> list[Outcome]:
        """One cold container of a buffered function, fed `events` one invocation at a time through a local Runtime
        API, then stopped (as Lambda freezes and later discards it); what it printed is in `log`."""
        api = RuntimeApi(function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:todo-chat-{bundle.name}")
        with log.open("wb") as output:
            process = subprocess.Popen(
                # chat's deployed handler is run.sh; its buffered app.handler is what `sam local invoke` runs
                self.command(
                    bundle, self.bootstrap(), {"AWS_LAMBDA_RUNTIME_API": api.address, "_HANDLER": "app.handler"}
                ),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            return [api.invoke(event, lambda: process.poll() is None, timeout) for event in events]
        finally:
            stop(process)
            api.close()

    def start(self, bundle: Bundle, extra: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        """The chat function as the Web Adapter starts it: its handler `run.sh`, executed from the function folder;
        what it prints (Lambda's log stream) goes to `log`."""
        with log.open("wb") as output:
            return subprocess.Popen(self.command(bundle, ["./run.sh"], extra), stdout=output, stderr=subprocess.STDOUT)


def sandbox_for(settings: Settings, database_url: str) -> Sandbox:
    """The sandbox with the production environment the template gives the functions, on `database_url`."""
    if not can_unshare():
        require("a private mount namespace (unshare -m)")
    assert settings.better_auth_secret and settings.chat_token_secret
    return Sandbox(
        runtime=runtime_environment(),
        environment={
            "APP_ENV": "production",
            "DATABASE_URL": database_url,
            "BETTER_AUTH_SECRET": settings.better_auth_secret,
            "CHAT_TOKEN_SECRET": settings.chat_token_secret,
            "JWT_ISSUER": settings.jwt_issuer or "",
            "JWT_AUDIENCE": settings.jwt_audience or "",
            "ALLOWED_ORIGINS": "https://todo.example.com",
            "CHAT_BASE_URL": "https://chat.example.com",
            "LOG_LEVEL": "INFO",
            "OPENAI_AGENTS_DISABLE_TRACING": "1",
        },
    )


SNAPSTART_HOOKS = {
    "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH": "/lwa/snapstart/before",
    "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH": "/lwa/snapstart/after",
}


@contextmanager
def running_chat(sandbox: Sandbox, bundle: Bundle, log: Path, extra: dict[str, str] | None = None) -> Iterator[str]:
    """The chat function's `run.sh`, started with the template's environment as the Web Adapter starts it; its URL
    once GET /healthz answers (the adapter's readiness check)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    environment = {
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
        "AWS_LWA_INVOKE_MODE": "response_stream",
        "AWS_LWA_READINESS_CHECK_PATH": "/healthz",
        **SNAPSTART_HOOKS,
        "PORT": str(port),
        **(extra or {}),
    }
    process = sandbox.start(bundle, environment, log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if process.poll() is not None:
                output = log.read_text(errors="replace")
                pytest.fail(f"run.sh exited with {process.returncode} before it was ready:\n{output[-4000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the readiness check never passed"
            time.sleep(0.1)
        yield url
    finally:
        stop(process)
