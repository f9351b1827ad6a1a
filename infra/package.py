"""Build the layer and the functions for Lambda without Docker: `python -m infra.package [--arch arm64|x86_64]`.

pip's cross-platform options fetch Linux wheels for python3.12 and the chosen architecture (default: this machine's).
The output in `build/` is what `sam deploy --template-file build/template.yaml` uploads: `build/layer/python/...`
and, per function, a folder whose root holds `app.py` (the handler is `app.handler`) beside the `functions/<name>/`
package its imports name. boto3 and botocore come with the Lambda runtime and are not shipped.

Every bundle ships bytecode compiled by python3.12 in unchecked-hash mode: Lambda's file system is read-only, so
without it each cold start would compile every module again, and an unchecked pyc is loaded without reading or
stat-comparing its source. `sam build` runs the same code through the Makefile's `build-<LogicalId>` targets
(`python -m infra.package --sam-artifact NAME DIR`), so both ways produce the same folders.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from infra.native_strip import GNU_MACHINES, StripOutcome, strip_native_libraries
from infra.runtime_python import VERSION, runtime_python

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("session", "history", "chat")
LOGICAL_IDS = {
    "CommonLayer": "layer",
    "SessionFunction": "session",
    "HistoryFunction": "history",
    "ChatFunction": "chat",
}
PYTHON_VERSION = VERSION  # 3.12 unless LAMBDA_PYTHON_VERSION names another (infra/runtime_python.py)
LAMBDA_UNZIPPED_LIMIT_MB = 250
TARGET_MB = 120
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath")
# What no function loads on Lambda, left out of every bundle (about 6 MB of the chat bundle with its bytecode).
NEVER_LOADED = (
    "__pycache__",  # compiled again below, by the runtime's Python
    "tests",  # packages' own test suites
    "test",
    "*.dist-info/RECORD",  # pip's install record: importlib.metadata reads METADATA and entry points only
    "*.pyi",  # type stubs: read by type checkers, never imported
    "sqlalchemy/testing",  # SQLAlchemy's own test harness
    "sqlalchemy/dialects/mysql",  # dialects are imported by the URL's name: only postgresql and sqlite are used
    "sqlalchemy/dialects/mssql",
    "sqlalchemy/dialects/oracle",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/*.js",  # Swagger UI of Powertools' router (FastAPI
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/*.css",  # serves HTTP here), 1.7 MB of static files
    "jsonschema/benchmarks",
)
# Lambda's python3.12 runtime is Amazon Linux 2023 (glibc 2.34): wheels of any of these tags run there.
MANYLINUX_TAGS = ("manylinux_2_34", "manylinux_2_28", "manylinux2014")
PLATFORMS = GNU_MACHINES  # Lambda's architecture name -> the machine in wheel platform tags
LAYER_REQUIREMENTS = ROOT / "layers/common/requirements.txt"


class PackagingError(RuntimeError):
    """The bundles cannot be built as Lambda needs them."""


def host_architecture() -> str:
    return "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"


def pip_install(requirements: Path, target: Path, architecture: str, constraints: Path | None = None) -> None:
    if not any(line.strip() and not line.startswith("#") for line in requirements.read_text().splitlines()):
        return
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",  # bytecode is compiled later, by the runtime's Python
            "--requirement",
            str(requirements),
            *(["--constraint", str(constraints)] if constraints else []),
            "--target",
            str(target),
            *[f"--platform={tag}_{PLATFORMS[architecture]}" for tag in MANYLINUX_TAGS],
            "--python-version",
            PYTHON_VERSION,
            "--implementation",
            "cp",
            "--only-binary=:all:",
            "--upgrade",
        ],
        check=True,
    )


def layer_constraints(directory: Path) -> Path:
    """The layer's pins as a pip constraints file (constraints may not name extras)."""
    lines = [re.sub(r"\[[^\]]*\]", "", line) for line in LAYER_REQUIREMENTS.read_text().splitlines()]
    target = directory / "layer-constraints.txt"
    target.write_text("\n".join(lines) + "\n")
    return target


def build_layer(out: Path, architecture: str) -> Path:
    """`out/layer/python/...`: the layer's pinned requirements and the todo_common package."""
    site = out / "layer" / "python"
    pip_install(LAYER_REQUIREMENTS, site, architecture)
    shutil.copytree(ROOT / "layers/common/todo_common", site / "todo_common", dirs_exist_ok=True)
    return out / "layer"


