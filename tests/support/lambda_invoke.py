"""Stands in for the Lambda runtime's bootstrap inside the sandbox (run with `python -I`, stdlib only).

Puts the function folder and the layer on the path as the bootstrap does, imports `app` once (the cold start), then
invokes `app.handler` with each event file given, printing one JSON line per invocation and the import time first."""

import json
import os
import sys
import time
import uuid

sys.path[:0] = [os.environ["LAMBDA_TASK_ROOT"], os.environ.get("LAMBDA_LAYER_PYTHON", "/opt/python")]


class Context:
    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "2026/12/01/[$LATEST]sandbox"
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


started = time.perf_counter()
import app  # type: ignore[import-not-found]  # noqa: E402

imported = time.perf_counter() - started
print(json.dumps({"sandbox": "import", "import_s": imported, "modules": sorted(sys.modules)}), flush=True)
for path in sys.argv[1:]:
    with open(path) as file:
        event = json.load(file)
    context = Context()
    result = app.handler(event, context)
    print(
        json.dumps(
            {
                "sandbox": "invoke",
                "event": os.path.basename(path),
                "request_id": context.aws_request_id,
                "result": result,
            }
        )
    )
    sys.stdout.flush()
