"""Where the Lambda runtime's Python (3.12 by default) is here: `$LAMBDA_PYTHON`, `python3.12` on PATH, or pyenv's.

`LAMBDA_PYTHON_VERSION` (default 3.12, the template's runtime) names another runtime to build and run the bundles for,
such as 3.13 to measure that runtime in the sandbox; the template still deploys python3.12.
`python -m infra.runtime_python` prints it (`make test` uses that to know whether to install it with pyenv)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

DEFAULT_VERSION = "3.12"


def _runtime_version(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"3\.(\d+)", text.strip())
    if match is None:
        raise SystemExit(f"LAMBDA_PYTHON_VERSION must be 3.N (such as 3.12 or 3.13), not {text!r}")
    return (3, int(match.group(1)))


RUNTIME_VERSION = _runtime_version(os.environ.get("LAMBDA_PYTHON_VERSION") or DEFAULT_VERSION)
VERSION = f"{RUNTIME_VERSION[0]}.{RUNTIME_VERSION[1]}"
RUNTIME_NAME = f"python{VERSION}"


def runtime_python() -> Path | None:
    """The first candidate that really runs as the runtime's version (a pyenv shim on PATH may exist and still refuse
    to run)."""
    candidates: list[str] = []
    if os.environ.get("LAMBDA_PYTHON"):
        candidates.append(os.environ["LAMBDA_PYTHON"])
    found = shutil.which(RUNTIME_NAME)
    if found:
        candidates.append(found)
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates.extend(str(p) for p in sorted(pyenv.glob(f"{VERSION}.*/bin/{RUNTIME_NAME}"), reverse=True))
    for candidate in candidates:
        if _is_runtime(candidate):
            return Path(candidate)
    return None


def _is_runtime(executable: str) -> bool:
    try:
        result = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == VERSION


def main() -> None:
    """`python -m infra.runtime_python`: print the runtime's Python, or exit 1 when this machine has none."""
    python = runtime_python()
    if python is None:
        raise SystemExit(f"no {RUNTIME_NAME} found (on PATH, pyenv's, or LAMBDA_PYTHON)")
    print(python)


if __name__ == "__main__":
    main()