def build_function(out: Path, name: str, architecture: str, layer_site: Path) -> Path:
    folder = out / "functions" / name
    build_function_into(folder, name, architecture, layer_site)
    return folder


def build_function_into(folder: Path, name: str, architecture: str, layer_site: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        pip_install(ROOT / f"functions/{name}/requirements.txt", folder, architecture, layer_constraints(Path(scratch)))
    _drop_duplicates_of_layer(folder, layer_site)
    package = folder / "functions"
    package.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "functions/__init__.py", package / "__init__.py")
    shutil.copytree(ROOT / "functions" / name, package / name, dirs_exist_ok=True)
    shutil.copy2(ROOT / "functions" / name / "app.py", folder / "app.py")
    if (ROOT / "functions" / name / "run.sh").exists():
        shutil.copy2(ROOT / "functions" / name / "run.sh", folder / "run.sh")
        (folder / "run.sh").chmod(0o755)


def _drop_duplicates_of_layer(folder: Path, layer_site: Path) -> None:
    """Packages the layer already provides (pulled in again as dependencies, at the layer's pins) are removed."""
    for entry in list(folder.iterdir()):
        if (layer_site / entry.name).exists():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def strip(tree: Path) -> None:
    for name in PROVIDED_BY_RUNTIME:
        for match in tree.rglob(name):
            shutil.rmtree(match, ignore_errors=True)
        for match in tree.rglob(f"{name}-*.dist-info"):
            shutil.rmtree(match, ignore_errors=True)
    for pattern in NEVER_LOADED:
        for match in list(tree.rglob(pattern)):
            shutil.rmtree(match, ignore_errors=True) if match.is_dir() else match.unlink(missing_ok=True)


def finish(tree: Path, architecture: str, deployed_at: str) -> StripOutcome:
    strip(tree)
    outcome = strip_native_libraries(tree, architecture, host_architecture())
    compile_bytecode(tree, deployed_at)
    return outcome


