"""The `sam local invoke` lines of docs/deploy.md, checked without Docker: the `sed` line turns the built template
into one whose chat function runs its buffered Mangum handler, and each documented invocation runs through the
handler that template names (imported and called as the Lambda Python runtime does) with its file from `events/`."""

from __future__ import annotations

import base64
import importlib
import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from infra.devtoken import DEMO_USER
from infra.package import write_template
from tests.support.handlers import handlers as handlers  # the fixture: every handler bound to the test database
from tests.support.handlers import seed
from tests.support.lambda_context import LambdaContext
from tests.support.tokens import Tokens
from todo_common.db import Database

ROOT = Path(__file__).parents[2]
DEPLOY = (ROOT / "docs" / "deploy.md").read_text()
FUNCTIONS = {"SessionFunction": "session", "HistoryFunction": "history", "ChatFunction": "chat"}


@dataclass(frozen=True)
class Invocation:
    function: str
    template: str
    event: str


def documented_invocations() -> list[Invocation]:
    return [
        Invocation(*match)
        for match in re.findall(r"^sam local invoke (\w+) -t (\S+) -e (\S+)", DEPLOY, flags=re.MULTILINE)
    ]


def sed_line() -> str:
    [line] = [line for line in DEPLOY.splitlines() if line.startswith("sed ")]
    return line


@pytest.fixture(scope="module")
def local_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the documented `sed` line makes of the template `make package` writes."""
    build = tmp_path_factory.mktemp("build")
    write_template(build)
    command = shlex.split(sed_line())
    assert command[-2:] == [">", "build/template.local.yaml"]
    command = [str(build / "template.yaml") if word == "build/template.yaml" else word for word in command[:-2]]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    document: dict[str, Any] = yaml_parse(output)
    return document


def test_the_docs_invoke_each_function_once_with_a_sample_event() -> None:
    invocations = documented_invocations()
    assert sorted(i.function for i in invocations) == sorted(FUNCTIONS)
    for invocation in invocations:
        assert invocation.template == "build/template.local.yaml"
        assert invocation.event.startswith(".data/events/")  # `make events` writes them there, with fresh tokens
        event = json.loads((ROOT / tracked(invocation.event)).read_text())
        assert event["version"] == "2.0"
        assert event["rawPath"].startswith(f"/api/{DEMO_USER}/")


def test_the_local_template_runs_chat_through_its_mangum_handler(local_template: dict[str, Any]) -> None:
    resources = local_template["Resources"]
    chat = resources["ChatFunction"]["Properties"]
    assert chat["Handler"] == "functions.chat.app.handler"
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in chat["Environment"]["Variables"]
    for name in ("SessionFunction", "HistoryFunction"):
        assert resources[name]["Properties"]["Handler"] == "app.handler"


def tracked(event_path: str) -> str:
    """The tracked sample event that `make events` copies, with a fresh token, to `.data/events/`."""
    return "events/" + event_path.removeprefix(".data/events/")


def resolve(handler: str, function: str) -> ModuleType:
    """The module the runtime imports for `handler` from the built folder, whose root `app.py` is a copy of
    `functions/<name>/app.py` (infra/package.py)."""
    module, _, attribute = handler.rpartition(".")
    assert attribute == "handler"
    name = f"functions.{FUNCTIONS[function]}.app" if module == "app" else module
    return importlib.import_module(name)


@pytest.mark.parametrize("invocation", documented_invocations(), ids=lambda i: i.function)
def test_each_documented_invocation_runs_through_the_handler_it_names(
    invocation: Invocation,
    local_template: dict[str, Any],
    handlers: dict[str, ModuleType],
    database: Database,
    tokens: Tokens,
) -> None:
    seed(database)
    handler = local_template["Resources"][invocation.function]["Properties"]["Handler"]
    module = resolve(handler, invocation.function)
    assert module is handlers[FUNCTIONS[invocation.function]]
    event: dict[str, Any] = json.loads((ROOT / tracked(invocation.event)).read_text())
    user_token = tokens.hs256(DEMO_USER) if invocation.function == "SessionFunction" else tokens.chat(DEMO_USER)
    event["headers"]["authorization"] = f"Bearer {user_token}"
    context = LambdaContext(aws_request_id=f"local-{invocation.function}")

    result = module.handler(event, context)

    assert 200 <= result["statusCode"] < 300, result.get("body")
    assert result["headers"]["x-request-id"] == context.aws_request_id
    body = base64.b64decode(result["body"]).decode() if result.get("isBase64Encoded") else result["body"]
    assert isinstance(json.loads(body), dict)
