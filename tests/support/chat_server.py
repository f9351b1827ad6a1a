"""The chat function's app served by uvicorn in a process of its own, so a test can kill it mid-turn
(`python -m tests.support.chat_server PORT MODEL`; the environment gives the database and the secrets).

MODEL is `offline` (the offline model), `slow` (the offline model, each stream event 0.3 s after the last) or
`silent` (a model that never answers: a turn runs until its deadline)."""

from __future__ import annotations

import sys

import uvicorn
from agents.models.interface import Model

from functions.chat.agent.offline_model import OfflineModel
from functions.chat.http.routes import router
from functions.chat.runtime import ChatRuntime
from functions.chat.settings import ChatSettings
from functions.chat.tasks.mcp_server import build_task_server
from tests.support.chat import SilentModel, SlowModel
from todo_common.web import Services, build_app


def main() -> None:
    port, kind = int(sys.argv[1]), sys.argv[2]
    models: dict[str, Model] = {"slow": SlowModel(OfflineModel(), 0.3), "silent": SilentModel()}
    model = models.get(kind) or OfflineModel()
    services = Services.from_environment("chat")
    app = build_app("chat", services, [router])
    app.state.chat = ChatRuntime.build(services, ChatSettings.from_environ(), model, build_task_server())
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
