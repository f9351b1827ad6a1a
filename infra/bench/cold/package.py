"""Package sizes: the layer and each function built for Lambda (arm64), unzipped, against the 250 MB limit."""

from __future__ import annotations

import tempfile
from pathlib import Path

from infra.package import LAMBDA_UNZIPPED_LIMIT_MB, TARGET_MB, package


def run() -> str:
    sizes = package(Path(tempfile.mkdtemp(prefix="todo-chat-package-")) / "build", "arm64")
    layer = sizes.pop("layer")
    rows = [f"| {name} + layer | {size:.1f} MB |" for name, size in sizes.items()]
    return "\n".join(
        [
            "## Package sizes",
            "",
            f"`make package` (python3.12, arm64), unzipped; Lambda's limit is {LAMBDA_UNZIPPED_LIMIT_MB} MB with "
            f"layers, the project's target {TARGET_MB} MB. boto3 and botocore come with the runtime and are not "
            "shipped. The bundles include python3.12 bytecode for every module (about a third of their size: what "
            "spares a cold start compiling them on Lambda's read-only file system).",
            "",
            "| artifact | unzipped |",
            "|---|---|",
            f"| common layer | {layer:.1f} MB |",
            *rows,
        ]
    )
