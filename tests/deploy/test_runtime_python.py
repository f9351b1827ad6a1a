"""`LAMBDA_PYTHON_VERSION`: which runtime `make package` and the Lambda sandbox build and run for (default 3.12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.runtime_python import DEFAULT_VERSION, _runtime_version

ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_read_as_three_dot_minor() -> None:
    assert _runtime_version(DEFAULT_VERSION) == (3, 12)
    assert _runtime_version(" 3.13 ") == (3, 13)


@pytest.mark.parametrize("text", ["3", "3.13.0", "python3.13", "2.7", ""])
def test_anything_else_is_refused_with_the_variable_named(text: str) -> None:
    with pytest.raises(SystemExit, match="LAMBDA_PYTHON_VERSION"):
        _runtime_version(text)


def test_the_package_and_the_sandbox_follow_the_variable() -> None:
    probe = (
        "from infra.package import PYTHON_VERSION; from infra.runtime_python import RUNTIME_NAME; "
        "print(PYTHON_VERSION, RUNTIME_NAME)"
    )
    for variable, expected in (("", "3.12 python3.12"), ("3.13", "3.13 python3.13")):
        environment = {**os.environ, "LAMBDA_PYTHON_VERSION": variable}
        run = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT, env=environment
        )
        assert run.stdout.strip() == expected
