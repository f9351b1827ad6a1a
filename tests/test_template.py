"""template.yaml: linted by cfn-lint and transformed by the SAM translator offline, then checked part by part."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

TEMPLATE = Path(__file__).parents[1] / "template.yaml"
PARAMETERS = {
    "AllowedOrigins": "https://todo.example.com",
    "BetterAuthUrl": "https://todo.example.com",
    "DatabaseUrlSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:todo/db-AbCdEf",
    "ChatTokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:todo/chat-AbCdEf",
}


class _NoManagedPolicies:
    def get(self, _name: str) -> None:
        return None


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # offline: the translator only needs a region name
        document = yaml_parse(TEMPLATE.read_text())
        for resource in document["Resources"].values():  # what `sam deploy` does after uploading the code
            for key in ("CodeUri", "ContentUri"):
                if key in resource.get("Properties", {}):
                    resource["Properties"][key] = "s3://todo-chat-artifacts/code.zip"
        transformed = transform(document, PARAMETERS, _NoManagedPolicies())
    result: dict[str, Any] = transformed["Resources"]
    return result


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def test_cfn_lint_is_clean() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(TEMPLATE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_session_and_history_routes_on_the_http_api(resources: dict[str, Any]) -> None:
    api = next(iter(of_type(resources, "AWS::ApiGatewayV2::Api").values()), None)
    routes = (
        {(r["Properties"]["RouteKey"]) for r in of_type(resources, "AWS::ApiGatewayV2::Route").values()}
        if api is None
        else set()
    )
    if api is not None:
        body = api["Properties"]["Body"]
        routes = {f"{method.upper()} {path}" for path, ops in body["paths"].items() for method in ops}
        assert "https://todo.example.com" in json.dumps(body["x-amazon-apigateway-cors"]["allowOrigins"])
    assert {
        "POST /api/{user_id}/chatkit/session",
        "GET /api/{user_id}/conversations",
        "GET /api/{user_id}/conversations/{conversation_id}",
        "PATCH /api/{user_id}/conversations/{conversation_id}",
        "DELETE /api/{user_id}/conversations/{conversation_id}",
        "GET /api/{user_id}/conversations/{conversation_id}/messages",
        "GET /api/{user_id}/conversations/{conversation_id}/export",
    } <= routes


def test_chat_streams_through_a_function_url_with_the_web_adapter(resources: dict[str, Any]) -> None:
    url = next(iter(of_type(resources, "AWS::Lambda::Url").values()))["Properties"]
    assert url["InvokeMode"] == "RESPONSE_STREAM"
    assert url["Cors"]["AllowOrigins"] == {"Ref": "AllowedOrigins"}
    chat = resources["ChatFunction"]["Properties"]
    assert chat["Handler"] == "run.sh"
    variables = chat["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert variables["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert variables["AWS_LWA_READINESS_CHECK_PATH"] == "/healthz"
    adapter = json.dumps(chat["Layers"][1])
    assert "LambdaAdapterLayer" in adapter


def test_each_function_has_the_common_layer_once_and_its_own_size(resources: dict[str, Any]) -> None:
    sizes = set()
    for name in ("SessionFunction", "HistoryFunction", "ChatFunction"):
        properties = resources[name]["Properties"]
        layers = [json.dumps(layer) for layer in properties["Layers"]]
        assert sum("CommonLayer" in layer for layer in layers) == 1, name
        assert properties["Runtime"] == "python3.12"
        assert properties["Architectures"] == [{"Ref": "Architecture"}]
        sizes.add((properties["MemorySize"], properties["Timeout"]))
    assert len(sizes) >= 2


def test_secrets_policy_is_least_privilege(resources: dict[str, Any]) -> None:
    for role in of_type(resources, "AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                if "secretsmanager:GetSecretValue" not in json.dumps(statement["Action"]):
                    continue
                text = json.dumps(statement["Resource"])
                assert "*" not in text.replace('"Fn::', "")
                assert "DatabaseUrlSecretArn" in text or PARAMETERS["DatabaseUrlSecretArn"] in text


def test_log_retention_snapstart_and_outputs() -> None:
    document = yaml_parse(TEMPLATE.read_text())
    groups = of_type(document["Resources"], "AWS::Logs::LogGroup")
    assert len(groups) == 3
    assert all("RetentionInDays" in g["Properties"] for g in groups.values())
    for name in ("SessionFunction", "HistoryFunction"):
        assert document["Resources"][name]["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert set(document["Outputs"]) == {"HttpApiUrl", "ChatFunctionUrl"}
    assert document["Parameters"]["Architecture"]["Default"] == "arm64"
