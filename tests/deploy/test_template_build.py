"""template.yaml's build side: every function and the layer built by `make build-<LogicalId>` (the code of `make
package`), and the chat function's SnapStart through the Web Adapter's hooks, on a published `live` alias that its
Function URL serves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from tests.support.template import PARAMETERS, NoManagedPolicies, of_type

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
BUILT = ("CommonLayer", "SessionFunction", "HistoryFunction", "ChatFunction")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(TEMPLATE.read_text())
    return parsed


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    document = yaml_parse(TEMPLATE.read_text())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for resource in document["Resources"].values():
            for key in ("CodeUri", "ContentUri"):
                if key in resource.get("Properties", {}):
                    resource["Properties"][key] = "s3://todo-chat-artifacts/code.zip"
        result: dict[str, Any] = transform(document, PARAMETERS, NoManagedPolicies())["Resources"]
    return result


def test_every_artifact_builds_through_the_makefile(document: dict[str, Any]) -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = re.search(r"^(build-\S+(?: build-\S+)*):", makefile, re.MULTILINE)
    assert targets
    for name in BUILT:
        assert document["Resources"][name]["Metadata"]["BuildMethod"] == "makefile", name
        assert f"build-{name}" in targets.group(1).split()


def test_chat_runs_snapstart_through_the_web_adapter_hooks(
    document: dict[str, Any], transformed: dict[str, Any]
) -> None:
    chat = document["Resources"]["ChatFunction"]["Properties"]
    assert chat["AutoPublishAlias"] == "live"
    condition, without, with_snapstart = chat["SnapStart"]["Fn::If"]
    assert condition == "HasChatProvisionedConcurrency" and without == {"Ref": "AWS::NoValue"}
    assert with_snapstart == {"ApplyOn": "PublishedVersions"}
    function = transformed["ChatFunction"]["Properties"]
    assert function["SnapStart"]["Fn::If"][2] == {"ApplyOn": "PublishedVersions"}
    variables = chat["Environment"]["Variables"]
    assert variables["AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"] == "/lwa/snapstart/before"
    assert variables["AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"] == "/lwa/snapstart/after"
    adapter = json.dumps(chat["Layers"])
    assert "LambdaAdapterLayerArm64:30" in adapter and "LambdaAdapterLayerX86:30" in adapter  # 1.1.0
    url = next(iter(of_type(transformed, "AWS::Lambda::Url").values()))["Properties"]
    assert url["TargetFunctionArn"] == {"Ref": "ChatFunctionAliaslive"}  # the snapshotted version, not $LATEST
