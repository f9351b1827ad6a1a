"""Write each function's OpenAPI document to `docs/openapi/<name>.json`: `python -m infra.openapi`."""

from __future__ import annotations

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


def main() -> None:
    load_dev_environment()
    OUT.mkdir(parents=True, exist_ok=True)
    for name in FUNCTIONS:
        target = OUT / f"{name}.json"
        target.write_text(render(document(name)))
        print(target)


if __name__ == "__main__":
    main()
