"""The session function: wiring only. On Lambda, `app.handler` behind the HTTP API."""

from mangum import Mangum

from functions.session.routes import router
from todo_common.web import Services, build_app

services = Services.from_environment("session")
app = build_app("todo-chat session", services, [router])
handler = Mangum(app, lifespan="off")
