"""What a function's `app.py` does once its app is built, for the benches that build an app in process."""

from __future__ import annotations

import gc


def as_app_module_ends() -> None:
    """`todo_common.cold_start.imports_done`: the heap frozen and the collector set as the deployed function runs.
    A checkout from before that module (a baseline) gets the freeze alone, which its app.py did not even do."""
    try:
        from todo_common.cold_start import imports_done
    except ImportError:
        gc.freeze()
        return
    imports_done()
