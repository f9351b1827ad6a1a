"""Dictation: ChatKit's `input.transcribe` answered with the text the configured provider's transcription endpoint
gives (the local fake of the OpenAI API here), with its own body limit, under the user's rate limit, and refused in
words where no provider is configured."""

from __future__ import annotations

import base64
import dataclasses
import io
import wave
from collections.abc import Iterator

import httpx
import pytest
from chatkit.types import InputTranscribeParams, InputTranscribeReq, ThreadCreateParams, ThreadsCreateReq

from functions.chat.agent.offline_model import OfflineModel
from functions.chat.settings import DEFAULT_TRANSCRIBE_MODEL, ChatSettings
from tests.support.chat import chat_app
from tests.support.chatkit import user_input
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import Server
from tests.support.tokens import Tokens
from todo_common.web import Services

ALICE = "user_alice"
SAID = "add buy milk to my list"


def wav(seconds: float) -> bytes:
    """A WAV recording of silence (8 kHz, 16-bit mono)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(8000)
        recording.writeframes(b"\0\0" * int(8000 * seconds))
    return out.getvalue()


def transcribe(audio: bytes, mime_type: str = "audio/wav") -> bytes:
    request = InputTranscribeReq(
        params=InputTranscribeParams(audio_base64=base64.b64encode(audio).decode(), mime_type=mime_type)
    )
    return request.model_dump_json().encode()


@pytest.fixture
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI([], transcript=SAID)
    with Server(fake.app) as url:
        yield fake, f"{url}/v1"


@pytest.fixture
def chat(fake_openai: tuple[FakeOpenAI, str], services: Services) -> Iterator[str]:
    _, base_url = fake_openai
    settings = dataclasses.replace(
        ChatSettings.from_environ({}), openai_api_key="sk-test-fake", openai_base_url=base_url
    )
    fields = {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}
    with Server(chat_app(services, OfflineModel(), **fields)) as base:
        yield base


def post(base: str, tokens: Tokens, body: bytes) -> httpx.Response:
    headers = {**tokens.headers(ALICE), "Content-Type": "application/json"}
    return httpx.post(f"{base}/api/{ALICE}/chatkit", content=body, headers=headers, timeout=30)


def test_dictation_answers_with_the_providers_text(
    chat: str, fake_openai: tuple[FakeOpenAI, str], tokens: Tokens
) -> None:
    fake, _ = fake_openai
    recording = wav(40)  # 640 kB: ten times what any other request may send
    response = post(chat, tokens, transcribe(recording, "audio/wav;codecs=1"))
    assert response.status_code == 200, response.text
    assert response.json() == {"text": SAID}
    assert fake.transcriptions == [
        {"model": DEFAULT_TRANSCRIBE_MODEL, "filename": "dictation.wav", "type": "audio/wav", "size": len(recording)}
    ]


def test_only_dictation_may_send_a_large_body(chat: str, tokens: Tokens) -> None:
    minute = post(chat, tokens, transcribe(wav(70)))  # 1.1 MB of WAV, 1.5 MB as base64: fits
    assert minute.status_code == 200
    huge = post(chat, tokens, transcribe(wav(140)))  # over the dictation limit (2 MiB)
    assert huge.status_code == 413
    assert huge.json()["error"] == {
        "code": "payload_too_large",
        "message": f"The request body is larger than {2 * 1024 * 1024} bytes.",
    }
    padded = ThreadsCreateReq(params=ThreadCreateParams(input=user_input("list")), metadata={"pad": "x" * 70_000})
    message = post(chat, tokens, padded.model_dump_json().encode())
    assert message.status_code == 413  # every other request keeps the app's limit
    assert message.json()["error"]["code"] == "payload_too_large"


def test_audio_the_provider_would_refuse_is_refused_in_words(
    chat: str, fake_openai: tuple[FakeOpenAI, str], tokens: Tokens
) -> None:
    fake, _ = fake_openai
    video = post(chat, tokens, transcribe(b"not audio", "video/mp4"))
    assert video.status_code == 415
    assert "Dictation takes" in video.json()["error"]["message"]
    broken = InputTranscribeReq(params=InputTranscribeParams(audio_base64="@@not base64", mime_type="audio/webm"))
    invalid = post(chat, tokens, broken.model_dump_json().encode())
    assert invalid.status_code == 400
    assert invalid.json()["error"] == {"code": "invalid_audio", "message": "The recording is not valid base64."}
    empty = post(chat, tokens, transcribe(b""))
    assert empty.status_code == 400
    assert fake.transcriptions == []


def test_dictation_is_under_the_rate_limit(
    fake_openai: tuple[FakeOpenAI, str], services: Services, tokens: Tokens
) -> None:
    fake, base_url = fake_openai
    app = chat_app(
        services, OfflineModel(), openai_api_key="sk-test-fake", openai_base_url=base_url, rate_limit_per_minute=2
    )
    with Server(app) as base:
        for _ in range(2):
            sent = httpx.post(
                f"{base}/api/{ALICE}/chat", json={"message": "list"}, headers=tokens.headers(ALICE), timeout=30
            )
            assert sent.status_code == 200
        refused = post(base, tokens, transcribe(wav(1)))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "try again in" in refused.json()["error"]["message"]
    assert int(refused.headers["Retry-After"]) > 0
    assert fake.transcriptions == []


def test_without_a_provider_dictation_is_refused_in_words(services: Services, tokens: Tokens) -> None:
    with Server(chat_app(services, OfflineModel())) as base:
        response = post(base, tokens, transcribe(wav(1)))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "dictation_unavailable"
    assert error["message"].startswith("Dictation needs a speech-to-text provider")
