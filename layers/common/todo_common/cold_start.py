"""What a function's `app` module does around its imports on a cold start, and how the collector runs after it.

`app.py` turns the cyclic garbage collector off before its first import: an import allocates hundreds of thousands
of objects that live as long as the container (pydantic schemas, SQLAlchemy constructs, route tables), and the
collections they trigger while it runs find no garbage, only walk a heap that keeps growing. Once the app is built,
`imports_done` moves everything alive into the permanent generation, so no later collection walks it again, and turns
the collector back on for the requests.

The young generation is collected after `YOUNG_GENERATION_THRESHOLD` new container objects, not Python's 700. A chat
turn allocates thousands that reference counting frees within the turn (the agent loop's items, events, pydantic
models); the cyclic garbage it leaves is about 160 objects. At 700 the young generation was collected about once a
turn, and each collection, with the older ones it triggers, walked every object of every turn in flight: with 50
turns at once in one process that was a tenth of the CPU (docs/benchmarks.md, "Load"). At 10 000 a collection comes
every ten turns or so and finds most of those objects already freed."""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 10_000


def imports_done() -> None:
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, older, oldest)
    gc.enable()
