"""`make package`: the layer and the functions built for Lambda (python3.12, arm64) without Docker."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from infra.package import FUNCTIONS, LAMBDA_UNZIPPED_LIMIT_MB, TARGET_MB, size_mb
from infra.runtime_python import runtime_python

ROOT = Path(__file__).resolve().parents[2]
PYC_UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source never checked


@pytest.fixture(scope="module")
def build_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`python -m infra.package --arch arm64` as a user runs it, with everything it prints."""
    if runtime_python() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("python3.12 is needed to compile the bundles")
        pytest.skip("python3.12 not available")
    out = tmp_path_factory.mktemp("package") / "build"
    run = subprocess.run(
        [sys.executable, "-m", "infra.package", "--arch", "arm64", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return out, run.stdout + run.stderr


@pytest.fixture(scope="module")
def built(build_output: tuple[Path, str]) -> tuple[Path, dict[str, float]]:
    out, _ = build_output
    layer = size_mb(out / "layer")
    return out, {name: size_mb(out / "functions" / name) + layer for name in FUNCTIONS}


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
        routes = "http/routes.py" if name == "chat" else "routes.py"  # the chat function's routes are in http/
        assert (folder / "functions" / name / routes).exists()
        assert not (folder / "fastapi").exists(), "the layer provides it"
    assert (out / "functions" / "chat" / "agents").is_dir()
    assert (out / "functions" / "chat" / "functions" / "chat" / "chatkit" / "widgets" / "task_list.widget").exists()
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


def test_pip_reports_no_error(build_output: tuple[Path, str]) -> None:
    _, printed = build_output
    assert "ERROR:" not in printed, printed


def test_function_bundles_use_the_layers_pins(built: tuple[Path, dict[str, float]]) -> None:
    out, _ = built
    site = out / "layer" / "python"
    layer_dists = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    for name in ("session", "history", "chat"):
        function_dists = {p.name.split("-")[0].lower() for p in (out / "functions" / name).glob("*.dist-info")}
        assert not function_dists & layer_dists, (name, function_dists & layer_dists)
    assert list(site.glob("pydantic-2.13.5.dist-info"))


def test_every_module_ships_unchecked_bytecode_for_python_3_12(built: tuple[Path, dict[str, float]]) -> None:
    out, _ = built
    sources = [p for p in out.rglob("*.py") if p.name != "__main__.py" or "templates" not in p.parts]
    assert len(sources) > 1000
    missing = []
    for source in sources:
        cached = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        if not cached.exists():
            missing.append(source)
            continue
        header = cached.read_bytes()[:8]
        assert int.from_bytes(header[4:8], "little") == PYC_UNCHECKED_HASH, cached
    assert len(missing) <= len(sources) // 100, missing[:20]  # a few files of test data are not valid Python


def test_built_template_defaults_to_the_built_architecture(built: tuple[Path, dict[str, float]]) -> None:
    out, _ = built
    text = (out / "template.yaml").read_text()
    parameter = text.split("  Architecture:\n", 1)[1].split("\n\n", 1)[0]
    assert "Default: arm64" in parameter
    assert "Default: x86_64" not in parameter
