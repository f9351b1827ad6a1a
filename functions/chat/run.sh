#!/bin/sh
# Lambda entry point of the chat function: the Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap) runs
# this script, waits for GET /healthz, and streams each response of the app to the Function URL.
# This is a new process the runtime's bootstrap never set up: the layers under /opt/python are on the path only
# through PYTHONPATH. python3 is the runtime's own interpreter (/var/lang/bin comes first on Lambda's PATH).
# The adapter speaks plain HTTP to the app and no route is a WebSocket: `--ws none` spares uvicorn's start the import
# of a WebSocket implementation (about 18 ms).
export PYTHONPATH="${LAMBDA_TASK_ROOT:-.}:/opt/python${PYTHONPATH:+:$PYTHONPATH}"
exec python3 -m uvicorn --host 127.0.0.1 --port "${PORT:-8080}" --no-access-log --timeout-keep-alive 75 --ws none app:app
