#!/bin/sh
# Lambda entry point of the chat function: the Lambda Web Adapter (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap) runs
# this script, waits for GET /healthz, and streams each response of the app to the Function URL.
exec python -m uvicorn --host 127.0.0.1 --port "${PORT:-8080}" --no-access-log --timeout-keep-alive 75 app:app
