"""`make package`: the layer and the functions built for Lambda (python3.12, arm64) without Docker."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from infra.package import LAMBDA_UNZIPPED_LIMIT_MB, TARGET_MB, package


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    out = tmp_path_factory.mktemp("package") / "build"
    return out, package(out, "arm64")


def test_layout_is_what_lambda_and_sam_expect(built: tuple[Path, dict[str, float]]) -> None:
    out, _ = built
    site = out / "layer" / "python"
    assert (site / "todo_common" / "auth.py").exists()
    assert (site / "fastapi").is_dir()
    assert list(site.glob("psycopg_binary*"))
    assert any("aarch64" in path.name for path in site.rglob("*.so"))
    assert not (site / "boto3").exists()
    assert not (site / "botocore").exists()
    for name in ("session", "history", "chat"):
        folder = out / "functions" / name
        assert (folder / "app.py").read_text() == Path(f"functions/{name}/app.py").read_text()
        assert (folder / "functions" / "__init__.py").exists()
        assert (folder / "functions" / name / "routes.py").exists()
        assert not (folder / "fastapi").exists(), "the layer provides it"
    assert (out / "functions" / "chat" / "agents").is_dir()
    assert (out / "functions" / "chat" / "functions" / "chat" / "widgets" / "task_list.widget").exists()
    assert not (out / "functions" / "history" / "agents").exists()
    run_sh = out / "functions" / "chat" / "run.sh"
    assert run_sh.stat().st_mode & stat.S_IXUSR


def test_sizes_are_within_the_target(built: tuple[Path, dict[str, float]]) -> None:
    _, sizes = built
    for name in ("session", "history", "chat"):
        assert sizes[name] <= TARGET_MB < LAMBDA_UNZIPPED_LIMIT_MB, (name, sizes[name])


def test_built_template_points_at_the_built_folders(built: tuple[Path, dict[str, float]]) -> None:
    out, _ = built
    text = (out / "template.yaml").read_text()
    assert "ContentUri: layer/" in text
    assert "BuildMethod" not in text
    for name in ("session", "history", "chat"):
        assert f"CodeUri: functions/{name}/" in text
    lint = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(out / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert lint.returncode == 0, lint.stdout
