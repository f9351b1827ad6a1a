"""An answer keeps a bounded number of reasoning summaries, each of bounded length, the same ones live and stored."""

from __future__ import annotations

from agents.stream_events import RawResponsesStreamEvent
from openai.types.responses import ResponseReasoningSummaryTextDoneEvent

from functions.chat.agent.agent import AgentRun
from functions.chat.caller import Caller
from functions.chat.turn.engine import _Translator
from functions.chat.turn.events import ThoughtDone
from functions.chat.turn.thoughts import MAX_THOUGHT_CHARS, MAX_THOUGHTS, stored_thoughts
from todo_common.db import Database


def summary(text: str) -> RawResponsesStreamEvent:
    done = ResponseReasoningSummaryTextDoneEvent(
        type="response.reasoning_summary_text.done",
        item_id="rs_1",
        output_index=0,
        summary_index=0,
        sequence_number=0,
        text=text,
    )
    return RawResponsesStreamEvent(data=done)


def test_summaries_are_bounded_in_number_and_length(database: Database) -> None:
    translator = _Translator(AgentRun(Caller("user_alice", database)))
    events = [e for n in range(MAX_THOUGHTS + 10) for e in translator.translate(summary(f"{n} " + "x" * 5000))]
    events += translator.translate(summary("   "))  # an empty summary shows nothing
    thoughts = [event.thought for event in events if isinstance(event, ThoughtDone)]
    assert len(thoughts) == MAX_THOUGHTS
    assert {len(thought.text) for thought in thoughts} == {MAX_THOUGHT_CHARS}
    assert thoughts[-1].text.startswith(f"{MAX_THOUGHTS - 1} ")
    assert len(stored_thoughts(thoughts)) == MAX_THOUGHTS
