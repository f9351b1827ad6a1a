"""For the benches that build an app in process: its environment, and what a function's `app.py` does once its app
is built."""

from __future__ import annotations

import gc
import os


def bench_environment() -> None:
    """Unless already set: the secrets an app built in process reads (the bench mints its tokens with them), and
    warnings-only logs."""
    os.environ.setdefault("BETTER_AUTH_SECRET", "bench-better-auth-secret-0123456789abcdef")
    os.environ.setdefault("CHAT_TOKEN_SECRET", "bench-chat-token-secret-0123456789abcdef")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def as_app_module_ends() -> None:
    """`todo_common.cold_start.imports_done`: the heap frozen and the collector set as the deployed function runs.
    A checkout from before that module (a baseline) gets the freeze alone, which its app.py did not even do."""
    try:
        from todo_common.cold_start import imports_done
    except ImportError:
        gc.freeze()
        return
    imports_done()
