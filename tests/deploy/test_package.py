"""`make package`: the layer and the functions built for Lambda (python3.12, arm64) without Docker."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from infra.native_strip import StripOutcome, loaded_bytes, strip_native_libraries
from infra.package import FUNCTIONS, LAMBDA_UNZIPPED_LIMIT_MB, TARGET_MB, host_architecture, size_mb, why_over_target
from infra.runtime_python import runtime_python

ROOT = Path(__file__).resolve().parents[2]
HEADROOM_MB = 10
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
    """With 10 MB to spare, so one dependency bump does not take a bundle over."""
    _, sizes = built
    for name in ("session", "history", "chat"):
        assert sizes[name] <= TARGET_MB - HEADROOM_MB < LAMBDA_UNZIPPED_LIMIT_MB, (name, sizes[name])


def test_native_libraries_are_stripped_with_what_this_machine_has(build_output: tuple[Path, str]) -> None:
    _, printed = build_output
    line = next(line for line in printed.splitlines() if "native libraries:" in line)
    assert " stripped with " in line, line
    assert int(line.split("native libraries:")[1].split()[0]) >= 10, line


def test_nothing_a_bundle_never_loads_is_shipped(built: tuple[Path, dict[str, float]]) -> None:
    out, _ = built
    site = out / "layer" / "python"
    assert not list(out.rglob("*.pyi"))
    assert not (site / "sqlalchemy" / "testing").exists()
    assert not (site / "sqlalchemy" / "dialects" / "mysql").exists()
    assert (site / "sqlalchemy" / "dialects" / "postgresql").is_dir()
    assert (site / "sqlalchemy" / "dialects" / "sqlite").is_dir()
    assert not list((site / "aws_lambda_powertools").rglob("*.min.js"))


def test_a_bundle_over_target_says_why(built: tuple[Path, dict[str, float]]) -> None:
    out, _ = built
    unstripped = [StripOutcome(tool=None, stripped=0, left_as_they_were=0, saved_bytes=0)]
    lines = why_over_target(out, "chat", "arm64", unstripped)
    assert lines[0].split("biggest parts: ")[1].split(" ")[0] in ("openai", "sqlalchemy", "cryptography"), lines
    assert "not stripped" in lines[1] and "binutils-aarch64-linux-gnu" in lines[1] and "llvm-strip" in lines[1]
    stripped = [StripOutcome(tool="/usr/bin/llvm-strip", stripped=16, left_as_they_were=17, saved_bytes=12_000_000)]
    assert len(why_over_target(out, "chat", "arm64", stripped)) == 1


def test_a_strip_that_would_change_what_the_loader_maps_is_refused(tmp_path: Path) -> None:
    """The loaded bytes of a real library: the section table may move, the machine field and the code may not."""
    library = next(Path(sqlalchemy.__file__).parent.rglob("*.so"))
    original = library.read_bytes()
    loaded = loaded_bytes(original)
    assert loaded is not None
    moved_sections = bytearray(original)
    moved_sections[0x28:0x30] = (len(original) + 64).to_bytes(8, "little")
    assert loaded_bytes(bytes(moved_sections)) == loaded
    no_machine = bytearray(original)
    no_machine[0x12:0x14] = bytes(2)
    assert loaded_bytes(bytes(no_machine)) != loaded
    assert loaded_bytes(b"#!/bin/sh\n") is None

    copy = tmp_path / "lib" / library.name
    copy.parent.mkdir()
    copy.write_bytes(original)
    outcome = strip_native_libraries(copy.parent, host_architecture(), host_architecture())
    assert outcome.tool is not None
    assert loaded_bytes(copy.read_bytes()) == loaded
    assert outcome.saved_bytes == len(original) - copy.stat().st_size


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
