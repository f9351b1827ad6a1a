"""SnapStart hooks of the chat app, called by the Lambda Web Adapter (1.1.0+) around the snapshot: it POSTs to
`AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH` before the snapshot and to `AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH` after
each restore, and answers 403 itself to any outside request of those paths. Mounted only when the adapter is told
to call them, so the local gateway never serves them.

Before the snapshot the app primes the code paths of a turn (`functions.chat.priming`: a throwaway copy of the app
on an in-memory database, the offline model), then drops what a snapshot must not hold: connections and pools,
metrics. After each restore: a new random seed and fresh secrets on next use; the pool connects on first use.
Both stay well inside Lambda's limits (the restore hook has 10 s): the priming runs during the init phase."""

from __future__ import annotations

import logging
import os
import random
import sys
from collections.abc import Mapping

from fastapi import APIRouter, FastAPI, Response

from functions.chat.priming import prime_turn_paths
from functions.chat.settings import ChatSettings
from todo_common import metrics
from todo_common.web import Services

logger = logging.getLogger(__name__)
BEFORE_CHECKPOINT = "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH"
AFTER_RESTORE = "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"


def snapstart_router(services: Services, settings: ChatSettings, environ: Mapping[str, str] | None = None) -> APIRouter:
    source = os.environ if environ is None else environ
    router = APIRouter(include_in_schema=False)

    async def before_checkpoint() -> Response:
        try:
            await prime_turn_paths(services, settings)
        except Exception:  # a snapshot unprimed is slower to serve its first turn, not broken: take it anyway
            logger.exception("priming the snapshot failed; it is taken unprimed")
        # A connection in the snapshot would be shared by every restored copy and is dead by then anyway.
        services.database.dispose()
        metrics.flush()
        return Response(status_code=204)

    def after_restore() -> Response:
        services.database.dispose()
        # Every restored environment starts from the same memory: without a reseed they would draw the same numbers.
        random.seed()
        if "aws_lambda_powertools.utilities.parameters" in sys.modules:
            # Secrets cached at init are as old as the snapshot: read them afresh on next use.
            sys.modules["aws_lambda_powertools.utilities.parameters"].clear_caches()
        return Response(status_code=204)

    if before := source.get(BEFORE_CHECKPOINT, "").strip():
        router.add_api_route(before, before_checkpoint, methods=["POST"])
    if after := source.get(AFTER_RESTORE, "").strip():
        router.add_api_route(after, after_restore, methods=["POST"])
    return router


def mount_snapstart_hooks(
    app: FastAPI, services: Services, settings: ChatSettings, environ: Mapping[str, str] | None = None
) -> None:
    app.include_router(snapstart_router(services, settings, environ))
