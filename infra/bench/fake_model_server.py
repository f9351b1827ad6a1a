"""A zero-latency stand-in for the OpenAI Responses API in a process of its own (the test suite's fake), so a
benchmark of the chat function's model path times the function, not the fake: `python -m
infra.bench.fake_model_server PORT`."""

from __future__ import annotations

import sys

import uvicorn
from agents.testing import assistant_message

from tests.support.fake_openai import FakeOpenAI

ANSWERS = 5_000


def main(port: int) -> None:
    fake = FakeOpenAI([[assistant_message("Done, your list is up to date.")] for _ in range(ANSWERS)])
    uvicorn.run(fake.app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools")


if __name__ == "__main__":
    main(int(sys.argv[1]))
