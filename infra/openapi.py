"""Write each function's OpenAPI document to `docs/openapi/<name>.json`: `make openapi`
(or `.venv/bin/python -m infra.openapi`)."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

from infra.devtoken import load_dev_environment

FUNCTIONS = ("session", "history", "chat")
OUT = Path(__file__).resolve().parents[1] / "docs" / "openapi"


def document(name: str) -> dict[str, Any]:
    module = importlib.import_module(f"functions.{name}.app")
    spec: dict[str, Any] = module.app.openapi()
    return spec


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(
        prog="python -m infra.openapi",
        description=f"Regenerate the OpenAPI documents of {', '.join(FUNCTIONS)} under docs/openapi/.",
    ).parse_args(argv)
    load_dev_environment()
    OUT.mkdir(parents=True, exist_ok=True)
    for name in FUNCTIONS:
        target = OUT / f"{name}.json"
        target.write_text(render(document(name)))
        print(target)


if __name__ == "__main__":
    main()
