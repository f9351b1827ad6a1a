"""The attachment policy's limits come from the settings, each bounded; a declared upload is checked once."""

from __future__ import annotations

import pytest

from functions.chat.attachments.policy import AttachmentPolicy
from functions.chat.settings import ChatSettings
from todo_common.errors import ApiError
from todo_common.settings import ConfigurationError


def test_the_limits_are_settings_with_defaults() -> None:
    default = AttachmentPolicy.from_settings(ChatSettings.from_environ({}))
    assert (default.image_max_bytes, default.text_max_bytes, default.per_message) == (5 * 1024**2, 256 * 1024, 4)
    configured = AttachmentPolicy.from_settings(
        ChatSettings.from_environ(
            {
                "CHAT_ATTACHMENT_IMAGE_MAX_BYTES": "1048576",
                "CHAT_ATTACHMENT_TEXT_MAX_BYTES": "2048",
                "CHAT_ATTACHMENTS_PER_MESSAGE": "2",
            }
        )
    )
    assert (configured.image_max_bytes, configured.text_max_bytes, configured.per_message) == (1024**2, 2048, 2)
    assert configured.largest == 1024**2
    with pytest.raises(ApiError, match="2 KiB") as refused:
        configured.declared("a.txt", "text/plain", 2049)
    assert refused.value.code == "attachment_too_large"
    with pytest.raises(ApiError, match="at most 2") as many:
        configured.check_count(3)
    assert many.value.code == "too_many_attachments"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHAT_ATTACHMENT_IMAGE_MAX_BYTES", "0"),
        ("CHAT_ATTACHMENT_IMAGE_MAX_BYTES", str(100 * 1024**2)),
        ("CHAT_ATTACHMENT_TEXT_MAX_BYTES", "lots"),
        ("CHAT_ATTACHMENTS_PER_MESSAGE", "11"),
    ],
)
def test_a_limit_out_of_its_range_stops_the_start(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        ChatSettings.from_environ({name: value})


def test_a_declared_upload_is_cleaned() -> None:
    policy = AttachmentPolicy.from_settings(ChatSettings.from_environ({}))
    declared = policy.declared(" my\tlist.CSV ", "Text/CSV; charset=utf-8", 10)
    assert (declared.name, declared.mime_type, declared.kind, declared.size) == ("my list.CSV", "text/csv", "file", 10)
    assert policy.declared("a.webp", "image/webp", 10).kind == "image"
