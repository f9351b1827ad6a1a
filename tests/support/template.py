"""template.yaml transformed by the SAM translator offline, as `sam deploy` would after uploading the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

TEMPLATE = Path(__file__).parents[2] / "template.yaml"
PARAMETERS = {
    "AllowedOrigins": "https://todo.example.com",
    "BetterAuthUrl": "https://todo.example.com",
    "DatabaseUrlSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:todo/db-AbCdEf",
    "ChatTokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:todo/chat-AbCdEf",
}


class NoManagedPolicies:
    def get(self, _name: str) -> None:
        return None


def transformed_template(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # offline: the translator only needs a region name
        document = yaml_parse(TEMPLATE.read_text())
        for resource in document["Resources"].values():  # what `sam deploy` does after uploading the code
            for key in ("CodeUri", "ContentUri"):
                if key in resource.get("Properties", {}):
                    resource["Properties"][key] = "s3://todo-chat-artifacts/code.zip"
        result: dict[str, Any] = transform(document, {**PARAMETERS, **(parameters or {})}, NoManagedPolicies())
    return result


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}
