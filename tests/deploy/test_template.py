"""template.yaml: linted by cfn-lint and transformed by the SAM translator offline, then checked part by part."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.support.template import TEMPLATE, of_type, transformed_template
from todo_common.files.s3 import PENDING, TAG_KEY, S3FileStore, s3_client

FUNCTIONS = ("SessionFunction", "HistoryFunction", "ChatFunction")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return transformed_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = template["Resources"]
    return result


def test_cfn_lint_is_clean() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(TEMPLATE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_session_and_history_routes_on_the_http_api(resources: dict[str, Any]) -> None:
    [api] = of_type(resources, "AWS::ApiGatewayV2::Api").values()
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
    statements = [
        statement
        for role in of_type(resources, "AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if "secretsmanager:GetSecretValue" in json.dumps(statement["Action"])
    ]
    assert len(statements) == len(FUNCTIONS)
    for statement in statements:
        text = json.dumps(statement["Resource"])
        assert "*" not in text.replace('"Fn::', "")
        assert "DatabaseUrlSecretArn" in text


def test_log_retention_snapstart_and_outputs() -> None:
    document = yaml_parse(TEMPLATE.read_text())
    groups = of_type(document["Resources"], "AWS::Logs::LogGroup")
    assert set(groups) == {"SessionLogGroup", "HistoryLogGroup", "ChatLogGroup", "HttpApiAccessLogGroup"}
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())
    for name in ("SessionFunction", "HistoryFunction"):
        assert document["Resources"][name]["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert set(document["Outputs"]) == {
        "HttpApiUrl",
        "ChatFunctionUrl",
        "AttachmentsBucketName",
        "AlarmTopicArn",
        "DashboardUrl",
    }
    assert document["Parameters"]["Architecture"]["Default"] == "arm64"


def alarms_on(resources: dict[str, Any], namespace: str, metric: str) -> dict[str, dict[str, Any]]:
    """Alarms on one metric, keyed by their dimensions as `name=value` text."""
    found: dict[str, dict[str, Any]] = {}
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        if (properties["Namespace"], properties["MetricName"]) == (namespace, metric):
            key = ",".join(f"{d['Name']}={json.dumps(d['Value'])}" for d in properties["Dimensions"])
            found[key] = properties
    return found


def function_key(name: str) -> str:
    return f"FunctionName={json.dumps({'Ref': name})}"


def test_every_function_is_traced_with_xray(resources: dict[str, Any]) -> None:
    functions = of_type(resources, "AWS::Lambda::Function")
    assert set(functions) == set(FUNCTIONS)
    for name, function in functions.items():
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}, name
        role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
        assert "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess" in role["Properties"]["ManagedPolicyArns"], name


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_each_function_alarms_on_errors_and_throttles(resources: dict[str, Any], metric: str) -> None:
    alarms = alarms_on(resources, "AWS/Lambda", metric)
    assert set(alarms) == {function_key(name) for name in FUNCTIONS}
    for alarm in alarms.values():
        assert (alarm["Statistic"], alarm["Threshold"], alarm["Period"]) == ("Sum", 1, 60)
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_each_function_alarms_at_80_percent_of_its_timeout(resources: dict[str, Any]) -> None:
    alarms = alarms_on(resources, "AWS/Lambda", "Duration")
    assert set(alarms) == {function_key(name) for name in FUNCTIONS}
    for name in FUNCTIONS:
        alarm = alarms[function_key(name)]
        timeout_ms = resources[name]["Properties"]["Timeout"] * 1000
        assert alarm["ExtendedStatistic"] == "p99"
        assert alarm["Threshold"] == 0.8 * timeout_ms, name
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_http_api_5xx_alarm(resources: dict[str, Any]) -> None:
    alarms = alarms_on(resources, "AWS/ApiGateway", "5xx")
    assert list(alarms) == [f"ApiId={json.dumps({'Ref': 'HttpApi'})}"]
    assert alarms[f"ApiId={json.dumps({'Ref': 'HttpApi'})}"]["Statistic"] == "Sum"


@pytest.mark.parametrize("metric", ["TurnsError", "TurnsTimeout", "TurnsInterrupted"])
def test_failed_and_interrupted_turns_alarm_on_the_chat_metrics(resources: dict[str, Any], metric: str) -> None:
    alarms = alarms_on(resources, "TodoChat", metric)
    assert list(alarms) == ['service="chat"']
    alarm = alarms['service="chat"']
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 1)
    assert alarm["TreatMissingData"] == "notBreaching"  # no turn at all is not an incident


def test_model_spend_alarms_on_the_tokens_of_an_hour(resources: dict[str, Any], template: dict[str, Any]) -> None:
    alarms = alarms_on(resources, "TodoChat", "ModelTokens")
    assert list(alarms) == ['service="chat"']
    alarm = alarms['service="chat"']
    assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 3600)
    assert alarm["Threshold"] == {"Ref": "ModelTokensAlarmPerHour"}
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert int(template["Parameters"]["ModelTokensAlarmPerHour"]["Default"]) == 2_000_000


def test_every_alarm_notifies_the_topic_with_an_optional_email(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 3 * len(FUNCTIONS) + 1 + 3 + 1
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["Properties"]["OKActions"] == [{"Ref": "AlarmTopic"}], name
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    [subscription] = of_type(resources, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""


def test_one_dashboard_of_the_functions_and_the_chat_metrics(resources: dict[str, Any]) -> None:
    [dashboard] = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
    shown = {
        (metric[0], metric[1], metric[3], metric[4]["stat"])
        for widget in body["widgets"]
        for metric in widget["properties"]["metrics"]
    }
    for name in FUNCTIONS:
        function = f"${{{name}}}"
        for metric, stat in [
            ("Invocations", "Sum"),
            ("Errors", "Sum"),
            ("Duration", "p50"),
            ("Duration", "p99"),
            ("Throttles", "Sum"),
            ("ConcurrentExecutions", "Maximum"),
        ]:
            assert ("AWS/Lambda", metric, function, stat) in shown, (name, metric, stat)
    chat = {
        (metric, stat) for namespace, metric, service, stat in shown if (namespace, service) == ("TodoChat", "chat")
    }
    assert {
        ("TurnsComplete", "Sum"),
        ("TurnsError", "Sum"),
        ("TurnsTimeout", "Sum"),
        ("TurnsInterrupted", "Sum"),
        ("FirstByteMs", "p99"),
        ("TurnDurationMs", "p99"),
        ("ToolCalls", "Sum"),
        ("ModelErrors", "Sum"),
        ("Refusals", "Sum"),
    } <= chat
    assert ("TodoChat", "HistoryLatencyMs", "history", "p99") in shown


def test_http_api_access_logs_are_json_with_retention(resources: dict[str, Any]) -> None:
    [stage] = of_type(resources, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]}
    assert resources["HttpApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    variables = re.findall(r"\$context\.[A-Za-z.]+", settings["Format"])
    line = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "sample", settings["Format"]))
    assert {
        "requestId": "$context.requestId",
        "lambdaRequestId": "$context.integration.requestId",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLatency": "$context.responseLatency",
        "integrationLatency": "$context.integrationLatency",
    }.items() <= dict(zip(line, variables, strict=True)).items()


def test_http_api_default_route_throttling(template: dict[str, Any]) -> None:
    [stage] = of_type(template["Resources"], "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "HttpApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "HttpApiThrottlingBurstLimit"},
    }
    rate = int(template["Parameters"]["HttpApiThrottlingRateLimit"]["Default"])
    burst = int(template["Parameters"]["HttpApiThrottlingBurstLimit"]["Default"])
    assert 1 <= rate <= burst <= 1000  # far below the account's 10 000 requests/s shared by every API


def test_chat_concurrency_is_reserved_and_bounded(template: dict[str, Any]) -> None:
    chat = template["Resources"]["ChatFunction"]["Properties"]
    assert chat["ReservedConcurrentExecutions"] == {"Ref": "ChatReservedConcurrency"}
    parameter = template["Parameters"]["ChatReservedConcurrency"]
    assert 1 <= int(parameter["Default"]) <= 50
    assert int(parameter["MinValue"]) == 1  # 0 would throttle every request, not remove the bound


def test_chat_function_url_targets_the_live_alias(resources: dict[str, Any]) -> None:
    [url] = of_type(resources, "AWS::Lambda::Url").values()
    alias = resources[url["Properties"]["TargetFunctionArn"]["Ref"]]
    assert alias["Type"] == "AWS::Lambda::Alias"
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionName"] == {"Ref": "ChatFunction"}
    assert "Qualifier" not in url["Properties"]  # the alias ARN is the qualifier
    assert url["Properties"]["AuthType"] == "NONE"
    public = [
        permission["Properties"]
        for permission in of_type(resources, "AWS::Lambda::Permission").values()
        if permission["Properties"]["Principal"] == "*"
    ]
    assert {p["Action"] for p in public} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert all(p["FunctionName"] == url["Properties"]["TargetFunctionArn"] for p in public)


def test_chat_provisioned_concurrency_is_off_by_default(template: dict[str, Any]) -> None:
    alias = template["Resources"]["ChatFunctionAliaslive"]["Properties"]
    assert alias["ProvisionedConcurrencyConfig"] == {
        "Fn::If": [
            "HasChatProvisionedConcurrency",
            {"ProvisionedConcurrentExecutions": {"Ref": "ChatProvisionedConcurrency"}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert template["Conditions"]["HasChatProvisionedConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ChatProvisionedConcurrency"}, "0"]}]
    }
    assert str(template["Parameters"]["ChatProvisionedConcurrency"]["Default"]) == "0"


ROLLBACK_ALARMS = {
    "SessionFunction": ["SessionErrorsAlarm", "SessionDurationAlarm"],
    "HistoryFunction": ["HistoryErrorsAlarm", "HistoryDurationAlarm"],
    "ChatFunction": [
        "ChatErrorsAlarm",
        "ChatDurationAlarm",
        "TurnsErrorAlarm",
        "TurnsTimeoutAlarm",
        "TurnsInterruptedAlarm",
    ],
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_canary_deployments_roll_back_on_the_alarms(resources: dict[str, Any], name: str) -> None:
    alias = resources[f"{name}Aliaslive"]
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group = resources[update["DeploymentGroupName"]["Ref"]]["Properties"]
    assert group["DeploymentConfigName"]["Fn::Sub"][1] == {"ConfigName": "Canary10Percent5Minutes"}
    assert group["AlarmConfiguration"] == {
        "Enabled": True,
        "Alarms": [{"Name": {"Ref": alarm}} for alarm in ROLLBACK_ALARMS[name]],
    }
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]


def test_deployment_type_is_a_parameter() -> None:
    resources = transformed_template({"DeploymentType": "Linear10PercentEvery1Minute"})["Resources"]
    configs = {
        json.dumps(group["Properties"]["DeploymentConfigName"])
        for group in of_type(resources, "AWS::CodeDeploy::DeploymentGroup").values()
    }
    assert configs == {
        json.dumps(
            {"Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": "Linear10PercentEvery1Minute"}]}
        )
    }


def test_the_translator_is_the_pinned_one() -> None:
    pins = dict(
        line.split("==") for line in (TEMPLATE.parent / "requirements-dev.txt").read_text().splitlines() if "==" in line
    )
    assert importlib.metadata.version("aws-sam-translator") == pins["aws-sam-translator"]
    assert importlib.metadata.version("cfn-lint") == pins["cfn-lint"]


DEPLOY_DOC = TEMPLATE.parent / "docs" / "deploy.md"


def test_deploy_docs_name_every_custom_metric_the_template_reads(resources: dict[str, Any]) -> None:
    alarmed = {
        (alarm["Properties"]["MetricName"], alarm["Properties"]["Dimensions"][0]["Value"])
        for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["Namespace"] == "TodoChat"
    }
    [dashboard] = of_type(resources, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
    graphed = {
        (metric[1], metric[3])
        for widget in body["widgets"]
        for metric in widget["properties"]["metrics"]
        if metric[0] == "TodoChat"
    }
    contract = DEPLOY_DOC.read_text().split("### Metrics the code emits", 1)[1].split("\n### ", 1)[0]
    assert "**`TodoChat`**" in contract
    documented = set(re.findall(r"^\| `(\w+)` \| \w+ \| (\w+) \|", contract, flags=re.MULTILINE))
    assert alarmed <= graphed
    assert graphed == documented


def test_deploy_docs_list_every_template_parameter() -> None:
    parameters = set(yaml_parse(TEMPLATE.read_text())["Parameters"])
    text = DEPLOY_DOC.read_text()
    table = text.split("Parameters asked by `--guided`:", 1)[1].split("\n\n", 2)[1]
    assert parameters == set(re.findall(r"`(\w+)`", " ".join(line.split(" | ")[0] for line in table.splitlines())))


# -- the attachments bucket ------------------------------------------------------------------------------------------


def test_the_attachments_bucket_is_private_encrypted_unversioned_and_kept(resources: dict[str, Any]) -> None:
    [name] = of_type(resources, "AWS::S3::Bucket")
    bucket = resources[name]
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    [encryption] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert "VersioningConfiguration" not in properties  # a deleted file is gone, not kept as an old version
    assert "BucketName" not in properties  # CloudFormation names it: bucket names are global
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")  # users' files


def test_the_attachments_bucket_expires_pending_uploads_only(resources: dict[str, Any]) -> None:
    rules = resources["AttachmentsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    [expiry] = [rule for rule in rules if "ExpirationInDays" in rule]
    assert expiry["ExpirationInDays"] == 1
    assert expiry["TagFilters"] == [{"Key": TAG_KEY, "Value": PENDING}]  # the tag the store's upload sets
    assert "Prefix" not in expiry
    [aborts] = [rule for rule in rules if "AbortIncompleteMultipartUpload" in rule]
    assert aborts["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_the_attachments_bucket_takes_the_apps_uploads_cross_origin(
    resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    [rule] = resources["AttachmentsBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedOrigins"] == {"Ref": "AllowedOrigins"}
    assert sorted(rule["AllowedMethods"]) == ["GET", "PUT"]
    # Exactly the headers the upload target tells the browser to send pass the preflight (presigning is offline).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    target = S3FileStore("bucket", s3_client("us-east-1")).upload_target("u/att_1/a.png", "image/png", 10)
    assert {header.lower() for header in rule["AllowedHeaders"]} == {header.lower() for header in target.headers}


def test_the_attachments_bucket_refuses_plain_http(resources: dict[str, Any]) -> None:
    [policy] = of_type(resources, "AWS::S3::BucketPolicy").values()
    assert policy["Properties"]["Bucket"] == {"Ref": "AttachmentsBucket"}
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "s3:*")
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == [
        {"Fn::GetAtt": ["AttachmentsBucket", "Arn"]},
        {"Fn::Sub": "${AttachmentsBucket.Arn}/*"},
    ]


def bucket_actions(resources: dict[str, Any], function: str) -> set[str]:
    """The S3 actions a function's role allows, after checking each is on the attachments bucket's objects only."""
    role = resources[resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]]
    actions: set[str] = set()
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            named = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            s3 = [action for action in named if action.startswith("s3:")]
            if s3:
                assert statement["Resource"] == {"Fn::Sub": "${AttachmentsBucket.Arn}/*"}, function
                actions.update(s3)
    return actions


def test_only_chat_and_history_reach_the_bucket_with_least_privilege(resources: dict[str, Any]) -> None:
    assert bucket_actions(resources, "ChatFunction") == {
        "s3:PutObject",
        "s3:PutObjectTagging",
        "s3:GetObject",
        "s3:DeleteObject",
    }
    assert bucket_actions(resources, "HistoryFunction") == {"s3:DeleteObject"}
    assert bucket_actions(resources, "SessionFunction") == set()
    # The session knows only the bucket's name: on Lambda, attachments are offered where a bucket keeps them.
    for name in ("ChatFunction", "HistoryFunction", "SessionFunction"):
        variables = resources[name]["Properties"]["Environment"]["Variables"]
        assert variables["CHAT_ATTACHMENTS_BUCKET"] == {"Ref": "AttachmentsBucket"}, name


def test_the_session_offers_the_models_the_chat_function_allows(resources: dict[str, Any]) -> None:
    """The session function lists the composer's models from the chat function's own model variables."""

    def variables(name: str) -> dict[str, Any]:
        environment: dict[str, Any] = resources[name]["Properties"]["Environment"]["Variables"]
        return environment

    chat, session = variables("ChatFunction"), variables("SessionFunction")
    models = {name: value for name, value in chat.items() if name in ("CHAT_MODEL", "CHAT_MODELS")}
    assert models and {name: session.get(name) for name in models} == models
