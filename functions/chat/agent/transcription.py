"""Dictation: ChatKit's recorded audio turned into text by the configured OpenAI-compatible provider's
transcription endpoint (`POST {base}/audio/transcriptions`). Without a key there is no provider, and no dictation."""

from __future__ import annotations

import base64
import binascii

from openai import APIError, AsyncOpenAI

from functions.chat.settings import ChatSettings
from todo_common.errors import ApiError

# The recordings a browser's MediaRecorder makes (what ChatKit sends), and the other formats the endpoint takes; the
# file name's extension tells the provider the format.
EXTENSIONS = {
    "audio/webm": "webm",
    "audio/ogg": "ogg",
    "audio/mp4": "mp4",
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/flac": "flac",
}
NO_PROVIDER = ApiError(
    400,
    "dictation_unavailable",
    "Dictation needs a speech-to-text provider, and this deployment has none (no OpenAI API key is configured).",
)


class Transcriber:
    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self.client = client
        self.model = model

    @classmethod
    def from_settings(cls, settings: ChatSettings) -> Transcriber | None:
        """The provider's transcriber; None without a key."""
        if not settings.openai_api_key:
            return None
        client = AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url, max_retries=1)
        return cls(client, settings.transcribe_model)

    async def transcribe(self, audio: bytes, media_type: str) -> str:
        upload = (f"dictation.{EXTENSIONS[media_type]}", audio, media_type)
        try:
            result = await self.client.audio.transcriptions.create(model=self.model, file=upload)
        except APIError:
            raise ApiError(
                502, "transcription_failed", "The speech-to-text provider could not transcribe this; try again."
            ) from None
        return result.text


def check_audio(audio_base64: str, mime_type: str) -> None:
    """Refuse, in words, audio the provider would fail on: a format it does not take, not base64, or empty."""
    media_type = mime_type.split(";", 1)[0].strip().lower()
    if media_type not in EXTENSIONS:
        raise ApiError(
            415, "unsupported_audio", f"Dictation takes {', '.join(sorted(set(EXTENSIONS)))} audio, not {mime_type!r}."
        )
    try:
        audio = base64.b64decode(audio_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_audio", "The recording is not valid base64.") from None
    if not audio:
        raise ApiError(400, "invalid_audio", "The recording is empty.")
