"""The chat function: wiring only.

On Lambda it runs under uvicorn behind the Lambda Web Adapter (`run.sh`) so answers stream through the Function
URL; `handler` serves the same app buffered through Mangum (`sam local invoke`, an HTTP API route), built on its
first use: the deployed function never imports Mangum."""

import gc

gc.disable()  # until the app is built: see todo_common.cold_start

from typing import Any

from functions.chat.agent.providers import select_model
from functions.chat.http import uploads
from functions.chat.http.openapi_doc import with_chatkit_request_schema
from functions.chat.http.routes import body_limits, router
from functions.chat.runtime import ChatRuntime
from functions.chat.settings import ChatSettings
from functions.chat.snapstart import mount_snapstart_hooks
from functions.chat.tasks.mcp_http import mount_mcp
from functions.chat.tasks.mcp_server import build_task_server
from todo_common.cold_start import imports_done
from todo_common.metrics import MetricsMiddleware
from todo_common.web import Services, build_app

services = Services.from_environment("chat")
chat_settings = ChatSettings.from_environ()
task_server = build_task_server()  # one MCP server: the agent's tools in process and /mcp over HTTP
app = build_app("todo-chat chat", services, [router, uploads.router], body_limits=body_limits(chat_settings))
app.state.chat = ChatRuntime.build(services, chat_settings, select_model(chat_settings), task_server)
app.openapi = with_chatkit_request_schema(app)  # type: ignore[method-assign]
mount_mcp(app, services, chat_settings, task_server)
mount_snapstart_hooks(app, services, chat_settings)  # only when the Web Adapter is told to call them
app.add_middleware(MetricsMiddleware)  # after each request; a detached turn flushes when it ends
imports_done()


def __getattr__(name: str) -> Any:
    """`handler`, the buffered Mangum entry point, made when Lambda's runtime (or a test) first looks it up."""
    if name != "handler":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from mangum import Mangum

    made = globals()["handler"] = Mangum(app, lifespan="off")
    return made
