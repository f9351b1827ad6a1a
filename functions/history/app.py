"""The history function: wiring only. On Lambda, `app.handler` behind the HTTP API."""

from mangum import Mangum

from functions.history.routes import router
from todo_common.web import Services, build_app

services = Services.from_environment("history")
app = build_app("todo-chat history", services, [router])
handler = Mangum(app, lifespan="off")
