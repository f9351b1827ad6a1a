"""The Lambda context object the runtime passes to a handler."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LambdaContext:
    aws_request_id: str = "5f0c2a1e-1111-4222-8333-944455556666"
    function_name: str = "todo-chat"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:todo-chat"
    log_group_name: str = "/aws/lambda/todo-chat"
    log_stream_name: str = "2026/11/24/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