def compile_bytecode(tree: Path, deployed_at: str) -> None:
    """Compile every module with the runtime's Python, as unchecked-hash pycs; tracebacks name the deployed path."""
    python = runtime_python()
    if python is None:
        raise PackagingError(
            f"python{PYTHON_VERSION} is needed to compile the bundles' bytecode (set LAMBDA_PYTHON to its path)"
        )
    subprocess.run(
        [
            str(python),
            "-I",
            "-m",
            "compileall",
            "-q",
            "-j0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(tree),
            "-p",
            deployed_at,
            str(tree),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1_000_000


def write_template(out: Path, architecture: str | None = None) -> Path:
    """The source template pointed at the built folders, without build metadata, defaulting to the built arch."""
    target = out / "template.yaml"
    built = architecture or host_architecture()
    target.write_text("".join(_built_template_lines((ROOT / "template.yaml").read_text(), built)))
    return target


def _built_template_lines(text: str, architecture: str) -> Iterator[str]:
    section = resource = ""
    in_build_metadata = False
    for line in text.splitlines(keepends=True):
        if re.match(r"^\S", line):
            section = line.strip().rstrip(":")
        if header := re.match(r"^  (\w+):\s*$", line):
            resource = header.group(1)
        if in_build_metadata:
            if line.startswith("      "):
                continue
            in_build_metadata = False
        built = LOGICAL_IDS.get(resource)
        if section == "Resources" and built and re.match(r"^    Metadata:", line):
            # BuildMethod would make `sam deploy` want `sam build` first; these folders are already built.
            in_build_metadata = True
            continue
        if section == "Resources" and built and re.match(r"^      (CodeUri|ContentUri): ", line):
            key = "ContentUri" if built == "layer" else "CodeUri"
            yield f"      {key}: {'layer/' if built == 'layer' else f'functions/{built}/'}\n"
            continue
        if section == "Parameters" and resource == "Architecture" and re.match(r"^    Default: ", line):
            yield f"    Default: {architecture}\n"
            continue
        yield line


@dataclass(frozen=True)
class Built:
    """What `package` made: each function's unzipped size with the layer (MB), the layer's alone, and how its
    native libraries were stripped."""

    sizes: dict[str, float]
    stripping: list[StripOutcome]


def build(out: Path, architecture: str) -> Built:
    if out.exists():
        shutil.rmtree(out)
    layer = build_layer(out, architecture)
    stripping = [finish(layer / "python", architecture, "/opt/python")]
    sizes = {"layer": size_mb(layer)}
    for name in FUNCTIONS:
        folder = build_function(out, name, architecture, layer / "python")
        stripping.append(finish(folder, architecture, "/var/task"))
        sizes[name] = size_mb(folder) + sizes["layer"]
    write_template(out, architecture)
    return Built(sizes, stripping)


def package(out: Path, architecture: str) -> dict[str, float]:
    return build(out, architecture).sizes


def biggest_parts(folders: list[Path], count: int = 5) -> list[tuple[str, float]]:
    """The largest top-level entries (packages, their .libs, single modules) of a bundle, in MB."""
    parts = [
        (entry.name, size_mb(entry) if entry.is_dir() else entry.stat().st_size / 1_000_000)
        for folder in folders
        for entry in folder.iterdir()
    ]
    return sorted(parts, key=lambda part: part[1], reverse=True)[:count]


def why_over_target(out: Path, name: str, architecture: str, stripping: list[StripOutcome]) -> list[str]:
    lines = [
        "    biggest parts: "
        + ", ".join(
            f"{part} {mb:.1f} MB" for part, mb in biggest_parts([out / "layer" / "python", out / "functions" / name])
        )
    ]
    if any(outcome.tool is None for outcome in stripping):
        gnu = GNU_MACHINES[architecture]
        lines.append(
            f"    native libraries were not stripped: no strip for {architecture} on this machine (~12 MB of the chat"
            f" bundle); install Debian's binutils-{gnu}-linux-gnu or llvm (llvm-strip), then build again"
        )
    return lines


def sam_artifact(logical_id: str, artifacts: Path, architecture: str) -> None:
    """What `sam build` asks of `make build-<LogicalId>`: one built resource in ARTIFACTS_DIR."""
    name = LOGICAL_IDS[logical_id]
    if name == "layer":
        with tempfile.TemporaryDirectory() as scratch:
            layer = build_layer(Path(scratch), architecture)
            finish(layer / "python", architecture, "/opt/python")
            shutil.copytree(layer, artifacts, dirs_exist_ok=True)
        return
    with tempfile.TemporaryDirectory() as scratch:
        # The duplicates to drop are what the layer holds: resolve it beside the function.
        layer = build_layer(Path(scratch), architecture)
        build_function_into(artifacts, name, architecture, layer / "python")
    finish(artifacts, architecture, "/var/task")


def describe_stripping(stripping: list[StripOutcome]) -> str:
    tool = next((outcome.tool for outcome in stripping if outcome.tool), None)
    if tool is None:
        return "not stripped (no strip for this architecture here)"
    saved = sum(outcome.saved_bytes for outcome in stripping) / 1_000_000
    stripped = sum(outcome.stripped for outcome in stripping)
    kept = sum(outcome.left_as_they_were for outcome in stripping)
    return f"{stripped} stripped with {tool} ({saved:.1f} MB less), {kept} left as they were"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default=os.environ.get("ARCH") or host_architecture())
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("--sam-artifact", nargs=2, metavar=("LOGICAL_ID", "ARTIFACTS_DIR"))
    args = parser.parse_args()
    try:
        if args.sam_artifact:
            sam_artifact(args.sam_artifact[0], Path(args.sam_artifact[1]), args.arch)
            return
        built = build(args.out, args.arch)
    except PackagingError as exc:
        sys.exit(f"make package: {exc}")
    sizes = dict(built.sizes)
    print(f"\nbuilt for python{PYTHON_VERSION} {args.arch} in {args.out}")
    print(f"  common layer: {sizes.pop('layer'):6.1f} MB unzipped")
    for name, megabytes in sizes.items():
        verdict = (
            "ok" if megabytes <= TARGET_MB else ("over target" if megabytes <= LAMBDA_UNZIPPED_LIMIT_MB else "TOO BIG")
        )
        print(
            f"  {name:8s} + layer: {megabytes:6.1f} MB of {LAMBDA_UNZIPPED_LIMIT_MB} MB ({verdict}, target {TARGET_MB})"
        )
        if megabytes > TARGET_MB:
            print("\n".join(why_over_target(args.out, name, args.arch, built.stripping)))
    print(f"  native libraries: {describe_stripping(built.stripping)}")
    print(f"\ndeploy with: sam deploy --template-file {args.out / 'template.yaml'} --guided")


if __name__ == "__main__":
    main()
