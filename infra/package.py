"""Build the layer and the functions for Lambda without Docker: `python -m infra.package [--arch arm64|x86_64]`.

pip's cross-platform options fetch Linux wheels for python3.12 and the chosen architecture. The output in `build/`
is what `sam deploy --template-file build/template.yaml` uploads: `build/layer/python/...` and, per function, a
folder whose root holds `app.py` (the handler is `app.handler`) beside the `functions/<name>/` package its imports
name. boto3 and botocore come with the Lambda runtime and are not shipped.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("session", "history", "chat")
PYTHON_VERSION = "3.12"
LAMBDA_UNZIPPED_LIMIT_MB = 250
TARGET_MB = 120
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer", "jmespath")
_JUNK = ("__pycache__", "tests", "test", "*.dist-info/RECORD")
# Lambda's python3.12 runtime is Amazon Linux 2023 (glibc 2.34): wheels of any of these tags run there.
MANYLINUX_TAGS = ("manylinux_2_34", "manylinux_2_28", "manylinux2014")
PLATFORMS = {"arm64": "aarch64", "x86_64": "x86_64"}


def pip_install(requirements: Path, target: Path, architecture: str) -> None:
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
            "--requirement",
            str(requirements),
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


def build_layer(out: Path, architecture: str) -> Path:
    site = out / "layer" / "python"
    pip_install(ROOT / "layers/common/requirements.txt", site, architecture)
    shutil.copytree(ROOT / "layers/common/todo_common", site / "todo_common", dirs_exist_ok=True)
    return out / "layer"


def build_function(out: Path, name: str, architecture: str, layer_site: Path) -> Path:
    folder = out / "functions" / name
    folder.mkdir(parents=True, exist_ok=True)
    pip_install(ROOT / f"functions/{name}/requirements.txt", folder, architecture)
    _drop_duplicates_of_layer(folder, layer_site)
    package = folder / "functions"
    package.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "functions/__init__.py", package / "__init__.py")
    shutil.copytree(ROOT / "functions" / name, package / name, dirs_exist_ok=True)
    shutil.copy2(ROOT / "functions" / name / "app.py", folder / "app.py")
    if (ROOT / "functions" / name / "run.sh").exists():
        shutil.copy2(ROOT / "functions" / name / "run.sh", folder / "run.sh")
        (folder / "run.sh").chmod(0o755)
    return folder


def _drop_duplicates_of_layer(folder: Path, layer_site: Path) -> None:
    """Packages the layer already provides (pulled in again as dependencies) are removed from the function."""
    for entry in list(folder.iterdir()):
        if (layer_site / entry.name).exists():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def strip(tree: Path) -> None:
    for name in PROVIDED_BY_RUNTIME:
        for match in tree.rglob(name):
            shutil.rmtree(match, ignore_errors=True)
        for match in tree.rglob(f"{name}-*.dist-info"):
            shutil.rmtree(match, ignore_errors=True)
    for pattern in _JUNK:
        for match in list(tree.rglob(pattern)):
            shutil.rmtree(match, ignore_errors=True) if match.is_dir() else match.unlink(missing_ok=True)


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1_000_000


def write_template(out: Path) -> Path:
    text = (ROOT / "template.yaml").read_text()
    text = text.replace("ContentUri: layers/common/", "ContentUri: layer/")
    text = re.sub(r"CodeUri: functions/(\w+)/", r"CodeUri: functions/\1/", text)
    # BuildMethod would make `sam build` rebuild the layer with Docker; the folder is already built.
    text = re.sub(
        r"\n    Metadata:\n      BuildMethod: python3\.12\n      BuildArchitecture: !Ref Architecture", "", text
    )
    target = out / "template.yaml"
    target.write_text(text)
    return target


def package(out: Path, architecture: str) -> dict[str, float]:
    if out.exists():
        shutil.rmtree(out)
    layer = build_layer(out, architecture)
    strip(layer)
    sizes = {"layer": size_mb(layer)}
    for name in FUNCTIONS:
        folder = build_function(out, name, architecture, layer / "python")
        strip(folder)
        sizes[name] = size_mb(folder) + sizes["layer"]
    write_template(out)
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64")
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    args = parser.parse_args()
    sizes = package(args.out, args.arch)
    print(f"\nbuilt for python{PYTHON_VERSION} {args.arch} in {args.out}")
    print(f"  common layer: {sizes.pop('layer'):6.1f} MB unzipped")
    for name, megabytes in sizes.items():
        verdict = (
            "ok" if megabytes <= TARGET_MB else ("over target" if megabytes <= LAMBDA_UNZIPPED_LIMIT_MB else "TOO BIG")
        )
        print(
            f"  {name:8s} + layer: {megabytes:6.1f} MB of {LAMBDA_UNZIPPED_LIMIT_MB} MB ({verdict}, target {TARGET_MB})"
        )
    print(f"\ndeploy with: sam deploy --template-file {args.out / 'template.yaml'} --guided")


if __name__ == "__main__":
    main()
