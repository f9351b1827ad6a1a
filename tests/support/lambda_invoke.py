"""Stands in for the Lambda runtime's bootstrap inside the sandbox (run with `python -I`, stdlib only).

Puts the function folder and the layer on the path as the bootstrap does, imports `app` (the cold start, timed and
printed as one JSON line), then, when `AWS_LAMBDA_RUNTIME_API` is set, hands over to the runtime interface client
(`awslambdaric`, as Lambda's python3.12 runtime does), which resolves `_HANDLER` and serves invocations."""

import json
import os
import sys
import time

sys.path[:0] = [os.environ["LAMBDA_TASK_ROOT"], os.environ.get("LAMBDA_LAYER_PYTHON", "/opt/python")]

started = time.perf_counter()
import app  # type: ignore[import-not-found]  # noqa: E402, F401 - the cold start, timed

imported = time.perf_counter() - started
print(json.dumps({"sandbox": "import", "import_s": imported, "modules": sorted(sys.modules)}), flush=True)
if os.environ.get("AWS_LAMBDA_RUNTIME_API"):
    from awslambdaric.__main__ import main

    main(["awslambdaric", os.environ["_HANDLER"]])
