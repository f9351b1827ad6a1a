"""What a function's `app` module does around its imports on a cold start.

`app.py` turns the cyclic garbage collector off before its first import: an import allocates hundreds of thousands
of objects that live as long as the container (pydantic schemas, SQLAlchemy constructs, route tables), and the
collections they trigger while it runs find no garbage, only walk a heap that keeps growing. Once the app is built,
`imports_done` moves everything alive into the permanent generation, so no later collection walks it again, and turns
the collector back on for the requests."""

from __future__ import annotations

import gc


def imports_done() -> None:
    gc.freeze()
    gc.enable()
