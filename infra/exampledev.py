"""`make example-dev`: the backend (the local gateway) and the Next.js example, started together and configured for
each other, for trying the todo app in a browser.

The backend trusts the app's Better Auth (its EdDSA tokens through `{app}/api/auth/jwks`, issuer and audience the
app's URL) and allows the app's origin for CORS; the app is built with the backend's URLs (Next.js fixes
`NEXT_PUBLIC_*` at build time) and is given them again when it starts (`lib/config.ts` reads them per request).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "nextjs"
APP_SECRET_FILE = Path(".data/example-auth-secret")


@dataclass(frozen=True)
class Stack:
    app_url: str
    api_url: str

    def backend_environment(self) -> dict[str, str]:
        """What the gateway needs to trust the app: its Better Auth and its origin."""
        return {"BETTER_AUTH_URL": self.app_url, "ALLOWED_ORIGINS": self.app_url}

    def app_environment(self, auth_secret: str) -> dict[str, str]:
        """What the app needs: where its own Better Auth is (the browser's client finds it on the page's own
        origin), and where the backend is (the dev gateway serves the HTTP API and the chat function on one
        origin), both at build time (NEXT_PUBLIC_*) and when it runs."""
        return {
            "BETTER_AUTH_URL": self.app_url,
            "BETTER_AUTH_SECRET": auth_secret,
            "TODO_CHAT_API": self.api_url,
            "NEXT_PUBLIC_TODO_CHAT_API": self.api_url,
            "TODO_CHAT_FUNCTION_URL": self.api_url,
            "NEXT_PUBLIC_TODO_CHAT_FUNCTION_URL": self.api_url,
            "NEXT_TELEMETRY_DISABLED": "1",
        }


def app_auth_secret() -> str:
    """The app's own Better Auth secret (it encrypts the JWT plugin's private keys), kept under .data/."""
    if not APP_SECRET_FILE.exists():
        APP_SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        APP_SECRET_FILE.write_text(secrets.token_urlsafe(32))
        APP_SECRET_FILE.chmod(0o600)
    return APP_SECRET_FILE.read_text().strip()


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - a local URL of our own
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{url} did not come up: its process exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not come up within {seconds:.0f} s") from None
            time.sleep(0.5)


def run(command: list[str], environ: Mapping[str, str], cwd: Path | None = None) -> None:
    subprocess.run(command, env=dict(environ), cwd=cwd, check=True)


def main() -> None:
    app_port, api_port = int(os.environ.get("APP_PORT", "3000")), int(os.environ.get("PORT", "8000"))
    stack = Stack(app_url=f"http://127.0.0.1:{app_port}", api_url=f"http://127.0.0.1:{api_port}")
    app_environ = {**os.environ, **stack.app_environment(app_auth_secret())}
    next_bin = str(EXAMPLE / "node_modules" / ".bin" / "next")
    if not (EXAMPLE / "node_modules" / ".bin" / "next").exists():
        # better-sqlite3 compiles from source: its prebuilt binaries come from outside the npm registry.
        run(["npm", "ci", "--no-audit", "--no-fund"], {**app_environ, "npm_config_build_from_source": "true"}, EXAMPLE)
    print("\n  building the app with the backend's URLs (next build) ...\n", flush=True)
    run([next_bin, "build"], app_environ, EXAMPLE)

    backend_environ = {**os.environ, **stack.backend_environment(), "PORT": str(api_port)}
    backend = subprocess.Popen([sys.executable, "-m", "infra.devserver"], env=backend_environ, start_new_session=True)
    app = subprocess.Popen(
        [next_bin, "start", "-H", "127.0.0.1", "-p", str(app_port)],
        cwd=EXAMPLE,
        env=app_environ,
        start_new_session=True,
    )
    try:
        wait_for(f"{stack.api_url}/healthz", backend)
        wait_for(f"{stack.app_url}/sign-in", app)
        print(f"\n  The todo app: {stack.app_url}  (sign up, then chat; the backend is {stack.api_url})\n", flush=True)
        while backend.poll() is None and app.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for process in (app, backend):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in (app, backend):
            process.wait(15)


if __name__ == "__main__":
    main()
