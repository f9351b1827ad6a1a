"""The session function: wiring only. On Lambda, `app.handler` behind the HTTP API."""

import gc

gc.disable()  # until the app is built: see todo_common.cold_start

from mangum import Mangum

from functions.session.routes import router
from todo_common.cold_start import imports_done
from todo_common.metrics import MetricsMiddleware
from todo_common.web import Services, build_app

services = Services.from_environment("session")
app = build_app("todo-chat session", services, [router])
app.add_middleware(MetricsMiddleware)  # one EMF line per invocation
handler = Mangum(app, lifespan="off")
imports_done()
