"""The local file store: links signed for one method, key, type, size and expiry; atomic writes; bounded reads;
the store the environment picks."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from functions.chat.agent.offline_model import OfflineModel
from tests.support.chat import chat_app
from todo_common.files import file_store
from todo_common.files.local import LinkRefused, LocalFileStore
from todo_common.settings import Settings
from todo_common.web import Services

KEY = "atc_0123456789abcdef"


def store(tmp_path: Path, now: list[float]) -> LocalFileStore:
    return LocalFileStore(tmp_path, b"secret-0123456789", "http://gateway:8000/", clock=lambda: now[0])


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_an_upload_link_is_signed_for_its_key_type_and_size_and_expires(tmp_path: Path) -> None:
    now = [1_000_000.0]
    files = store(tmp_path, now)
    target = files.upload_target(KEY, "text/plain", 12)
    assert target.method == "PUT"
    assert target.headers == {"Content-Type": "text/plain"}
    assert target.url.startswith(f"http://gateway:8000/api/attachments/{KEY}?")
    signed = query(target.url)
    files.verify("PUT", KEY, "text/plain", 12, signed["expires"], signed["signature"])
    for method, key, mime_type, size in [
        ("GET", KEY, "text/plain", 12),
        ("PUT", "atc_other", "text/plain", 12),
        ("PUT", KEY, "text/csv", 12),
        ("PUT", KEY, "text/plain", 13),
    ]:
        with pytest.raises(LinkRefused, match="signature"):
            files.verify(method, key, mime_type, size, signed["expires"], signed["signature"])
    now[0] += 601
    with pytest.raises(LinkRefused, match="expired"):
        files.verify("PUT", KEY, "text/plain", 12, signed["expires"], signed["signature"])
    other_secret = LocalFileStore(tmp_path, b"another-secret-000", "http://gateway:8000", clock=lambda: 0)
    with pytest.raises(LinkRefused, match="signature"):
        other_secret.verify("PUT", KEY, "text/plain", 12, signed["expires"], signed["signature"])


def test_reads_are_bounded_and_a_missing_file_is_none(tmp_path: Path) -> None:
    files = store(tmp_path, [0.0])
    assert files.read(KEY, 10) is None
    files.write(KEY, b"x" * 100)
    assert files.read(KEY, 10) == b"x" * 11  # one more than asked: the caller sees it is over
    assert files.read(KEY, 1000) == b"x" * 100
    files.write(KEY, b"new")
    assert files.read(KEY, 1000) == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEY]  # no partial file left behind


def test_attached_files_are_marked_and_deleting_removes_both(tmp_path: Path) -> None:
    files = store(tmp_path, [0.0])
    files.write(KEY, b"abc")
    assert not files.is_attached(KEY)
    files.mark_attached(KEY)
    assert files.is_attached(KEY)
    files.delete([KEY, "atc_never_uploaded"])
    assert files.read(KEY, 10) is None
    assert not files.is_attached(KEY)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("key", ["../etc/passwd", "a/../../b", "/abs", "a//b", "", "a b", "a.attached"])
def test_keys_outside_the_pattern_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="not a storage key"):
        store(tmp_path, [0.0]).path(key)


def test_the_environment_picks_the_local_store(tmp_path: Path, settings: Settings) -> None:
    configured = dataclasses.replace(settings, chat_base_url="https://chat.example")
    local = file_store(configured, {"CHAT_ATTACHMENTS_DIR": str(tmp_path / "files")})
    assert isinstance(local, LocalFileStore)
    assert local.directory == tmp_path / "files"
    assert local.upload_target(KEY, "image/png", 3).url.startswith("https://chat.example/api/attachments/")
    gateway = file_store(configured, {"CHAT_ATTACHMENTS_URL": "http://127.0.0.1:9000"})
    assert gateway.download_url(KEY, "image/png").startswith("http://127.0.0.1:9000/api/attachments/")


def test_the_chat_app_builds_its_file_store_only_when_a_request_needs_it(services: Services) -> None:
    chat_app(services, OfflineModel())
    assert "files" not in vars(services)  # a cold start that serves no file makes no store (S3: no client)
