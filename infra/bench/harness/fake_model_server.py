"""A zero-latency stand-in for the OpenAI Responses API in a process of its own (the test suite's fake, its one
answer rendered once and replayed), so a benchmark of the chat function's model path times the function, not the
fake: `python -m infra.bench.harness.fake_model_server PORT`."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from agents.testing import assistant_message

from tests.support.fake_openai import FakeOpenAI

ANSWER = "Done, your list is up to date."


class ReplayingFake(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__([[assistant_message(ANSWER)]])
        self.rendered: list[bytes] = []

    async def _events(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        if not self.rendered:
            self.rendered = [chunk async for chunk in super()._events(body)]
        for chunk in self.rendered:
            yield chunk


def main(port: int) -> None:
    fake = ReplayingFake()
    uvicorn.run(fake.app, host="127.0.0.1", port=port, log_level="warning", loop="uvloop", http="httptools")


if __name__ == "__main__":
    main(int(sys.argv[1]))
